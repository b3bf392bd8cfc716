"""The engine's event channel: typed events for what happens to sessions, and the subscribers that observe them.

``AuthKit.events`` is an :class:`EventChannel`. The engine (and the middleware, for sign-ins) emits an event where
something happens: a refresh grant, a refresh that failed, a refresh coalesced with another one (in this process,
or across processes through the store's lease), a session that ended and why, a sign-in or a failed one.
Subscribers are plain callables (``channel.subscribe(fn)``); OpenTelemetry (:mod:`authkit_core.telemetry`) is one.

The flows emit as an effect, so on the async face a subscriber may be a coroutine function (it is awaited); on the
sync face an awaitable a subscriber returns is closed and logged. The engine's ``on_session_refresh_success`` and
``on_session_refresh_error`` callbacks are subscribers of :class:`SessionRefreshed` and :class:`RefreshFailed`.

Error policy, per subscription (``subscribe(fn, errors=...)``): ``"log"`` (the default, and the refresh callbacks'
and OpenTelemetry's): a subscriber that raises is logged with its traceback and the others still run; the request
goes on as if nobody had subscribed. ``"raise"``: the exception propagates to the request that emitted (for a
subscriber whose failure must stop it). Emitting with no subscriber costs a truth test.

Events carry codes and durations, never a user id, email, token or session handle, with two exceptions meant for
the app's own in-process subscribers: :class:`SessionRefreshed` carries the request's ``UserInfo`` and
:class:`RefreshFailed` the ``TokenRefreshError``. OpenTelemetry never reads them.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

__all__ = [
    "Event",
    "EventChannel",
    "RefreshCoalesced",
    "RefreshFailed",
    "RefreshGranted",
    "SessionEnded",
    "SessionRefreshed",
    "SignInFailed",
    "SignedIn",
]

logger = logging.getLogger("authkit_session")


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a session. ``name`` is the event's stable name."""

    name: ClassVar[str] = "event"


@dataclass(frozen=True, slots=True)
class RefreshGranted(Event):
    """WorkOS granted a refresh (one per spent refresh token); ``seconds`` the whole refresh, lease and save
    included."""

    name: ClassVar[str] = "refresh_granted"
    seconds: float


@dataclass(frozen=True, slots=True)
class RefreshCoalesced(Event):
    """A request that needed a refresh got another one's result instead of spending the token again:
    ``scope`` ``process`` (a concurrent request of this process led) or ``processes`` (another process held the
    store's lease)."""

    name: ClassVar[str] = "refresh_coalesced"
    scope: Literal["process", "processes"]


@dataclass(frozen=True, slots=True)
class RefreshFailed(Event):
    """A request's refresh failed with ``code``; ``transient``: the session was kept. ``error`` is the
    ``TokenRefreshError`` (in process only: what ``on_session_refresh_error`` receives)."""

    name: ClassVar[str] = "refresh_failed"
    code: str
    transient: bool
    error: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class SessionRefreshed(Event):
    """A request's session was refreshed (once per request that got the new session: the one that spent the token
    and those that joined it). ``user_info`` is that request's ``UserInfo`` (in process only: what
    ``on_session_refresh_success`` receives)."""

    name: ClassVar[str] = "session_refreshed"
    user_info: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class SessionEnded(Event):
    """A session ended: ``reason`` is ``sign_out``, a refresh's terminal code (``invalid_grant`` ...), or why its
    cookie was refused (``invalid_seal``, ``token_expired``, ``ambiguous_session_cookie`` ...)."""

    name: ClassVar[str] = "session_ended"
    reason: str


@dataclass(frozen=True, slots=True)
class SignedIn(Event):
    """A sign-in completed (the code exchanged and the session stored)."""

    name: ClassVar[str] = "signed_in"


@dataclass(frozen=True, slots=True)
class SignInFailed(Event):
    """A sign-in callback failed with ``code``."""

    name: ClassVar[str] = "sign_in_failed"
    code: str


#: A subscriber: called with every event, on the thread (or task) that emitted it.
Subscriber = Callable[[Event], object]


class EventChannel:
    """Subscribers and the events emitted to them (see the module)."""

    def __init__(self) -> None:
        self._subscribers: tuple[tuple[Subscriber, bool], ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber, *, errors: Literal["log", "raise"] = "log") -> Callable[[], None]:
        """Call ``subscriber`` with every event from now on (``errors``: the policy when it raises, see the
        module); returns the function that unsubscribes it."""
        if errors not in ("log", "raise"):
            raise ValueError("errors must be 'log' or 'raise'")
        entry = (subscriber, errors == "raise")
        with self._lock:
            self._subscribers = (*self._subscribers, entry)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not entry)

        return unsubscribe

    def __bool__(self) -> bool:
        return bool(self._subscribers)

    def emit(self, event: Event) -> None:
        """Give ``event`` to every subscriber, on this thread (an awaitable a subscriber returns is closed and
        logged: a coroutine subscriber needs the async face)."""
        for subscriber, propagate in self._subscribers:
            try:
                result = subscriber(event)
                if inspect.isawaitable(result):
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
                    raise TypeError("a coroutine subscriber was called on the sync face (use a plain function)")
            except Exception:
                if propagate:
                    raise
                logger.exception("authkit: an event subscriber failed on %s", event.name)

    async def aemit(self, event: Event) -> None:
        """:meth:`emit` on the async face: an awaitable a subscriber returns is awaited."""
        for subscriber, propagate in self._subscribers:
            try:
                result = subscriber(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                if propagate:
                    raise
                logger.exception("authkit: an event subscriber failed on %s", event.name)
