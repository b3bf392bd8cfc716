"""Django integration (extra ``django``): a ``MIDDLEWARE`` entry that gives every request ``request.user`` (lazy),
``request.authkit`` (the :class:`~authkit_core.models.UserInfo`, lazy) and the view decorators, for sync and async
views under WSGI or ASGI; optionally a synced authentication backend, Django REST Framework classes and a
management command.

Settings::

    MIDDLEWARE = [..., "django.contrib.auth.middleware.AuthenticationMiddleware",  # when you use contrib.auth
                  "authkit_adapters.django.AuthKitMiddleware", ...]
    AUTHKIT = {"middleware_auth": False, "unauthenticated_paths": ["/public/*"]}  # optional, see below

``AUTHKIT`` holds the middleware's options (:class:`~authkit_adapters.AuthKitOptions`), any WorkOS configuration
field (``client_id``, ``cookie_password`` ..., over the ``WORKOS_*`` variables), ``store`` and the integration's
options (see :mod:`authkit_adapters.django._settings`). The middleware answers the sign-in callback (the path of
``WORKOS_REDIRECT_URI``) itself, before Django's URL routing, so it needs no entry in ``urls.py``.

``request.user`` is stateless (:class:`~authkit_adapters.django.users.AuthKitUser`, no database) unless
``AUTHENTICATION_BACKENDS`` lists :class:`~authkit_adapters.django.backends.AuthKitBackend`, which keeps a
``django.contrib.auth`` user per WorkOS user (add ``"authkit_adapters.django"`` to ``INSTALLED_APPS`` for its table).
Signed out, it is whatever Django's ``AuthenticationMiddleware`` found, else ``AnonymousUser``.

:class:`AuthKitMiddleware` is a third shell over :mod:`authkit_adapters._core`, like the WSGI and ASGI ones: it
runs the same flows (the engine's blocking face under WSGI, its async face under ASGI, decided by Django from
``sync_capable``/``async_capable``) and only translates Django's request and response. Inside a view, the
request-scoped functions of :mod:`authkit_adapters.wsgi` (sync views) and :mod:`authkit_adapters.asgi` (async
views) work as they do anywhere else.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.functional import SimpleLazyObject

from authkit_core.flow import Flow, run_async, run_sync
from authkit_core.models import NoUserInfo, UserInfo

from .. import _core, asgi, wsgi
from .._access import Denial, authorize
from .._core import MiddlewareCore, RequestInfo, Response
from .._middleware import document_options
from . import users as _users
from ._settings import read_settings

__all__ = ["AuthKitMiddleware", "accept_bearer", "get_user", "login_required", "permission_required", "role_required"]

#: A view function.
V = TypeVar("V", bound=Callable[..., Any])
_GetResponse = Callable[[HttpRequest], Any]


def get_user(request: HttpRequest) -> UserInfo | NoUserInfo:
    """The request's WorkOS session: ``UserInfo`` when signed in, else ``NoUserInfo`` (also lazily as
    ``request.authkit``). For the Django user, read ``request.user``."""
    return _core.with_auth(request=request)


def _request_info(request: HttpRequest) -> RequestInfo:
    scope = getattr(request, "scope", None)  # an ASGIRequest keeps its scope, a WSGIRequest its environ as META
    if scope is None:
        return wsgi.request_info(request.META)
    if isinstance(scope.get("query_string"), str):  # Django's AsyncClient (servers send bytes, as ASGI says)
        scope = {**scope, "query_string": scope["query_string"].encode()}
    return asgi.request_info(scope)


def _set_headers(response: HttpResponseBase, headers: Sequence[tuple[str, str]]) -> None:
    """Put the core's headers on a Django response (``Set-Cookie`` goes through ``response.cookies``)."""
    for name, value in headers:
        if name.lower() == "set-cookie":
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(value)  # the core's values are plain tokens: this round-trips exactly
            if not cookie:
                raise ValueError("a Set-Cookie header Django cannot carry")
            response.cookies.update(cookie)
        else:
            response.headers[name] = value


def _django_response(response: Response) -> HttpResponse:
    out = HttpResponse(response.body, status=response.status)
    del out.headers["Content-Type"]
    _set_headers(out, response.headers)
    return out


@dataclass(frozen=True, slots=True)
class _Next:
    """The effect of calling the rest of Django: ``get_response(request)``, awaited on the async face."""

    get_response: _GetResponse
    request: HttpRequest

    def run_sync(self, io: object) -> HttpResponseBase:
        return cast(HttpResponseBase, self.get_response(self.request))

    async def run_async(self, io: object) -> HttpResponseBase:
        return cast(HttpResponseBase, await cast(Awaitable[Any], self.get_response(self.request)))


def _deprecated_auth(request: HttpRequest) -> UserInfo | NoUserInfo:
    warnings.warn(
        "request.auth from authkit_adapters.django is deprecated (Django REST Framework owns that name): "
        "read request.authkit, or request.user",
        DeprecationWarning,
        stacklevel=4,
    )
    return get_user(request)


def _install_user(request: HttpRequest) -> None:
    """Put our lazy ``request.user``/``request.auser`` on ``request``, keeping what another middleware (Django's
    ``AuthenticationMiddleware``) put there as the signed-out fallback. Nothing is evaluated."""
    current = request.__dict__
    ours = current.get("_authkit_lazy_user")
    previous = current.get("user")
    if ours is not None and previous is ours:
        return
    if previous is not None:
        current[_users._FALLBACK] = (previous, current.get("auser"))
        current.pop(_users._CACHE, None)
    lazy = SimpleLazyObject(functools.partial(_users.resolve_user, request))
    current["_authkit_lazy_user"] = lazy
    request.user = lazy
    request.auser = functools.partial(_users.aresolve_user, request)


@document_options
class AuthKitMiddleware(MiddlewareCore):
    """The Django middleware: ``"authkit_adapters.django.AuthKitMiddleware"`` in ``MIDDLEWARE``, options from
    ``settings.AUTHKIT``. Sync or async as the handler around it is.

    Sets, lazily: ``request.authkit`` (the session's ``UserInfo``/``NoUserInfo``), ``request.user`` and
    ``request.auser()`` (the Django user: see :mod:`authkit_adapters.django.users`). Placed before or after
    Django's ``AuthenticationMiddleware``, ours wins for a signed-in WorkOS session and falls back to Django's user
    otherwise. ``request.auth`` still works, with a ``DeprecationWarning``: that name is Django REST Framework's.

    ``settings.AUTHKIT`` holds the options below (``WORKOS_*`` settings or variables configure the engine)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: _GetResponse) -> None:
        integration = read_settings()
        super().__init__(**integration.middleware_options())
        #: How sessions become users (stateless or synced), decided from ``AUTHENTICATION_BACKENDS`` at start-up.
        self.users = _users.Users.from_settings(integration)
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
            self.process_view = self._aprocess_view  # type: ignore[method-assign,assignment]  # no thread hop under ASGI

    def __call__(self, request: HttpRequest) -> Any:
        """Handle one request (returns a coroutine when Django runs this middleware asynchronously)."""
        flow = self._handle(request)
        return run_async(flow, None) if self.is_async else run_sync(flow, None)

    def _handle(self, request: HttpRequest) -> Flow[HttpResponseBase]:
        info = _request_info(request)
        # the warm path of the other faces: a session (or bearer token) authenticated a moment ago costs no flow
        warm = self.begin_warm(info.path, info.cookies, lambda: info)
        ctx, early = (warm, None) if warm is not None else (yield from self.begin(info.path, info.cookies, info))
        if early is not None:
            return _django_response(early)
        holder = getattr(request, "scope", None)
        (holder if holder is not None else request.environ)[_core.CONTEXT_KEY] = ctx
        request.authkit = SimpleLazyObject(functools.partial(get_user, request))
        request.auth = SimpleLazyObject(functools.partial(_deprecated_auth, request))
        request.__dict__[_users._USERS] = self.users
        _install_user(request)
        token = _core.enter_context(ctx)
        try:
            response: HttpResponseBase = yield _Next(self.get_response, request)
        finally:
            _core.leave_context(token)
        outcome = ctx.start_response(response.status_code, list(response.items()))
        if isinstance(outcome, Response):  # a redirect asked for in the view replaces its response
            # (not closed here: closing sends request_finished, which the server sends when it closes ours)
            return _django_response(outcome)
        _set_headers(response, outcome)
        return response

    def process_view(self, request: HttpRequest, view: object, args: object, kwargs: object) -> None:
        """Take ``request.user`` back when a middleware after this one (Django's ``AuthenticationMiddleware``)
        replaced it, keeping that one as the signed-out fallback."""
        if _users._USERS in request.__dict__:
            _install_user(request)

    async def _aprocess_view(self, request: HttpRequest, view: object, args: object, kwargs: object) -> None:
        AuthKitMiddleware.process_view(self, request, view, args, kwargs)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A view's exception that only signals a recorded redirect (``with_auth(ensure_signed_in=True)`` ...)
        becomes that redirect, instead of a logged 500."""
        ctx = _core.current_context(request)
        pending = ctx.pending_response() if ctx.swallows(exception) else None
        return _django_response(pending) if pending is not None else None


def _denied(request: HttpRequest, permissions: tuple[str, ...], roles: tuple[str, ...]) -> HttpResponse | None:
    """``None`` when the request may reach the view, else the answer (403 raised as ``PermissionDenied``)."""
    outcome = authorize(request, permissions=permissions, roles=roles)
    if not isinstance(outcome, Denial):
        return None
    if outcome.location:
        return HttpResponse(status=outcome.status, headers={"Location": outcome.location})
    if outcome.status == 403:
        raise PermissionDenied(outcome.message)
    return HttpResponse(outcome.message, status=outcome.status, content_type="text/plain; charset=utf-8")


def _guarded(permissions: tuple[str, ...] = (), roles: tuple[str, ...] = ()) -> Callable[[V], V]:
    def decorate(view: V) -> V:
        if iscoroutinefunction(view):

            async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                denied = _denied(request, permissions, roles)
                return denied if denied is not None else await view(request, *args, **kwargs)

            return cast(V, functools.wraps(view)(async_view))

        def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            denied = _denied(request, permissions, roles)
            return denied if denied is not None else view(request, *args, **kwargs)

        return cast(V, functools.wraps(view)(sync_view))

    return decorate


def login_required(view: V) -> V:
    """Let only signed-in users reach ``view``, sync or async: a signed-out browser navigation is redirected to
    sign-in, any other signed-out request gets 401."""
    return _guarded()(view)


def permission_required(*permissions: str) -> Callable[[V], V]:
    """Like :func:`login_required`, and 403 (``PermissionDenied``) unless the user holds every one of
    ``permissions``."""
    return _guarded(permissions=permissions)


def role_required(*roles: str) -> Callable[[V], V]:
    """Like :func:`login_required`, and 403 (``PermissionDenied``) unless the user has one of ``roles``."""
    return _guarded(roles=roles)


def _renew(request: HttpRequest) -> None:
    """After the request's authentication changed (a bearer token adopted): ``request.authkit`` and
    ``request.user`` read it anew."""
    _users.forget_user(request)
    request.authkit = SimpleLazyObject(functools.partial(get_user, request))


def accept_bearer(view: V) -> V:
    """Authenticate a request that carries a WorkOS access token as ``Authorization: Bearer`` by that token before
    ``view`` (sync or async, and the decorators below this one) runs: ``request.user`` and ``request.authkit`` are
    then the token's (in synced mode, the local user already linked to it). A refused token answers 401 with
    ``WWW-Authenticate: Bearer error="invalid_token"``. The per-route form of the middleware's ``accept_bearer``;
    put it above :func:`login_required` and friends."""
    if iscoroutinefunction(view):

        async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if getattr(request, "scope", None) is not None:  # ASGI: the engine's async face, on this event loop
                await _core.awaiting(_core.authenticate_bearer)(request=request)
            else:  # WSGI runs an async view on a throwaway event loop: the blocking face, in a thread
                await sync_to_async(_core.blocking(_core.authenticate_bearer))(request=request)
            _renew(request)
            return await view(request, *args, **kwargs)

        return cast(V, functools.wraps(view)(async_view))

    def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        _core.blocking(_core.authenticate_bearer)(request=request)
        _renew(request)
        return view(request, *args, **kwargs)

    return cast(V, functools.wraps(view)(sync_view))
