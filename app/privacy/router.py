from fastapi import APIRouter, Response, status

from app.auth.dependencies import CurrentPrincipal, PasswordAttemptsDep
from app.auth.exceptions import InvalidToken, TooManyLoginAttempts, WrongPassword
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.routing import API_PREFIX
from app.privacy import service, views
from app.privacy.exceptions import AccountInUse
from app.privacy.schemas import AccountDeletion, AccountExport

router = APIRouter(prefix=f"{API_PREFIX}/me", tags=["me"], responses=error_responses(InvalidToken))


@router.get("/export", response_model=AccountExport)
async def export_account(principal: CurrentPrincipal, session: DbSession) -> AccountExport:
    """All personal data of the caller, as JSON: the account, the shop, and every row of
    every table tied to them or to their shop (orders, messages, reviews, notifications...)."""
    return views.account_export(principal, await service.export(session, principal))


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(WrongPassword, TooManyLoginAttempts, AccountInUse),
)
async def delete_account(
    body: AccountDeletion,
    principal: CurrentPrincipal,
    session: DbSession,
    attempts: PasswordAttemptsDep,
) -> Response:
    """Delete your account (confirm with your password). Personal data is erased at once:
    you can no longer log in, your sessions and API keys stop working, your shop closes and
    its listings leave the catalog. Orders, the ledger, reviews and messages are kept, tied
    to an account whose name reads "Deleted user". Refused with 409 `account_in_use` while
    an order, return or dispute is still open, a buyer may still return or dispute one of
    your shop's sales, or your shop holds (or owes) money."""
    await service.delete(session, principal, body.password, attempts=attempts)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
