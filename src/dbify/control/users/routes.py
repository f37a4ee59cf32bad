"""HTTP API for users: sign-up, sign-in/out, the current user, access tokens.

Also the dependency every management route uses to find its caller: a personal
access token (``Authorization: Bearer dbify_pat_...``), or the dashboard session
cookie, in which case state-changing methods must carry the CSRF header.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from dbify.control.access import Caller
from dbify.control.errors import ControlCodes, control_error
from dbify.control.plane import ControlPlane, get_plane
from dbify.control.users.schemas import (
    Credentials,
    PasswordChange,
    SignedIn,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserOut,
)
from dbify.control.users.service import user_out
from dbify.settings import Settings

SESSION_COOKIE = "dbify_session"
CSRF_COOKIE = "dbify_csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOOPBACK_HOSTS = frozenset({"localhost", "::1", "[::1]"})

router = APIRouter(tags=["users"])
Plane = Annotated[ControlPlane, Depends(get_plane)]


async def current_caller(request: Request, plane: Plane) -> Caller:
    caller = await _authenticate(request, plane)
    request.state.caller = caller  # who made the call, for the audit log (control/audit)
    return caller


async def _authenticate(request: Request, plane: Plane) -> Caller:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise control_error(ControlCodes.UNAUTHENTICATED, "Malformed Authorization header")
        return await plane.users.caller_from_token(token.strip())
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return await plane.users.caller_from_session(
            session,
            request.headers.get(CSRF_HEADER),
            check_csrf=request.method not in _SAFE_METHODS,
        )
    raise control_error(
        ControlCodes.UNAUTHENTICATED,
        "Sign in, or send a personal access token as 'Authorization: Bearer'",
    )


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def secure_cookies(request: Request, settings: Settings) -> bool:
    """Whether the session cookies get the Secure flag (settings.users.secure_cookies).

    ``auto`` keeps them Secure wherever a browser will store a Secure cookie: over HTTPS
    (seen directly, or promised by an https public URL behind a TLS proxy) and on
    loopback hosts, which browsers treat as secure. Plain HTTP to any other host gets
    non-Secure cookies, since a browser would drop Secure ones and nobody could sign in.
    """
    mode = settings.users.secure_cookies
    if mode != "auto":
        return mode == "always"
    public_url = settings.server.public_url or ""
    if request.url.scheme == "https" or public_url.startswith("https://"):
        return True
    host = (request.url.hostname or "").lower()
    return host in _LOOPBACK_HOSTS or host.endswith(".localhost") or host.startswith("127.")


@router.post("/auth/sign-up", status_code=status.HTTP_201_CREATED)
async def sign_up(body: Credentials, plane: Plane) -> UserOut:
    return user_out(await plane.users.sign_up(body.email, body.password.get_secret_value()))


@router.post("/auth/sign-in")
async def sign_in(
    body: Credentials, request: Request, response: Response, plane: Plane
) -> SignedIn:
    address = request.client.host if request.client else "unknown"
    user, session = await plane.users.sign_in(body.email, body.password.get_secret_value(), address)
    max_age = int(plane.settings.users.session_hours * 3600)
    secure = secure_cookies(request, plane.settings)
    response.set_cookie(
        SESSION_COOKIE, session.token, max_age=max_age, httponly=True, secure=secure,
        samesite="lax",
    )  # fmt: skip
    # Readable by the dashboard's script, which echoes it in the CSRF header.
    response.set_cookie(
        CSRF_COOKIE, session.csrf_token, max_age=max_age, httponly=False, secure=secure,
        samesite="strict",
    )  # fmt: skip
    return SignedIn(user=user_out(user), csrf_token=session.csrf_token)


@router.post("/auth/sign-out", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(
    request: Request, response: Response, caller: CurrentCaller, plane: Plane
) -> None:
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        await plane.users.sign_out(session)
    secure = secure_cookies(request, plane.settings)
    response.delete_cookie(SESSION_COOKIE, secure=secure, httponly=True)
    response.delete_cookie(CSRF_COOKIE, secure=secure)


@router.get("/users/me")
async def me(caller: CurrentCaller, plane: Plane) -> UserOut:
    return await plane.users.user(caller)


@router.post("/users/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordChange, caller: CurrentCaller, plane: Plane) -> None:
    """Change the signed-in user's password (the current one is required)."""
    await plane.users.change_password(
        caller, body.current_password.get_secret_value(), body.new_password.get_secret_value()
    )


@router.post("/users/me/tokens", status_code=status.HTTP_201_CREATED)
async def create_token(body: TokenCreate, caller: CurrentCaller, plane: Plane) -> TokenCreated:
    return await plane.users.create_token(caller, body.name, body.expires_at)


@router.get("/users/me/tokens")
async def list_tokens(caller: CurrentCaller, plane: Plane) -> list[TokenOut]:
    return await plane.users.tokens(caller)


@router.delete("/users/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_token(token_id: str, caller: CurrentCaller, plane: Plane) -> None:
    await plane.users.delete_token(caller, token_id)
