"""API shapes of a user's notification preferences (``/api/v1/users/me/notifications``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["NotificationPreferences", "NotificationPreferencesOut", "SchemaChangeEmails"]

# owned: projects where the user is an owner (the default); all: every project the user
# is a member of (subscribed); none: no schema-change email at all (opted out).
SchemaChangeEmails = Literal["owned", "all", "none"]


class NotificationPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_changes: SchemaChangeEmails = Field(
        "owned",
        description="Schema-change emails: 'owned' (projects you own), 'all' (every project "
        "you are a member of) or 'none'.",
    )


class NotificationPreferencesOut(NotificationPreferences):
    updated_at: datetime | None = None
