"""The engine's effects: each is one step a flow yields (``flow.py``) and one line of I/O in either shell.

``_Store`` calls the session store, ``_Verify`` the JWKS cache, ``_Emit`` an event to its subscribers, ``_SingleFlight``
coalesces concurrent refreshes in this process. ``_SyncIO`` and ``_AsyncIO`` are the resources each shell hands them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .breaker import CircuitBreaker
from .coordination import AsyncSingleFlight, SingleFlight
from .events import Event, EventChannel
from .flow import Flow, run_async, run_sync
from .jwks import AsyncJWKSCache, JWKSCache
from .observe import Observer, observed_async, observed_sync
from .storage.base import SessionStore

logger = logging.getLogger("authkit_session")


@dataclass(frozen=True, slots=True)
class _Store:
    """Call ``store.<method>`` (sync) or ``store.a<method>`` (async)."""

    method: str
    args: tuple[Any, ...]

    def run_sync(self, io: _SyncIO) -> Any:
        if io.observer is None:
            return getattr(io.store, self.method)(*self.args)
        attributes = {"authkit.store": io.store_kind, "authkit.store.operation": self.method, "authkit.face": "sync"}
        return observed_sync(io.observer, "store", attributes, getattr(io.store, self.method), *self.args)

    async def run_async(self, io: _AsyncIO) -> Any:
        if io.observer is None:
            return await getattr(io.store, "a" + self.method)(*self.args)
        attributes = {"authkit.store": io.store_kind, "authkit.store.operation": self.method, "authkit.face": "async"}
        call = getattr(io.store, "a" + self.method)
        return await observed_async(io.observer, "store", attributes, call, *self.args)


@dataclass(frozen=True, slots=True)
class _Verify:
    """Verify an access token against the cached JWKS; the result is its claims."""

    token: str

    def run_sync(self, io: _SyncIO) -> dict[str, Any]:
        return io.jwks.verify(self.token)

    async def run_async(self, io: _AsyncIO) -> dict[str, Any]:
        return await io.jwks.verify(self.token)


@dataclass(frozen=True, slots=True)
class _Emit:
    """Give an event to the channel's subscribers (awaiting coroutine subscribers on the async face; each
    subscription's error policy applies, see ``events.py``)."""

    channel: EventChannel
    event: Event

    def run_sync(self, io: object) -> None:
        self.channel.emit(self.event)

    async def run_async(self, io: object) -> None:
        await self.channel.aemit(self.event)


@dataclass(frozen=True, slots=True)
class _SingleFlight:
    """Run ``make_flow()`` once per ``key`` across concurrent callers in this process; all get its result.
    ``followed`` is called in a caller that got another's result instead of running it; the leader's run is the
    observed operation ``observe`` when the shell has an observer."""

    key: str
    make_flow: Callable[[], Flow[Any]]
    followed: Callable[[], None] | None = None
    observe: str | None = None

    def run_sync(self, io: _SyncIO) -> Any:
        led = False

        def lead() -> Any:
            nonlocal led
            led = True
            if io.observer is not None and self.observe is not None:
                attributes = {"authkit.store": io.store_kind, "authkit.face": "sync"}
                return observed_sync(io.observer, self.observe, attributes, run_sync, self.make_flow(), io)
            return run_sync(self.make_flow(), io)

        result = io.flights.do(self.key, lead)
        if not led and self.followed is not None:
            self.followed()
        return result

    async def run_async(self, io: _AsyncIO) -> Any:
        led = False

        async def lead() -> Any:
            nonlocal led
            led = True
            if io.observer is not None and self.observe is not None:
                attributes = {"authkit.store": io.store_kind, "authkit.face": "async"}
                return await observed_async(io.observer, self.observe, attributes, run_async, self.make_flow(), io)
            return await run_async(self.make_flow(), io)

        result = await io.flights.do(self.key, lead)
        if not led and self.followed is not None:
            self.followed()
        return result


@dataclass(slots=True)
class _SyncIO:
    http: httpx.Client
    jwks: JWKSCache
    store: SessionStore
    flights: SingleFlight
    #: Told the outcome of every HTTP call (see ``http.HttpCall``); ``None``: no breaker.
    breaker: CircuitBreaker | None = None
    #: Told about every store call, HTTP call and refresh (see ``observe.py``); ``None``: none.
    observer: Observer | None = None
    #: The ``authkit.store`` attribute of the store's operations.
    store_kind: str = ""


@dataclass(slots=True)
class _AsyncIO:
    http: httpx.AsyncClient
    jwks: AsyncJWKSCache
    store: SessionStore
    flights: AsyncSingleFlight
    breaker: CircuitBreaker | None = None
    observer: Observer | None = None
    store_kind: str = ""
