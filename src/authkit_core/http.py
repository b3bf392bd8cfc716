"""The HTTP effect: send one request with the shell's httpx client (sync or async).

Flows yield :class:`HttpCall`; the shell's ``io`` object has an ``http`` attribute that is an ``httpx.Client``
(sync) or ``httpx.AsyncClient`` (async), and may have a ``breaker`` (a
:class:`~authkit_core.breaker.CircuitBreaker`) that is told the outcome of every call. Transport failures come
back into the flow as typed :class:`~authkit_core.errors.ProviderUnavailableError` (``timeout`` or
``network_error``), never as raw httpx exceptions, and their messages never carry the request body.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import httpx

from .breaker import is_failure_status
from .errors import AuthKitError, ProviderUnavailableError
from .observe import Observer, Operation

__all__ = ["AsyncHttpIO", "HttpCall", "SyncHttpIO", "transport_error"]

logger = logging.getLogger("authkit_session")


class SyncHttpIO(Protocol):
    """A sync shell's resources: an ``httpx.Client``."""

    @property
    def http(self) -> httpx.Client:
        """The client requests go through."""
        ...


class AsyncHttpIO(Protocol):
    """An async shell's resources: an ``httpx.AsyncClient``."""

    @property
    def http(self) -> httpx.AsyncClient:
        """The client requests go through."""
        ...


def transport_error(exc: httpx.HTTPError, request: httpx.Request) -> ProviderUnavailableError:
    """The typed error for a request that got no answer (the URL path only, never the body or query)."""
    where = f"{request.method} {request.url.path}"
    if isinstance(exc, httpx.TimeoutException):
        return ProviderUnavailableError(f"{where} timed out", code="timeout")
    return ProviderUnavailableError(f"{where} failed: {type(exc).__name__}", code="network_error")


@dataclass(frozen=True, slots=True)
class HttpCall:
    """Send ``request``; the result is the ``httpx.Response`` with its body read."""

    request: httpx.Request

    def run_sync(self, io: SyncHttpIO) -> httpx.Response:
        """Send with the blocking client."""
        op = _start(io, self.request, "sync")
        try:
            response = io.http.send(self.request)
        except httpx.HTTPError as exc:
            raise _failed(io, self.request, exc, op) from None
        return _answered(io, self.request, response, op)

    async def run_async(self, io: AsyncHttpIO) -> httpx.Response:
        """Send with the async client."""
        op = _start(io, self.request, "async")
        try:
            response = await io.http.send(self.request)
        except httpx.HTTPError as exc:
            raise _failed(io, self.request, exc, op) from None
        return _answered(io, self.request, response, op)


def _start(io: object, request: httpx.Request, face: str) -> Operation | None:
    """The observed operation of a call, when the shell has an observer (which also adds the trace context)."""
    observer: Observer | None = getattr(io, "observer", None)
    if observer is None:
        return None
    observer.inject(request.headers)
    path = request.url.path
    operation = "jwks" if path.startswith("/sso/jwks") else path.rsplit("/", 1)[-1] or path
    attributes = {"authkit.workos.operation": operation, "http.request.method": request.method, "authkit.face": face}
    return observer.start("workos", attributes)


def _failed(io: object, request: httpx.Request, exc: httpx.HTTPError, op: Operation | None) -> AuthKitError:
    _record(io, request, False)
    error = transport_error(exc, request)
    if op is not None:
        op.end("error", error)
    return error


def _answered(io: object, request: httpx.Request, response: httpx.Response, op: Operation | None) -> httpx.Response:
    ok = not is_failure_status(response.status_code)
    _record(io, request, ok)
    if op is not None:
        op.end("ok" if ok else "error", None, {"http.response.status_code": response.status_code})
    return response


def _record(io: object, request: httpx.Request, ok: bool) -> None:
    """Tell the shell's circuit breaker, when it has one, how a call went (and log once when that opens it)."""
    breaker = getattr(io, "breaker", None)
    if breaker is not None and breaker.record(ok):
        logger.warning(
            "authkit: %s failed %d times in a row: refreshes paused for %.0f s (the circuit breaker is open)",
            request.url.netloc.decode("ascii", "replace"),
            breaker.consecutive_failures,
            breaker.open_seconds,
        )
