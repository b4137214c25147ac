import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.core.repository import RepositoryBase, locked
from app.promotions.models import (
    FundedBy,
    Promotion,
    PromotionRedemption,
    PromotionUsage,
)


@dataclass(frozen=True, slots=True)
class Counted:
    max_per_buyer: int | None


@dataclass(frozen=True, slots=True)
class Redeemed:
    promotion_id: uuid.UUID
    checkout_id: uuid.UUID
    buyer_id: uuid.UUID


def running_at(moment: datetime) -> list[ColumnElement[bool]]:
    """The conditions of a promotion running at `moment`."""
    return [
        or_(Promotion.starts_at.is_(None), Promotion.starts_at <= moment),
        or_(Promotion.ends_at.is_(None), Promotion.ends_at > moment),
    ]


class PromotionRepository(RepositoryBase[Promotion]):
    model = Promotion

    def of_seller(self, seller_id: uuid.UUID) -> Select[Promotion]:
        return select(Promotion).where(Promotion.seller_id == seller_id)

    def listed(self, funded_by: FundedBy | None) -> Select[Promotion]:
        statement = select(Promotion)
        if funded_by is not None:
            statement = statement.where(Promotion.funded_by == funded_by)
        return statement

    async def get_of_seller(
        self, promotion_id: uuid.UUID, seller_id: uuid.UUID, *, lock: bool
    ) -> Promotion | None:
        """One of the shop's promotions (another shop's: None, decided in the query)."""
        statement = self.of_seller(seller_id).where(Promotion.id == promotion_id)
        return await self.get_one_or_none(locked(statement) if lock else statement)

    async def get_any(self, promotion_id: uuid.UUID, *, lock: bool) -> Promotion | None:
        statement = select(Promotion).where(Promotion.id == promotion_id)
        return await self.get_one_or_none(locked(statement) if lock else statement)

    async def for_checkout(
        self, *, moment: datetime, seller_ids: Collection[uuid.UUID], codes: Collection[str]
    ) -> list[Promotion]:
        """In one statement: the automatic promotions running at `moment` that may reach the
        checkout's shops and are not used up, and the promotions of `codes` (whatever their
        state: the caller says why one does not apply)."""
        automatic = and_(
            Promotion.code.is_(None),
            *running_at(moment),
            or_(
                Promotion.max_redemptions.is_(None),
                Promotion.redemptions < Promotion.max_redemptions,
            ),
            or_(
                Promotion.funded_by == FundedBy.platform,
                Promotion.seller_id.in_(list(seller_ids)),
            ),
        )
        condition = or_(automatic, Promotion.code.in_(list(codes))) if codes else automatic
        statement = select(Promotion).where(condition).order_by(Promotion.id)
        return list((await self.session.scalars(statement)).all())

    async def uses_of(
        self, buyer_id: uuid.UUID, promotion_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        statement = select(PromotionUsage.promotion_id, PromotionUsage.uses).where(
            PromotionUsage.buyer_id == buyer_id,
            PromotionUsage.promotion_id.in_(list(promotion_ids)),
        )
        return {row.promotion_id: row.uses for row in await self.session.execute(statement)}

    # --- counting, by compare-and-set --------------------------------------------------------

    async def count_redemption(self, promotion_id: uuid.UUID) -> Counted | None:
        """One more checkout uses the promotion, unless that would pass its total limit
        (None then). The UPDATE holds the row until the transaction ends, so concurrent
        checkouts take turns and each sees the count the one before it left."""
        result = await self.session.execute(
            update(Promotion)
            .where(
                Promotion.id == promotion_id,
                or_(
                    Promotion.max_redemptions.is_(None),
                    Promotion.redemptions < Promotion.max_redemptions,
                ),
            )
            .values(redemptions=Promotion.redemptions + 1)
            .returning(Promotion.max_per_buyer)
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        return None if row is None else Counted(max_per_buyer=row.max_per_buyer)

    async def count_use(
        self, promotion_id: uuid.UUID, buyer_id: uuid.UUID, max_per_buyer: int | None
    ) -> bool:
        """One more checkout of the buyer uses the promotion, unless that would pass
        `max_per_buyer` (false then): an upsert whose update only happens under the limit,
        in one statement (PostgreSQL re-checks the condition on the row's latest version)."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        under_limit = None if max_per_buyer is None else PromotionUsage.uses < max_per_buyer
        statement = (
            insert(PromotionUsage)
            .values(promotion_id=promotion_id, buyer_id=buyer_id, uses=1)
            .on_conflict_do_update(
                index_elements=[PromotionUsage.promotion_id, PromotionUsage.buyer_id],
                set_={"uses": PromotionUsage.uses + 1},
                where=under_limit,
            )
            .returning(PromotionUsage.uses)
        )
        return (await self.session.scalar(statement)) is not None

    async def give_back(self, promotion_id: uuid.UUID, buyer_id: uuid.UUID) -> None:
        """One checkout fewer uses the promotion, in all and for the buyer."""
        await self.session.execute(
            update(Promotion)
            .where(Promotion.id == promotion_id, Promotion.redemptions > 0)
            .values(redemptions=Promotion.redemptions - 1)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(PromotionUsage)
            .where(
                PromotionUsage.promotion_id == promotion_id,
                PromotionUsage.buyer_id == buyer_id,
                PromotionUsage.uses > 0,
            )
            .values(uses=PromotionUsage.uses - 1)
            .execution_options(synchronize_session=False)
        )

    async def lock_many(self, promotion_ids: Collection[uuid.UUID]) -> None:
        """Holds the promotions' rows (in id order, so two transactions never wait on each
        other in a circle) for the rest of the transaction."""
        statement = (
            select(Promotion.id)
            .where(Promotion.id.in_(list(promotion_ids)))
            .order_by(Promotion.id)
            .with_for_update()
        )
        await self.session.execute(statement)

    # --- redemptions ---------------------------------------------------------------------------

    async def add_redemptions(self, rows: list[PromotionRedemption]) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    async def redemptions_of_order(self, order_id: uuid.UUID) -> list[Redeemed]:
        statement = select(
            PromotionRedemption.promotion_id,
            PromotionRedemption.checkout_id,
            PromotionRedemption.buyer_id,
        ).where(PromotionRedemption.order_id == order_id)
        return [
            Redeemed(row.promotion_id, row.checkout_id, row.buyer_id)
            for row in await self.session.execute(statement)
        ]

    async def drop_redemptions_of_order(self, order_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(PromotionRedemption)
            .where(PromotionRedemption.order_id == order_id)
            .execution_options(synchronize_session=False)
        )

    async def redemptions_left(self, promotion_id: uuid.UUID, checkout_id: uuid.UUID) -> int:
        statement = select(func.count()).where(
            PromotionRedemption.promotion_id == promotion_id,
            PromotionRedemption.checkout_id == checkout_id,
        )
        return int(await self.session.scalar(statement) or 0)
