"""FastAPI conveniences (extra ``fastapi``): dependencies that declare the session in OpenAPI, typed aliases and a
ready-made router.

- ``user: CurrentUser`` (``Annotated[UserInfo, Depends(require_user)]``), ``user: OptionalUser``,
  ``Depends(require_permission("posts:write"))``, ``Depends(require_role("admin"))``: the rule of
  :mod:`authkit_adapters.starlette` (a sign-in redirect for a browser, else 401; 403 for a missing permission or
  role), and each declares the session cookie as an OpenAPI security scheme (``APIKeyCookie``, scheme
  ``AuthKitSession``), so ``/docs`` marks the routes that need sign-in and its Authorize button takes a session.
- :class:`AuthKitSecurity`: the same dependencies for another cookie name (``WORKOS_COOKIE_NAME``), with the
  ``Authorization: Bearer`` scheme also declared (``bearer=True``, for routes that call ``validate_api_key``), or
  accepting WorkOS access tokens as bearer tokens on its routes (``accept_bearer=True``: the per-route form of the
  middleware's ``accept_bearer``; the scheme ``AuthKitAccessToken`` is declared and the token verified).
- :func:`authkit_router`: ``app.include_router(authkit_router())`` adds ``GET /auth/sign-in``,
  ``GET /auth/sign-up`` and ``POST /auth/sign-out`` (see :mod:`authkit_adapters._routes`).

The scheme only documents: the user always comes from the middleware's session (``with_auth``), never from the
value FastAPI reads for the scheme. Nothing here is needed for correctness.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request

from authkit_core.models import NoUserInfo, UserInfo

from . import _core
from ._access import authorize
from ._routes import SIGN_IN_PATH, SIGN_OUT_PATH, SIGN_UP_PATH
from ._starlette_routes import sign_in, sign_out, sign_up
from .starlette import _checked

__all__ = [
    "AuthKitSecurity",
    "CurrentUser",
    "OptionalUser",
    "authkit_router",
    "optional_user",
    "require_permission",
    "require_role",
    "require_user",
]

#: The session cookie's default name (``AuthKitConfig.cookie_name``).
DEFAULT_COOKIE_NAME = "wos-session"


class AuthKitSecurity:
    """FastAPI dependencies declaring the session as OpenAPI security.

    ``cookie_name`` is the session cookie's name (the configuration's ``cookie_name``); ``bearer`` also declares
    ``Authorization: Bearer`` (scheme ``AuthKitBearer``), either being enough; ``accept_bearer`` declares it (scheme
    ``AuthKitAccessToken``) and authenticates a request that carries a WorkOS access token by that token
    (:func:`authkit_adapters.asgi.authenticate_bearer`: a refused token is 401 with
    ``WWW-Authenticate: Bearer error="invalid_token"``), for routes of an app whose middleware does not set
    ``accept_bearer`` itself; ``scheme_name`` names the cookie's scheme in OpenAPI (two instances in one app need
    different names). The module-level :func:`require_user` ... are those of ``AuthKitSecurity()``.
    """

    def __init__(
        self,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        *,
        bearer: bool = False,
        accept_bearer: bool = False,
        scheme_name: str = "AuthKitSession",
    ) -> None:
        self.cookie = APIKeyCookie(
            name=cookie_name,
            scheme_name=scheme_name,
            description="The AuthKit session cookie, set when signing in.",
            auto_error=False,
        )
        self.accept_bearer = accept_bearer
        self.bearer = (
            HTTPBearer(scheme_name="AuthKitAccessToken", description="A WorkOS access token.", auto_error=False)
            if accept_bearer
            else HTTPBearer(scheme_name="AuthKitBearer", description="A WorkOS API key.", auto_error=False)
            if bearer
            else None
        )
        self.require_user = self._guard()
        self.optional_user = self._optional()

    def require_permission(self, *permissions: str) -> Callable[..., Coroutine[Any, Any, UserInfo]]:
        """Like :attr:`require_user`, and 403 unless the user holds every one of ``permissions``."""
        return self._guard(permissions=permissions)

    def require_role(self, *roles: str) -> Callable[..., Coroutine[Any, Any, UserInfo]]:
        """Like :attr:`require_user`, and 403 unless the user has one of ``roles``."""
        return self._guard(roles=roles)

    def _guard(
        self, *, permissions: Sequence[str] = (), roles: Sequence[str] = ()
    ) -> Callable[..., Coroutine[Any, Any, UserInfo]]:
        cookie, bearer = self.cookie, self.bearer
        if bearer is None:

            async def dependency(request: Request, _session: str | None = Security(cookie)) -> UserInfo:
                return _checked(authorize(request, permissions=permissions, roles=roles))

            return dependency

        bearer_scheme = Security(bearer)
        accept = self.accept_bearer

        async def with_bearer(
            request: Request,
            _session: str | None = Security(cookie),
            _bearer: HTTPAuthorizationCredentials | None = bearer_scheme,
        ) -> UserInfo:
            if accept:
                await _authenticate_bearer(request=request)
            return _checked(authorize(request, permissions=permissions, roles=roles))

        return with_bearer

    def _optional(self) -> Callable[..., Coroutine[Any, Any, UserInfo | NoUserInfo]]:
        cookie, accept = self.cookie, self.accept_bearer

        async def dependency(request: Request, _session: str | None = Security(cookie)) -> UserInfo | NoUserInfo:
            if accept:
                return await _authenticate_bearer(request=request)
            return _core.with_auth(request=request)

        return dependency


_authenticate_bearer = _core.awaiting(_core.authenticate_bearer)

_default = AuthKitSecurity()

#: The signed-in user; signed out, a sign-in redirect (browser navigation) or 401. Declares ``AuthKitSession``.
require_user = _default.require_user
#: The user, or ``NoUserInfo`` when signed out (never refuses). Declares ``AuthKitSession`` (as optional).
optional_user = _default.optional_user
#: ``require_permission("posts:write")``: :data:`require_user` and 403 unless the user holds every permission.
require_permission = _default.require_permission
#: ``require_role("admin")``: :data:`require_user` and 403 unless the user has one of the roles.
require_role = _default.require_role

#: An endpoint parameter ``user: CurrentUser`` is the signed-in user (see :data:`require_user`).
CurrentUser = Annotated[UserInfo, Depends(require_user)]
#: An endpoint parameter ``user: OptionalUser`` is the user or ``NoUserInfo`` (see :data:`optional_user`).
OptionalUser = Annotated[UserInfo | NoUserInfo, Depends(optional_user)]


def authkit_router(
    prefix: str = "/auth",
    *,
    sign_out_get: bool = False,
    tags: Sequence[str] = ("auth",),
    include_in_schema: bool = True,
) -> APIRouter:
    """A router with ``GET <prefix>/sign-in``, ``GET <prefix>/sign-up`` and ``POST <prefix>/sign-out`` (also
    ``GET`` with ``sign_out_get``): ``app.include_router(authkit_router())``."""
    router = APIRouter(prefix=prefix, tags=list(tags), include_in_schema=include_in_schema)
    sign_in_query = {"parameters": [_query(name, text) for name, text in _SIGN_IN_QUERY]}
    sign_out_query = {"parameters": [_query("return_to", "Where WorkOS sends the browser after signing out.")]}
    for path, endpoint, name in (
        (SIGN_IN_PATH, sign_in, "authkit_sign_in"),
        (SIGN_UP_PATH, sign_up, "authkit_sign_up"),
    ):
        router.add_api_route(path, endpoint, methods=["GET"], name=name, status_code=307, openapi_extra=sign_in_query)
    methods = ["POST", "GET"] if sign_out_get else ["POST"]
    router.add_api_route(
        SIGN_OUT_PATH, sign_out, methods=methods, name="authkit_sign_out", status_code=303, openapi_extra=sign_out_query
    )
    return router


_SIGN_IN_QUERY = (
    ("return_to", "The same-origin path to come back to after signing in (anything else becomes /)."),
    ("organization_id", "Sign in to this organization."),
    ("login_hint", "Pre-fill the email address."),
)


def _query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": description}
