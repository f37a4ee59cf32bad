"""Making a new API key: the secret to show once and the record to store.

A secret is ``dbify_<label>_<43 url-safe chars>`` (256 bits; label ``anon``,
``service`` or ``role``). The record holds its SHA-256 (``auth.api_keys.hash_api_key``,
the same hash the data plane looks keys up by) and a short prefix to recognise it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from dbify.auth.api_keys import hash_api_key
from dbify.control.api_keys.store import KeyRecord

_PREFIX_LENGTH = 6


def _label(role: str) -> str:
    return role if role in ("anon", "service") else "role"


def new_key_record(
    project_id: str, name: str, role: str, expires_at: datetime | None
) -> tuple[KeyRecord, str]:
    """A fresh key: its record (hash only) and the secret to show once."""
    label = _label(role)
    secret = f"dbify_{label}_{secrets.token_urlsafe(32)}"
    record = KeyRecord(
        id=secrets.token_hex(8),
        project_id=project_id,
        name=name,
        role=role,
        key_hash=hash_api_key(secret),
        prefix=secret[: len(f"dbify_{label}_") + _PREFIX_LENGTH],
        created_at=datetime.now(UTC),
        expires_at=expires_at,
        last_used_at=None,
    )
    return record, secret
