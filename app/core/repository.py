"""The generic repository every domain's repository builds on. All SQL lives in repositories."""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import AppError
from app.core.models import Base

ModelT = TypeVar("ModelT", bound=Base)


def locked(statement: Select[ModelT], *, key_share: bool = False) -> Select[ModelT]:
    """Row-locked (PostgreSQL; SQLite's writers are serialised anyway), refreshing any stale
    copy in the session. `key_share` takes FOR NO KEY UPDATE: rows that refer to the locked one
    may still be written meanwhile (their foreign key check takes KEY SHARE), so a lock held
    across other writes cannot deadlock against, say, a checkout inserting an order."""
    return statement.with_for_update(key_share=key_share).execution_options(populate_existing=True)


async def claim_one(session: AsyncSession, statement: Select[ModelT]) -> ModelT | None:
    """The first due row, locked for this transaction. Rows another worker holds are
    skipped (PostgreSQL), so concurrent workers never take the same unit."""
    claimed: ModelT | None = await session.scalar(
        statement.with_for_update(skip_locked=True).limit(1)
    )
    return claimed


_DIALECT_INSERTS: Mapping[str, Callable[[Any], Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
"""The INSERT construct of each dialect we run on, the one that knows ON CONFLICT (an
upsert, or an insert that skips a duplicate, in one statement)."""


def _dialect_of(session: AsyncSession) -> str:
    """The name of the session's dialect: a key of `_DIALECT_INSERTS`."""
    return session.get_bind().dialect.name


_NEW = "new_"  # a bind parameter may not take its column's own name


@dataclass(frozen=True, slots=True)
class PrebuiltInsert:
    """An INSERT of one row with its ON CONFLICT and RETURNING, built once per dialect for a
    hot path (building such a statement costs about as much as running it); the row's values
    are bound at each run."""

    by_dialect: Mapping[str, Any]

    async def scalar(self, session: AsyncSession, **values: Any) -> Any:
        """Runs it with the row's `values` (by column name); what it returns, or None."""
        statement = self.by_dialect[_dialect_of(session)]
        return await session.scalar(statement, {_NEW + k: v for k, v in values.items()})


def prebuilt_insert(
    model: type[Any], columns: Sequence[str], finish: Callable[[Any], Any]
) -> PrebuiltInsert:
    """The INSERT of a `model` row giving `columns`, completed by `finish` (which adds its
    ON CONFLICT and RETURNING) in every dialect of `_DIALECT_INSERTS`."""
    return PrebuiltInsert(
        {
            name: finish(insert(model).values(**{c: bindparam(_NEW + c) for c in columns}))
            for name, insert in _DIALECT_INSERTS.items()
        }
    )


class RepositoryBase(Generic[ModelT]):
    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def select(self) -> Select[ModelT]:
        return select(self.model)

    async def get(self, id_: uuid.UUID) -> ModelT | None:
        result: ModelT | None = await self.session.get(self.model, id_)
        return result

    async def get_for_update(self, id_: uuid.UUID, *, key_share: bool = False) -> ModelT | None:
        return await self.get_one_or_none(
            locked(select(self.model).where(self.model.id == id_), key_share=key_share)
        )

    async def get_one_or_none(self, statement: Select[ModelT]) -> ModelT | None:
        return (await self.session.scalars(statement.limit(1))).first()

    async def add(self, obj: ModelT) -> ModelT:
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def save_unique(self, obj: ModelT, conflict: AppError) -> ModelT:
        """Insert or update `obj`, answering `conflict` when a unique constraint refuses it.

        A prior "does it exist?" check cannot see a concurrent transaction's row; the
        constraint can. The savepoint keeps the rest of the transaction usable.
        """
        try:
            async with self.session.begin_nested():
                self.session.add(obj)
        except IntegrityError as error:
            raise conflict from error
        return obj
