"""Checks of where JWT keys come from, applied when they are configured.

A project's ``jwks``/``jwks_url``/``oidc_issuer`` (management API) and the instance's own
(``settings.auth``) are validated as they are set: a JWKS document the verifier cannot
read, or a URL it will not fetch, would otherwise only show when the keys are loaded,
taking the project (or every project using the instance's keys) offline then.
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["HttpUrlText", "JwksDocument"]


def _jwks_document(value: str | None) -> str | None:
    """
    >>> _jwks_document('{"keys": []}')
    '{"keys": []}'
    >>> _jwks_document("[]")
    Traceback (most recent call last):
    ...
    ValueError: jwks must be a JSON object with a "keys" list
    """
    if value is None:
        return None
    try:
        document = json.loads(value)
    except ValueError:
        raise ValueError("jwks must be a JWKS document (JSON text)") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('jwks must be a JSON object with a "keys" list')
    return value


def _http_url(value: str | None) -> str | None:
    # The verifier only fetches http(s); refuse anything else up front (file:, ftp:).
    if value is not None and not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return value


JwksDocument = Annotated[str | None, AfterValidator(_jwks_document)]
HttpUrlText = Annotated[str | None, AfterValidator(_http_url)]
