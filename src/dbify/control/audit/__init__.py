"""The audit log: every management API call that changes something, who made it, when,
and how it ended (``/api/v1/audit`` for admins, ``/api/v1/projects/{id}/audit``)."""

from dbify.control.audit.middleware import AuditRecorder

__all__ = ["AuditRecorder"]
