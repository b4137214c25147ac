"""Export and deletion of an account. Deletion erases what names or reaches the person and
keeps what others rely on: orders (their buyer or seller id stays, the address is erased), the
ledger, reviews, messages, dispute texts and evidence (tied to an account named "Deleted
user")."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.lockout import PasswordAttempts
from app.auth.principal import Principal
from app.catalog import service as catalog_service
from app.core import idempotency
from app.core.audit import record_audit
from app.core.clock import now
from app.core.text import mask_secret
from app.disputes import erasure as disputes_erasure
from app.messaging.notifications import erasure as notifications_erasure
from app.messaging.webhooks import erasure as webhooks_erasure
from app.offers import service as offers_service
from app.orders import erasure as orders_erasure
from app.payments import service as payments_service
from app.privacy.exceptions import AccountInUse
from app.privacy.personal_data import PERSONAL_DATA, PersonalTable
from app.privacy.repository import PrivacyRepository
from app.sellers import service as sellers_service
from app.watchlists import service as watchlists_service


async def export(session: AsyncSession, principal: Principal) -> dict[str, list[dict[str, Any]]]:
    """Every personal row of the caller and their shop, by table, secrets left out and
    payout accounts masked."""
    privacy = PrivacyRepository(session)
    user_id, shop_id = principal.user_id, principal.shop_id
    return {
        entry.name: [_shown(entry, row) for row in await privacy.rows_of(entry, user_id, shop_id)]
        for entry in PERSONAL_DATA
    }


def _shown(entry: PersonalTable, row: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in row.items() if k not in entry.hidden and k not in entry.masked}
    for column in entry.masked:
        shown[f"{column}_masked"] = mask_secret(row[column])
    return shown


async def delete(
    session: AsyncSession, principal: Principal, password: str, *, attempts: PasswordAttempts
) -> None:
    """Refused (409) while orders, returns or disputes still need the person or their shop
    holds money; otherwise the account is erased at once, every session and API key with
    it."""
    user = principal.user
    await auth_service.require_password(session, attempts, user, password)
    # One consistent decision: the account's and the shop's rows are locked first, and the
    # shop's listings leave the catalog before the checks, so that a checkout still holding a
    # listing's lock commits first and its order is then seen (and refuses the deletion);
    # a refusal rolls the withdrawal back.
    await auth_service.lock(session, user)
    shop = await sellers_service.lock_for_user(session, user)
    shop_id = shop.id if shop is not None else None
    # The open offers the person made or their shop received expire (an accepted one's stock
    # returns) before the listings are touched: offer rows, then listing rows, the order an
    # accept locks them in. A refusal rolls this back as well.
    await offers_service.close_for_deleted_account(session, user_id=user.id, shop_id=shop_id)
    if shop is not None:
        await catalog_service.withdraw_all_of_seller(session, shop.id)
    # Each domain says what of its own still needs the person, then erases its own part.
    in_progress = await orders_erasure.open_business(session, user_id=user.id, shop_id=shop_id)
    in_progress += await disputes_erasure.open_business(session, user_id=user.id, shop_id=shop_id)
    if shop is not None:
        in_progress += await orders_erasure.sales_open_to_claims(session, shop.id, at=now())
        in_progress += await _money_held(session, shop.id)
    if in_progress:
        raise AccountInUse(f"first finish: {', '.join(in_progress)}")
    if shop is not None:
        await sellers_service.close_for_deleted_account(session, shop)
        await webhooks_erasure.delete_for_shop(session, shop.id)
    await orders_erasure.erase_buyer_traces(session, user.id)
    await notifications_erasure.erase_for_user(session, user.id)
    await watchlists_service.erase_for_user(session, user.id)
    await idempotency.forget_user(session, user.id)
    await auth_service.erase_account(session, user)
    await record_audit(
        session,
        actor_id=user.id,
        action="account.deleted",
        target_type="user",
        target_id=user.id,
        details={"shop_closed": str(shop.id) if shop else None},
    )


async def _money_held(session: AsyncSession, shop_id: uuid.UUID) -> list[str]:
    held = []
    for balance in await payments_service.balances(session, shop_id):
        if balance.pending or balance.available > 0 or balance.in_transit or balance.reserved:
            held.append(f"{balance.currency} not yet paid out (request a payout)")
        if balance.available < 0:
            held.append(f"a {balance.currency} debt to the platform (recovered from sales)")
    return held
