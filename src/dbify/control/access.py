"""Who is calling the control plane, and what project roles allow.

A ``Caller`` is a signed-in user (session or personal access token) or ``SYSTEM``
(the CLI, which talks to the metadata store directly and is trusted like an
instance admin). Instance admins may act on every project; other users only on
projects they are members of, within their role. How a caller is authenticated is
``control/users``; this module only orders roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["SYSTEM", "Caller", "ProjectRole", "role_allows"]

ProjectRole = Literal["owner", "admin", "viewer"]
_RANK: dict[str, int] = {"viewer": 1, "admin": 2, "owner": 3}


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str | None
    is_admin: bool
    email: str = ""


SYSTEM = Caller(user_id=None, is_admin=True, email="system")


def role_allows(role: str | None, minimum: ProjectRole) -> bool:
    """Whether a member with ``role`` may do what needs ``minimum``.

    >>> role_allows("admin", "viewer"), role_allows("viewer", "admin"), role_allows(None, "viewer")
    (True, False, False)
    """
    return role is not None and _RANK.get(role, 0) >= _RANK[minimum]
