"""The options and decisions both middleware share, :class:`MiddlewareCore`: which path is the callback or public,
when a request gets a sign-in redirect, a 401 or a 503, the sign-in callback (its flow and its error page), the
sign-out CSRF check. The shells in :mod:`authkit_adapters.asgi` and :mod:`authkit_adapters.wsgi` only translate
the server interface and drive these flows with the engine's async or sync face."""

from __future__ import annotations

import html
import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from authkit_core.bearer import bearer_token
from authkit_core.cookies import expiries_for_every_scope
from authkit_core.engine import AuthKit, AuthResult, log_fields
from authkit_core.errors import (
    AuthenticationError,
    AuthKitError,
    ConfigurationError,
    OAuthError,
    WorkOSAPIError,
)
from authkit_core.events import SignedIn, SignInFailed
from authkit_core.flow import Flow
from authkit_core.models import AuthenticationResponse, NoUserInfo
from authkit_core.paths import PathPatterns
from authkit_core.redirects import normalize_origin
from authkit_core.signin import (
    CallbackParams,
    SignInCallbackError,
    callback_cookies_to_expire,
    validate_callback,
)
from authkit_core.workos_api import check_authorization_options

from ._context import RequestContext, _is_signed_in
from ._effects import Hook, engine_call
from ._endpoints import DEFAULT_PREFIX, endpoint_table
from ._success import SignInRefusedError, SignInSuccess, SuccessHook, success_outcome
from ._types import AUTHORIZATION_OPTION_NAMES, ErrorHook, RequestInfo, Response, SignInOptions

__all__ = ["MiddlewareCore"]

#: The middleware's options, as every public middleware class documents them (``AuthKitMiddleware`` for ASGI and
#: Django, ``AuthKitWSGIMiddleware``): one text, so the faces cannot drift apart.
OPTIONS_DOC = """Options (keyword arguments, the same on every face; :class:`~authkit_adapters.AuthKitOptions`):

- ``authkit``: the :class:`~authkit_core.engine.AuthKit` engine (``None``: one configured from ``WORKOS_*``).
- ``middleware_auth``: require a session on every path but the ``unauthenticated_paths`` and the callback.
  Patterns are authkit-nextjs's path-to-regexp patterns (``/blog/:path*``: any with ``:``, ``(`` or ``{``) or
  globs (:func:`fnmatch.fnmatchcase`, ``*`` also matches ``/``); see :mod:`authkit_core.paths`. An invalid
  one raises :class:`~authkit_core.errors.ConfigurationError` here.
- ``sign_up_paths``: patterns (the same kinds) whose sign-in redirects open the sign-up screen.
- ``redirect_uri``: the callback URL, instead of the configuration's; its path is served by the middleware.
- ``debug``: log each decision to the ``authkit_session`` logger (at INFO; never a token, code or cookie).
- ``on_error(error, request_info)``: called when the sign-in callback fails; see
  :data:`~authkit_adapters.ErrorHook`.
- ``on_success(success)``: called with a :class:`~authkit_adapters.SignInSuccess` after the code exchange and
  before the session is stored; it may return a redirect target or a :class:`~authkit_adapters.Response`, and
  refuses the sign-in by raising (nothing stored, ``on_error`` or a 403 page). See
  :data:`~authkit_adapters.SuccessHook`.
- ``sign_in_options``: authorization options (:class:`~authkit_adapters.SignInOptions`: ``organization_id``,
  ``domain_hint``, ``provider`` ...) every sign-in URL this middleware builds starts from (its own redirects and
  ``get_sign_in_url``/``get_sign_up_url``, whose options win); checked when the middleware is built
  (:class:`~authkit_core.errors.ConfigurationError`).
- ``csrf_protect_sign_out``: ``sign_out()`` refuses (403, session kept) a request that another site made:
  ``Sec-Fetch-Site`` other than ``same-origin``/``none``, else an ``Origin`` that is not this host's or the
  redirect URI's, else (no such header: an old browser or a script) a GET or HEAD.
- ``accept_bearer``: a request with ``Authorization: Bearer <WorkOS access token>`` is authenticated by that
  token (verified against the cached JWKS; see :mod:`authkit_core.bearer`) instead of the session cookie,
  which is then neither read nor refreshed nor written. A token that fails verification answers 401 with
  ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750) on every path, never a redirect; the JWKS
  unreachable answers 503. ``refresh_session()`` and ``switch_to_organization()`` raise
  :class:`~authkit_core.errors.BearerRequestError` on such a request. A signed-out request that is not a page
  navigation gets its 401 with ``WWW-Authenticate: Bearer realm="api"``. See ``docs/api-auth.md``.
- ``access_token_endpoints``: ``True`` (or a path prefix other than ``/auth``) serves ``POST /auth/user`` (the
  signed-in user's public information) and ``POST /auth/access-token`` (a fresh access token for browser code,
  ``?refresh=true`` to refresh it now): same-origin only, ``no-store``, 401 JSON when signed out. See
  :mod:`authkit_adapters._endpoints` and ``docs/api-auth.md``.
- ``auth_routes``: ``True`` (or a path prefix other than ``/auth``) serves the ready-made routes on any face,
  with no framework code: ``GET /auth/sign-in`` and ``GET /auth/sign-up`` (query ``return_to``,
  ``organization_id``, ``login_hint``) redirect to WorkOS; ``POST /auth/sign-out`` (``return_to``) ends the
  session, CSRF-checked whatever ``csrf_protect_sign_out`` says (a cross-site request gets 403, the session kept).
"""


def document_options(cls: type) -> type:
    """Append :data:`OPTIONS_DOC` to a public middleware class's docstring."""
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n\n" + OPTIONS_DOC
    return cls


#: ``begin_warm``'s ``authorization`` when the shell did not read the header.
_UNREAD = object()

logger = logging.getLogger("authkit_session")

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
    if isinstance(error, SignInRefusedError):
        shown = error.message if error.cause is None and error.message else "This sign-in was refused."
        return error.status, shown, error.code
    if isinstance(error, AuthKitError) and error.is_transient:
        return 500, "The sign-in service could not be reached. Please try again in a moment.", error.code
    if isinstance(error, AuthenticationError):
        return 400, "Your account needs another step before you can sign in here. Please sign in again.", error.code
    if isinstance(error, OAuthError | WorkOSAPIError):
        return 400, "This sign-in could not be completed (the code was already used or has expired).", error.code
    code = error.code if isinstance(error, AuthKitError) else "internal_error"
    return 500, "Something went wrong while signing you in. Please try again.", code


def _checked_sign_in_options(options: Mapping[str, object] | None) -> dict[str, object]:
    """The ``sign_in_options`` given (``None`` values dropped), or :class:`ConfigurationError` naming what is
    wrong: an option that is not an authorization option, or a value of the wrong type."""
    given = {name: value for name, value in (options or {}).items() if value is not None}
    unknown = set(given) - set(AUTHORIZATION_OPTION_NAMES)
    if unknown:
        raise ConfigurationError(
            f"sign_in_options takes {', '.join(AUTHORIZATION_OPTION_NAMES)}; not {', '.join(sorted(unknown))}",
            variable="sign_in_options",
        )
    try:
        check_authorization_options(given)
    except ValueError as exc:
        raise ConfigurationError(f"sign_in_options: {exc}", variable="sign_in_options") from None
    return given


def _endpoint_prefix(option: bool | str, name: str) -> str | None:
    """The prefix of a group of endpoints (option ``name``): ``True`` is ``/auth``, a string is its own prefix
    (``/``-started, no trailing ``/``), ``False`` none; anything else is a :class:`ConfigurationError`."""
    if option is False:
        return None
    if option is True:
        return DEFAULT_PREFIX
    if not isinstance(option, str) or not option.startswith("/") or option.endswith("/") or "?" in option:
        raise ConfigurationError(f"{name} takes True or a path prefix such as '/auth'", variable=name)
    return option


def _raised_at(error: BaseException) -> str:
    """``file:line in function`` where ``error`` was raised (its innermost frame)."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "an unknown place"
    last = frames[-1]
    return f"{last.filename}:{last.lineno} in {last.name}"


class MiddlewareCore:
    """The options and decisions both middleware share.

    The options are listed in :data:`OPTIONS_DOC` (and on the public middleware classes).
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
        on_success: SuccessHook | None = None,
        sign_in_options: SignInOptions | None = None,
        csrf_protect_sign_out: bool = False,
        accept_bearer: bool = False,
        access_token_endpoints: bool | str = False,
        auth_routes: bool | str = False,
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
        self.on_success = on_success
        #: Defaults of every sign-in URL this middleware builds (its own redirects and ``get_sign_in_url``).
        self.sign_in_options: dict[str, object] = _checked_sign_in_options(sign_in_options)
        self.csrf_protect_sign_out = csrf_protect_sign_out
        self.accept_bearer = accept_bearer
        #: The path the sign-in callback is served at.
        self.callback_path = urlsplit(redirect_uri or self.authkit.config.redirect_uri).path or "/"
        self._redirect_origin = normalize_origin(redirect_uri or self.authkit.config.redirect_uri)
        #: The paths the middleware answers itself (the callback; the access-token endpoints when enabled).
        self.endpoints = endpoint_table(
            self,
            _endpoint_prefix(access_token_endpoints, "access_token_endpoints"),
            _endpoint_prefix(auth_routes, "auth_routes"),
        )
        # the origins already warned about (bounded: one line per origin, not per request)
        self._warned_origins: set[str] = set()

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
        unavailable = ctx.unavailable_response()
        if unavailable is not None:
            return unavailable
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
        authorization: str | object | None = _UNREAD,
    ) -> RequestContext | None:
        """The hot path: the context of a request whose session cookie (or, with ``accept_bearer``, bearer token)
        the engine authenticated a moment ago (:meth:`AuthKit.peek`, :meth:`AuthKit.peek_bearer`), with no I/O, no
        flow and no header decoded (``info`` builds the request's :class:`RequestInfo` if something asks for it);
        ``None`` when :meth:`begin` must run. With ``accept_bearer`` the shell passes the ``Authorization`` header
        it read (``None``: none) so the other headers stay undecoded; by default it is read through ``info``."""
        if path in self.endpoints and not websocket:
            return None
        if self.accept_bearer:
            if authorization is _UNREAD:
                authorization = info().headers.get("authorization")
            if isinstance(authorization, str):  # the header wins over the cookie
                token = bearer_token(authorization)
                auth = self.authkit.peek_bearer(token) if token else None
                if auth is None:
                    return None
                return RequestContext(self, info, websocket=websocket, cookies=cookies, auth=auth)
        # signed in, so the middleware_auth gate lets it through. The header's own answer first (AuthKit.peek_header,
        # which the ASGI shell asks before parsing): peek remembers one for the header only when this missed.
        header = getattr(cookies, "header", None)
        if header is not None and not websocket:
            answer = self.authkit.peek_header(header)
            if answer is not None:
                return RequestContext.warm(self, info, answer)
        auth = self.authkit.peek(cookies)
        if auth is None:
            return None
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
        endpoint = None if websocket else self.endpoints.get(path)
        if self.accept_bearer and (endpoint is None or endpoint.authenticated):  # the callback is the callback
            token = bearer_token(ctx.info.headers.get("authorization"))
            if token is not None:  # the header wins: the cookie is neither read nor refreshed nor written
                ctx.auth = yield engine_call(self.authkit, "verify_bearer", token)
                if not _is_signed_in(ctx.auth):
                    return ctx, ctx.bearer_refusal()
                if endpoint is not None:
                    return ctx, (yield from endpoint.flow(ctx))
                return ctx, None
        ambiguous = self.authkit.ambiguous_cookie_names(cookies)
        if ambiguous and not websocket:  # expire every copy, whatever scope it was planted or left in
            config = self.authkit.config
            own = {(name, config.cookie_domain, "/") for name in ambiguous}
            expiries = expiries_for_every_scope(config, ambiguous, ctx.info.headers.get("host"), path)
            ctx.extra_cookies.extend(c for c in expiries if c.scope not in own)
        if endpoint is not None and not endpoint.authenticated:  # the callback
            return ctx, (yield from endpoint.flow(ctx))
        ctx.auth = yield engine_call(self.authkit, "authenticate", cookies, refresh=not websocket)
        if endpoint is not None:
            return ctx, (yield from endpoint.flow(ctx))
        return ctx, self.gate(ctx)

    def _callback_flow(self, ctx: RequestContext) -> Flow[Response]:
        """Complete a sign-in: validate the state, exchange the code, run ``on_success``, store the session and
        redirect (or report the failure). The state cookie is expired whatever happens; the session is stored only
        once ``on_success`` returned, so a refused sign-in leaves nothing behind."""
        config = self.authkit.config
        query = ctx.info.query
        ctx.extra_cookies.extend(callback_cookies_to_expire(config, query))
        try:
            params = validate_callback(config, query, ctx.cookies)
            client = {"ip_address": ctx.info.client_ip, "user_agent": ctx.info.user_agent}
            response: AuthenticationResponse = yield engine_call(
                self.authkit, "authenticate_with_code", params.code, params.code_verifier, **client
            )
            outcome = None
            if self.on_success is not None:
                outcome = yield from self._success_flow(ctx, params, response)
            result = AuthResult(NoUserInfo())
            yield engine_call(self.authkit, "save_session", result, response, ctx.cookies)
        except Exception as exc:
            code = exc.code if isinstance(exc, AuthKitError) else type(exc).__name__
            if self.authkit.events:
                self.authkit.events.emit(SignInFailed(code))
            fields = log_fields("sign_in_failed", code, exc.is_transient if isinstance(exc, AuthKitError) else None)
            if isinstance(exc, SignInCallbackError) and exc.code == "redirect_uri_mismatch":
                # origins only: nothing secret
                logger.warning("authkit: sign-in callback failed: %s", exc, extra=fields)
            else:
                logger.warning("authkit: sign-in callback failed: %s", code, extra=fields)
            hook_result = None
            if self.on_error is not None:
                try:
                    hook_result = yield Hook(self.on_error, (exc, ctx.info))
                except Exception:
                    logger.exception("authkit: the on_error hook failed")
            return self._callback_failure(ctx, exc, hook_result)
        ctx.auth = result
        if self.authkit.events:
            self.authkit.events.emit(SignedIn())
        if isinstance(outcome, Response):
            self.log("sign-in completed: on_success answered %d", outcome.status)
            return Response(outcome.status, ctx.decorate(outcome.headers, force_cache_headers=True), outcome.body)
        location = ctx.redirect_to(params.return_pathname if outcome is None else outcome)
        self.log("sign-in completed: redirecting to %s", urlsplit(location).path)
        return ctx.pending_response() or Response(500, [])

    def _success_flow(
        self, ctx: RequestContext, params: CallbackParams, response: AuthenticationResponse
    ) -> Flow[str | Response | None]:
        """Run ``on_success``; what it returns, checked; a refusal (it raised, or returned something else) as
        :class:`SignInRefusedError`."""
        assert self.on_success is not None
        success = SignInSuccess(
            user=response.user,
            organization_id=response.organization_id,
            auth_response=response,
            return_pathname=params.return_pathname,
            custom_state=params.custom_state,
            request_info=ctx.info,
        )
        try:
            value = yield Hook(self.on_success, (success,))
        except Exception as exc:
            refusal = SignInRefusedError.wrap(exc)
            if refusal is exc:
                logger.info("authkit: on_success refused the sign-in")
            else:  # a bug in the hook, most likely: say where, but not the message (it may hold anything)
                logger.warning(
                    "authkit: on_success raised %s at %s: sign-in refused", type(exc).__name__, _raised_at(exc)
                )
            raise refusal from exc
        return success_outcome(value)

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

    # --- validate_api_key: through the engine (its HTTP client and circuit breaker) ------------------------------

    def validate_api_key_sync(self, value: str) -> dict[str, Any] | None:
        """Ask WorkOS about an API key (:meth:`AuthKit.validate_api_key`)."""
        return self.authkit.validate_api_key(value)

    async def validate_api_key_async(self, value: str) -> dict[str, Any] | None:
        """Async :meth:`validate_api_key_sync`."""
        return await self.authkit.validate_api_key_async(value)

    def close(self) -> None:
        """Nothing to close: the middleware makes no HTTP client of its own (the engine's are closed by
        :meth:`AuthKit.close`). Kept so existing shutdown code still works."""

    async def aclose(self) -> None:
        """Async :meth:`close`."""
