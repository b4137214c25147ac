from typing import Annotated

from fastapi import Query

from app.admin import service, views
from app.admin.schemas import AuditEntryRead
from app.auth.dependencies import AdminPrincipal, admin_api_router
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.pagination import InvalidCursor, PageQuery
from app.core.schemas import NO_NUL_PATTERN, Page, page_of

router = admin_api_router()


@router.get(
    "/audit-log", response_model=Page[AuditEntryRead], responses=error_responses(InvalidCursor)
)
async def list_audit_log(
    _admin: AdminPrincipal,
    session: DbSession,
    page: PageQuery,
    target_type: Annotated[str | None, Query(max_length=32, pattern=NO_NUL_PATTERN)] = None,
    target_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL_PATTERN)] = None,
) -> Page[AuditEntryRead]:
    """Every admin decision, newest first: who, what, on whom, why, when."""
    entries, next_cursor = await service.list_audit_entries(
        session, page, target_type=target_type, target_id=target_id
    )
    return page_of(entries, next_cursor, views.audit_entry_read)
