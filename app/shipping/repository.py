import uuid
from collections.abc import Collection

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from app.core.repository import RepositoryBase, locked
from app.shipping.models import ShippingProfile


class ShippingProfileRepository(RepositoryBase[ShippingProfile]):
    model = ShippingProfile

    def of_seller(self, seller_id: uuid.UUID) -> Select[ShippingProfile]:
        """The shop's profiles, each with its rates."""
        return (
            select(ShippingProfile)
            .where(ShippingProfile.seller_id == seller_id)
            .options(selectinload(ShippingProfile.rates))
        )

    async def get_of_seller(
        self, profile_id: uuid.UUID, seller_id: uuid.UUID, *, lock: bool = False
    ) -> ShippingProfile | None:
        """One of the shop's profiles with its rates (another shop's: None, decided in the
        query). `lock` holds its row for the rest of the transaction."""
        statement = self.of_seller(seller_id).where(ShippingProfile.id == profile_id)
        return await self.get_one_or_none(locked(statement) if lock else statement)

    async def get_to_assign(
        self, profile_id: uuid.UUID, seller_id: uuid.UUID
    ) -> ShippingProfile | None:
        """One of the shop's profiles, about to be pointed to by a listing: FOR KEY SHARE, so
        that a concurrent deletion either waits for the listing's transaction or has already
        happened (None here), never leaving the listing pointing at nothing."""
        statement = (
            select(ShippingProfile)
            .where(ShippingProfile.id == profile_id, ShippingProfile.seller_id == seller_id)
            .with_for_update(read=True, key_share=True)
        )
        return await self.get_one_or_none(statement)

    async def many_with_rates(self, profile_ids: Collection[uuid.UUID]) -> list[ShippingProfile]:
        """The profiles with their rates, in one statement (a checkout's or a cart's)."""
        statement = (
            select(ShippingProfile)
            .where(ShippingProfile.id.in_(profile_ids))
            .options(joinedload(ShippingProfile.rates))
        )
        return list((await self.session.scalars(statement)).unique().all())
