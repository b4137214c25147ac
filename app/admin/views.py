"""Presenters: the audit log as admins read it."""

from collections.abc import Sequence

from app.admin.schemas import AuditEntryRead
from app.core.audit import AuditEntry
from app.core.schemas import Page


def audit_page(entries: Sequence[AuditEntry], next_cursor: str | None) -> Page[AuditEntryRead]:
    return Page(items=[AuditEntryRead.model_validate(e) for e in entries], next_cursor=next_cursor)
