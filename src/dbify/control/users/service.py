"""Rules for users: sign-up, sign-in, sessions, personal access tokens, admins.

Passwords are hashed with argon2id (argon2-cffi defaults). Sessions and tokens are
random 256-bit secrets stored as SHA-256; each session also carries a CSRF secret
that state-changing requests must echo in a header (double submit, checked in
``routes.py``). The first user of an instance becomes its admin. Sign-in failures
are rate limited per address and email, and an unknown email costs the same
argon2 work as a wrong password, so timing does not reveal which emails exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dbify.control.access import Caller
from dbify.control.errors import ControlCodes, control_error
from dbify.control.users.rate_limit import LoginLimiter
from dbify.control.users.schemas import TokenCreated, TokenOut, UserOut
from dbify.control.users.store import SessionRecord, TokenRecord, UserRecord, UserStore

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password")
TOKEN_PREFIX = "dbify_pat_"  # noqa: S105 - a prefix, not a secret


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def user_out(user: UserRecord) -> UserOut:
    return UserOut(id=user.id, email=user.email, is_admin=user.is_admin, created_at=user.created_at)


def _token_out(token: TokenRecord) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
    )


@dataclass(frozen=True, slots=True)
class NewSession:
    """Secrets of a new session, for the cookie and the client's CSRF header."""

    token: str
    csrf_token: str
    expires_at: datetime


class UserService:
    def __init__(
        self,
        store: UserStore,
        limiter: LoginLimiter,
        *,
        signup_enabled: bool,
        session_hours: float,
    ) -> None:
        self._store = store
        self._limiter = limiter
        self._signup_enabled = signup_enabled
        self._session_lifetime = timedelta(hours=session_hours)

    async def close(self) -> None:
        await self._limiter.close()

    async def sign_up(self, email: str, password: str) -> UserRecord:
        if not self._signup_enabled:
            raise control_error(
                ControlCodes.SIGNUP_DISABLED,
                "Sign-up is disabled on this instance",
                hint="Ask an admin, or run `dbify users create-admin`.",
            )
        return await self.create_user(email, password, is_admin=None)

    async def create_user(self, email: str, password: str, *, is_admin: bool | None) -> UserRecord:
        """A new user; ``is_admin=None`` makes the first user of the instance an admin."""
        email = email.strip().lower()
        if await self._store.by_email(email) is not None:
            raise control_error(ControlCodes.CONFLICT, "A user with this email already exists")
        admin = is_admin if is_admin is not None else await self._store.count() == 0
        user = UserRecord(secrets.token_hex(16), email, _hasher.hash(password), admin, _now())
        await self._store.insert(user)
        return user

    async def create_admin(self, email: str, password: str) -> UserRecord:
        """Create an admin, or make an existing user admin with this password."""
        existing = await self._store.by_email(email.strip().lower())
        if existing is None:
            return await self.create_user(email, password, is_admin=True)
        await self._store.set_password(existing.id, _hasher.hash(password), True)
        updated = await self._store.by_id(existing.id)
        assert updated is not None
        return updated

    async def sign_in(
        self, email: str, password: str, address: str
    ) -> tuple[UserRecord, NewSession]:
        email = email.strip().lower()
        if not await self._limiter.allowed(address, email):
            raise control_error(
                ControlCodes.RATE_LIMITED,
                "Too many failed sign-in attempts; try again in a minute",
            )
        user = await self._store.by_email(email)
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            user = None
        if user is None:
            await self._limiter.record_failure(address, email)
            raise control_error(ControlCodes.UNAUTHENTICATED, "Invalid email or password")
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        expires = now + self._session_lifetime
        await self._store.insert_session(
            SessionRecord(
                secrets.token_hex(16), user.id, _digest(token), _digest(csrf), now, expires
            )
        )
        return user, NewSession(token, csrf, expires)

    async def sign_out(self, session_token: str) -> None:
        await self._store.delete_session(_digest(session_token))

    async def caller_from_session(
        self, session_token: str, csrf_token: str | None, *, check_csrf: bool
    ) -> Caller:
        session = await self._store.session_by_hash(_digest(session_token))
        if session is None or session.expires_at <= _now():
            raise control_error(ControlCodes.UNAUTHENTICATED, "Session expired; sign in again")
        if check_csrf and (
            csrf_token is None or not hmac.compare_digest(_digest(csrf_token), session.csrf_hash)
        ):
            raise control_error(
                ControlCodes.CSRF_FAILED,
                "Missing or wrong CSRF token",
                hint="Send the csrf_token from sign-in in the X-CSRF-Token header.",
            )
        return await self._caller(session.user_id)

    async def caller_from_token(self, token: str) -> Caller:
        record = await self._store.token_by_hash(_digest(token))
        now = _now()
        if record is None or (record.expires_at is not None and record.expires_at <= now):
            raise control_error(ControlCodes.UNAUTHENTICATED, "Invalid or expired access token")
        if record.last_used_at is None or now - record.last_used_at > timedelta(minutes=1):
            await self._store.touch_token(record.id, now)
        return await self._caller(record.user_id)

    async def _caller(self, user_id: str) -> Caller:
        user = await self._store.by_id(user_id)
        if user is None:
            raise control_error(ControlCodes.UNAUTHENTICATED, "Unknown user")
        return Caller(user.id, user.is_admin, user.email)

    async def user(self, caller: Caller) -> UserOut:
        user = await self._store.by_id(caller.user_id or "")
        if user is None:
            raise control_error(ControlCodes.NOT_FOUND, "Unknown user")
        return user_out(user)

    async def change_password(self, caller: Caller, current: str, new: str) -> None:
        """Set a new password after checking the current one (401 when it is wrong)."""
        user = await self._store.by_id(caller.user_id or "")
        if user is None:
            raise control_error(ControlCodes.NOT_FOUND, "Unknown user")
        try:
            _hasher.verify(user.password_hash, current)
        except (VerificationError, InvalidHashError):
            raise control_error(
                ControlCodes.UNAUTHENTICATED, "The current password is wrong"
            ) from None
        await self._store.set_password(user.id, _hasher.hash(new), user.is_admin)

    async def create_token(
        self, caller: Caller, name: str, expires_at: datetime | None
    ) -> TokenCreated:
        assert caller.user_id is not None
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = TokenRecord(
            id=secrets.token_hex(8),
            user_id=caller.user_id,
            name=name,
            token_hash=_digest(secret),
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            created_at=_now(),
            expires_at=expires_at,
            last_used_at=None,
        )
        await self._store.insert_token(record)
        return TokenCreated(**_token_out(record).model_dump(), token=secret)

    async def tokens(self, caller: Caller) -> list[TokenOut]:
        return [_token_out(t) for t in await self._store.tokens_of(caller.user_id or "")]

    async def delete_token(self, caller: Caller, token_id: str) -> None:
        if not await self._store.delete_token(caller.user_id or "", token_id):
            raise control_error(ControlCodes.NOT_FOUND, f"Token '{token_id}' not found")
