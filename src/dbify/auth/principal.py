"""Who a data API request runs as, decided from its credentials.

Credentials are accepted in the ``apikey`` header and as ``Authorization: Bearer``
(the Supabase client sends both). A missing or unknown credential is a 401, never a
fallback to anonymous access.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import orjson

from dbify.auth.api_keys import KeyKind, KeyRing
from dbify.auth.jwt import JwtVerifier, claim_at, looks_like_jwt, role_from_claims
from dbify.dataplane.plan.access import ACCESS_DENIED, AccessPolicy
from dbify.dataplane.plan.claims import bind_claims
from dbify.errors import Codes, DbifyError

PrincipalKind = KeyKind | Literal["jwt"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request.

    ``role`` is the database role to switch to (``SET LOCAL ROLE``), or None to run as
    the role Dbify connects with. ``read_only`` principals may only read. ``claims`` is
    the JSON text for ``request.jwt.claims`` (a JWT's verified claims), None for keys.
    ``kind`` is ``jwt`` for a token carrying a role claim: PostgREST then answers a
    permission error with 403 rather than 401.
    """

    key_id: str
    kind: PrincipalKind
    role: str | None
    read_only: bool
    claims: str | None = None
    # (method, path, headers as JSON) for PostgREST's request.* settings; the pipeline
    # fills it in only for principals that run in a transaction (role or claims set).
    context: tuple[str, str, str] | None = None
    # An RBAC access role (dataplane/plan/access.py) the planner enforces; the
    # request then runs as the connecting role (``role`` is None).
    access: AccessPolicy | None = None
    # The access role's statement timeout, set transaction-locally (execute.py).
    statement_timeout_ms: int | None = None


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DbifyError(
            Codes.JWT_INVALID,
            "Invalid Authorization header",
            hint="Use 'Authorization: Bearer <key>' or the 'apikey' header.",
        )
    return token.strip()


def authenticate(
    headers: Mapping[str, str],
    keys: KeyRing,
    anon_role: str | None,
    access_roles: Mapping[str, AccessPolicy] | None = None,
) -> Principal:
    """The principal for a request's headers (lower-case names). A key whose role
    names one of the project's ``access_roles`` gets that policy instead of a
    database role.

    Raises ``DbifyError`` 401 when no credential is given or one is not recognised.
    """
    bearer = _bearer(headers)
    apikey = headers.get("apikey")
    presented = bearer if bearer is not None else apikey
    if presented is None:
        raise DbifyError(
            Codes.MISSING_CREDENTIALS,
            "No API key found in request",
            hint="Send the project's key in the 'apikey' header or as 'Authorization: Bearer'.",
        )
    # When both are sent, the bearer decides: a bearer we cannot verify is refused
    # rather than downgraded to whatever the apikey header allows, and an apikey we
    # cannot verify is refused too (as beside a JWT), whatever the bearer is.
    key = keys.verify(presented)
    if key is None or (
        bearer is not None and apikey is not None and apikey != bearer and not keys.verify(apikey)
    ):
        raise DbifyError(Codes.JWT_INVALID, "Invalid API key", hint="Check the project's keys.")
    if key.role is not None and access_roles:
        policy = access_roles.get(key.role)
        if policy is not None:
            if policy.claim_paths:  # a key has no claims for the row filter to use
                raise DbifyError(
                    ACCESS_DENIED,
                    f"The access role '{policy.role}' needs a JWT: its row filter uses claims",
                )
            return Principal(
                key.id, key.kind, role=None, read_only=False, access=policy,
                statement_timeout_ms=policy.statement_timeout_ms,
            )  # fmt: skip
    if key.kind == "service":
        return Principal(key.id, key.kind, role=key.role, read_only=False)
    role = key.role or anon_role
    return Principal(key.id, key.kind, role=role, read_only=role is None)


def bearer_jwt(headers: Mapping[str, str], jwt: JwtVerifier | None) -> str | None:
    """The bearer token when it is a JWT and the project accepts JWTs, else None
    (then ``authenticate`` handles the request as an API key)."""
    if jwt is None:
        return None
    value = headers.get("authorization")
    if value is None or value[:7].lower() != "bearer ":
        return None
    token = value[7:].strip()
    return token if looks_like_jwt(token) else None


async def authenticate_jwt(
    token: str,
    headers: Mapping[str, str],
    keys: KeyRing,
    jwt: JwtVerifier,
    anon_role: str | None,
    access_roles: Mapping[str, AccessPolicy] | None = None,
) -> Principal:
    """The principal of a verified JWT; a 401 when it does not verify (never anonymous).

    An ``apikey`` header sent alongside (the Supabase client sends both) must be a
    valid key, but the token decides the role. A token without a role claim runs as
    the project's anonymous role.
    """
    apikey = headers.get("apikey")
    if apikey is not None and apikey != token and keys.verify(apikey) is None:
        raise DbifyError(Codes.JWT_INVALID, "Invalid API key", hint="Check the project's keys.")
    claims = await jwt.verify(token)
    role = role_from_claims(claims, jwt.config.role_claim)
    subject = claims.get("sub")
    key_id = f"jwt:{subject}" if isinstance(subject, str) else "jwt"
    text = orjson.dumps(claims).decode()
    if role is None:
        return Principal(key_id, "anon", role=anon_role, read_only=anon_role is None, claims=text)
    policy = access_roles.get(role) if access_roles else None
    if policy is not None:  # the claim names an access role, not a database role
        policy = bind_claims(policy, lambda path: claim_at(claims, path))
        return Principal(
            key_id, "jwt", role=None, read_only=False, claims=text, access=policy,
            statement_timeout_ms=policy.statement_timeout_ms,
        )  # fmt: skip
    return Principal(key_id, "jwt", role=role, read_only=False, claims=text)
