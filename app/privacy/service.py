"""Export and deletion of an account. Deletion erases what names or reaches the person and
keeps what others rely on: orders (their buyer or seller id stays, the address is erased), the
ledger, reviews and messages (shown as from "Deleted user")."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.models import User
from app.catalog import service as catalog_service
from app.core.audit import record_audit
from app.core.clock import now
from app.core.text import mask_secret
from app.payments import service as payments_service
from app.privacy.exceptions import AccountInUse
from app.privacy.personal_data import PERSONAL_DATA, PersonalTable
from app.privacy.repository import PrivacyRepository
from app.privacy.schemas import AccountExport
from app.sellers import service as sellers_service


async def export(session: AsyncSession, user: User) -> AccountExport:
    shop = await sellers_service.find_for_user(session, user)
    shop_id = shop.id if shop is not None else None
    privacy = PrivacyRepository(session)
    data = {
        entry.name: [_shown(entry, row) for row in await privacy.rows_of(entry, user.id, shop_id)]
        for entry in PERSONAL_DATA
    }
    return AccountExport(exported_at=now(), user_id=user.id, data=data)


def _shown(entry: PersonalTable, row: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in row.items() if k not in entry.hidden and k not in entry.masked}
    for column in entry.masked:
        shown[f"{column}_masked"] = mask_secret(row[column])
    return shown


async def delete(session: AsyncSession, user: User, password: str) -> None:
    """Refused (409) while orders, returns or disputes still need the person or their shop
    holds money; otherwise the account is erased at once."""
    auth_service.require_password(user, password)
    shop = await sellers_service.find_for_user(session, user)
    shop_id = shop.id if shop is not None else None
    privacy = PrivacyRepository(session)
    in_progress = await privacy.business_in_progress(user.id, shop_id)
    if shop_id is not None and await _holds_money(session, shop_id):
        in_progress.append("a balance not yet paid out (request a payout first)")
    if in_progress:
        raise AccountInUse(f"first finish: {', '.join(in_progress)}")
    if shop_id is not None:
        await sellers_service.close_for_deleted_account(session, user)
        await catalog_service.withdraw_all_of_seller(session, shop_id)
        await privacy.disable_webhooks(shop_id)
    await privacy.erase_buyer_traces(user.id)
    await auth_service.erase_account(session, user)
    await record_audit(
        session,
        actor_id=user.id,
        action="account.deleted",
        target_type="user",
        target_id=user.id,
        details={"shop_closed": str(shop_id) if shop_id else None},
    )


async def _holds_money(session: AsyncSession, shop_id: uuid.UUID) -> bool:
    return any(
        balance.pending or balance.available or balance.in_transit or balance.reserved
        for balance in await payments_service.balances(session, shop_id)
    )
