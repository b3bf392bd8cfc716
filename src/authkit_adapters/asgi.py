"""The ASGI middleware, :class:`AuthKitMiddleware`, and the async request-scoped functions (``with_auth`` ...).

Pure ASGI (no framework): it reads the session on ``http`` and ``websocket`` scopes, serves the sign-in callback,
and wraps ``send`` so the cookies and cache headers of the session reach the response, or a redirect asked for
inside the handler replaces it. It also fills ``scope["user"]`` and ``scope["auth"]`` the way Starlette's
``AuthenticationMiddleware`` does (see :mod:`authkit_adapters._scope_user`), unless they are already there.
``lifespan`` (and any other scope) passes through untouched; a websocket handshake sees the session but never
gets a cookie. It runs under asyncio and trio (the engine's async face uses anyio).
Every decision is in :mod:`authkit_adapters._core`; this module only speaks ASGI and awaits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping
from functools import partial
from typing import Any, Unpack, cast
from urllib.parse import quote

from authkit_core.cookies import parse_cookie_header
from authkit_core.flow import run_async

from . import _core
from ._context import RequestContext, _current
from ._core import AuthKitOptions, MiddlewareCore, RequestInfo, Response
from ._middleware import document_options
from ._scope_user import ScopeAuth, ScopeUser
from ._typing import AsyncRefreshSession, AsyncWithAuth

__all__ = ["ASGIApp", "AuthKitMiddleware", "request_info", *_core.API_NAMES]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_info(scope: Mapping[str, Any]) -> RequestInfo:
    """What the middleware needs from an ``http`` or ``websocket`` scope.

    The ``Cookie`` headers are parsed (the parse is remembered per exact header value, as a browser repeats it on
    every request); the other headers are decoded the first time something asks for one.
    """
    return _request_info(scope, _cookies(scope))


def _cookies(scope: Mapping[str, Any]) -> Mapping[str, str]:
    cookie_headers = [value for name, value in scope.get("headers", ()) if name == b"cookie"]
    if len(cookie_headers) == 1:
        return parse_cookie_header(cookie_headers[0])
    return parse_cookie_header([value.decode("latin-1") for value in cookie_headers])


def _authorization(scope: Mapping[str, Any]) -> str | None:
    """The ``Authorization`` header of ``scope`` (the first), or ``None``; no other header is decoded."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None


def _request_info(scope: Mapping[str, Any], cookies: Mapping[str, str]) -> RequestInfo:
    client = scope.get("client")
    raw_path = scope.get("raw_path")
    return RequestInfo(
        method=scope.get("method", "GET"),
        path=scope["path"],
        raw_path=raw_path.decode("latin-1") if raw_path else quote(scope["path"]),
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=_LazyHeaders(scope.get("headers", ())),
        cookies=cookies,
        client_ip=client[0] if client else None,
        scheme=_SCHEMES.get(scope.get("scheme", "http"), "http"),
    )


_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


class _LazyHeaders(Mapping[str, str]):
    """An ASGI header list as ``{lower-case name: value}`` (repeated names joined with ``", "``), decoded on first
    use: most requests never look at a header besides the cookie."""

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._decoded: dict[str, str] | None = None

    def _headers(self) -> dict[str, str]:
        if self._decoded is None:
            headers: dict[str, str] = {}
            for raw_name, raw_value in self._raw:
                name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            self._decoded = headers
        return self._decoded

    def __getitem__(self, name: str) -> str:
        return self._headers()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers())

    def __len__(self) -> int:
        return len(self._headers())


_SESSION_CACHE_HEADERS = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in _core.SESSION_CACHE_HEADERS]
#: Makes an instance without calling its ``__init__`` (the hot path's contexts and scope objects, see ``__call__``).
_new = object.__new__
#: Response headers the middleware merges with its own (``Vary``, ``Cache-Control``, ``Set-Cookie``).
_MERGED_HEADERS = frozenset((b"vary", b"cache-control", b"set-cookie"))


def _encode(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    if headers == _core.SESSION_CACHE_HEADERS:
        return list(_SESSION_CACHE_HEADERS)
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def _send(send: Send, response: Response) -> None:
    await send({"type": "http.response.start", "status": response.status, "headers": _encode(response.headers)})
    await send({"type": "http.response.body", "body": response.body})


@document_options
class AuthKitMiddleware(MiddlewareCore):
    """Put AuthKit sessions in front of an ASGI app: ``AuthKitMiddleware(app, authkit=AuthKit(...), ...)``.

    The options are listed below; ``on_error`` and ``on_success`` may be
    coroutine functions. :func:`validate_api_key` runs through the engine (its HTTP client and circuit breaker).
    """

    def __init__(self, app: ASGIApp, **options: Unpack[AuthKitOptions]) -> None:
        super().__init__(**options)
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        kind = scope["type"]
        ctx: RequestContext | None = None
        if kind == "http":
            # The hot path: a request whose one Cookie header the engine answered a moment ago (AuthKit.peek_header)
            # gets its context with nothing parsed, decoded or built; anything else takes the general path.
            header, bearer = None, self.accept_bearer
            for name, value in scope["headers"]:
                if name == b"cookie":
                    if header is not None:  # several Cookie headers (HTTP/2): parsed together
                        header = None
                        break
                    header = value
                elif bearer and name == b"authorization":
                    header = None
                    break
            if header is not None and scope["path"] not in self.endpoints:
                answer = self.authkit.peek_header(header)
                if answer is not None:
                    # RequestContext.warm(self, info, answer), inlined: inside a server a Python call costs more
                    # than these stores (tests/adapters/test_warm_path.py keeps the two alike). The scope is
                    # copied: it will hold the context, which must not hold it back (a reference cycle).
                    ctx = _new(RequestContext)
                    ctx.core, ctx._warm, ctx.cookies = self, answer, answer[0]
                    ctx._make_info = partial(_request_info, dict(scope), answer[0])
        elif kind != "websocket":
            await self.app(scope, receive, send)
            return
        if ctx is None:
            ctx = await self._begin(scope, receive, send)
            if ctx is None:  # the middleware answered itself
                return
        scope[_core.CONTEXT_KEY] = ctx
        # Starlette's request.user/request.auth, unless the app put its own there (an outer AuthenticationMiddleware;
        # an inner one replaces these). Two small objects that read nothing until used.
        if "user" not in scope:  # ScopeUser(ctx), inlined as above
            scope["user"] = user = _new(ScopeUser)
            user._ctx = ctx
        if "auth" not in scope:
            scope["auth"] = auth = _new(ScopeAuth)
            auth._ctx = ctx
        token = _current.set(ctx)  # what with_auth() ... find (enter_context, inlined)
        try:
            if kind == "websocket":
                await self.app(scope, receive, send)
                return

            async def wrapped_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = message.get("headers", ())
                    if type(headers) is not list:
                        headers = list(headers)
                    for name, _ in headers:
                        if name.lower() in _MERGED_HEADERS:
                            break
                    else:  # the common case: nothing to merge
                        if (
                            ctx._auth is None
                            and ctx._extra_cookies is None
                            and ctx.redirect is None
                            and ctx.refusal is None
                        ):
                            # start_plain's first answer, inlined: a warm context nothing asked about (signed in)
                            ctx.started = True
                            await send({**message, "headers": [*headers, *_SESSION_CACHE_HEADERS]})
                            return
                        plain = ctx.start_plain()
                        if plain is not None:  # and nothing recorded: sent as it is, or with the cache headers
                            await send(
                                {**message, "headers": [*headers, *_SESSION_CACHE_HEADERS]} if plain else message
                            )
                            return
                    # Only the headers the middleware may change are decoded; the others pass through as they are.
                    kept: list[tuple[bytes, bytes]] = []
                    merged: list[tuple[str, str]] = []
                    for name, value in headers:
                        if name.lower() in _MERGED_HEADERS:
                            merged.append((name.decode("latin-1"), value.decode("latin-1")))
                        else:
                            kept.append((name, value))
                    outcome = ctx.start_response(message["status"], merged)
                    if isinstance(outcome, Response):
                        await _send(send, outcome)
                        return
                    message = {**message, "headers": kept + _encode(outcome)}
                elif ctx.replacement is not None:  # the replaced response's body, trailers ...
                    return
                await send(message)

            try:
                await self.app(scope, receive, wrapped_send)
            except Exception as exc:
                if not ctx.swallows(exc):
                    raise
            if not ctx.started and (pending := ctx.pending_response()) is not None:
                ctx.replacement = pending
                await _send(send, pending)
        finally:
            _current.reset(token)  # the same task, so the same context (leave_context's case does not arise)

    async def _begin(self, scope: Scope, receive: Receive, send: Send) -> RequestContext | None:
        """The general path of an ``http`` or ``websocket`` scope: its context, or ``None`` when the middleware
        answered itself (the sign-in callback, a sign-in redirect, a refused bearer token, a refused handshake)."""
        websocket = scope["type"] == "websocket"
        cookies = _cookies(scope)
        info = partial(_request_info, dict(scope), cookies)  # a copy, as on the hot path
        if self.accept_bearer:
            warm = self.begin_warm(
                scope["path"], cookies, info, websocket=websocket, authorization=_authorization(scope)
            )
        else:
            warm = self.begin_warm(scope["path"], cookies, info, websocket=websocket)
        if warm is not None:
            return warm
        ctx, early = await run_async(self.begin(scope["path"], cookies, info, websocket=websocket), None)
        if early is None:
            return ctx
        if websocket:  # refuse the handshake: the server answers 403
            await receive()
            await send({"type": "websocket.close", "code": 1008})
        else:
            await _send(send, early)
        return None


# The request-scoped functions: written once in ``_core``, awaited here.
with_auth = cast(AsyncWithAuth, _core.as_coroutine(_core.with_auth))
refresh_session = cast(AsyncRefreshSession, _core.awaiting(_core.refresh_session))
switch_to_organization = _core.awaiting(_core.switch_to_organization)
get_sign_in_url = _core.as_coroutine(_core.get_sign_in_url)
get_sign_up_url = _core.as_coroutine(_core.get_sign_up_url)
sign_out = _core.awaiting(_core.sign_out)
get_token_claims = _core.as_coroutine(_core.get_token_claims)
check_recent_auth = _core.as_coroutine(_core.check_recent_auth)
save_session = _core.awaiting(_core.save_session)
validate_api_key = _core.awaiting(_core.validate_api_key)
authenticate_bearer = _core.awaiting(_core.authenticate_bearer)
