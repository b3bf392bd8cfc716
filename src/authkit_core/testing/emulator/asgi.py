"""The emulator's HTTP plumbing: ASGI types, the parsed request, responses, error bodies, reading and answering.

Nothing here knows about WorkOS objects; the endpoint modules build :class:`_Response` values and ``app.py`` sends
them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The largest request body read; a bigger one answers 413.
_MAX_BODY = 1 << 20
#: The token endpoint (the request log counts the grants sent to it).
_AUTHENTICATE = "/user_management/authenticate"


@dataclass(slots=True)
class _Response:
    """An answer: status, body and headers (``content-length`` is added when sent)."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, data: Any, headers: Iterable[tuple[str, str]] = ()) -> _Response:
        return cls(
            status,
            json.dumps(data, separators=(",", ":")).encode(),
            [("content-type", "application/json"), *headers],
        )

    @classmethod
    def html(cls, status: int, page: str) -> _Response:
        return cls(status, page.encode(), [("content-type", "text/html; charset=utf-8")])

    @classmethod
    def redirect(cls, location: str) -> _Response:
        return cls(302, b"", [("location", location), ("cache-control", "no-store")])


def _oauth_error(status: int, error: str, description: str) -> _Response:
    return _Response.json(status, {"error": error, "error_description": description})


def _api_error(status: int, code: str, message: str) -> _Response:
    return _Response.json(status, {"code": code, "message": message})


@dataclass(slots=True)
class _Request:
    """A request as the endpoints see it: lower-case headers, the query as a dict and the parsed body."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, Any] | None  # the parsed body (JSON or form), None when unreadable

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _parse_body(body: bytes, content_type: str) -> tuple[dict[str, Any] | None, bool]:
    """(params, ok): the JSON object or form fields of ``body``; ``ok`` is False for an unreadable body."""
    if not body.strip():
        return {}, True
    if "application/x-www-form-urlencoded" in content_type:
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)), True
        except UnicodeDecodeError:
            return None, False
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, False
    return (data, True) if isinstance(data, dict) else (None, False)


def _make_request(scope: Scope, body: bytes) -> _Request:
    """The :class:`_Request` of an ASGI HTTP scope and its whole body (repeated headers joined with ``, ``)."""
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    params, ok = _parse_body(body, headers.get("content-type", ""))
    return _Request(
        method=scope["method"].upper(),
        path=scope["path"],
        query=query,
        headers=headers,
        body=body,
        params=params if ok else None,
    )


async def _send(send: Send, response: _Response) -> None:
    """Send ``response`` on the ASGI channel."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _drop(send: Send) -> None:
    """Close the connection without answering (uvicorn: close its transport; elsewhere: raise)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "close"):
        raise ConnectionResetError("emulator fault: connection dropped")
    transport.close()
    # let the server notice the disconnect before the app returns, so it does not answer 500 instead
    for _ in range(50):
        await anyio.sleep(0.002)
        if getattr(cycle, "disconnected", True):
            break
