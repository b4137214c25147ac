"""Presenters: the audit log as admins read it."""

from app.admin.schemas import AuditEntryRead
from app.core.audit import AuditEntry


def audit_entry_read(entry: AuditEntry) -> AuditEntryRead:
    return AuditEntryRead.model_validate(entry)
