"""Rules for notification preferences: each signed-in user reads and sets their own.

A user without a stored row has the defaults (``schema_changes='owned'``). The system
caller (the CLI) has no user and gets ``DBIFY601``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dbify.control.access import Caller
from dbify.control.errors import ControlCodes, control_error
from dbify.control.notifications.schemas import (
    NotificationPreferences,
    NotificationPreferencesOut,
)
from dbify.control.notifications.store import (
    DEFAULT_SCHEMA_CHANGES,
    NotificationStore,
    PreferenceRecord,
)

__all__ = ["NotificationService"]


def _user_id(caller: Caller) -> str:
    if caller.user_id is None:
        raise control_error(ControlCodes.UNAUTHENTICATED, "Preferences belong to a signed-in user")
    return caller.user_id


class NotificationService:
    def __init__(self, store: NotificationStore) -> None:
        self._store = store

    async def get(self, caller: Caller) -> NotificationPreferencesOut:
        record = await self._store.get(_user_id(caller))
        if record is None:
            return NotificationPreferencesOut(schema_changes=DEFAULT_SCHEMA_CHANGES)
        return NotificationPreferencesOut(
            schema_changes=record.schema_changes,
            updated_at=record.updated_at,
        )

    async def put(
        self, caller: Caller, preferences: NotificationPreferences
    ) -> NotificationPreferencesOut:
        record = PreferenceRecord(_user_id(caller), preferences.schema_changes, datetime.now(UTC))
        await self._store.put(record)
        return NotificationPreferencesOut(
            schema_changes=preferences.schema_changes, updated_at=record.updated_at
        )
