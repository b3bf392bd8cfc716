"""The ASGI middleware, :class:`AuthKitMiddleware`, and the async request-scoped functions (``with_auth`` ...).

Pure ASGI (no framework): it reads the session on ``http`` and ``websocket`` scopes, serves the sign-in callback,
and wraps ``send`` so the cookies and cache headers of the session reach the response, or a redirect asked for
inside the handler replaces it. ``lifespan`` (and any other scope) passes through untouched; a websocket handshake
sees the session but never gets a cookie. It runs under asyncio and trio (the engine's async face uses anyio).
Every decision is in :mod:`authkit_adapters._core`; this module only speaks ASGI and awaits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Unpack, cast
from urllib.parse import quote

from authkit_core.cookies import parse_cookie_header
from authkit_core.flow import run_async

from . import _core
from ._core import AuthKitOptions, MiddlewareCore, RequestContext, RequestInfo, Response
from ._typing import AsyncRefreshSession, AsyncWithAuth

__all__ = ["ASGIApp", "AuthKitMiddleware", "request_info", *_core.API_NAMES]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_info(scope: Mapping[str, Any]) -> RequestInfo:
    """What the middleware needs from an ``http`` or ``websocket`` scope."""
    headers: dict[str, str] = {}
    cookie_headers: list[str] = []
    for raw_name, raw_value in scope.get("headers", ()):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name == "cookie":
            cookie_headers.append(value)
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    client = scope.get("client")
    raw_path = scope.get("raw_path")
    return RequestInfo(
        method=scope.get("method", "GET"),
        path=scope["path"],
        raw_path=raw_path.decode("latin-1") if raw_path else quote(scope["path"]),
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        cookies=parse_cookie_header(cookie_headers),
        client_ip=client[0] if client else None,
    )


def _encode(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def _send(send: Send, response: Response) -> None:
    await send({"type": "http.response.start", "status": response.status, "headers": _encode(response.headers)})
    await send({"type": "http.response.body", "body": response.body})


class AuthKitMiddleware(MiddlewareCore):
    """Put AuthKit sessions in front of an ASGI app: ``AuthKitMiddleware(app, authkit=AuthKit(...), ...)``.

    Options are those of :class:`~authkit_adapters._core.MiddlewareCore`; ``on_error`` may be a coroutine
    function. :meth:`aclose` closes the HTTP client :func:`validate_api_key` made.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[AuthKitOptions]) -> None:
        super().__init__(**options)
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        websocket = scope["type"] == "websocket"
        ctx, early = await run_async(self.begin(request_info(scope), websocket=websocket), None)
        if early is not None and websocket:  # refuse the handshake: the server answers 403
            await receive()
            await send({"type": "websocket.close", "code": 1008})
        elif early is not None:
            await _send(send, early)
        else:
            scope[_core.CONTEXT_KEY] = ctx
            token = _core.enter_context(ctx)
            try:
                await (self.app(scope, receive, send) if websocket else self._http(ctx, scope, receive, send))
            finally:
                _core.leave_context(token)

    async def _http(self, ctx: RequestContext, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", ())]
                outcome = ctx.start_response(message["status"], headers)
                if isinstance(outcome, Response):
                    await _send(send, outcome)
                    return
                message = {**message, "headers": _encode(outcome)}
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
