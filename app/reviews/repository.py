import uuid
from datetime import datetime

from sqlalchemy import Row, Select, func, select, text, update

from app.core.repository import RepositoryBase
from app.reviews.models import VISIBLE_REVIEW_PREDICATE, Review, ReviewedRole

_VISIBLE = text(VISIBLE_REVIEW_PREDICATE)


class ReviewRepository(RepositoryBase[Review]):
    model = Review

    async def of_order(self, order_id: uuid.UUID) -> list[Review]:
        statement = select(Review).where(Review.order_id == order_id).order_by(Review.id)
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
