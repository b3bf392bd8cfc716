"""The WSGI middleware, :class:`AuthKitWSGIMiddleware`, and the blocking request-scoped functions (``with_auth`` ...).

Plain WSGI (PEP 3333) with the engine's blocking face: no event loop per request. It reads the session, serves
the sign-in callback, and wraps ``start_response`` so the session's cookies and cache headers reach the response,
or a redirect asked for inside the view replaces it (even after Flask or Django turned the exception into a 500
page). Every decision is in :mod:`authkit_adapters._core`; this module only speaks WSGI. The functions have the
same names and arguments as :mod:`authkit_adapters.asgi`'s, without ``await`` (they also serve sync endpoints
of an ASGI app, which run in a worker thread).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import Token
from functools import partial
from types import TracebackType
from typing import Any, Unpack, cast
from urllib.parse import quote

from authkit_core.cookies import parse_cookie_header
from authkit_core.flow import run_sync

from . import _core
from ._core import AuthKitOptions, MiddlewareCore, RequestContext, RequestInfo, Response
from ._middleware import document_options
from ._typing import RefreshSession, WithAuth

__all__ = ["AuthKitWSGIMiddleware", "StartResponse", "WSGIApp", "request_info", *_core.API_NAMES]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
#: PEP 3333's ``start_response``.
StartResponse = Callable[..., Callable[[bytes], object]]
#: A WSGI application.
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_SAFE_PATH = "/:@!$&'()*+,;=-._~"


def _text(value: str) -> str:
    # PEP 3333 hands the path over as latin-1 decoded bytes; browsers send UTF-8
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def request_info(environ: Mapping[str, Any]) -> RequestInfo:
    """What the middleware needs from a WSGI environ."""
    return _request_info(environ, parse_cookie_header(environ.get("HTTP_COOKIE")), _path(environ))


def _path(environ: Mapping[str, Any]) -> str:
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return (path if path.isascii() else _text(path)) or "/"


def _request_info(environ: Mapping[str, Any], cookies: Mapping[str, str], path: str) -> RequestInfo:
    headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return RequestInfo(
        method=environ.get("REQUEST_METHOD", "GET"),
        path=path,
        raw_path=quote(path, safe=_SAFE_PATH),
        query_string=environ.get("QUERY_STRING", ""),
        headers=headers,
        cookies=cookies,
        client_ip=environ.get("REMOTE_ADDR") or None,
        scheme="https" if environ.get("wsgi.url_scheme") == "https" else "http",
    )


class _Body:
    """The app's response body, dropped when a redirect replaced the response; closing it ends the context."""

    def __init__(self, inner: Iterable[bytes], ctx: RequestContext, token: Token[RequestContext | None]) -> None:
        self.inner = inner
        self.ctx = ctx
        self.token = token

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            if self.ctx.replacement is None:
                yield chunk
        if self.ctx.replacement is not None:
            yield self.ctx.replacement.body

    def close(self) -> None:
        """Close the app's body (PEP 3333) and leave the request context."""
        try:
            close = getattr(self.inner, "close", None)
            if close is not None:
                close()
        finally:
            _core.leave_context(self.token)


@document_options
class AuthKitWSGIMiddleware(MiddlewareCore):
    """Put AuthKit sessions in front of a WSGI app: ``AuthKitWSGIMiddleware(app, authkit=AuthKit(...), ...)``.

    The options are listed below. :func:`validate_api_key` runs through
    the engine (its HTTP client and circuit breaker).
    """

    def __init__(self, app: WSGIApp, **options: Unpack[AuthKitOptions]) -> None:
        super().__init__(**options)
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Handle one request."""
        cookies = parse_cookie_header(environ.get("HTTP_COOKIE"))
        path = _path(environ)
        # a copy: the environ will hold the context, which must not hold the environ back (a cycle only the GC frees)
        info = partial(_request_info, environ.copy(), cookies, path)
        if self.accept_bearer:
            ctx = self.begin_warm(path, cookies, info, authorization=environ.get("HTTP_AUTHORIZATION"))
        else:
            ctx = self.begin_warm(path, cookies, info)
        early = None
        if ctx is None:
            ctx, early = run_sync(self.begin(path, cookies, info), None)
        if early is not None:
            start_response(early.status_line, early.headers)
            return [early.body]
        environ[_core.CONTEXT_KEY] = ctx
        token = _core.enter_context(ctx)

        def wrapped_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            outcome = ctx.start_response(int(status.split(" ", 1)[0]), headers)
            if isinstance(outcome, Response):
                start_response(outcome.status_line, outcome.headers, exc_info)
                return lambda data: None  # what the app writes of the replaced response goes nowhere
            return start_response(status, outcome, exc_info)

        try:
            body = self.app(environ, wrapped_start_response)
        except Exception as exc:
            _core.leave_context(token)
            if not ctx.swallows(exc):
                raise
            if ctx.replacement is None:  # raised before starting a response: send the redirect now
                ctx.replacement = ctx.pending_response()
                assert ctx.replacement is not None
                start_response(ctx.replacement.status_line, ctx.replacement.headers, sys.exc_info())
            return [ctx.replacement.body]
        return _Body(body, ctx, token)


# The request-scoped functions: written once in ``_core``, run with blocking I/O here.
with_auth = cast(WithAuth, _core.with_auth)
refresh_session = cast(RefreshSession, _core.blocking(_core.refresh_session))
switch_to_organization = _core.blocking(_core.switch_to_organization)
get_sign_in_url = _core.get_sign_in_url
get_sign_up_url = _core.get_sign_up_url
sign_out = _core.blocking(_core.sign_out)
get_token_claims = _core.get_token_claims
check_recent_auth = _core.check_recent_auth
save_session = _core.blocking(_core.save_session)
validate_api_key = _core.blocking(_core.validate_api_key)
authenticate_bearer = _core.blocking(_core.authenticate_bearer)
