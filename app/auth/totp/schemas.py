from typing import Annotated

from pydantic import ConfigDict, Field

from app.auth.schemas import CurrentPassword
from app.core.schemas import NO_NUL_PATTERN, RequestSchema, Schema

Code = Annotated[
    str,
    Field(
        min_length=6,
        max_length=64,
        pattern=NO_NUL_PATTERN,
        description="The 6-digit code your authenticator app shows now (spaces are ignored)",
    ),
]
CodeOrRecoveryCode = Annotated[
    str,
    Field(
        min_length=6,
        max_length=64,
        pattern=NO_NUL_PATTERN,
        description="The 6-digit code your authenticator app shows now, or one of your "
        "unused recovery codes (case, spaces and dashes are ignored); either works once",
    ),
]

_PASSWORD_EXAMPLE = "correct horse battery"


class TotpEnrol(RequestSchema):
    password: CurrentPassword = Field(
        description="Your current password; wrong ones count towards the login lockout"
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"password": _PASSWORD_EXAMPLE}]})


class TotpEnrolment(Schema):
    secret: str = Field(
        description="The shared secret (base32), shown only now: type it into an "
        "authenticator app, or scan `otpauth_uri` as a QR code"
    )
    otpauth_uri: str = Field(
        description="`otpauth://totp/...`: the secret, the account and the issuer, for a QR code"
    )


class TotpConfirm(RequestSchema):
    code: Code

    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "123456"}]})


class TotpProof(RequestSchema):
    """The password and a second-factor code, for a change to the second factor."""

    password: CurrentPassword = Field(
        description="Your current password; wrong ones count towards the login lockout"
    )
    code: CodeOrRecoveryCode

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"password": _PASSWORD_EXAMPLE, "code": "123456"}]}
    )


class RecoveryCodes(Schema):
    recovery_codes: list[str] = Field(
        description="Ten codes, shown only now (only their hashes are stored): each stands in "
        "for an authenticator code once, at login or to disable the second factor, if the "
        "device is lost. Keep them somewhere safe; a new set replaces them all"
    )
