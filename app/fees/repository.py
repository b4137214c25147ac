import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Select, or_, select

from app.core.repository import RepositoryBase
from app.fees.models import CommissionRule


class CommissionRuleRepository(RepositoryBase[CommissionRule]):
    model = CommissionRule

    async def in_force(
        self, at: datetime, *, seller_ids: Collection[uuid.UUID]
    ) -> list[CommissionRule]:
        """The rules in force at `at` that could apply to these shops' lines: theirs, and
        every category rule (few: an operator's list, read in one statement)."""
        statement = select(CommissionRule).where(
            CommissionRule.starts_at <= at,
            or_(CommissionRule.ends_at.is_(None), CommissionRule.ends_at > at),
            or_(
                CommissionRule.category_id.is_not(None),
                CommissionRule.seller_id.in_(list(seller_ids)),
            ),
        )
        return list((await self.session.scalars(statement)).all())

    def filtered(
        self, *, category_id: uuid.UUID | None, seller_id: uuid.UUID | None
    ) -> Select[CommissionRule]:
        statement = select(CommissionRule)
        if category_id is not None:
            statement = statement.where(CommissionRule.category_id == category_id)
        if seller_id is not None:
            statement = statement.where(CommissionRule.seller_id == seller_id)
        return statement
