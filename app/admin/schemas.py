import uuid
from datetime import datetime
from typing import Any

from app.core.schemas import Schema


class AuditEntryRead(Schema):
    id: uuid.UUID
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str
    reason: str | None
    details: dict[str, Any]
    created_at: datetime
