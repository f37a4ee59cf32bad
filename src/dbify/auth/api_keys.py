"""API keys: generation, hashing, and lookup in constant time.

A key is ``dbify_<kind>_<43 url-safe chars>`` (256 bits of entropy), shown once and
stored only as its SHA-256 hash. Because keys are high-entropy, a fast hash is enough
(no password-style stretching); lookup is by hash, and the final comparison uses
``hmac.compare_digest``. This module does not decide what a key may do: that is
``auth/principal.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

KeyKind = Literal["anon", "service"]


def generate_api_key(kind: KeyKind) -> str:
    """A new random key; the caller shows it once and stores ``hash_api_key(key)``."""
    return f"dbify_{kind}_{secrets.token_urlsafe(32)}"


def hash_api_key(key: str) -> str:
    """The stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: never the secret, only its hash and a short prefix to recognise it."""

    id: str
    kind: KeyKind
    key_hash: str
    prefix: str
    role: str | None = None


_VERIFIED_CACHE_SIZE = 256


class KeyRing:
    """The keys of one project, looked up by hash.

    Keys that verified are remembered by the presented value (at most
    ``_VERIFIED_CACHE_SIZE``; the memo restarts when full), so the usual request, which
    repeats a key seen before, skips hashing: a dict lookup instead of a SHA-256. Only
    keys that exist are remembered (a flood of wrong keys cannot grow it), and ``add``
    and ``revoke`` clear it.
    """

    def __init__(self, keys: Iterable[ApiKey] = ()) -> None:
        self._by_hash: dict[str, ApiKey] = {k.key_hash: k for k in keys}
        self._verified: dict[str, ApiKey] = {}

    def add(self, key: ApiKey) -> None:
        self._by_hash[key.key_hash] = key
        self._verified = {}

    def revoke(self, key_id: str) -> None:
        self._by_hash = {h: k for h, k in self._by_hash.items() if k.id != key_id}
        self._verified = {}

    def verify(self, presented: str) -> ApiKey | None:
        """The key matching ``presented``, or None."""
        known = self._verified.get(presented)
        if known is not None:
            return known
        found = self._lookup(presented)
        if found is not None:
            if len(self._verified) >= _VERIFIED_CACHE_SIZE:
                self._verified = {}
            self._verified[presented] = found
        return found

    def _lookup(self, presented: str) -> ApiKey | None:
        digest = hash_api_key(presented)
        found = self._by_hash.get(digest)
        if found is None or not hmac.compare_digest(found.key_hash, digest):
            return None
        return found
