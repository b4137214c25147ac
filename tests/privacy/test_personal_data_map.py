"""The personal-data map covers the schema: every column that refers to a user or a shop is
either where the export looks for a person's rows or explicitly declared not personal."""

from app.models_registry import metadata
from app.privacy.personal_data import NOT_PERSONAL, PERSONAL_DATA

PEOPLE = {"users", "sellers"}


def _person_columns() -> set[str]:
    return {
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        for key in column.foreign_keys
        if key.column.table.name in PEOPLE
    }


def _mapped_columns() -> set[str]:
    return {f"{entry.name}.{owner.column}" for entry in PERSONAL_DATA for owner in entry.owners}


def test_every_column_referring_to_a_person_is_mapped_or_declared_not_personal() -> None:
    unaccounted = _person_columns() - _mapped_columns() - set(NOT_PERSONAL)
    assert not unaccounted, f"add these to PERSONAL_DATA or NOT_PERSONAL: {sorted(unaccounted)}"


def test_the_map_names_only_real_tables_and_columns() -> None:
    for entry in PERSONAL_DATA:
        table = metadata.tables[entry.name]
        named = {owner.column for owner in entry.owners} | entry.hidden | entry.masked
        assert named <= set(table.c.keys()), (entry.name, named - set(table.c.keys()))
    for qualified in NOT_PERSONAL:
        table_name, column = qualified.split(".")
        assert column in metadata.tables[table_name].c, qualified
    assert len({entry.name for entry in PERSONAL_DATA}) == len(PERSONAL_DATA)
