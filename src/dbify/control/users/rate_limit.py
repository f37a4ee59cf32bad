"""Sign-in rate limiting: failed attempts per client address and per email.

A sliding window of one minute: after ``limit`` failures for the address or for the
email, further attempts are refused until the window moves on, so guessing a password
cannot be parallelised across addresses either.

    LoginLimiter (Protocol)
    ├── LoginRateLimiter       in memory, one process (all-in-one)
    └── RedisLoginRateLimiter  in Redis, shared by every replica and worker process

Several processes each counting on their own would multiply the limit by their number,
so scale-out mode counts in Redis (``build_login_limiter``). If Redis cannot be reached
the process falls back to its own count (warned once per outage): sign-in keeps working
and stays limited, per process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import deque
from typing import Any, Protocol

from dbify.settings import Settings

__all__ = [
    "LoginLimiter",
    "LoginRateLimiter",
    "RedisLoginRateLimiter",
    "build_login_limiter",
]

_WINDOW_SECONDS = 60.0
_log = logging.getLogger("dbify.users")


class LoginLimiter(Protocol):
    async def allowed(self, address: str, email: str) -> bool: ...

    async def record_failure(self, address: str, email: str) -> None: ...

    async def close(self) -> None: ...


class LoginRateLimiter:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        window = self._failures.setdefault(key, deque())
        while window and now - window[0] > _WINDOW_SECONDS:
            window.popleft()
        return window

    async def allowed(self, address: str, email: str) -> bool:
        now = time.monotonic()
        return all(
            len(self._recent(key, now)) < self._limit for key in (f"a:{address}", f"e:{email}")
        )

    async def record_failure(self, address: str, email: str) -> None:
        now = time.monotonic()
        for key in (f"a:{address}", f"e:{email}"):
            self._recent(key, now).append(now)
        if len(self._failures) > 100_000:  # bound memory under a spray of addresses
            self._failures = {k: v for k, v in self._failures.items() if v}

    async def close(self) -> None:
        return None


# KEYS: the address's and the email's sorted sets of failure times (ms, Redis's clock).
# ARGV: window ms, limit, 1 to record a failure (else check), a unique member.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local allowed = 1
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if ARGV[3] == '1' then
    redis.call('ZADD', key, now, ARGV[4])
    redis.call('PEXPIRE', key, window)
  elseif redis.call('ZCARD', key) >= tonumber(ARGV[2]) then
    allowed = 0
  end
end
return allowed
"""


class RedisLoginRateLimiter:
    """The same window, kept in Redis: one atomic script a check or a failure. Keys hold
    hashes of the address and the email, never them."""

    def __init__(self, url: str, limit: int, *, prefix: str = "dbify:login:") -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script: Any = self._redis.register_script(_LUA)
        self._limit = limit
        self._prefix = prefix
        self._local = LoginRateLimiter(limit)  # while Redis is unreachable
        self._down = False

    def _keys(self, address: str, email: str) -> list[str]:
        return [
            f"{self._prefix}{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"
            for kind, value in (("a", address), ("e", email))
        ]

    async def _run(self, address: str, email: str, record: bool) -> bool | None:
        from redis.exceptions import RedisError

        args = [int(_WINDOW_SECONDS * 1000), self._limit, 1 if record else 0, os.urandom(8).hex()]
        try:
            result = await self._script(keys=self._keys(address, email), args=args)
        except (RedisError, OSError) as error:
            if not self._down:
                _log.warning("sign-in limits: Redis unreachable, counting in-process: %s", error)
            self._down = True
            return None
        if self._down:
            _log.info("sign-in limits: Redis reachable again")
            self._down = False
        return bool(int(result))

    async def allowed(self, address: str, email: str) -> bool:
        shared = await self._run(address, email, record=False)
        if shared is None:
            return await self._local.allowed(address, email)
        return shared

    async def record_failure(self, address: str, email: str) -> None:
        if await self._run(address, email, record=True) is None:
            await self._local.record_failure(address, email)

    async def close(self) -> None:
        await self._redis.aclose()


def build_login_limiter(settings: Settings) -> LoginLimiter:
    """In Redis when the instance shares state there (the rate-limit Redis, else the
    event bus's), else in memory."""
    limit = settings.users.login_attempts_per_minute
    url = settings.auth.rate_limit_redis_url
    if url is None and settings.events.backend == "redis":
        url = settings.events.redis_url
    if url is None:
        return LoginRateLimiter(limit)
    return RedisLoginRateLimiter(url, limit)
