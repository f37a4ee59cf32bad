"""Rate limits: token buckets behind a small protocol, in memory or shared through Redis.

A bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per second; a
request takes one. ``MemoryBuckets`` is the default (one process); ``RedisBuckets``
shares buckets between instances with one atomic Lua call per check (keys expire
when full). ``RequestLimiter`` applies a per-key and a per-client-address limit to a
data API request and answers 429 with ``Retry-After`` and ``RateLimit-*`` headers.
Limits come from the instance settings, overridden per project (``ProjectSettings``)
and per API key (``Project.key_rate_limits``, by key hash).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dbify.settings import Settings

if TYPE_CHECKING:
    from dbify.dataplane.project import Project

__all__ = [
    "Decision",
    "Limits",
    "MemoryBuckets",
    "RateLimiter",
    "RedisBuckets",
    "RequestLimiter",
    "request_limiter",
]


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of taking one token: ``retry_after`` seconds until one is available."""

    allowed: bool
    remaining: int
    retry_after: float


class RateLimiter(Protocol):
    async def take(self, key: str, rate: float, burst: int) -> Decision: ...


class MemoryBuckets:
    """Token buckets in this process; the least recently used are forgotten beyond
    ``max_keys`` (a forgotten bucket comes back full)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._max_keys = max_keys

    async def take(self, key: str, rate: float, burst: int) -> Decision:
        now = time.monotonic()
        tokens, last = self._buckets.pop(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        retry = 0.0 if allowed else (1.0 - tokens) / rate
        return Decision(allowed, int(tokens), retry)


_LUA = """
local burst = tonumber(ARGV[1]); local rate = tonumber(ARGV[2])
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst; local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, tostring(tokens)}
"""


class RedisBuckets:
    """Token buckets in Redis (``redis.asyncio``), shared by every instance; the clock
    is Redis's own, so instances need not agree on time."""

    def __init__(self, url: str, prefix: str = "dbify:rl:") -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url)
        self._script: Any = self._redis.register_script(_LUA)
        self._prefix = prefix

    async def take(self, key: str, rate: float, burst: int) -> Decision:
        allowed, tokens = await self._script(keys=[self._prefix + key], args=[burst, rate])
        left = float(tokens)
        ok = bool(int(allowed))
        return Decision(ok, int(left), 0.0 if ok else (1.0 - left) / rate)

    async def close(self) -> None:
        await self._redis.aclose()


@dataclass(frozen=True, slots=True)
class Limits:
    """Requests per second (None: no limit) and the bucket size."""

    per_key: float | None = None
    per_ip: float | None = None
    burst: int = 50


class RequestLimiter:
    """Per-key and per-address limits for data API requests (see the module docstring)."""

    def __init__(self, buckets: RateLimiter, defaults: Limits) -> None:
        self.buckets = buckets
        self.defaults = defaults

    async def check(
        self, project: Project, client_ip: str | None, headers: Mapping[str, str]
    ) -> list[tuple[bytes, bytes]] | None:
        """None when allowed; else the headers of the 429 response."""
        defaults, settings = self.defaults, project.settings
        per_key = settings.rate_limit_per_key or defaults.per_key
        per_ip = settings.rate_limit_per_ip or defaults.per_ip
        if per_key is None and per_ip is None and not project.key_rate_limits:
            return None  # no limit anywhere: no hashing, no bucket (the common case)
        burst = settings.rate_limit_burst or defaults.burst
        checks: list[tuple[str, float, int]] = []
        credential = _credential(headers)
        if credential:
            digest = hashlib.sha256(credential.encode()).hexdigest()
            override = project.key_rate_limits.get(digest) if project.key_rate_limits else None
            if override is not None:
                checks.append((f"{project.id}:k:{digest[:32]}", override[0], override[1] or burst))
            elif per_key is not None:
                checks.append((f"{project.id}:k:{digest[:32]}", per_key, burst))
        if per_ip is not None and client_ip:
            checks.append((f"{project.id}:ip:{client_ip}", per_ip, burst))
        for key, rate, size in checks:
            decision = await self.buckets.take(key, rate, size)
            if not decision.allowed:
                retry = max(1, math.ceil(decision.retry_after))
                return [
                    (b"retry-after", str(retry).encode()),
                    (b"ratelimit-limit", str(size).encode()),
                    (b"ratelimit-remaining", b"0"),
                    (b"ratelimit-reset", str(retry).encode()),
                    (b"ratelimit-policy", f"{size};w={math.ceil(size / rate)}".encode()),
                ]
        return None


def _credential(headers: Mapping[str, str]) -> str | None:
    """The presented key or token (a bearer's token without its scheme)."""
    value = headers.get("authorization")
    if value is not None and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return value or headers.get("apikey")


def request_limiter(settings: Settings) -> RequestLimiter:
    """The limiter with ``settings.auth``'s defaults (Redis when a URL is given). It is
    always built, since projects and keys may set limits of their own; a request with
    no limit anywhere costs a few attribute reads."""
    auth = settings.auth
    buckets: RateLimiter = (
        RedisBuckets(auth.rate_limit_redis_url) if auth.rate_limit_redis_url else MemoryBuckets()
    )
    limits = Limits(auth.rate_limit_per_key, auth.rate_limit_per_ip, auth.rate_limit_burst)
    return RequestLimiter(buckets, limits)
