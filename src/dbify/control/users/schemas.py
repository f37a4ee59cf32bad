"""Shapes of the users API: sign-up/in bodies, the user, personal access tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    password: SecretStr = Field(min_length=8, max_length=1024)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: SecretStr = Field(min_length=1, max_length=1024)
    new_password: SecretStr = Field(min_length=8, max_length=1024)


class UserOut(BaseModel):
    id: str
    email: str
    is_admin: bool
    created_at: datetime


class SignedIn(BaseModel):
    """The session itself travels in an HttpOnly cookie; ``csrf_token`` must be sent
    back in the ``X-CSRF-Token`` header on every state-changing request."""

    user: UserOut
    csrf_token: str


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    expires_at: datetime | None = None


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenOut):
    """Returned once: ``token`` is not retrievable afterwards."""

    token: str
