import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Row, Select, and_, func, or_, select, text, update

from app.auth.principal import Principal
from app.core.repository import RepositoryBase
from app.reviews.models import VISIBLE_REVIEW_PREDICATE, Review, ReviewedRole

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
