from typing import Any

from app.auth.principal import Principal
from app.core.clock import now
from app.privacy.schemas import AccountExport


def account_export(principal: Principal, data: dict[str, list[dict[str, Any]]]) -> AccountExport:
    return AccountExport(exported_at=now(), user_id=principal.user_id, data=data)
