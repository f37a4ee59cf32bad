"""JwtVerifier: secrets, JWKS (inline, URL, OIDC discovery), rotation, claims checks."""

from __future__ import annotations

import json
import time

import anyio
import jwt
import pytest

from dbify.auth.api_keys import KeyRing
from dbify.auth.jwt import JwtConfig, JwtVerifier
from dbify.auth.principal import authenticate_jwt
from dbify.errors import DbifyError
from tests.auth.jwks_server import JwksServer, KeyPair, claims, jwks_server

__all__ = ["jwks_server"]

SECRET = "a-test-secret-that-is-long-enough-for-hs256!"


def verify(verifier: JwtVerifier, token: str) -> dict[str, object]:
    return anyio.run(verifier.verify, token)


def refused(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(DbifyError) as info:
        verify(verifier, token)
    assert info.value.code == "PGRST301"
    assert info.value.status == 401
    return info.value.message


def test_hs256_secret_and_checks() -> None:
    v = JwtVerifier(JwtConfig(secret=SECRET, leeway_seconds=5))
    good = jwt.encode(claims(role="web", sub="alice"), SECRET, algorithm="HS256")
    assert verify(v, good)["sub"] == "alice"
    assert "expired" in refused(v, jwt.encode(claims(exp=int(time.time()) - 60), SECRET))
    # within the leeway: accepted
    verify(v, jwt.encode(claims(exp=int(time.time()) - 2), SECRET))
    assert "not yet" in refused(v, jwt.encode(claims(nbf=int(time.time()) + 60), SECRET))
    assert "not yet" in refused(v, jwt.encode(claims(iat=int(time.time()) + 60), SECRET))
    assert "signature" in refused(v, jwt.encode(claims(), "another-secret-of-enough-length!!"))
    refused(v, "not.a.jwt")
    # alg=none is refused
    refused(v, jwt.encode(claims(role="postgres"), None, algorithm="none"))  # type: ignore[arg-type]
    # aud present but not configured: ignored, as PostgREST does
    verify(v, jwt.encode(claims(aud="somebody"), SECRET))


def test_audience_and_issuer_when_configured() -> None:
    v = JwtVerifier(JwtConfig(secret=SECRET, audience="api", issuer="https://idp"))
    verify(v, jwt.encode(claims(aud="api", iss="https://idp"), SECRET))
    verify(v, jwt.encode(claims(aud=["x", "api"], iss="https://idp"), SECRET))
    assert "audience" in refused(v, jwt.encode(claims(aud="other", iss="https://idp"), SECRET))
    assert "issuer" in refused(v, jwt.encode(claims(aud="api", iss="https://evil"), SECRET))
    refused(v, jwt.encode(claims(iss="https://idp"), SECRET))  # aud missing


def test_inline_jwks_es256_eddsa_and_no_alg_confusion() -> None:
    es, ed = KeyPair("ES256", "es"), KeyPair("EdDSA", "ed")
    v = JwtVerifier(JwtConfig(jwks=json.dumps({"keys": [es.jwk, ed.jwk]})))
    assert verify(v, es.sign(claims(sub="e")))["sub"] == "e"
    assert verify(v, ed.sign(claims(sub="d")))["sub"] == "d"
    # HS256 signed with the public key's bytes must not pass (no secret configured)
    assert "HMAC" in refused(v, jwt.encode(claims(), es.jwk["x"], algorithm="HS256"))
    # a kid naming an EC key with an RSA algorithm finds no key
    rsa = KeyPair("RS256", "es")
    refused(v, rsa.sign(claims()))
    # a token signed by an unknown key with a known kid fails the signature
    other = KeyPair("ES256", "es")
    assert "signature" in refused(v, other.sign(claims()))


def test_jwks_url_rotation_refreshes_once_on_unknown_kid(jwks_server: JwksServer) -> None:
    first = KeyPair("RS256", "k1")
    jwks_server.keys = [first]
    v = JwtVerifier(JwtConfig(jwks_url=f"{jwks_server.url}/jwks.json", jwks_min_refresh_seconds=0))
    verify(v, first.sign(claims(sub="1")))
    verify(v, first.sign(claims(sub="2")))
    assert jwks_server.fetches == 1  # cached
    second = KeyPair("RS256", "k2")
    jwks_server.keys = [first, second]
    verify(v, second.sign(claims(sub="3")))
    assert jwks_server.fetches == 2  # one refresh for the unknown kid
    # a kid nobody knows: one refresh, then 401
    assert "unknown kid" in refused(v, KeyPair("RS256", "k9").sign(claims()))
    assert jwks_server.fetches == 3


def test_unknown_kid_refresh_is_rate_limited(jwks_server: JwksServer) -> None:
    jwks_server.keys = [KeyPair("RS256", "k1")]
    v = JwtVerifier(JwtConfig(jwks_url=f"{jwks_server.url}/jwks.json"))
    verify(v, jwks_server.keys[0].sign(claims()))
    for _ in range(5):
        refused(v, KeyPair("RS256", "nope").sign(claims()))
    assert jwks_server.fetches == 1  # the load just happened: no refresh within the interval


def test_oidc_discovery_checks_issuer(jwks_server: JwksServer) -> None:
    key = KeyPair("ES256", "o1")
    jwks_server.keys = [key]
    v = JwtVerifier(JwtConfig(oidc_issuer=jwks_server.url, audience="dbify"))
    verify(v, key.sign(claims(iss=jwks_server.url, aud="dbify")))
    assert "issuer" in refused(v, key.sign(claims(iss="https://other", aud="dbify")))


def test_verified_tokens_are_cached_bounded() -> None:
    v = JwtVerifier(JwtConfig(secret=SECRET, cache_size=2))
    tokens = [jwt.encode(claims(n=i), SECRET) for i in range(3)]
    for token in tokens:
        verify(v, token)
    assert len(v._verified) == 2
    assert tokens[0] not in v._verified


def test_role_claim_path_and_anonymous_fallback_only_without_role() -> None:
    v = JwtVerifier(JwtConfig(secret=SECRET, role_claim=".app_metadata.roles[1]"))
    keys = KeyRing()
    token = jwt.encode(claims(sub="a", app_metadata={"roles": ["x", "editor"]}), SECRET)
    principal = anyio.run(authenticate_jwt, token, {}, keys, v, "anon_r")
    assert (principal.role, principal.kind, principal.read_only) == ("editor", "jwt", False)
    assert json.loads(principal.claims or "")["sub"] == "a"
    no_role = jwt.encode(claims(sub="b"), SECRET)
    principal = anyio.run(authenticate_jwt, no_role, {}, keys, v, "anon_r")
    assert (principal.role, principal.kind) == ("anon_r", "anon")
    # a bad apikey alongside a good token is refused
    with pytest.raises(DbifyError):
        anyio.run(authenticate_jwt, token, {"apikey": "dbify_anon_nope"}, keys, v, None)
