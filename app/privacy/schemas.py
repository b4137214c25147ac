import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.auth.schemas import MAX_PASSWORD_LENGTH
from app.core.schemas import RequestSchema, Schema


class AccountExport(Schema):
    exported_at: datetime
    user_id: uuid.UUID
    data: dict[str, list[dict[str, Any]]] = Field(
        description="Every table holding the caller's data (always all of them) -> the rows: "
        "the caller's own, their shop's, and what they wrote or took part in. Secrets are "
        "left out (password and key hashes, webhook secrets); the payout account is masked."
    )


class AccountDeletion(RequestSchema):
    password: str = Field(
        min_length=1, max_length=MAX_PASSWORD_LENGTH, description="The current password"
    )
