import uuid

from sqlalchemy import Select, func, select

from app.core.repository import RepositoryBase, locked
from app.sellers.models import SellerProfile, SellerStatus

PUBLIC_SHOP_STATES = (SellerStatus.approved, SellerStatus.suspended)


class SellerRepository(RepositoryBase[SellerProfile]):
    model = SellerProfile

    async def get_by_user(
        self, user_id: uuid.UUID, *, for_update: bool = False
    ) -> SellerProfile | None:
        statement = select(SellerProfile).where(SellerProfile.user_id == user_id)
        # NO KEY: a checkout holding a listing's lock may still insert an order for the shop.
        return await self.get_one_or_none(
            locked(statement, key_share=True) if for_update else statement
        )

    async def get_public(self, seller_id: uuid.UUID) -> SellerProfile | None:
        """A shop with a public face: an approved one, selling or suspended. An applicant's
        or a rejected one's is nobody's business; a closed one went with its owner's account
        (what the orders that name it need, they keep themselves)."""
        return await self.get_one_or_none(
            select(SellerProfile).where(
                SellerProfile.id == seller_id,
                SellerProfile.status.in_(PUBLIC_SHOP_STATES),
                SellerProfile.approved_at.is_not(None),
            )
        )

    def review_queue(
        self, *, status: SellerStatus | None, country: str | None, shop_name: str | None
    ) -> Select[SellerProfile]:
        statement = select(SellerProfile)
        if status is not None:
            statement = statement.where(SellerProfile.status == status)
        if country is not None:
            statement = statement.where(SellerProfile.country == country)
        if shop_name:
            statement = statement.where(
                func.lower(SellerProfile.shop_name).contains(shop_name.lower(), autoescape=True)
            )
        return statement
