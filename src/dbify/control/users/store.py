"""SQL for users, dashboard sessions and personal access tokens.

Rows hold argon2 password hashes and SHA-256 hashes of session, CSRF and token
secrets; never a secret itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.metadata.tables import access_tokens, sessions, users


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    email: str
    password_hash: str
    is_admin: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    user_id: str
    token_hash: str
    csrf_hash: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    user_id: str
    name: str
    token_hash: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


def _user(row: sa.Row[Any]) -> UserRecord:
    return UserRecord(**{f: row._mapping[f] for f in UserRecord.__slots__})


class UserStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert(self, record: UserRecord) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                users.insert().values(**{f: getattr(record, f) for f in UserRecord.__slots__})
            )

    async def by_email(self, email: str) -> UserRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(users.select().where(users.c.email == email))).first()
        return None if row is None else _user(row)

    async def by_id(self, user_id: str) -> UserRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(users.select().where(users.c.id == user_id))).first()
        return None if row is None else _user(row)

    async def count(self) -> int:
        async with self._engine.connect() as conn:
            return int(
                (await conn.execute(sa.select(sa.func.count()).select_from(users))).scalar_one()
            )

    async def set_password(self, user_id: str, password_hash: str, is_admin: bool) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                users.update()
                .where(users.c.id == user_id)
                .values(password_hash=password_hash, is_admin=is_admin)
            )

    async def insert_session(self, record: SessionRecord) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                sessions.insert().values(**{f: getattr(record, f) for f in SessionRecord.__slots__})
            )

    async def session_by_hash(self, token_hash: str) -> SessionRecord | None:
        query = sessions.select().where(sessions.c.token_hash == token_hash)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return SessionRecord(**{f: row._mapping[f] for f in SessionRecord.__slots__})

    async def delete_session(self, token_hash: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(sessions.delete().where(sessions.c.token_hash == token_hash))

    async def insert_token(self, record: TokenRecord) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                access_tokens.insert().values(
                    **{f: getattr(record, f) for f in TokenRecord.__slots__}
                )
            )

    async def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        query = access_tokens.select().where(access_tokens.c.token_hash == token_hash)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return TokenRecord(**{f: row._mapping[f] for f in TokenRecord.__slots__})

    async def tokens_of(self, user_id: str) -> list[TokenRecord]:
        query = (
            access_tokens.select()
            .where(access_tokens.c.user_id == user_id)
            .order_by(access_tokens.c.created_at)
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
        return [TokenRecord(**{f: r._mapping[f] for f in TokenRecord.__slots__}) for r in rows]

    async def delete_token(self, user_id: str, token_id: str) -> bool:
        query = access_tokens.delete().where(
            access_tokens.c.user_id == user_id, access_tokens.c.id == token_id
        )
        async with self._engine.begin() as conn:
            return bool((await conn.execute(query)).rowcount)

    async def touch_token(self, token_id: str, when: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                access_tokens.update()
                .where(access_tokens.c.id == token_id)
                .values(last_used_at=when)
            )
