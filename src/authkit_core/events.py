"""The engine's event channel: typed events for what happens to sessions, and the subscribers that observe them.

``AuthKit.events`` is an :class:`EventChannel`. The engine (and the middleware, for sign-ins) emits an event where
something happens: a refresh grant, a refresh that failed, a refresh coalesced with another one (in this process,
or across processes through the store's lease), a session that ended and why, a sign-in or a failed one.
Subscribers are plain callables (``channel.subscribe(fn)``); OpenTelemetry (:mod:`authkit_core.telemetry`) is one.

Error policy: a subscriber that raises is logged (once per exception, with its traceback) and the others still
run; the request goes on as if nobody had subscribed. Emitting with no subscriber costs a truth test. Events carry
codes and durations, never a user id, email, token or session handle.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

__all__ = [
    "Event",
    "EventChannel",
    "RefreshCoalesced",
    "RefreshFailed",
    "RefreshGranted",
    "SessionEnded",
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
    """A refresh failed with ``code``; ``transient``: the session was kept."""

    name: ClassVar[str] = "refresh_failed"
    code: str
    transient: bool


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
        self._subscribers: tuple[Subscriber, ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every event from now on; returns the function that unsubscribes it."""
        with self._lock:
            self._subscribers = (*self._subscribers, subscriber)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

        return unsubscribe

    def __bool__(self) -> bool:
        return bool(self._subscribers)

    def emit(self, event: Event) -> None:
        """Give ``event`` to every subscriber; one that raises is logged and does not stop the others."""
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                logger.exception("authkit: an event subscriber failed on %s", event.name)
