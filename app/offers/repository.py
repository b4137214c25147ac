import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, literal_column, or_, select, update
from sqlalchemy.orm import selectinload

from app.auth.principal import Principal, any_of, party_conditions
from app.core.repository import RepositoryBase
from app.offers.models import OPEN_STATUSES, Offer, OfferParty, OfferRound, OfferStatus

# The open states as SQL literals, not bound parameters: PostgreSQL proves that a query may
# use a partial index (ix_offers_open_expires, ux_offers_open_buyer_listing) only from
# literals, never from the parameters of a generic plan.
_IS_OPEN = Offer.status.in_([literal_column(f"'{status.value}'") for status in OPEN_STATUSES])


class OfferRepository(RepositoryBase[Offer]):
    model = Offer

    def of_party(
        self,
        principal: Principal,
        *,
        role: str | None = None,
        statuses: Collection[OfferStatus] = (),
    ) -> Select[Offer]:
        """The offers the caller made (as a buyer, in person) or received (their shop), or
        only one side with `role`; each with its rounds."""
        sides = party_conditions(principal, buyer=Offer.buyer_id, seller=Offer.seller_id)
        held = [condition for side, condition in sides.items() if role in (None, side)]
        statement = select(Offer).where(any_of(held)).options(selectinload(Offer.rounds))
        if statuses:
            statement = statement.where(Offer.status.in_(statuses))
        return statement

    async def get_visible(
        self, principal: Principal, offer_id: uuid.UUID, *, lock: bool
    ) -> Offer | None:
        """One offer, only if the caller is a party to it (decided in the query); `lock`
        holds its row for the rest of the transaction."""
        statement = (
            self.of_party(principal)
            .where(Offer.id == offer_id)
            .execution_options(populate_existing=True)
        )
        if lock:
            statement = statement.with_for_update(of=Offer)
        return await self.get_one_or_none(statement)

    async def with_rounds(self, offer_id: uuid.UUID) -> Offer:
        statement = (
            select(Offer)
            .where(Offer.id == offer_id)
            .options(selectinload(Offer.rounds))
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(statement)).one()

    async def move(self, offer: Offer, from_status: OfferStatus, **values: Any) -> bool:
        """Compare-and-set: the offer takes `values` only if it is still in `from_status`
        (whoever changed it first wins, on any database); whether it did. The session's
        copy follows."""
        result = await self.session.execute(
            update(Offer)
            .where(Offer.id == offer.id, Offer.status == from_status)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        moved = bool(getattr(result, "rowcount", 0))
        if moved:
            for key, value in values.items():
                setattr(offer, key, value)
        return moved

    def due_for_expiry(self, at: datetime) -> Select[Offer]:
        """Open offers past their deadline, oldest deadline first (the partial index
        ix_offers_open_expires)."""
        return select(Offer).where(_IS_OPEN, Offer.expires_at <= at).order_by(Offer.expires_at)

    async def buyer_proposals_since(
        self, buyer_id: uuid.UUID, listing_id: uuid.UUID, since: datetime
    ) -> int:
        """How many offers and counters the buyer proposed on the listing since `since`."""
        statement = (
            select(func.count())
            .select_from(OfferRound)
            .join(Offer, Offer.id == OfferRound.offer_id)
            .where(
                Offer.buyer_id == buyer_id,
                Offer.listing_id == listing_id,
                OfferRound.by == OfferParty.buyer,
                OfferRound.created_at >= since,
            )
        )
        return int(await self.session.scalar(statement) or 0)

    async def highest_declined(
        self, buyer_id: uuid.UUID, listing_id: uuid.UUID, since: datetime
    ) -> int | None:
        """The highest unit price of the buyer's own proposals on the listing that were
        declined (at once, below the floor, or by the shop) since `since`; None if none."""
        statement = select(func.max(Offer.amount)).where(
            Offer.buyer_id == buyer_id,
            Offer.listing_id == listing_id,
            Offer.status == OfferStatus.declined,
            Offer.proposed_by == OfferParty.buyer,
            Offer.closed_at >= since,
        )
        highest: int | None = await self.session.scalar(statement)
        return highest

    async def lock_open_of_parties(
        self, *, buyer_id: uuid.UUID, seller_id: uuid.UUID | None
    ) -> list[Offer]:
        """The open offers the person made or their shop received, row-locked in id order."""
        parties = [Offer.buyer_id == buyer_id]
        if seller_id is not None:
            parties.append(Offer.seller_id == seller_id)
        statement = (
            select(Offer)
            .where(_IS_OPEN, or_(*parties))
            .order_by(Offer.id)
            .with_for_update(of=Offer)
            .execution_options(populate_existing=True)
        )
        return list((await self.session.scalars(statement)).all())
