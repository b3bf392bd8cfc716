"""What the ASGI and WSGI middleware share, written once and free of I/O.

Everything that decides lives here: which path is the callback or public, when to send the browser to sign in,
which redirect (307/303) with which cookies, what the sign-in error page says, which headers a response gets, and
the request context that the request-scoped functions (``with_auth`` ...) read through a
:class:`contextvars.ContextVar`. The shells in :mod:`authkit_adapters.asgi` and :mod:`authkit_adapters.wsgi` only
translate the server interface and call the engine's async or sync face.

Redirects asked for deep inside a handler (``with_auth(ensure_signed_in=True)``, ``sign_out()``, an organization
switch that needs SSO) are recorded on the context before anything is raised. When the app then starts its
response, whatever it is (a 500 page made from the exception, or a normal page), :meth:`RequestContext.start_response`
answers with the recorded redirect instead, so the browser is redirected under any framework.
"""

from __future__ import annotations

import functools
import html
import inspect
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, NoReturn, ParamSpec, TypedDict, TypeVar, Unpack
from urllib.parse import parse_qsl, urlsplit

from authkit_core.cookies import SetCookie, expiries_for_every_scope
from authkit_core.engine import AuthKit, AuthResult
from authkit_core.errors import (
    AuthenticationError,
    AuthKitError,
    OAuthError,
    SignInRequiredError,
    TokenRefreshError,
    WorkOSAPIError,
)
from authkit_core.flow import Flow, run_async, run_sync
from authkit_core.models import AuthenticationResponse, NoUserInfo, UserInfo
from authkit_core.paths import PathPatterns
from authkit_core.redirects import location_header, normalize_origin, request_origin, safe_redirect_target
from authkit_core.signin import (
    SignInCallbackError,
    add_session_cache_headers,
    callback_cookies_to_expire,
    is_navigation,
    redirect_status,
    safe_return_path,
    start_sign_in,
    state_cookies_to_expire,
    validate_callback,
)
from authkit_core.tokens import get_token_claims as _decode_claims
from authkit_core.workos_api import AuthorizationOptions
from authkit_core.workos_client import AsyncWorkOSClient, WorkOSClient

#: The public request-scoped functions, under the same names in both shells.
API_NAMES = [
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

__all__ = [
    *API_NAMES,
    "CONTEXT_KEY",
    "AuthKitOptions",
    "CrossSiteRequestError",
    "ErrorHook",
    "MiddlewareCore",
    "NoRequestContextError",
    "RequestContext",
    "RequestInfo",
    "Response",
    "SignInUrlOptions",
    "API_NAMES",
    "as_coroutine",
    "awaiting",
    "blocking",
    "current_context",
    "enter_context",
    "leave_context",
]

logger = logging.getLogger("authkit_session")
P = ParamSpec("P")
T = TypeVar("T")

#: Where the middleware puts the request context in the ASGI scope or WSGI environ (for ``request=`` lookups).
CONTEXT_KEY = "authkit_session.context"
#: How far in the future an ``auth_time`` may be (clock skew) before :meth:`check_recent_auth` refuses it.
_AUTH_TIME_SKEW_SECONDS = 60

_current: ContextVar[RequestContext | None] = ContextVar("authkit_session_request", default=None)


class NoRequestContextError(AuthKitError):
    """A request-scoped function was called outside a request handled by the authkit-session middleware."""

    code = "no_request_context"


class CrossSiteRequestError(AuthKitError):
    """``sign_out()`` was refused because the request came from another site (``csrf_protect_sign_out``). The
    middleware answers 403 in place of the app's response; the session is left as it was."""

    code = "cross_site_request"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The parts of a request the middleware looks at, whatever the server interface."""

    method: str
    #: The decoded path (matched against the callback path and the path patterns).
    path: str
    #: The path as sent (still percent-encoded), used to build return URLs.
    raw_path: str
    query_string: str
    #: Lower-case header names; repeated headers joined with ``", "``.
    headers: Mapping[str, str] = field(repr=False)
    cookies: Mapping[str, str] = field(repr=False)
    client_ip: str | None = None
    #: ``http`` or ``https``, as the server saw it (a proxy's ``X-Forwarded-Proto`` is not read).
    scheme: str = "http"

    @property
    def target(self) -> str:
        """Path and query as sent: where a sign-in started here should come back to."""
        return self.raw_path + ("?" + self.query_string if self.query_string else "")

    @property
    def query(self) -> dict[str, str]:
        """The query parameters (the first of a repeated name wins)."""
        out: dict[str, str] = {}
        for name, value in parse_qsl(self.query_string, keep_blank_values=True):
            out.setdefault(name, value)
        return out

    @property
    def user_agent(self) -> str | None:
        """The ``User-Agent`` header."""
        return self.headers.get("user-agent")

    @property
    def origin(self) -> str | None:
        """``scheme://host[:port]`` this request was made to (from the scheme and ``Host``), when it has a host."""
        return request_origin(self.scheme, self.headers.get("host"))


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response the middleware sends itself (a redirect, the sign-in error page)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""

    @property
    def status_line(self) -> str:
        """``"307 Temporary Redirect"``: the WSGI status string."""
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"


#: ``on_error(error, request_info)`` for a failed sign-in callback. It returns ``None`` (the default error page),
#: a URL to redirect to, or a :class:`Response`; on the ASGI middleware it may be a coroutine function.
ErrorHook = Callable[[Exception, RequestInfo], Any]


class SignInUrlOptions(TypedDict, total=False):
    """The options of ``get_sign_in_url`` and ``get_sign_up_url``."""

    #: The path to come back to after signing in (a same-origin path; anything else becomes ``/``).
    return_to: str | None
    #: Sign in to this organization.
    organization_id: str | None
    #: Pre-fill the email address.
    login_hint: str | None
    #: Passed to the identity provider (e.g. ``"consent"``).
    prompt: str | None
    #: Your own string, handed back by the callback (``CallbackParams.custom_state``).
    state: str | None


class AuthKitOptions(TypedDict, total=False):
    """The middleware's options (the same for ASGI and WSGI; see :class:`MiddlewareCore`)."""

    authkit: AuthKit | None
    middleware_auth: bool
    unauthenticated_paths: Sequence[str]
    sign_up_paths: Sequence[str]
    redirect_uri: str | None
    debug: bool
    on_error: ErrorHook | None
    csrf_protect_sign_out: bool


def _is_signed_in(auth: AuthResult | None) -> bool:
    return auth is not None and isinstance(auth.user_info, UserInfo)


#: What :func:`add_session_cache_headers` makes of no headers at all.
SESSION_CACHE_HEADERS: list[tuple[str, str]] = add_session_cache_headers([])


class RequestContext:
    """One request's authentication state and what its response must carry. Created by the middleware.

    ``info`` is the request's :class:`RequestInfo`, or a function that builds it: the shells pass a function, so a
    request whose session is answered from the warm path never decodes its headers (``cookies`` is then given).
    """

    # Defaults at class level: a request that only reads its session sets none of them.
    #: Whether this is a websocket handshake (the session is read, no cookie is ever written).
    websocket = False
    #: Whether the app asked about the session (its response then depends on it).
    used = False
    #: A redirect that replaces the app's response: ``(location, status)``.
    redirect: tuple[str, int] | None = None
    started = False
    #: Set once the app's response was replaced; its body must be dropped.
    replacement: Response | None = None
    #: A refusal that replaces the app's response (a cross-site sign-out, a 401 for a signed-out API request).
    refusal: Response | None = None
    #: The sign-in URLs started on this request, by their options (one state cookie per distinct sign-in).
    _sign_ins: dict[object, str] | None = None

    def __init__(
        self,
        core: MiddlewareCore,
        info: RequestInfo | Callable[[], RequestInfo],
        *,
        websocket: bool = False,
        cookies: Mapping[str, str] | None = None,
        auth: AuthResult | None = None,
    ) -> None:
        self.core = core
        if isinstance(info, RequestInfo):
            self._info: RequestInfo | None = info
            self.cookies: Mapping[str, str] = info.cookies
        else:
            if cookies is None:
                raise TypeError("cookies= is required when info is a function")
            self._info, self._make_info = None, info
            self.cookies = cookies
        if websocket:
            self.websocket = True
        self.auth: AuthResult = auth if auth is not None else AuthResult(NoUserInfo())
        #: Cookies to write besides the session's (sign-in state cookies).
        self.extra_cookies: list[SetCookie] = []

    @property
    def info(self) -> RequestInfo:
        """The request's :class:`RequestInfo` (built on first use)."""
        info = self._info
        if info is None:
            info = self._info = self._make_info()
        return info

    @property
    def kit(self) -> AuthKit:
        """The session engine."""
        return self.core.authkit

    def redirect_to(self, location: str, *, provider: bool = False) -> str:
        """Record a redirect that replaces the app's response, through the one checked path: an app target must be
        a same-origin path or on an allowed origin (:func:`~authkit_core.redirects.safe_redirect_target`, else
        ``/``); a ``provider`` URL (one this library built, or WorkOS sent) is only made header-safe. Returns the
        ``Location`` that will be sent."""
        checked = location_header(location) if provider else safe_redirect_target(self.kit.config, location)
        self.redirect = (checked, redirect_status(self.info.method))
        return checked

    def refuse(self, status: int, code: str, message: str, extra_headers: Sequence[tuple[str, str]] = ()) -> None:
        """Record a JSON error response that replaces the app's response (``{"error": code, "message": ...}``)."""
        body = json.dumps({"error": code, "message": message}).encode("utf-8")
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra_headers]
        self.refusal = Response(status, headers, body)

    # --- what the request-scoped functions do, minus the engine call --------------------------------------------

    def with_auth(self, ensure_signed_in: bool = False) -> UserInfo | NoUserInfo:
        """The request's user; a signed-out request with ``ensure_signed_in`` becomes a sign-in redirect."""
        self.used = True
        if ensure_signed_in and not _is_signed_in(self.auth):
            self.require_sign_in()
        return self.auth.user_info

    def require_sign_in(self, *, organization_id: str | None = None, return_to: str | None = None) -> NoReturn:
        """Record a redirect to sign-in that comes back to this page (or ``return_to``), then raise
        :class:`SignInRequiredError` so the handler stops. A request that is not a page navigation (``fetch``, an
        image, an API client: :func:`~authkit_core.signin.is_navigation`) gets a 401 instead, and no sign-in state
        cookie."""
        target = return_to or self.info.target
        if self.sign_in_redirect_fits():
            self.redirect_to_sign_in(target, organization_id=organization_id)
            self.core.log("sign-in required on %s %s", self.info.method, self.info.path)
        else:
            self.refuse_signed_out()
        raise SignInRequiredError(return_pathname=safe_return_path(target))

    def sign_in_redirect_fits(self) -> bool:
        """Whether this request is a page navigation, which a sign-in redirect suits (else it gets 401)."""
        return not self.websocket and is_navigation(self.info.headers)

    def refuse_signed_out(self) -> None:
        """Record the 401 a signed-out request that is not a page navigation gets."""
        self.refuse(401, "sign_in_required", "Sign-in required.")
        self.core.log("sign-in required on %s %s: 401 (not a page navigation)", self.info.method, self.info.path)

    def redirect_to_sign_in(self, return_pathname: str, *, organization_id: str | None = None) -> None:
        """Record a redirect to a new sign-in (sign-up on :attr:`sign_up_paths`) that returns to
        ``return_pathname``."""
        url = self.sign_in_url(return_pathname=return_pathname, organization_id=organization_id)
        self.redirect_to(url, provider=True)

    def sign_in_url(
        self,
        *,
        return_pathname: str | None = None,
        custom_state: str | None = None,
        **options: Unpack[AuthorizationOptions],
    ) -> str:
        """A sign-in URL (sign-up on the ``sign_up_paths`` unless ``screen_hint`` says); its state cookie is added
        to this response."""
        self.used = True
        if options.get("screen_hint") is None and self.core.is_sign_up_path(self.info.path):
            options["screen_hint"] = "sign-up"
        options.setdefault("redirect_uri", self.core.redirect_uri)
        # A page asking twice for the same sign-in (a header and a footer link) gets one URL and one state cookie.
        key = (return_pathname, custom_state, tuple(sorted((k, str(v)) for k, v in options.items())))
        started = self._sign_ins.get(key) if self._sign_ins is not None else None
        if started is not None:
            return started
        origin = self.info.origin
        self.core.check_origin(origin)
        request = start_sign_in(
            self.kit.config, return_pathname=return_pathname, custom_state=custom_state, origin=origin, **options
        )
        self.extra_cookies.append(request.cookie)
        if self._sign_ins is None:
            self._sign_ins = {}
        self._sign_ins[key] = request.url
        return request.url

    def sign_in_url_for(self, screen_hint: Literal["sign-in", "sign-up"], options: SignInUrlOptions) -> str:
        """:meth:`sign_in_url` from the options of ``get_sign_in_url``/``get_sign_up_url``."""
        return self.sign_in_url(
            return_pathname=options.get("return_to"),
            custom_state=options.get("state"),
            screen_hint=screen_hint,
            organization_id=options.get("organization_id"),
            login_hint=options.get("login_hint"),
            prompt=options.get("prompt"),
        )

    def before_refresh(self, ensure_signed_in: bool) -> NoUserInfo | None:
        """Before an explicit refresh: ``NoUserInfo`` when there is no session to refresh (or a sign-in redirect
        with ``ensure_signed_in``); ``None`` when the refresh should go ahead."""
        self.used = True
        if self.auth.loaded is None:
            if ensure_signed_in:
                self.require_sign_in()
            return NoUserInfo()
        return None

    def after_refresh(self, ensure_signed_in: bool) -> UserInfo | NoUserInfo:
        """After an explicit refresh: the new user info, or the :class:`TokenRefreshError` raised."""
        if isinstance(self.auth.error, TokenRefreshError):
            self.core.log("session refresh failed: %s", self.auth.error.code)
            raise self.auth.error
        if ensure_signed_in and not _is_signed_in(self.auth):
            self.require_sign_in()
        return self.auth.user_info

    def after_switch(self, organization_id: str, return_to: str | None) -> UserInfo | NoUserInfo:
        """After the refresh into ``organization_id``: on ``sso_required``/``mfa_enrollment`` record a redirect
        (WorkOS's ``authkit_redirect_url``, else a sign-in into that organization) and raise; on success record a
        redirect to ``return_to`` when given."""
        error = self.auth.error
        if isinstance(error, TokenRefreshError):
            cause = error.cause
            target = return_to or self.info.target
            if isinstance(cause, AuthenticationError) and cause.authkit_redirect_url:
                self.redirect_to(cause.authkit_redirect_url, provider=True)
            elif error.code in ("sso_required", "mfa_enrollment"):
                self.redirect_to_sign_in(target, organization_id=organization_id)
            self.core.log("organization switch failed: %s", error.code)
            raise error
        info = self.after_refresh(True)
        if return_to is not None:
            self.redirect_to(return_to)
        return info

    def check_sign_out(self) -> None:
        """With ``csrf_protect_sign_out``, refuse a sign-out the request's site headers show is cross-site: record
        a 403 that replaces the app's response and raise :class:`CrossSiteRequestError`."""
        if not self.core.csrf_protect_sign_out or not self.core.is_cross_site(self.info):
            return
        body = b"Sign-out refused: the request did not come from this site.\n"
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
        self.refusal = Response(403, headers, body)
        self.core.log("sign-out refused: cross-site %s request", self.info.method)
        raise CrossSiteRequestError("sign-out refused: cross-site request")

    def after_sign_out(self, logout_url: str | None, return_to: str | None) -> str:
        """After the session ended: redirect to WorkOS's logout URL (or ``return_to``/``/`` without a session)."""
        self.used = True
        location = self.redirect_to(logout_url, provider=True) if logout_url else self.redirect_to(return_to or "/")
        self.core.log("signed out")
        return location

    def token_claims(self, access_token: str | None = None) -> dict[str, Any]:
        """The claims of ``access_token`` or of the session's token (``{}`` when signed out), not verified."""
        self.used = True
        token = access_token if access_token is not None else self.auth.user_info.access_token
        return _decode_claims(token) if token else {}

    def check_recent_auth(self, max_age: float) -> bool:
        """Whether the user authenticated at most ``max_age`` seconds ago (``auth_time``); ``False`` whenever that
        cannot be told (signed out, no or malformed ``auth_time``, one in the future)."""
        if max_age < 0:
            raise ValueError("max_age must be 0 or more seconds")
        try:
            auth_time = self.token_claims().get("auth_time")
        except AuthKitError:
            return False
        if isinstance(auth_time, bool) or not isinstance(auth_time, int | float):
            return False
        age = self.kit.clock() - auth_time
        return -_AUTH_TIME_SKEW_SECONDS <= age <= max_age

    @staticmethod
    def authentication_response(value: AuthenticationResponse | Mapping[str, Any]) -> AuthenticationResponse:
        """``value`` as an :class:`AuthenticationResponse` (a raw ``/authenticate`` JSON body is parsed)."""
        return value if isinstance(value, AuthenticationResponse) else AuthenticationResponse.from_api(value)

    def bearer_token(self) -> str | None:
        """The request's ``Authorization: Bearer`` value, if any."""
        self.used = True
        scheme, _, value = self.info.headers.get("authorization", "").strip().partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None

    # --- the response ------------------------------------------------------------------------------------------

    def cookies_to_write(self) -> list[SetCookie]:
        """The session's cookies and the extra ones, a later write of a name replacing an earlier one."""
        if self.websocket or not (self.auth.cookies or self.extra_cookies):
            return []
        written = [*self.auth.cookies, *self.extra_cookies]
        if self.extra_cookies:  # sign-in state cookies: at most a handful per browser
            written = [*state_cookies_to_expire(self.kit.config, self.cookies, written), *written]
        by_scope: dict[tuple[str, str | None, str], SetCookie] = {}
        for cookie in written:
            by_scope.pop(cookie.scope, None)
            by_scope[cookie.scope] = cookie
        return list(by_scope.values())

    def decorate(
        self, headers: Sequence[tuple[str, str]], *, force_cache_headers: bool = False
    ) -> list[tuple[str, str]]:
        """``headers`` plus the cookies to write, and the no-store cache headers when the response carries or
        depends on a session."""
        cookies = self.cookies_to_write()
        needs_cache_headers = force_cache_headers or cookies or self.used or self.auth.loaded is not None
        if not headers and not cookies:  # the common case, answered with shared constants
            return list(SESSION_CACHE_HEADERS) if needs_cache_headers else []
        out = [*headers, *(("Set-Cookie", c.header_value()) for c in cookies)]
        return add_session_cache_headers(out) if needs_cache_headers else out

    def pending_response(self) -> Response | None:
        """The recorded refusal or redirect as a complete response, if one was recorded."""
        if self.refusal is not None:
            refusal = self.refusal
            return Response(refusal.status, self.decorate(refusal.headers, force_cache_headers=True), refusal.body)
        if self.redirect is None:
            return None
        location, status = self.redirect
        headers = [("Location", location_header(location)), ("Content-Length", "0")]
        return Response(status, self.decorate(headers, force_cache_headers=True))

    def start_plain(self) -> bool | None:
        """The common case of :meth:`start_response`, for an app response that sets none of ``Vary``,
        ``Cache-Control`` and ``Set-Cookie``: ``True`` when it only gains :data:`SESSION_CACHE_HEADERS`, ``False``
        when it is sent as it is, ``None`` (nothing recorded) when :meth:`start_response` must decide (a redirect,
        a refusal or cookies to write)."""
        if self.redirect is not None or self.refusal is not None or self.cookies_to_write():
            return None
        self.started = True
        return self.used or self.auth.loaded is not None

    def start_response(self, status: int, headers: Sequence[tuple[str, str]]) -> Response | list[tuple[str, str]]:
        """The app starts its response: the headers to send, or the :class:`Response` that replaces it."""
        self.started = True
        replacement = self.pending_response()
        if replacement is not None:
            self.replacement = replacement
            self.core.log("response %d replaced by a %d redirect", status, replacement.status)
            return replacement
        return self.decorate(headers)

    def swallows(self, exc: BaseException) -> bool:
        """Whether an exception the app raised is only the signal of a recorded redirect, which was (or can still
        be) sent instead of an error."""
        can_redirect = self.replacement is not None or not self.started
        recorded = self.redirect is not None or self.refusal is not None
        return recorded and can_redirect and isinstance(exc, AuthKitError)


def current_context(request: object = None) -> RequestContext:
    """The context of the current request, or of ``request`` (an ASGI scope, a WSGI environ, or an object with a
    ``.scope`` or ``.environ`` such as a Starlette, Flask or Django request)."""
    ctx: object = None
    if request is None:
        ctx = _current.get()
    else:
        holder = getattr(request, "scope", None) or getattr(request, "environ", None) or request
        if isinstance(holder, Mapping):
            ctx = holder.get(CONTEXT_KEY)
    if not isinstance(ctx, RequestContext):
        raise NoRequestContextError(
            "no request context: call this while handling a request that went through AuthKitMiddleware "
            "(ASGI) or AuthKitWSGIMiddleware (WSGI), or pass request= a request that did"
        )
    return ctx


def enter_context(ctx: RequestContext) -> Token[RequestContext | None]:
    """Make ``ctx`` the current request context."""
    return _current.set(ctx)


def leave_context(token: Token[RequestContext | None]) -> None:
    """Undo :func:`enter_context` (from whatever context the server finishes the request in)."""
    try:
        _current.reset(token)
    except ValueError:  # finished in another context (a WSGI body closed elsewhere): just clear it
        _current.set(None)


_PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Sign-in failed</title></head>'
    "<body><h1>Sign-in failed</h1><p>{text}</p><p>Error code: <code>{code}</code></p>"
    '<p><a href="/">Back to the home page</a></p></body></html>\n'
)


def _describe(error: Exception) -> tuple[int, str, str]:
    """``(status, explanation, code)`` of a sign-in failure, with no secret in it."""
    if isinstance(error, SignInCallbackError) and error.code == "redirect_uri_mismatch":
        return 400, error.message[:1].upper() + error.message[1:] + ".", error.code
    if isinstance(error, SignInCallbackError):
        return 400, "This sign-in link is invalid or has expired. Please sign in again.", error.code
    if isinstance(error, AuthKitError) and error.is_transient:
        return 500, "The sign-in service could not be reached. Please try again in a moment.", error.code
    if isinstance(error, AuthenticationError):
        return 400, "Your account needs another step before you can sign in here. Please sign in again.", error.code
    if isinstance(error, OAuthError | WorkOSAPIError):
        return 400, "This sign-in could not be completed (the code was already used or has expired).", error.code
    code = error.code if isinstance(error, AuthKitError) else "internal_error"
    return 500, "Something went wrong while signing you in. Please try again.", code


class MiddlewareCore:
    """The options and decisions both middleware share.

    - ``authkit``: the :class:`~authkit_core.engine.AuthKit` engine (``None``: one configured from ``WORKOS_*``).
    - ``middleware_auth``: require a session on every path but the ``unauthenticated_paths`` and the callback.
      Patterns are authkit-nextjs's path-to-regexp patterns (``/blog/:path*``: any with ``:``, ``(`` or ``{``) or
      globs (:func:`fnmatch.fnmatchcase`, ``*`` also matches ``/``); see :mod:`authkit_core.paths`. An invalid
      one raises :class:`~authkit_core.errors.ConfigurationError` here.
    - ``sign_up_paths``: patterns (the same kinds) whose sign-in redirects open the sign-up screen.
    - ``redirect_uri``: the callback URL, instead of the configuration's; its path is served by the middleware.
    - ``debug``: log each decision to the ``authkit_session`` logger (at INFO; never a token, code or cookie).
    - ``on_error(error, request_info)``: called when the sign-in callback fails; see :data:`ErrorHook`.
    - ``csrf_protect_sign_out``: ``sign_out()`` refuses (403, session kept) a request that another site made:
      ``Sec-Fetch-Site`` other than ``same-origin``/``none``, else an ``Origin`` that is not this host's or the
      redirect URI's, else (no such header: an old browser or a script) a GET or HEAD. See :meth:`is_cross_site`.
    """

    def __init__(
        self,
        *,
        authkit: AuthKit | None = None,
        middleware_auth: bool = False,
        unauthenticated_paths: Sequence[str] = (),
        sign_up_paths: Sequence[str] = (),
        redirect_uri: str | None = None,
        debug: bool = False,
        on_error: ErrorHook | None = None,
        csrf_protect_sign_out: bool = False,
    ) -> None:
        self.authkit = authkit if authkit is not None else AuthKit()
        self.middleware_auth = middleware_auth
        self.unauthenticated_paths = tuple(unauthenticated_paths)
        self.sign_up_paths = tuple(sign_up_paths)
        self._public_paths = PathPatterns(self.unauthenticated_paths, option="unauthenticated_paths")
        self._sign_up_patterns = PathPatterns(self.sign_up_paths, option="sign_up_paths")
        self.redirect_uri = redirect_uri
        self.debug = debug
        self.on_error = on_error
        self.csrf_protect_sign_out = csrf_protect_sign_out
        #: The path the sign-in callback is served at.
        self.callback_path = urlsplit(redirect_uri or self.authkit.config.redirect_uri).path or "/"
        self._redirect_origin = normalize_origin(redirect_uri or self.authkit.config.redirect_uri)
        # the origins already warned about (bounded: one line per origin, not per request)
        self._warned_origins: set[str] = set()
        self._lock = threading.Lock()
        self._client: WorkOSClient | None = None
        self._async_client: AsyncWorkOSClient | None = None

    def log(self, message: str, *args: object) -> None:
        """Log a decision when ``debug`` is on."""
        if self.debug:
            logger.info("authkit: " + message, *args)

    def is_cross_site(self, info: RequestInfo) -> bool:
        """Whether a browser's headers show the request was made by another site (the CSRF check of sign-out).

        ``Sec-Fetch-Site`` decides when present (``same-origin`` and ``none``, a typed URL or bookmark, pass);
        else ``Origin`` must name this host (``Host``) or the redirect URI's origin; with neither header only
        methods other than GET and HEAD pass (browsers send ``Origin`` on every cross-site POST). Origins are
        compared whole: scheme, host and port."""
        site = info.headers.get("sec-fetch-site")
        if site is not None:
            return site.strip().lower() not in ("same-origin", "none")
        origin = info.headers.get("origin")
        if origin is not None:
            sent = normalize_origin(origin.strip())  # "null" (a sandboxed frame, a redirect chain) is no origin
            return sent is None or sent not in (info.origin, self._redirect_origin)
        return info.method.upper() in ("GET", "HEAD")

    def check_origin(self, origin: str | None) -> None:
        """Warn (once per origin) when a sign-in starts on an origin other than the redirect URI's: the state
        cookie is set here, and the callback, on the redirect URI's origin, will not receive it."""
        own = self._redirect_origin
        if origin is None or own is None or origin == own or origin in self._warned_origins:
            return
        if len(self._warned_origins) < 64:
            self._warned_origins.add(origin)
        logger.warning(
            "authkit: a sign-in started on %s but the redirect URI is on %s: the browser will not send the sign-in "
            "cookie to the callback and the sign-in will fail. Browse the app at %s, or set WORKOS_REDIRECT_URI to "
            "a URL on %s (behind a proxy that rewrites Host, check it passes the public host)",
            origin,
            own,
            own,
            origin,
        )

    def is_sign_up_path(self, path: str) -> bool:
        """Whether sign-ins started on ``path`` open the sign-up screen."""
        return self._sign_up_patterns.matches(path)

    def gate(self, ctx: RequestContext) -> Response | None:
        """After authentication: the sign-in redirect when ``middleware_auth`` requires a session here."""
        if not self.middleware_auth or _is_signed_in(ctx.auth):
            return None
        path = ctx.info.path
        if path == self.callback_path:
            return None
        if self._public_paths.matches(path):
            self.log("public path %s", path)
            return None
        if not ctx.sign_in_redirect_fits():
            ctx.refuse_signed_out()
            return ctx.pending_response()
        self.log("no session on %s %s: redirecting to sign in", ctx.info.method, path)
        ctx.redirect_to_sign_in(ctx.info.target)
        return ctx.pending_response()

    def begin_warm(
        self,
        path: str,
        cookies: Mapping[str, str],
        info: Callable[[], RequestInfo],
        *,
        websocket: bool = False,
    ) -> RequestContext | None:
        """The hot path: the context of a request whose session cookie the engine authenticated a moment ago
        (:meth:`AuthKit.peek`), with no I/O, no flow and no header decoded (``info`` builds the request's
        :class:`RequestInfo` if something asks for it); ``None`` when :meth:`begin` must run."""
        if path == self.callback_path and not websocket:
            return None
        auth = self.authkit.peek(cookies)
        if auth is None:
            return None
        # signed in, so the middleware_auth gate lets it through
        return RequestContext(self, info, websocket=websocket, cookies=cookies, auth=auth)

    def begin(
        self,
        path: str,
        cookies: Mapping[str, str],
        info: RequestInfo | Callable[[], RequestInfo],
        *,
        websocket: bool = False,
    ) -> Flow[tuple[RequestContext, Response | None]]:
        """Start handling a request (its decoded ``path``, its cookies, and its :class:`RequestInfo` or a function
        that builds it when needed): its context, and the response the middleware sends itself (the callback's, or
        a sign-in redirect when ``middleware_auth`` requires a session) or ``None`` to call the app."""
        ctx = RequestContext(self, info, websocket=websocket, cookies=cookies)
        ambiguous = self.authkit.ambiguous_cookie_names(cookies)
        if ambiguous and not websocket:  # expire every copy, whatever scope it was planted or left in
            config = self.authkit.config
            own = {(name, config.cookie_domain, "/") for name in ambiguous}
            expiries = expiries_for_every_scope(config, ambiguous, ctx.info.headers.get("host"), path)
            ctx.extra_cookies.extend(c for c in expiries if c.scope not in own)
        if not websocket and path == self.callback_path:
            return ctx, (yield from self._callback_flow(ctx))
        ctx.auth = yield _engine(self.authkit, "authenticate", cookies, refresh=not websocket)
        return ctx, self.gate(ctx)

    def _callback_flow(self, ctx: RequestContext) -> Flow[Response]:
        """Complete a sign-in: validate the state, exchange the code, redirect (or report the failure). The state
        cookie is expired whatever happens."""
        config = self.authkit.config
        query = ctx.info.query
        ctx.extra_cookies.extend(callback_cookies_to_expire(config, query))
        try:
            params = validate_callback(config, query, ctx.cookies)
            client = {"ip_address": ctx.info.client_ip, "user_agent": ctx.info.user_agent}
            result = yield _engine(
                self.authkit, "exchange_code", params.code, params.code_verifier, ctx.cookies, **client
            )
        except Exception as exc:
            code = exc.code if isinstance(exc, AuthKitError) else type(exc).__name__
            if isinstance(exc, SignInCallbackError) and exc.code == "redirect_uri_mismatch":
                logger.warning("authkit: sign-in callback failed: %s", exc)  # origins only: nothing secret
            else:
                logger.warning("authkit: sign-in callback failed: %s", code)
            hook_result = None
            if self.on_error is not None:
                try:
                    hook_result = yield _Hook(self.on_error, (exc, ctx.info))
                except Exception:
                    logger.exception("authkit: the on_error hook failed")
            return self._callback_failure(ctx, exc, hook_result)
        ctx.auth = result
        location = ctx.redirect_to(params.return_pathname)
        self.log("sign-in completed: redirecting to %s", urlsplit(location).path)
        return ctx.pending_response() or Response(500, [])

    def _callback_failure(self, ctx: RequestContext, error: Exception, hook_result: object) -> Response:
        if isinstance(hook_result, str):
            ctx.redirect_to(hook_result)
            return ctx.pending_response() or Response(500, [])
        if isinstance(hook_result, Response):
            headers = ctx.decorate(hook_result.headers, force_cache_headers=True)
            return Response(hook_result.status, headers, hook_result.body)
        status, text, code = _describe(error)
        body = _PAGE.format(text=html.escape(text), code=html.escape(code)).encode("utf-8")
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
        return Response(status, ctx.decorate(headers, force_cache_headers=True), body)

    # --- the WorkOS client of validate_api_key, one per face, made on first use ----------------------------------

    def validate_api_key_sync(self, value: str) -> dict[str, Any] | None:
        """Ask WorkOS about an API key with the blocking client."""
        with self._lock:
            if self._client is None:
                self._client = WorkOSClient(self.authkit.config)
        return self._client.validate_api_key(value)

    async def validate_api_key_async(self, value: str) -> dict[str, Any] | None:
        """Ask WorkOS about an API key with the async client."""
        if self._async_client is None:
            self._async_client = AsyncWorkOSClient(self.authkit.config)
        return await self._async_client.validate_api_key(value)

    def close(self) -> None:
        """Close the blocking HTTP client this middleware made (for :func:`validate_api_key`)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the HTTP clients this middleware made."""
        self.close()
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None


# --- effects: the only I/O of the request-scoped functions and the callback ----------------------------------------


@dataclass(frozen=True, slots=True)
class _Call:
    """Call ``sync`` on the blocking face, or await ``async_`` on the async one, with the same arguments."""

    sync: Callable[..., Any]
    async_: Callable[..., Awaitable[Any]]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def run_sync(self, io: object) -> Any:
        return self.sync(*self.args, **self.kwargs)

    async def run_async(self, io: object) -> Any:
        return await self.async_(*self.args, **self.kwargs)


def _engine(kit: AuthKit, method: str, *args: Any, **kwargs: Any) -> _Call:
    """``kit.<method>(...)``, or ``await kit.<method>_async(...)`` on the async face."""
    return _Call(getattr(kit, method), getattr(kit, method + "_async"), args, kwargs)


@dataclass(frozen=True, slots=True)
class _Hook:
    """Call a user hook; on the async face, await what it returns when that is awaitable."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]

    def run_sync(self, io: object) -> Any:
        return self.fn(*self.args)

    async def run_async(self, io: object) -> Any:
        result = self.fn(*self.args)
        return await result if inspect.isawaitable(result) else result


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
    yield _engine(ctx.kit, "refresh", ctx.auth, ctx.cookies, organization_id=organization_id)
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
    yield _engine(ctx.kit, "refresh", ctx.auth, ctx.cookies, organization_id=organization_id)
    return ctx.after_switch(organization_id, return_to)


def get_sign_in_url(*, request: object = None, **options: Unpack[SignInUrlOptions]) -> str:
    """A URL that starts a sign-in (coming back to ``return_to``); the middleware sets its state cookie on this
    response. Options: :class:`SignInUrlOptions`."""
    return current_context(request).sign_in_url_for("sign-in", options)


def get_sign_up_url(*, request: object = None, **options: Unpack[SignInUrlOptions]) -> str:
    """Like :func:`get_sign_in_url`, opening the sign-up screen."""
    return current_context(request).sign_in_url_for("sign-up", options)


def sign_out(*, return_to: str | None = None, request: object = None) -> Flow[str]:
    """End the session (store entry deleted, cookies expired) and make the response a redirect to WorkOS's logout
    URL, which then goes to ``return_to``. Returns that URL (``return_to`` or ``/`` when there was no session).

    With the middleware's ``csrf_protect_sign_out``, a cross-site request raises
    :class:`CrossSiteRequestError` instead and gets a 403; the session is kept."""
    ctx = current_context(request)
    ctx.check_sign_out()
    url = yield _engine(ctx.kit, "sign_out", ctx.auth, ctx.cookies, return_to=return_to)
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
    yield _engine(ctx.kit, "save_session", ctx.auth, response, ctx.cookies)
    return ctx.auth.user_info


def validate_api_key(*, request: object = None) -> Flow[dict[str, Any] | None]:
    """The WorkOS API key object for the request's ``Authorization: Bearer`` value, or ``None`` (no such header,
    or a key WorkOS does not know)."""
    ctx = current_context(request)
    value = ctx.bearer_token()
    if value is None:
        return None
    core = ctx.core
    result: dict[str, Any] | None = yield _Call(core.validate_api_key_sync, core.validate_api_key_async, (value,))
    return result


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
