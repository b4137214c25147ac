"""What a deletion leaves in the database (read directly, not through the API, which no longer
shows the deleted account): nothing that names, reaches or lets anyone in as the person; and
what other people may no longer do to them (message them, notify them)."""

import uuid

import httpx
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey, RefreshToken, User
from app.core.idempotency import IdempotencyRecord
from app.messaging.notifications.models import Notification
from app.messaging.webhooks.models import WebhookEndpoint
from app.orders.models import CartItem
from app.sellers.models import SellerProfile, SellerStatus
from tests.factories.api import assert_problem, json_ok
from tests.factories.api_keys import create_key
from tests.factories.catalog import listing_for_sale
from tests.factories.conversations import post_message, start
from tests.factories.orders import add_to_cart, market
from tests.factories.privacy import FULL_ADDRESS, HOOK_URL, completed_order_to, deleted
from tests.factories.sellers import GOOD_IBAN
from tests.factories.webhooks import create_endpoint


async def _count(session: AsyncSession, model: type, *where: ColumnElement[bool]) -> int:
    statement = select(func.count()).select_from(model).where(*where)
    return int(await session.scalar(statement) or 0)


async def test_a_deleted_seller_leaves_no_contact_secret_or_way_in_behind(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    await create_key(client, who=m.seller, scopes=["orders:read"])
    await create_endpoint(client, who=m.seller, url=HOOK_URL)
    seller_id, user_id = uuid.UUID(m.seller_id), uuid.UUID(m.seller.user_id)
    before = await session.get(SellerProfile, seller_id)
    assert before is not None
    contacts = (before.legal_name, before.contact_email, before.contact_phone)

    await deleted(client, who=m.seller)

    session.expire_all()
    user = await session.get(User, user_id)
    shop = await session.get(SellerProfile, seller_id)
    assert user is not None
    assert shop is not None
    assert (user.password_hash, user.display_name) == (None, "Deleted user")
    assert user.email.endswith("@deleted.invalid")
    assert user.deleted_at is not None
    assert shop.status is SellerStatus.closed
    assert GOOD_IBAN not in shop.payout_account
    for field in (shop.legal_name, shop.contact_email, shop.contact_phone, shop.shop_name):
        assert field not in contacts
    assert await _count(session, WebhookEndpoint, WebhookEndpoint.seller_id == seller_id) == 0
    live = (ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
    assert await _count(session, ApiKey, *live) == 0
    sessions = (RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
    assert await _count(session, RefreshToken, *sessions) == 0


async def test_a_deleted_buyer_leaves_no_cart_notice_or_stored_response_behind(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    await completed_order_to(
        client, market=m, address=FULL_ADDRESS
    )  # checkout and payment: idempotent calls
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    await add_to_cart(client, who=m.buyer, listing_id=listing["id"], quantity=1)
    conversation = await start(client, who=m.buyer, listing_id=listing["id"])
    json_ok(
        await post_message(
            client, who=m.seller, conversation_id=conversation["id"], body="Yes, still here"
        ),
        201,
    )
    buyer_id = uuid.UUID(m.buyer.user_id)
    assert await _count(session, Notification, Notification.user_id == buyer_id) > 0
    stored = IdempotencyRecord.scope == str(buyer_id)
    assert await _count(session, IdempotencyRecord, stored) > 0

    await deleted(client, who=m.buyer)

    assert await _count(session, CartItem, CartItem.buyer_id == buyer_id) == 0
    assert await _count(session, Notification, Notification.user_id == buyer_id) == 0
    assert await _count(session, IdempotencyRecord, stored) == 0
    # The seller can no longer write to them, and nothing new is queued for them.
    gone = await post_message(
        client, who=m.seller, conversation_id=conversation["id"], body="Hello?"
    )
    assert_problem(gone, 409, "participant_gone")
    assert await _count(session, Notification, Notification.user_id == buyer_id) == 0
    json_ok(await client.get(f"/v1/conversations/{conversation['id']}", headers=m.seller.headers))
