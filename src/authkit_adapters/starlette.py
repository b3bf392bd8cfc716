"""Optional Starlette and FastAPI conveniences over :mod:`authkit_adapters.asgi` (extra ``starlette``/``fastapi``).

Add the middleware as usual (``Starlette(middleware=[Middleware(AuthKitMiddleware, ...)])`` or
``app.add_middleware(AuthKitMiddleware, ...)``), then ask for the user:

- FastAPI: ``user: UserInfo = Depends(require_user)``, ``Depends(require_permission("posts:write"))``,
  ``Depends(require_role("admin"))``, ``Depends(optional_user)``; also in a router's ``dependencies=[...]``.
- Plain Starlette: the same functions, awaited in an endpoint: ``user = await require_user(request)``.
- ``request.user``/``request.auth`` and ``starlette.authentication.requires("posts:write")`` work with the
  middleware alone (it fills ``scope["user"]``/``scope["auth"]``; see :mod:`authkit_adapters._scope_user`).
- :func:`authkit_mount`: ``GET /auth/sign-in``, ``GET /auth/sign-up``, ``POST /auth/sign-out`` in one line
  (``Starlette(routes=[authkit_mount(), ...])``; see :mod:`authkit_adapters._routes`).
- FastAPI's OpenAPI security schemes, ``CurrentUser``/``OptionalUser`` and ``authkit_router()``:
  :mod:`authkit_adapters.fastapi`.

A signed-out browser navigation is redirected to sign-in, any other signed-out request gets 401, and a missing
permission or role gets 403 (the rule of :mod:`authkit_adapters._access`). The 401 and 403 are raised as
Starlette ``HTTPException`` s, so the app's exception handlers shape them (FastAPI answers ``{"detail": ...}``
JSON, Starlette plain text). Nothing here is needed for correctness: it only calls ``with_auth``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from authkit_core.models import NoUserInfo, UserInfo

from . import _core
from ._access import Denial, authorize
from ._starlette_routes import authkit_mount, authkit_routes
from .asgi import AuthKitMiddleware

__all__ = [
    "AuthKitMiddleware",
    "Dependency",
    "authkit_mount",
    "authkit_routes",
    "optional_user",
    "require_permission",
    "require_role",
    "require_user",
]

#: What :func:`require_permission` and :func:`require_role` return: a FastAPI dependency, or a function to await.
Dependency = Callable[[Request], Coroutine[Any, Any, UserInfo]]


def _checked(outcome: UserInfo | Denial) -> UserInfo:
    if isinstance(outcome, Denial):
        headers = {"Location": outcome.location} if outcome.location else None
        raise HTTPException(outcome.status, detail=outcome.message, headers=headers)
    return outcome


async def require_user(request: Request) -> UserInfo:
    """The signed-in user; signed out, a sign-in redirect (browser navigation) or a 401 ``HTTPException``."""
    return _checked(authorize(request))


async def optional_user(request: Request) -> UserInfo | NoUserInfo:
    """The user, or ``NoUserInfo`` when signed out (never refuses the request)."""
    return _core.with_auth(request=request)


def _requiring(permissions: tuple[str, ...] = (), roles: tuple[str, ...] = ()) -> Dependency:
    async def dependency(request: Request) -> UserInfo:
        return _checked(authorize(request, permissions=permissions, roles=roles))

    return dependency


def require_permission(*permissions: str) -> Dependency:
    """A dependency like :func:`require_user` that also answers 403 unless the user holds every one of
    ``permissions`` (from the access token's ``permissions`` claim)."""
    return _requiring(permissions=permissions)


def require_role(*roles: str) -> Dependency:
    """A dependency like :func:`require_user` that also answers 403 unless the user has one of ``roles`` (the
    token's ``role`` or one of its ``roles``)."""
    return _requiring(roles=roles)
