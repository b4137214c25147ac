import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from fastapi import Form
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from app.auth.passwords import weakness
from app.auth.scopes import ApiKeyScope
from app.core.schemas import (
    NO_NUL_PATTERN,
    NOT_BLANK_PATTERN,
    Email,
    RequestSchema,
    Schema,
    given_whenever,
)

MIN_PASSWORD_LENGTH = 10
# argon2 would hash anything, but an unbounded password is a cheap denial of service.
MAX_PASSWORD_LENGTH = 256

Password = Annotated[
    str,
    Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description=(
            f"At least {MIN_PASSWORD_LENGTH} characters, not the email address, and not easy "
            "to guess: common passwords, repeats, sequences, keyboard walks and words of the "
            "account's email or name are refused (zxcvbn score 3 or more of 4)"
        ),
    ),
]
CurrentPassword = Annotated[
    str,
    # An empty one is refused rather than read as absent, so the schema can say `minLength`.
    Field(min_length=1, max_length=MAX_PASSWORD_LENGTH),
]
DisplayName = Annotated[str, Field(min_length=1, max_length=100, pattern=NOT_BLANK_PATTERN)]


def _password_is_not_email(password: str | None, email: str | None) -> None:
    if password and email and password.strip().lower() == email.strip().lower():
        raise ValueError("the password must not be the email address")


def refuse_weak_password(password: str, *, field: str, user_inputs: list[str | None]) -> None:
    """A validation error on `field` (not on the whole body) saying why the password is too
    easy to guess; pydantic reports it at `["body", field]` like the field's other errors."""
    reason = weakness(password, user_inputs=user_inputs)
    if reason is not None:
        raise ValidationError.from_exception_data(
            "password",
            [
                InitErrorDetails(
                    type=PydanticCustomError("weak_password", reason),
                    loc=(field,),
                    input=password,
                )
            ],
        )


class UserRegister(RequestSchema):
    email: Email = Field(examples=["ada@example.com"])
    password: Password
    display_name: DisplayName

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "ada@example.com",
                    "password": "correct horse battery",
                    "display_name": "Ada",
                }
            ]
        }
    )

    @model_validator(mode="after")
    def _check_password(self) -> Self:
        _password_is_not_email(self.password, self.email)
        refuse_weak_password(
            self.password, field="password", user_inputs=[self.email, self.display_name]
        )
        return self


class UserUpdate(RequestSchema):
    """Changing the email or the password needs the current password. A new password is
    judged against the account's words by the service, which knows them."""

    model_config = ConfigDict(
        json_schema_extra=given_whenever("current_password", any_of=("email", "new_password"))
    )

    display_name: DisplayName | None = None
    email: Email | None = None
    new_password: Password | None = None
    current_password: CurrentPassword | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        changes_credentials = self.email is not None or self.new_password is not None
        if changes_credentials and self.current_password is None:
            raise ValueError("current_password is required to change the email or password")
        _password_is_not_email(self.new_password, self.email)
        return self


def _optional_form_field(**constraints: Any) -> Any:
    """An optional form field: left out, not null (a form cannot say null), so the spec
    describes the string alone; validation keeps the plain `str | None` (one error, not one per
    branch of a union)."""
    return WithJsonSchema({"type": "string", **constraints})


_SECOND_FACTOR = (
    "The second factor, for an account that has one: the code the authenticator app shows "
    "now, or an unused recovery code (left out: 401 `totp_required`). Ignored otherwise"
)


class PasswordLoginForm(OAuth2PasswordRequestForm):
    """The OAuth2 password form (what Swagger UI's "Authorize" sends), its fields held to what
    a JSON body's are: not empty (an empty form field counts as missing), bounded, and without
    NUL, which PostgreSQL cannot even compare."""

    def __init__(
        self,
        *,
        grant_type: Annotated[
            str | None,
            Form(pattern="^password$"),
            _optional_form_field(pattern="^password$"),
        ] = None,
        username: Annotated[
            str,
            Form(min_length=1, max_length=320, pattern=NO_NUL_PATTERN, description="The email"),
        ],
        password: Annotated[
            str,
            Form(
                min_length=1,
                max_length=MAX_PASSWORD_LENGTH,
                pattern=NO_NUL_PATTERN,
                json_schema_extra={"format": "password"},
            ),
        ],
        scope: Annotated[str, Form(max_length=1000, pattern=NO_NUL_PATTERN)] = "",
        client_id: Annotated[
            str | None,
            Form(max_length=255, pattern=NO_NUL_PATTERN),
            _optional_form_field(maxLength=255, pattern=NO_NUL_PATTERN),
        ] = None,
        client_secret: Annotated[
            str | None,
            Form(max_length=255, pattern=NO_NUL_PATTERN, description=_SECOND_FACTOR),
            _optional_form_field(
                maxLength=255, pattern=NO_NUL_PATTERN, format="password", description=_SECOND_FACTOR
            ),
        ] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


class UserRead(Schema):
    id: uuid.UUID
    email: str
    display_name: str
    roles: list[Literal["buyer", "seller", "admin"]]
    seller_status: Literal["pending_review", "approved", "rejected", "suspended"] | None = Field(
        description="Your shop's review state; null if you never applied to sell"
    )
    email_verified: bool = Field(
        description="Whether a link mailed to `email` was followed. Where verification is "
        "required, an unverified account can browse and fill its cart but not pay, apply to "
        "sell or create API keys (403 `email_not_verified`)"
    )
    pending_email: str | None = Field(
        description="A new address asked for with `PATCH /v1/me`: it becomes `email` (the "
        "login) once the link mailed to it is followed; null: none"
    )
    totp_enabled: bool = Field(
        description="Whether a second factor (TOTP) is enrolled: then logging in needs a code"
    )
    created_at: datetime


class UserAdminRead(UserRead):
    """An account as an admin's user search shows it."""

    shop_id: uuid.UUID | None = Field(
        description="Their shop (a seller profile: `GET /v1/admin/sellers?...`); null: none"
    )
    is_admin: bool
    updated_at: datetime


class UserAdminUpdate(RequestSchema):
    is_admin: StrictBool = Field(description="Grant or revoke the admin role")
    reason: str | None = Field(default=None, max_length=1000)


class TokenPair(Schema):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires")


class RefreshRequest(RequestSchema):
    refresh_token: str = Field(min_length=1, max_length=4096)


API_KEY_DEFAULT_TTL_DAYS = 90
API_KEY_MAX_TTL_DAYS = 365


class ApiKeyCreate(RequestSchema):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[ApiKeyScope] = Field(min_length=1, max_length=len(ApiKeyScope))
    expires_at: AwareDatetime | None = Field(
        default=None,
        description=f"With a time zone; the key stops working then. At most "
        f"{API_KEY_MAX_TTL_DAYS} days ahead; left out, {API_KEY_DEFAULT_TTL_DAYS} days from now",
    )
    password: CurrentPassword = Field(
        description="Your current password. A key is lasting access to your shop, so making "
        "one takes a fresh proof that it is you, not only an access token; wrong passwords "
        "count towards the login lockout"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "warehouse sync",
                    "scopes": ["listings:write", "orders:write"],
                    "password": "correct horse battery",
                }
            ]
        },
    )


class ApiKeyRead(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    """The key's first characters, to recognise it."""
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str
    """The key itself, shown only now: send it as `Authorization: Bearer <key>`."""


class AccountUpdated(UserRead):
    active_api_keys: list[ApiKeyRead] | None = Field(
        description="After a password change (null otherwise): your API keys that still work. "
        "A new password ends every session, but not your API keys: they are your shop's "
        "integrations, and revoking them would stop its software. If you changed the password "
        "because it may have leaked, revoke them all with `DELETE /v1/me/api-keys`."
    )


class RegistrationAccepted(Schema):
    """The same for a new address and one that already has an account, so that the answer
    tells a stranger nothing; the address's owner gets a mail either way."""

    email: str
    status: Literal["verification_sent"] = "verification_sent"
    detail: str = (
        "If this address can receive mail, a message is on its way: follow its link to "
        "confirm the address, then log in."
    )


AccountTokenText = Annotated[
    str,
    Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$", description="From the mail"),
]


class EmailVerification(RequestSchema):
    token: AccountTokenText


class PasswordResetRequestBody(RequestSchema):
    email: Email = Field(examples=["ada@example.com"])


class PasswordResetAccepted(Schema):
    status: Literal["reset_requested"] = "reset_requested"
    detail: str = (
        "If an account has this address, a mail with a link to choose a new password is on "
        "its way; the link works once, for a short time."
    )


class PasswordResetConfirm(RequestSchema):
    token: AccountTokenText
    new_password: Password
