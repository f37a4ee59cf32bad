"""JWT verification for the data API: HS256 secrets, JWKS (inline, URL, OIDC discovery).

A project's ``JwtConfig`` says where its keys come from and which claims are checked;
``JwtVerifier`` turns a bearer token into verified claims or a 401 ``DbifyError``
(PGRST301, never a fallback to anonymous). Remote key sets are fetched lazily, cached
for ``jwks_ttl_seconds`` and refreshed once when a token names an unknown ``kid``
(at most once per ``jwks_min_refresh_seconds``, so garbage tokens cannot hammer the
identity provider). Verified tokens are kept in a bounded LRU until they expire, so
repeat requests skip the signature check.

Algorithm confusion is ruled out: HMAC algorithms are only tried with the shared
secret, asymmetric ones only with a key of the matching type from the key set.
This module does not decide the database role: ``principal.py`` does, from the
claims (``role_from_claims``).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt import PyJWK

from dbify.errors import Codes, DbifyError

__all__ = [
    "JwtConfig",
    "JwtVerifier",
    "claim_at",
    "looks_like_jwt",
    "parse_claim_path",
    "role_from_claims",
]

_HMAC_ALGS = frozenset({"HS256", "HS384", "HS512"})
_ALGS_BY_KTY: dict[str, frozenset[str]] = {
    "RSA": frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    "EC": frozenset({"ES256", "ES384", "ES512", "ES256K"}),
    "OKP": frozenset({"EdDSA"}),
}


@dataclass(frozen=True, slots=True)
class JwtConfig:
    """Where a project's JWT keys come from and what is checked.

    At least one of ``secret`` (HS256/384/512), ``jwks`` (a JWKS document as JSON text),
    ``jwks_url`` or ``oidc_issuer`` (its discovery document names the JWKS URL; it is
    also the expected ``iss`` unless ``issuer`` says otherwise) must be set.
    ``role_claim`` is a path into the claims: ``role``, ``.app_metadata.role``,
    ``realm_access.roles[0]`` or ``."https://example.com/role"``.
    """

    secret: str | None = None
    jwks: str | None = None
    jwks_url: str | None = None
    oidc_issuer: str | None = None
    audience: str | None = None
    issuer: str | None = None
    role_claim: str = "role"
    leeway_seconds: int = 30
    cache_size: int = 1000
    jwks_ttl_seconds: float = 600.0
    jwks_min_refresh_seconds: float = 30.0
    # Awaited with every URL before it is fetched (the discovery document, then the JWKS
    # it names); raises to refuse it. Set for key sources a project admin configured
    # (control/outbound.py's SSRF policy), not for the operator's own settings.
    url_guard: Callable[[str], Awaitable[None]] | None = field(default=None, compare=False)

    @property
    def enabled(self) -> bool:
        return bool(self.secret or self.jwks or self.jwks_url or self.oidc_issuer)


def looks_like_jwt(token: str) -> bool:
    """A compact JWS has three dot-separated parts; Dbify API keys have none.

    >>> looks_like_jwt("a.b.c"), looks_like_jwt("dbify_anon_xyz")
    (True, False)
    """
    return token.count(".") == 2


_PATH_PART = re.compile(r'\.?(?:"([^"]+)"|([^.\["]+))|\[(\d+)\]')


def _parse_path(path: str) -> list[str | int]:
    """``realm_access.roles[0]`` → ``['realm_access', 'roles', 0]``.

    >>> _parse_path('."https://x.io/role"'), _parse_path('.a.b[1]')
    (['https://x.io/role'], ['a', 'b', 1])
    """
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        match = _PATH_PART.match(path, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"invalid claim path: {path!r}")
        quoted, plain, index = match.groups()
        parts.append(int(index) if index is not None else (quoted or plain))
        pos = match.end()
    return parts


def parse_claim_path(path: str) -> list[str | int]:
    """The parts of a claim path; ``ValueError`` when it is not one."""
    return _parse_path(path)


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` in ``claims`` (any JSON value), or None when absent.

    >>> claim_at({"app": {"orgs": [3, 4]}}, "app.orgs"), claim_at({}, "a.b[2]")
    ([3, 4], None)
    """
    value: Any = claims
    for part in _parse_path(path):
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return None
            value = value[part]
        else:
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
    return value


def role_from_claims(claims: Mapping[str, Any], path: str) -> str | None:
    """The string at ``path`` in ``claims``, or None when absent.

    >>> role_from_claims({"app": {"roles": ["editor"]}}, "app.roles[0]")
    'editor'
    >>> role_from_claims({"sub": "x"}, "role") is None
    True
    """
    value = claim_at(claims, path)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid("The JWT role claim is not a string")
    return value


def _invalid(message: str) -> DbifyError:
    return DbifyError(Codes.JWT_INVALID, message)


def _fetch_json(url: str) -> Any:
    if not url.startswith(("https://", "http://")):
        raise ValueError("only http(s) URLs are fetched")
    request = urllib.request.Request(url, headers={"accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return json.loads(response.read())


_Key = tuple[PyJWK, str | None]  # the key and the "alg" its JWK pins, if any


def _parse_jwks(document: Any) -> dict[str | None, list[_Key]]:
    keys: dict[str | None, list[_Key]] = {}
    for entry in document.get("keys", []) if isinstance(document, Mapping) else []:
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = PyJWK(dict(entry))
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            continue  # an unsupported key type must not take the whole set down
        pinned = entry.get("alg")
        keys.setdefault(entry.get("kid"), []).append(
            (key, pinned if isinstance(pinned, str) else None)
        )
    return keys


class JwtVerifier:
    """Verifies tokens for one project (see the module docstring)."""

    def __init__(self, config: JwtConfig) -> None:
        self.config = config
        self._verified: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()
        self._keys: dict[str | None, list[_Key]] = {}
        self._keys_loaded_at = float("-inf")
        self._last_refresh = float("-inf")
        self._lock = asyncio.Lock()
        if config.jwks:
            self._keys = _parse_jwks(json.loads(config.jwks))
        self._remote = bool(config.jwks_url or config.oidc_issuer)
        self._jwks_url = config.jwks_url
        self._issuer = config.issuer or (
            config.oidc_issuer.rstrip("/") if config.oidc_issuer else None
        )

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or a 401 ``DbifyError``."""
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None:
            claims, expires = cached
            if expires > now - self.config.leeway_seconds:
                self._verified.move_to_end(token)
                return claims
            del self._verified[token]
        claims = await self._verify_signature(token)
        exp = claims.get("exp")
        self._verified[token] = (claims, float(exp) if isinstance(exp, int | float) else now + 300)
        if len(self._verified) > self.config.cache_size:
            self._verified.popitem(last=False)
        return claims

    async def _verify_signature(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid("Invalid JWT: the token is malformed") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg == "none":
            raise _invalid("Invalid JWT: unsupported algorithm")
        if alg in _HMAC_ALGS:
            if not self.config.secret:
                raise _invalid("Invalid JWT: HMAC-signed tokens are not accepted")
            return self._decode(token, self.config.secret, alg)
        kid = header.get("kid")
        candidates = await self._candidates(kid if isinstance(kid, str) else None, alg)
        if not candidates:
            raise _invalid("Invalid JWT: no matching key (unknown kid)")
        error: DbifyError | None = None
        for key in candidates:
            try:
                return self._decode(token, key, alg)
            except DbifyError as exc:
                error = exc
        assert error is not None
        raise error

    def _match(self, kid: str | None, alg: str) -> list[PyJWK]:
        if kid is not None:
            pool = self._keys.get(kid, [])
        else:
            pool = [k for keys in self._keys.values() for k in keys]
        return [
            key
            for key, pinned in pool
            if alg in _ALGS_BY_KTY.get(str(key.key_type), frozenset()) and pinned in (None, alg)
        ]

    async def _candidates(self, kid: str | None, alg: str) -> list[PyJWK]:
        if self._remote and time.monotonic() - self._keys_loaded_at > self.config.jwks_ttl_seconds:
            await self._refresh(force=False)
        found = self._match(kid, alg)
        if not found and self._remote:
            await self._refresh(force=True)  # rotation: an unknown kid triggers one refresh
            found = self._match(kid, alg)
        return found

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            now = time.monotonic()
            if force and now - self._last_refresh < self.config.jwks_min_refresh_seconds:
                return
            if not force and now - self._keys_loaded_at <= self.config.jwks_ttl_seconds:
                return  # another request refreshed meanwhile
            self._last_refresh = now
            try:
                self._keys = await self._load_remote()
                self._keys_loaded_at = now
            except Exception:
                # Keep serving with the keys we had (a token signed by an unknown key
                # still fails); try again after the min refresh interval.
                ttl, wait = self.config.jwks_ttl_seconds, self.config.jwks_min_refresh_seconds
                self._keys_loaded_at = max(self._keys_loaded_at, now - ttl + wait)

    async def _load_remote(self) -> dict[str | None, list[_Key]]:
        url = self._jwks_url
        if url is None:
            assert self.config.oidc_issuer is not None
            issuer = self.config.oidc_issuer.rstrip("/")
            discovery = await self._fetch(f"{issuer}/.well-known/openid-configuration")
            url = discovery["jwks_uri"]
            if not isinstance(url, str):
                raise ValueError("discovery document without jwks_uri")
            self._jwks_url = url
        return _parse_jwks(await self._fetch(url))

    async def _fetch(self, url: str) -> Any:
        guard = self.config.url_guard
        if guard is not None:
            await guard(url)
        return await asyncio.to_thread(_fetch_json, url)

    def _decode(self, token: str, key: str | PyJWK, alg: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token,
                key.key if isinstance(key, PyJWK) else key,
                algorithms=[alg],
                audience=self.config.audience,
                issuer=self._issuer,
                leeway=self.config.leeway_seconds,
                options={"verify_aud": self.config.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise _invalid("JWT expired") from None
        except jwt.ImmatureSignatureError:
            raise _invalid("JWT not yet valid (nbf/iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise _invalid("JWT audience claim does not match") from None
        except jwt.InvalidIssuerError:
            raise _invalid("JWT issuer claim does not match") from None
        except jwt.PyJWTError:
            raise _invalid("Invalid JWT: signature verification failed") from None
        if not isinstance(claims, dict):  # pragma: no cover - PyJWT returns a dict
            raise _invalid("Invalid JWT: claims are not an object")
        return claims
