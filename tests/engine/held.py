"""An httpx transport that holds the answers of refresh grants: a refresh "in flight" for as long as a test needs.

Every request goes to its real destination over HTTP (the WorkOS emulator); the answer to a refresh-token grant,
already processed upstream (the token is rotated), is held back until the test sets :attr:`HeldTransport.release`.
Usable as the engine's sync and async client transport (``httpx.Client(transport=held)``,
``httpx.AsyncClient(transport=held)``); the async face waits in a worker thread, so the event loop keeps serving.
"""

from __future__ import annotations

import threading

import anyio.to_thread
import httpx

__all__ = ["HeldTransport"]


def _is_refresh_grant(request: httpx.Request) -> bool:
    return request.url.path.endswith("/user_management/authenticate") and b'"refresh_token"' in request.content


class HeldTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Real HTTP to the emulator; the answer of each refresh grant is held until :attr:`release` is set."""

    def __init__(self) -> None:
        self.sync = httpx.HTTPTransport()
        self.asynchronous = httpx.AsyncHTTPTransport()
        #: Set once a refresh grant was processed by the emulator and its answer is being held.
        self.arrived = threading.Event()
        #: Set by the test to let the held answers through.
        self.release = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Forward; hold a refresh grant's answer."""
        response = self.sync.handle_request(request)
        if _is_refresh_grant(request):
            response.read()
            self.arrived.set()
            assert self.release.wait(30), "the test never released the refresh grant"
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward; hold a refresh grant's answer (without blocking the event loop)."""
        response = await self.asynchronous.handle_async_request(request)
        if _is_refresh_grant(request):
            await response.aread()
            self.arrived.set()
            released = await anyio.to_thread.run_sync(self.release.wait, 30)
            assert released, "the test never released the refresh grant"
        return response

    def close(self) -> None:
        """Close the sync transport."""
        self.sync.close()

    async def aclose(self) -> None:
        """Close the async transport."""
        await self.asynchronous.aclose()
