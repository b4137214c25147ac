"""Imports every model module so `Base.metadata` is complete (Alembic, tests)."""

from app.auth import models as auth_models
from app.catalog import models as catalog_models
from app.conversations import models as conversation_models
from app.core import audit, idempotency, outbox
from app.core.mail import models as mail_models
from app.core.models import Base
from app.disputes import models as dispute_models
from app.fees import models as fee_models
from app.logistics import models as logistics_models
from app.messaging.notifications import models as notification_models
from app.messaging.webhooks import models as webhook_models
from app.offers import models as offer_models
from app.orders import models as order_models
from app.payments import models as payment_models
from app.promotions import models as promotion_models
from app.reviews import models as review_models
from app.sellers import models as seller_models
from app.shipping import models as shipping_models
from app.watchlists import models as watchlist_models

metadata = Base.metadata

__all__ = [
    "audit",
    "auth_models",
    "catalog_models",
    "conversation_models",
    "dispute_models",
    "fee_models",
    "idempotency",
    "logistics_models",
    "mail_models",
    "metadata",
    "notification_models",
    "offer_models",
    "order_models",
    "outbox",
    "payment_models",
    "promotion_models",
    "review_models",
    "seller_models",
    "shipping_models",
    "watchlist_models",
    "webhook_models",
]

# Schema objects that exist only in the database (PostgreSQL full-text search), created by
# hand-written migration steps; autogenerate must not propose dropping them.
DATABASE_ONLY_OBJECTS = frozenset({"search_vector", "ix_listings_search_vector"})


def include_object(
    _object: object, name: str | None, _type: str, reflected: bool, compare_to: object
) -> bool:
    return not (reflected and compare_to is None and name in DATABASE_ONLY_OBJECTS)
