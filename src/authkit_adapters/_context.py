"""One request's state, :class:`RequestContext`: its authentication, what its response must carry (cookies, cache
headers, a redirect or a refusal that replaces the app's response), and the :class:`contextvars.ContextVar` the
request-scoped functions (``with_auth`` ...) find it through.

Redirects asked for deep inside a handler (``with_auth(ensure_signed_in=True)``, ``sign_out()``, an organization
switch that needs SSO) are recorded here before anything is raised. When the app then starts its response,
whatever it is (a 500 page made from the exception, or a normal page), :meth:`RequestContext.start_response`
answers with the recorded redirect instead, so the browser is redirected under any framework.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Unpack, cast

from authkit_core.bearer import BEARER_CHALLENGE
from authkit_core.cookies import SetCookie
from authkit_core.engine import AuthKit, AuthResult, WarmHeader
from authkit_core.errors import (
    AuthenticationError,
    AuthKitError,
    BearerRequestError,
    SignInRequiredError,
    SignInUnavailableError,
    TokenRefreshError,
)
from authkit_core.models import AuthenticationResponse, NoUserInfo, UserInfo
from authkit_core.redirects import location_header, safe_redirect_target
from authkit_core.signin import (
    add_session_cache_headers,
    is_navigation,
    redirect_status,
    safe_return_path,
    start_sign_in,
    state_cookies_to_expire,
)
from authkit_core.tokens import get_token_claims as _decode_claims
from authkit_core.workos_api import AuthorizationOptions

from ._types import (
    AUTHORIZATION_OPTION_NAMES,
    CONTEXT_KEY,
    CrossSiteRequestError,
    NoRequestContextError,
    RequestInfo,
    Response,
    SignInUrlOptions,
)

if TYPE_CHECKING:
    from ._middleware import MiddlewareCore

__all__ = ["SESSION_CACHE_HEADERS", "RequestContext", "current_context", "enter_context", "leave_context"]

logger = logging.getLogger("authkit_session")

#: How far in the future an ``auth_time`` may be (clock skew) before :meth:`check_recent_auth` refuses it.
_AUTH_TIME_SKEW_SECONDS = 60

_current: ContextVar[RequestContext | None] = ContextVar("authkit_session_request", default=None)


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
    _info: RequestInfo | None = None
    _make_info: Callable[[], RequestInfo]
    _auth: AuthResult | None = None
    _extra_cookies: list[SetCookie] | None = None
    #: A warm context's answer (:meth:`warm`), made into :attr:`auth` when something asks for it.
    _warm: WarmHeader | None = None

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
            self._info = info
            self.cookies: Mapping[str, str] = info.cookies
        else:
            if cookies is None:
                raise TypeError("cookies= is required when info is a function")
            self._info, self._make_info = None, info
            self.cookies = cookies
        if websocket:
            self.websocket = True
        self._auth = auth if auth is not None else AuthResult(NoUserInfo())

    @classmethod
    def warm(cls, core: MiddlewareCore, info: Callable[[], RequestInfo], answer: WarmHeader) -> RequestContext:
        """The context of an HTTP request the engine answered from its warm path (:meth:`AuthKit.peek_header`:
        signed in, nothing to refresh): nothing else is built until something asks for it."""
        ctx = cls.__new__(cls)
        ctx.core, ctx._make_info, ctx._warm, ctx.cookies = core, info, answer, answer[0]
        return ctx

    @property
    def auth(self) -> AuthResult:
        """The request's :class:`AuthResult` (replaced by a refresh, an organization switch, a sign-out ...)."""
        auth = self._auth
        if auth is None:
            assert self._warm is not None
            auth = self._auth = AuthResult(self._warm[1], self._warm[2])
        return auth

    @auth.setter
    def auth(self, value: AuthResult) -> None:
        self._auth = value

    @property
    def extra_cookies(self) -> list[SetCookie]:
        """Cookies to write besides the session's (sign-in state cookies)."""
        extra = self._extra_cookies
        if extra is None:
            extra = self._extra_cookies = []
        return extra

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
            self.refuse_if_unavailable()
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
        """Record the 401 a signed-out request that is not a page navigation gets (with a Bearer challenge when the
        middleware accepts bearer tokens)."""
        challenge = [("WWW-Authenticate", BEARER_CHALLENGE)] if self.core.accept_bearer else []
        self.refuse(401, "sign_in_required", "Sign-in required.", challenge)
        self.core.log("sign-in required on %s %s: 401 (not a page navigation)", self.info.method, self.info.path)

    def adopt(self, bearer: AuthResult) -> None:
        """Make a bearer token's result (:meth:`AuthKit.verify_bearer`) this request's authentication, for a route
        that accepts bearer tokens when the middleware does not: the header wins over the cookie. Cookies the
        session's authentication already has to write (a refresh that happened) are kept, so no rotated refresh
        token is lost."""
        self.used = True
        bearer.add_cookies(self.auth.cookies)
        self.auth = bearer

    def bearer_refusal(self) -> Response:
        """Record and return the answer to a bearer token that did not authenticate: 401 with
        ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750) and a JSON body naming the reason, or 503 when
        the JWKS could not be fetched (a transient error)."""
        from ._unavailable import unavailable_response

        self.used = True
        error = self.auth.error
        if error is not None and error.is_transient:
            self.refusal = unavailable_response(self.info, error, self.auth.retry_after)
        else:
            code = self.auth.reason or "invalid_token"
            challenge = [("WWW-Authenticate", f'Bearer error="invalid_token", error_description="{code}"')]
            self.refuse(401, "invalid_token", f"The bearer token was refused ({code}).", challenge)
        self.core.log("bearer token refused on %s %s", self.info.method, self.info.path)
        response = self.pending_response()
        assert response is not None
        return response

    def unavailable_response(self) -> Response | None:
        """When the request is signed out only because its session could not be refreshed or verified now (a
        transient failure: WorkOS or the store unreachable), record and return the 503 that replaces the app's
        response (see ``_unavailable.py``); else ``None``. The session is kept."""
        from ._unavailable import unavailable_error, unavailable_host, unavailable_response

        error = unavailable_error(self.auth)
        if error is None:
            return None
        self.used = True
        self.refusal = unavailable_response(self.info, error, self.auth.retry_after)
        logger.info(
            "authkit: sign-in unavailable on %s %s: %s could not be reached (%s); session kept, answering 503",
            self.info.method,
            self.info.path,
            unavailable_host(self.kit, error),
            error.code,
        )
        return self.pending_response()

    def refuse_if_unavailable(self) -> None:
        """Raise :class:`SignInUnavailableError` after recording the 503 of :meth:`unavailable_response`, when it
        applies."""
        response = self.unavailable_response()
        if response is not None:
            retry_after = int(dict(response.headers)["Retry-After"])
            raise SignInUnavailableError(retry_after=retry_after, cause=self.auth.error)

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
        """A sign-in URL (sign-up on the ``sign_up_paths`` unless ``screen_hint`` says), from the middleware's
        ``sign_in_options`` overridden by ``options``; its state cookie is added to this response."""
        self.used = True
        for name, value in self.core.sign_in_options.items():  # the middleware's defaults; the call's own win
            if options.get(name) is None:
                options[name] = value  # type: ignore[literal-required]
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

    def sign_in_url_for(self, screen_hint: Literal["sign-in", "sign-up"] | None, options: SignInUrlOptions) -> str:
        """:meth:`sign_in_url` from the options of ``get_sign_in_url`` (``screen_hint=None``: the options' own,
        else ``sign-in``) or ``get_sign_up_url`` (``"sign-up"``, whatever the options say). An unknown option
        raises :class:`TypeError`, a value of the wrong type :class:`ValueError`."""
        unknown = set(options) - set(SignInUrlOptions.__optional_keys__)
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        given: Mapping[str, object] = options
        passed = {n: given[n] for n in AUTHORIZATION_OPTION_NAMES if given.get(n) is not None}
        passed["screen_hint"] = screen_hint or options.get("screen_hint") or "sign-in"
        state = options.get("state")
        if state is not None and not isinstance(state, str):
            raise ValueError("state must be a string")
        return self.sign_in_url(
            return_pathname=options.get("return_to"), custom_state=state, **cast(AuthorizationOptions, passed)
        )

    def before_refresh(self, ensure_signed_in: bool) -> NoUserInfo | None:
        """Before an explicit refresh: ``NoUserInfo`` when there is no session to refresh (or a sign-in redirect
        with ``ensure_signed_in``); ``None`` when the refresh should go ahead. A request authenticated by a bearer
        token raises :class:`BearerRequestError`: it has no session to refresh."""
        self.used = True
        if self.auth.bearer:
            raise BearerRequestError(
                "this request is authenticated by a bearer token: there is no session to refresh or switch "
                "(the token's holder refreshes it where it got it)"
            )
        if self.auth.loaded is None:
            if ensure_signed_in:
                self.require_sign_in()
            return NoUserInfo()
        return None

    def after_refresh(self, ensure_signed_in: bool) -> UserInfo | NoUserInfo:
        """After an explicit refresh: the new user info, or the :class:`TokenRefreshError` raised."""
        if isinstance(self.auth.error, TokenRefreshError):
            self.core.log("session refresh failed: %s", self.auth.error.code)
            if ensure_signed_in:
                self.refuse_if_unavailable()
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

    def check_sign_out(self, *, always: bool = False) -> None:
        """With ``csrf_protect_sign_out`` (or ``always``: the ready-made sign-out routes), refuse a sign-out the
        request's site headers show is cross-site: record a 403 that replaces the app's response and raise
        :class:`CrossSiteRequestError`."""
        if not (always or self.core.csrf_protect_sign_out) or not self.core.is_cross_site(self.info):
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
        auth = self._auth
        if self.websocket or not ((auth is not None and auth.cookies) or self._extra_cookies):
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
        auth = self._auth  # None: a warm context nothing asked about (signed in)
        return self.used or auth is None or auth.loaded is not None

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
