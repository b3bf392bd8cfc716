"""Optional Flask conveniences over :mod:`authkit_adapters.wsgi` (extra ``flask``).

- :class:`FlaskAuthKit`: ``FlaskAuthKit(app, **options)`` or ``FlaskAuthKit(**options).init_app(app)`` wraps
  ``app.wsgi_app`` in :class:`~authkit_adapters.wsgi.AuthKitWSGIMiddleware` (options from the arguments, else
  from ``app.config["AUTHKIT"]``) and makes :data:`current_user` available to templates.
- :data:`current_user`: the request's ``UserInfo`` or ``NoUserInfo``, with Flask-Login's names:
  ``current_user.is_authenticated``, ``is_anonymous``, ``is_active``, ``get_id()`` (the WorkOS user id, ``None``
  signed out), so templates and code written for Flask-Login read it unchanged.
- :func:`login_required`, :func:`permission_required`, :func:`role_required`: view decorators. A signed-out
  browser navigation is redirected to sign-in, any other signed-out request gets ``abort(401)``, a missing
  permission or role ``abort(403)`` (the rule of :mod:`authkit_adapters._access`), so the app's error handlers
  shape those pages. Like Flask-Login's, :func:`login_required` lets ``OPTIONS`` requests through and does nothing
  when ``app.config["LOGIN_DISABLED"]`` is true (for tests).
- :func:`accept_bearer`: a view decorator that authenticates a request carrying ``Authorization: Bearer <WorkOS
  access token>`` by that token (the per-route form of the middleware's ``accept_bearer``; a refused token is 401
  with ``WWW-Authenticate: Bearer error="invalid_token"``). Put it above :func:`login_required` and friends.
- :func:`authkit_blueprint`: ``app.register_blueprint(authkit_blueprint())`` adds ``GET /auth/sign-in``,
  ``GET /auth/sign-up`` and ``POST /auth/sign-out`` (see :mod:`authkit_adapters._routes`).

The blocking request-scoped functions (``sign_out``, ``refresh_session`` ...) are those of
:mod:`authkit_adapters.wsgi`. Nothing here is needed for correctness: wrapping the app by hand works the same.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, Unpack, cast

from flask import Flask, abort, current_app, redirect, request
from werkzeug.local import LocalProxy

from authkit_core.models import NoUserInfo, UserInfo

from . import _core
from ._access import Denial, authorize
from ._core import AuthKitOptions
from ._flask_blueprint import authkit_blueprint
from .wsgi import AuthKitWSGIMiddleware

__all__ = [
    "FlaskAuthKit",
    "accept_bearer",
    "authkit_blueprint",
    "current_user",
    "login_required",
    "permission_required",
    "role_required",
]

#: Methods :func:`login_required` lets through, as Flask-Login's does.
EXEMPT_METHODS = frozenset({"OPTIONS"})

#: A view function.
V = TypeVar("V", bound=Callable[..., Any])


class FlaskAuthKit:
    """The Flask extension: puts :class:`~authkit_adapters.wsgi.AuthKitWSGIMiddleware` around ``app.wsgi_app``.

    ``options`` are the middleware's (:class:`~authkit_adapters.AuthKitOptions`); those not given come from
    ``app.config["AUTHKIT"]`` (a dict), and the engine, when not given, from the ``WORKOS_*`` variables.
    """

    def __init__(self, app: Flask | None = None, **options: Unpack[AuthKitOptions]) -> None:
        self.options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> AuthKitWSGIMiddleware:
        """Wrap ``app``; the middleware is also kept as ``app.extensions["authkit"]``."""
        options: AuthKitOptions = {**app.config.get("AUTHKIT", {}), **self.options}
        middleware = AuthKitWSGIMiddleware(app.wsgi_app, **options)
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions["authkit"] = middleware
        app.context_processor(lambda: {"current_user": current_user})
        return middleware


def _current_user() -> UserInfo | NoUserInfo:
    return _core.with_auth(request=request)


#: The current request's user: ``UserInfo`` when signed in, else ``NoUserInfo`` (read lazily, on first use), with
#: Flask-Login's ``is_authenticated``, ``is_anonymous``, ``is_active`` and ``get_id()``.
current_user: LocalProxy[UserInfo | NoUserInfo] = LocalProxy(_current_user)


def _guarded(
    permissions: tuple[str, ...] = (), roles: tuple[str, ...] = (), *, login_only: bool = False
) -> Callable[[V], V]:
    def decorate(view: V) -> V:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if login_only and (request.method in EXEMPT_METHODS or current_app.config.get("LOGIN_DISABLED")):
                return view(*args, **kwargs)
            outcome = authorize(request, permissions=permissions, roles=roles)
            if not isinstance(outcome, Denial):
                return view(*args, **kwargs)
            if outcome.location:
                return redirect(outcome.location, outcome.status)
            abort(outcome.status, description=outcome.message)

        return cast(V, wrapper)

    return decorate


def login_required(view: V) -> V:
    """Let only signed-in users reach ``view`` (a sign-in redirect for browsers, else 401). A drop-in for
    Flask-Login's: ``OPTIONS`` passes, and ``LOGIN_DISABLED`` turns the check off."""
    return _guarded(login_only=True)(view)


def permission_required(*permissions: str) -> Callable[[V], V]:
    """Like :func:`login_required`, and answer 403 unless the user holds every one of ``permissions``."""
    return _guarded(permissions=permissions)


def role_required(*roles: str) -> Callable[[V], V]:
    """Like :func:`login_required`, and answer 403 unless the user has one of ``roles``."""
    return _guarded(roles=roles)


def accept_bearer(view: V) -> V:
    """Authenticate a request that carries a WorkOS access token as ``Authorization: Bearer`` by that token before
    ``view`` (and the decorators below this one) run: ``current_user`` is then the token's user. A refused token
    answers 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750). See
    :func:`authkit_adapters.wsgi.authenticate_bearer`."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        _core.blocking(_core.authenticate_bearer)()
        return view(*args, **kwargs)

    return cast(V, wrapped)
