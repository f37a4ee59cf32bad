"""CORS for the data API: which origins a project answers, and the headers that says so.

A ``CorsPolicy`` is built once per project (from ``ProjectSettings``) with its header
lists ready, so a request only picks a list: any origin (``*``, the default) gets the
shared static headers; a list of origins gets its ``Origin`` echoed with
``Vary: Origin`` when allowed, and no CORS headers when not (the browser then blocks
the response). Credentials are allowed only when configured, and then the origin is
always echoed (``*`` is not valid with credentials). This module does not decide who
may call the API: that is ``auth/principal.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["ANY_ORIGIN", "CorsPolicy", "cors_headers", "preflight_headers"]

Headers = list[tuple[bytes, bytes]]

_EXPOSE = (
    b"access-control-expose-headers",
    b"Content-Range, Content-Location, Location, Preference-Applied, Server-Timing, "
    b"X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
    b"RateLimit-Policy",
)
_PREFLIGHT = [
    (b"access-control-allow-methods", b"GET, HEAD, POST, PATCH, PUT, DELETE, OPTIONS"),
    (
        b"access-control-allow-headers",
        b"Authorization, apikey, Content-Type, Accept, Accept-Profile, Content-Profile, "
        b"Prefer, Range, Range-Unit, X-Client-Info, X-Request-Id",
    ),
    (b"access-control-max-age", b"86400"),
]
_VARY = (b"vary", b"Origin")
_CREDENTIALS = (b"access-control-allow-credentials", b"true")
_ANY_HEADERS: Headers = [(b"access-control-allow-origin", b"*"), _EXPOSE]
_NO_HEADERS: Headers = []
_ANY_PREFLIGHT: Headers = [(b"access-control-allow-origin", b"*"), *_PREFLIGHT]


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """Allowed origins (``*`` for any; exact ``scheme://host[:port]`` otherwise)."""

    origins: frozenset[str] = frozenset({"*"})
    allow_credentials: bool = False
    any_origin: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "any_origin", "*" in self.origins)

    @classmethod
    def of(cls, origins: Iterable[str], allow_credentials: bool = False) -> CorsPolicy:
        cleaned = frozenset(o.strip().rstrip("/") for o in origins if o.strip())
        return cls(cleaned, allow_credentials)

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins


ANY_ORIGIN = CorsPolicy()


def _echo(origin: str, credentials: bool) -> Headers:
    headers = [(b"access-control-allow-origin", origin.encode("latin-1")), _VARY]
    if credentials:
        headers.append(_CREDENTIALS)
    return headers


def cors_headers(policy: CorsPolicy, origin: str | None) -> Headers:
    """Headers to add to a response for a request from ``origin`` (None: no header).

    The any-origin list is shared: callers extend their headers with it, never mutate it.
    """
    if origin is None:
        # Only cross-origin requests (which always carry Origin) need CORS headers; a
        # list of origins still varies by Origin for caches.
        return _NO_HEADERS if policy.any_origin else [_VARY]
    if policy.any_origin and not policy.allow_credentials:
        return _ANY_HEADERS
    if not policy.allows(origin):
        return [_VARY]
    return [*_echo(origin, policy.allow_credentials), _EXPOSE]


def preflight_headers(policy: CorsPolicy, request_headers: Mapping[str, str]) -> Headers:
    """The headers of an ``OPTIONS`` answer; without allow-origin when not allowed."""
    if policy.any_origin and not policy.allow_credentials:
        return list(_ANY_PREFLIGHT)
    origin = request_headers.get("origin")
    if origin is None or not policy.allows(origin):
        return [_VARY]
    return [*_echo(origin, policy.allow_credentials), *_PREFLIGHT]
