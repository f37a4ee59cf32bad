"""Rate limits: token buckets behind a small protocol, in memory or shared through Redis.

A bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per second; a
request takes one. ``MemoryBuckets`` is the default (one process); ``RedisBuckets``
shares buckets between instances with one atomic Lua call per check (keys expire
when full). ``RequestLimiter`` applies a per-key and a per-client-address limit to a
data API request and answers 429 with ``Retry-After`` and ``RateLimit-*`` headers.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dbify.settings import Settings

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
        self, project_id: str, client_ip: str | None, headers: Mapping[str, str]
    ) -> list[tuple[bytes, bytes]] | None:
        """None when allowed; else the headers of the 429 response."""
        limits = self.defaults
        checks: list[tuple[str, float]] = []
        credential = headers.get("authorization") or headers.get("apikey")
        if limits.per_key is not None and credential:
            digest = hashlib.sha256(credential.encode()).hexdigest()[:32]
            checks.append((f"{project_id}:k:{digest}", limits.per_key))
        if limits.per_ip is not None and client_ip:
            checks.append((f"{project_id}:ip:{client_ip}", limits.per_ip))
        for key, rate in checks:
            decision = await self.buckets.take(key, rate, limits.burst)
            if not decision.allowed:
                retry = max(1, math.ceil(decision.retry_after))
                return [
                    (b"retry-after", str(retry).encode()),
                    (b"ratelimit-limit", str(limits.burst).encode()),
                    (b"ratelimit-remaining", b"0"),
                    (b"ratelimit-reset", str(retry).encode()),
                    (
                        b"ratelimit-policy",
                        f"{limits.burst};w={math.ceil(limits.burst / rate)}".encode(),
                    ),
                ]
        return None


def request_limiter(settings: Settings) -> RequestLimiter | None:
    """The limiter ``settings.auth`` asks for (Redis when a URL is given), or None."""
    auth = settings.auth
    if auth.rate_limit_per_key is None and auth.rate_limit_per_ip is None:
        return None
    buckets: RateLimiter = (
        RedisBuckets(auth.rate_limit_redis_url) if auth.rate_limit_redis_url else MemoryBuckets()
    )
    limits = Limits(auth.rate_limit_per_key, auth.rate_limit_per_ip, auth.rate_limit_burst)
    return RequestLimiter(buckets, limits)
