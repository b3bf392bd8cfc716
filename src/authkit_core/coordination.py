"""In-process single-flight: concurrent refreshes of one session run once, and every caller gets that result.

WorkOS refresh tokens rotate, so two requests refreshing one session at once would make the second fail with
``invalid_grant`` and sign the user out. :class:`SingleFlight` (threads) and :class:`AsyncSingleFlight` (anyio
tasks) make the first caller for a key the leader; the others wait for its result. A finished result is also
kept for ``remember_seconds``, so a request that still carries the old cookie a moment later gets the new session
instead of replaying a dead refresh token.

The bookkeeping (who leads, what was recently finished, bounds) is one class, :class:`_Flights`; the two public
classes differ only in how a waiter waits.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import anyio

__all__ = ["AsyncSingleFlight", "SingleFlight"]

T = TypeVar("T")
E = TypeVar("E")


class _Flight(Generic[E]):
    __slots__ = ("done", "error", "result")

    def __init__(self, done: E) -> None:
        self.done = done
        self.result: Any = None
        self.error: BaseException | None = None


class _Flights(Generic[E]):
    """Who leads each key, and results finished in the last ``remember_seconds`` (bounded, LRU)."""

    def __init__(self, remember_seconds: float, max_remembered: int, clock: Callable[[], float]) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[str, _Flight[E]] = {}
        self._recent: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._remember = remember_seconds
        self._max = max_remembered
        self._clock = clock

    def join(self, key: str, new_event: Callable[[], E]) -> tuple[bool, _Flight[E] | None, Any]:
        """``(is_leader, flight, remembered_result)``; a remembered result means nobody needs to run."""
        with self._lock:
            hit = self._recent.get(key)
            if hit is not None:
                if hit[0] > self._clock():
                    return False, None, hit[1]
                del self._recent[key]
            flight = self._inflight.get(key)
            if flight is not None:
                return False, flight, None
            flight = _Flight(new_event())
            self._inflight[key] = flight
            return True, flight, None

    def finish(self, key: str, flight: _Flight[E], result: Any, error: BaseException | None) -> None:
        """Record the leader's outcome (only successes are remembered)."""
        flight.result, flight.error = result, error
        with self._lock:
            self._inflight.pop(key, None)
            if error is None and self._remember > 0:
                now = self._clock()
                self._recent[key] = (now + self._remember, result)
                self._recent.move_to_end(key)
                # Oldest first: drop what expired (its key, a spent refresh token, is rarely asked again) ...
                while self._recent and next(iter(self._recent.values()))[0] <= now:
                    self._recent.popitem(last=False)
                # ... and bound the rest.
                while len(self._recent) > self._max:
                    self._recent.popitem(last=False)

    @staticmethod
    def outcome(flight: _Flight[E]) -> tuple[bool, Any]:
        """``(retry, result)`` for a waiter: a leader that was cancelled (not failed) makes the waiter retry."""
        if flight.error is None:
            return False, flight.result
        if isinstance(flight.error, Exception):
            raise flight.error
        return True, None

    def __len__(self) -> int:
        return len(self._inflight)


class SingleFlight:
    """Single-flight for threads: :meth:`do` runs ``fn`` once per key at a time."""

    def __init__(
        self,
        *,
        remember_seconds: float = 30.0,
        max_remembered: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._flights: _Flights[threading.Event] = _Flights(remember_seconds, max_remembered, clock)

    def do(self, key: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` if nobody runs it for ``key``; else wait for that run and return its result (or raise)."""
        while True:
            leader, flight, remembered = self._flights.join(key, threading.Event)
            if flight is None:
                return remembered  # type: ignore[no-any-return]
            if leader:
                break
            flight.done.wait()
            retry, shared = self._flights.outcome(flight)
            if not retry:
                return shared  # type: ignore[no-any-return]
        result: Any = None
        error: BaseException | None = None
        try:
            result = fn()
            return result  # type: ignore[no-any-return]
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._flights.finish(key, flight, result, error)
            flight.done.set()


class AsyncSingleFlight:
    """Single-flight for anyio tasks (asyncio or trio): :meth:`do` awaits ``fn`` once per key at a time."""

    def __init__(
        self,
        *,
        remember_seconds: float = 30.0,
        max_remembered: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._flights: _Flights[anyio.Event] = _Flights(remember_seconds, max_remembered, clock)

    async def do(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Await ``fn`` if nobody runs it for ``key``; else wait for that run and return its result (or raise)."""
        while True:
            leader, flight, remembered = self._flights.join(key, anyio.Event)
            if flight is None:
                return remembered  # type: ignore[no-any-return]
            if leader:
                break
            await flight.done.wait()
            retry, shared = self._flights.outcome(flight)
            if not retry:
                return shared  # type: ignore[no-any-return]
        result: Any = None
        error: BaseException | None = None
        try:
            result = await fn()
            return result  # type: ignore[no-any-return]
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._flights.finish(key, flight, result, error)
            flight.done.set()
