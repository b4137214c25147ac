from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import AuditEntry
from app.core.pagination import PageParams, SortKey, paginate


async def list_audit_entries(
    session: AsyncSession, page: PageParams, *, target_type: str | None, target_id: str | None
) -> tuple[list[AuditEntry], str | None]:
    statement = select(AuditEntry)
    if target_type:
        statement = statement.where(AuditEntry.target_type == target_type)
    if target_id:
        statement = statement.where(AuditEntry.target_id == target_id)
    return await paginate(
        session, statement, keys=[SortKey(AuditEntry.id, descending=True)], page=page
    )
