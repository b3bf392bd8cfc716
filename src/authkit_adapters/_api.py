"""The request-scoped functions (``with_auth``, ``refresh_session``, ``sign_out`` ...), written once: pure ones are
plain functions, those that call the engine are flows; :func:`blocking`, :func:`awaiting` and
:func:`as_coroutine` give them their sync and async faces."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, ParamSpec, TypeVar, Unpack

from authkit_core.bearer import bearer_token
from authkit_core.engine import AuthResult
from authkit_core.errors import AuthKitError, TokenError
from authkit_core.flow import Flow, run_async, run_sync
from authkit_core.models import AuthenticationResponse, NoUserInfo, UserInfo

from ._context import current_context
from ._effects import Call, engine_call
from ._types import SignInUrlOptions

API_NAMES = [
    "authenticate_bearer",
    "check_recent_auth",
    "get_sign_in_url",
    "get_sign_up_url",
    "get_token_claims",
    "refresh_session",
    "save_session",
    "sign_out",
    "switch_to_organization",
    "validate_api_key",
    "with_auth",
]

__all__ = [*API_NAMES, "API_NAMES", "as_coroutine", "awaiting", "blocking"]

P = ParamSpec("P")
T = TypeVar("T")

# --- the request-scoped functions, written once -------------------------------------------------------------------
# Pure ones are plain functions; those that call the engine are flows. ``authkit_adapters.wsgi`` exposes them through
# :func:`blocking`, ``authkit_adapters.asgi`` through :func:`awaiting` and :func:`as_coroutine`.


def with_auth(*, ensure_signed_in: bool = False, request: object = None) -> UserInfo | NoUserInfo:
    """The current request's user (``NoUserInfo`` when signed out). With ``ensure_signed_in``, a signed-out
    request raises :class:`~authkit_core.errors.SignInRequiredError` and the middleware answers it with a redirect
    to sign-in that returns to this page (path and query)."""
    return current_context(request).with_auth(ensure_signed_in)


def refresh_session(
    organization_id: str | None = None, *, ensure_signed_in: bool = False, request: object = None
) -> Flow[UserInfo | NoUserInfo]:
    """Refresh the session now (into ``organization_id`` when given, else its current organization); the
    middleware writes the new cookie.

    Raises :class:`~authkit_core.errors.TokenRefreshError` when the refresh fails. Signed out: ``NoUserInfo``, or
    with ``ensure_signed_in`` a redirect to sign-in (it never returns ``NoUserInfo`` then).
    """
    ctx = current_context(request)
    if (signed_out := ctx.before_refresh(ensure_signed_in)) is not None:
        return signed_out
    yield engine_call(ctx.kit, "refresh", ctx.auth, ctx.cookies, organization_id=organization_id)
    return ctx.after_refresh(ensure_signed_in)


def switch_to_organization(
    organization_id: str, *, return_to: str | None = None, request: object = None
) -> Flow[UserInfo | NoUserInfo]:
    """Move the session into ``organization_id`` and return the new user info; with ``return_to``, the response
    becomes a redirect there. When WorkOS asks for SSO or MFA enrollment, the response becomes a redirect (to
    WorkOS's ``authkit_redirect_url``, else to a sign-in into that organization) and the
    :class:`~authkit_core.errors.TokenRefreshError` is raised; any other failure is raised as it is."""
    ctx = current_context(request)
    ctx.before_refresh(True)
    yield engine_call(ctx.kit, "refresh", ctx.auth, ctx.cookies, organization_id=organization_id)
    return ctx.after_switch(organization_id, return_to)


def get_sign_in_url(*, request: object = None, **options: Unpack[SignInUrlOptions]) -> str:
    """A URL that starts a sign-in (coming back to ``return_to``); the middleware sets its state cookie on this
    response. Options (:class:`SignInUrlOptions`): every authorization option WorkOS accepts (``login_hint``,
    ``organization_id``, ``domain_hint``, ``connection_id``, ``provider``, ``prompt``, ``max_age``,
    ``screen_hint``), ``return_to``, and ``state``, your own string handed back to ``on_success``."""
    return current_context(request).sign_in_url_for(None, options)


def get_sign_up_url(*, request: object = None, **options: Unpack[SignInUrlOptions]) -> str:
    """Like :func:`get_sign_in_url`, opening the sign-up screen (``screen_hint="sign-up"`` whatever the options
    say)."""
    return current_context(request).sign_in_url_for("sign-up", options)


def sign_out(*, return_to: str | None = None, request: object = None) -> Flow[str]:
    """End the session (store entry deleted, cookies expired) and make the response a redirect to WorkOS's logout
    URL, which then goes to ``return_to``. Returns that URL (``return_to`` or ``/`` when there was no session).

    With the middleware's ``csrf_protect_sign_out``, a cross-site request raises
    :class:`CrossSiteRequestError` instead and gets a 403; the session is kept."""
    ctx = current_context(request)
    ctx.check_sign_out()
    url = yield engine_call(ctx.kit, "sign_out", ctx.auth, ctx.cookies, return_to=return_to)
    return ctx.after_sign_out(url, return_to)


def get_token_claims(access_token: str | None = None, *, request: object = None) -> dict[str, Any]:
    """The claims of the session's access token (or of ``access_token``), decoded without verification; ``{}``
    when signed out."""
    return current_context(request).token_claims(access_token)


def check_recent_auth(max_age: float, *, request: object = None) -> bool:
    """Whether the user signed in at most ``max_age`` seconds ago, from the token's ``auth_time``. Fails closed:
    ``False`` when signed out or when ``auth_time`` is missing, malformed or in the future."""
    return current_context(request).check_recent_auth(max_age)


def save_session(
    auth_response: AuthenticationResponse | Mapping[str, Any], *, request: object = None
) -> Flow[UserInfo | NoUserInfo]:
    """Store a session your app obtained itself (an :class:`~authkit_core.models.AuthenticationResponse` or the
    JSON body of WorkOS's ``/authenticate``) in place of the request's; the middleware writes its cookie."""
    ctx = current_context(request)
    ctx.used = True
    response = ctx.authentication_response(auth_response)
    yield engine_call(ctx.kit, "save_session", ctx.auth, response, ctx.cookies)
    return ctx.auth.user_info


def validate_api_key(*, request: object = None) -> Flow[dict[str, Any] | None]:
    """The WorkOS API key object for the request's ``Authorization: Bearer`` value, or ``None`` (no such header,
    or a key WorkOS does not know)."""
    ctx = current_context(request)
    value = ctx.bearer_token()
    if value is None:
        return None
    core = ctx.core
    result: dict[str, Any] | None = yield Call(core.validate_api_key_sync, core.validate_api_key_async, (value,))
    return result


def authenticate_bearer(*, request: object = None) -> Flow[UserInfo | NoUserInfo]:
    """For a route that accepts bearer tokens when the middleware does not (``accept_bearer``): when the request
    carries ``Authorization: Bearer <WorkOS access token>``, authenticate it by that token (the header wins over
    the cookie, as under ``accept_bearer``) and return its user; without the header, the session's user as
    :func:`with_auth` gives it. A refused token raises :class:`~authkit_core.errors.TokenError` after recording
    the 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` that replaces the response (503 when the JWKS
    cannot be fetched). The framework helpers call it for their per-route bearer option."""
    ctx = current_context(request)
    token = None if ctx.auth.bearer else bearer_token(ctx.info.headers.get("authorization"))
    if token is None:
        return ctx.with_auth()
    result: AuthResult = yield engine_call(ctx.kit, "verify_bearer", token)
    ctx.adopt(result)
    if not isinstance(result.user_info, UserInfo):
        ctx.bearer_refusal()
        error = result.error
        raise error if isinstance(error, AuthKitError) else TokenError("bearer token refused")
    return result.user_info


def blocking(fn: Callable[P, Flow[T]]) -> Callable[P, T]:
    """The blocking face of a flow function (same signature and docstring)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(fn(*args, **kwargs), None)

    return run


def awaiting(fn: Callable[P, Flow[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """The async face of a flow function (same signature and docstring)."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await run_async(fn(*args, **kwargs), None)

    return run


def as_coroutine(fn: Callable[P, T]) -> Callable[P, Coroutine[Any, Any, T]]:
    """A plain function as a coroutine function, so every async function is awaited alike."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return fn(*args, **kwargs)

    return run
