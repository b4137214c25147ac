"""Presenters: accounts and API keys as the API shows them (never a key's hash; its plain
text only in the answer that created it)."""

from app.auth.models import ApiKey, User
from app.auth.schemas import AccountUpdated, ApiKeyCreated, ApiKeyRead, UserAdminRead, UserRead
from app.auth.service import AccountChange


def user_read(user: User) -> UserRead:
    return UserRead.model_validate(user)


def user_admin_read(user: User) -> UserAdminRead:
    return UserAdminRead.model_validate(user)


def account_updated(change: AccountChange) -> AccountUpdated:
    keys = change.active_api_keys
    return AccountUpdated(
        **user_read(change.user).model_dump(),
        active_api_keys=None if keys is None else [api_key_read(k) for k in keys],
    )


def api_key_read(key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead.model_validate(key)


def api_key_created(key: ApiKey, plain: str) -> ApiKeyCreated:
    return ApiKeyCreated.model_validate({**api_key_read(key).model_dump(), "key": plain})
