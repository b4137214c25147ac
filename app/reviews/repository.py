import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, Row, Select, and_, func, or_, select, text, update

from app.auth.models import User
from app.auth.principal import Principal
from app.core.repository import RepositoryBase
from app.orders.models import Order, OrderLine
from app.reviews.models import VISIBLE_REVIEW_PREDICATE, Review, ReviewedRole
from app.sellers.models import SellerProfile

_VISIBLE = text(VISIBLE_REVIEW_PREDICATE)


class ReviewRepository(RepositoryBase[Review]):
    model = Review

    async def of_order(self, order_id: uuid.UUID) -> list[Review]:
        statement = select(Review).where(Review.order_id == order_id).order_by(Review.id)
        return list((await self.session.scalars(statement)).all())

    def visible_to(self, principal: Principal | None) -> Select[Review]:
        """Reviews the caller may see. Unpublished: its author only. Hidden: its author, the
        reviewed person and admins. Published and not hidden: anyone."""
        if principal is None:
            return select(Review).where(_VISIBLE)
        published: ColumnElement[bool] = Review.published_at.is_not(None)
        if not principal.is_admin:
            published = and_(
                published,
                or_(Review.hidden_at.is_(None), Review.subject_user_id == principal.user_id),
            )
        return select(Review).where(or_(Review.author_id == principal.user_id, published))

    async def get_visible(
        self, principal: Principal | None, review_id: uuid.UUID, *, lock: bool
    ) -> Review | None:
        """One review, only if the caller may see it (decided in the query)."""
        statement = (
            self.visible_to(principal)
            .where(Review.id == review_id)
            .execution_options(populate_existing=True)
        )
        if lock:
            statement = statement.with_for_update()
        return await self.get_one_or_none(statement)

    async def visible_of_order(self, principal: Principal, order_id: uuid.UUID) -> list[Review]:
        statement = (
            self.visible_to(principal).where(Review.order_id == order_id).order_by(Review.id)
        )
        return list((await self.session.scalars(statement)).all())

    def visible_about(self, subject_user_id: uuid.UUID, about: ReviewedRole) -> Select[Review]:
        return select(Review).where(
            Review.subject_user_id == subject_user_id, Review.about == about, _VISIBLE
        )

    def visible_about_listing(self, listing_id: uuid.UUID) -> Select[Review]:
        """Buyers' published, visible reviews of orders that contained the listing."""
        orders = select(OrderLine.order_id).where(OrderLine.listing_id == listing_id)
        return select(Review).where(
            Review.about == ReviewedRole.seller, Review.order_id.in_(orders), _VISIBLE
        )

    async def authors_and_shops(
        self, review_ids: Collection[uuid.UUID]
    ) -> list[Row[uuid.UUID, str, uuid.UUID, str]]:
        """(review id, its author's display name, its order's shop id and shop name)."""
        statement = (
            select(Review.id, User.display_name, Order.seller_id, SellerProfile.shop_name)
            .join(User, User.id == Review.author_id)
            .join(Order, Order.id == Review.order_id)
            .join(SellerProfile, SellerProfile.id == Order.seller_id)
            .where(Review.id.in_(review_ids))
        )
        return list((await self.session.execute(statement)).all())

    async def order_items(
        self, order_ids: Collection[uuid.UUID]
    ) -> list[Row[uuid.UUID, uuid.UUID, str]]:
        """(order id, listing id, title) of each line of the orders, in line order."""
        statement = (
            select(OrderLine.order_id, OrderLine.listing_id, OrderLine.title)
            .where(OrderLine.order_id.in_(order_ids))
            .order_by(OrderLine.id)
        )
        return list((await self.session.execute(statement)).all())

    async def rating_counts(
        self, subject_user_id: uuid.UUID, about: ReviewedRole, since: datetime
    ) -> list[Row[int, int, int]]:
        """(rating, count, count since `since`) per rating: one aggregate over the
        visible-review index, never the reviews themselves."""
        recent = func.count().filter(Review.published_at >= since)
        statement = (
            select(Review.rating, func.count(), recent)
            .where(Review.subject_user_id == subject_user_id, Review.about == about, _VISIBLE)
            .group_by(Review.rating)
        )
        return list((await self.session.execute(statement)).all())

    def due_for_publication(self, at: datetime) -> Select[Review]:
        return select(Review).where(Review.published_at.is_(None), Review.window_closes_at <= at)

    async def publish_order(self, order_id: uuid.UUID, at: datetime) -> int:
        """Publish every unpublished review of the order at once (both sides together)."""
        result = await self.session.execute(
            update(Review)
            .where(Review.order_id == order_id, Review.published_at.is_(None))
            .values(published_at=at)
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0)
