"""Who a data API request runs as, decided from its credentials.

Credentials are accepted in the ``apikey`` header and as ``Authorization: Bearer``
(the Supabase client sends both). A missing or unknown credential is a 401, never a
fallback to anonymous access.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dbify.auth.api_keys import KeyKind, KeyRing
from dbify.errors import Codes, DbifyError


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request.

    ``role`` is the database role to switch to (``SET LOCAL ROLE``), or None to run as
    the role Dbify connects with. ``read_only`` principals may only read.
    """

    key_id: str
    kind: KeyKind
    role: str | None
    read_only: bool


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


def authenticate(headers: Mapping[str, str], keys: KeyRing, anon_role: str | None) -> Principal:
    """The principal for a request's headers (lower-case names).

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
    # rather than downgraded to whatever the apikey header allows.
    key = keys.verify(presented)
    if key is None:
        raise DbifyError(Codes.JWT_INVALID, "Invalid API key", hint="Check the project's keys.")
    if key.kind == "service":
        return Principal(key.id, key.kind, role=key.role, read_only=False)
    role = key.role or anon_role
    return Principal(key.id, key.kind, role=role, read_only=role is None)
