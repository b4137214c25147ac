"""The export's read: every table the data map (PERSONAL_DATA) names, through the shared
metadata. Erasure is each domain's own (their `erasure` modules)."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models_registry import metadata
from app.privacy.personal_data import OwnerKind, PersonalTable


class PrivacyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rows_of(
        self, entry: PersonalTable, user_id: uuid.UUID, shop_id: uuid.UUID | None
    ) -> Sequence[dict[str, Any]]:
        """The rows of `entry`'s table tied to the person, in creation order where known."""
        table: Table = metadata.tables[entry.name]
        ties = []
        for owner in entry.owners:
            person = user_id if owner.kind is OwnerKind.user else shop_id
            if person is None:
                continue  # no shop, so nothing tied through one
            tie = table.c[owner.column] == person
            ties.append(tie if owner.only_when is None else tie & owner.only_when(table))
        if not ties:
            return []
        order = [table.c.created_at] if "created_at" in table.c else []
        statement = select(table).where(or_(*ties)).order_by(*order, *table.primary_key)
        return [dict(row) for row in (await self.session.execute(statement)).mappings()]
