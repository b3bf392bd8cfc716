"""The circuit breaker: how the engine stops making requests wait on a WorkOS that does not answer.

:class:`CircuitBreaker` is the memory and every decision, with no I/O (the clock is injected), like
:class:`~authkit_core.jwks.JWKSState`. The engine consults it where its HTTP effects run:

- every HTTP call the engine sends to WorkOS reports its outcome (:meth:`CircuitBreaker.record`): an answer
  that is not 408/429/5xx is a success, anything else (no answer, 408, 429, 5xx) a failure;
- **provider-wide**: after ``failure_threshold`` failures in a row the circuit *opens*: for ``open_seconds`` no
  refresh is attempted at all. Then it is *half-open*: one refresh goes through as a probe (the others are still
  refused); its success closes the circuit, its failure opens it again for another window;
- **per session**: a session whose refresh failed transiently is not refreshed again before its back-off passes
  (``session_backoff_seconds``, doubling at each further failure up to ``session_backoff_cap_seconds``, or the
  provider's ``Retry-After`` when longer, within the same cap). The sessions are keyed by their coordination
  key and kept in an LRU of ``max_sessions`` entries;
- **retries**: a refresh that may fail harmlessly (the access token is still valid, the request is served with it)
  gets no retry; one the request needs gets the configured retries only while the provider's last call did not
  fail (during an outage retries only add latency).

A terminal answer (``invalid_grant``, an authentication step required ...) is an answer: it closes the circuit
and clears the session's back-off. A storage outage is not the provider's and is not counted.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Literal

from .errors import ConfigurationError

__all__ = ["CircuitBreaker", "CircuitState", "Refusal", "is_failure_status"]

#: The three states of the provider-wide circuit.
CircuitState = Literal["closed", "open", "half_open"]

#: Statuses that count as a provider failure (the ones the retry policy retries).
_FAILURE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def is_failure_status(status: int) -> bool:
    """Whether an answer with this HTTP status counts as a provider failure (408, 429, 500, 502-504)."""
    return status in _FAILURE_STATUSES


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a refresh is not attempted now, and in how many seconds it may be (``retry_after``, at least 1)."""

    #: ``"session"`` (this session is backed off) or ``"provider"`` (the circuit is open).
    scope: Literal["session", "provider"]
    retry_after: int


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class CircuitBreaker:
    """The breaker's state and decisions (see the module documentation). Thread-safe; no I/O.

    ``clock`` returns seconds on a monotonic scale (default :func:`time.monotonic`); tests inject their own.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        open_seconds: float = 30.0,
        session_backoff_seconds: float = 5.0,
        session_backoff_cap_seconds: float = 60.0,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ConfigurationError("failure_threshold must be >= 1", variable="failure_threshold")
        if open_seconds <= 0 or session_backoff_seconds <= 0:
            raise ConfigurationError("open_seconds and session_backoff_seconds must be > 0")
        if session_backoff_cap_seconds < session_backoff_seconds:
            raise ConfigurationError("session_backoff_cap_seconds must be >= session_backoff_seconds")
        if max_sessions < 1:
            raise ConfigurationError("max_sessions must be >= 1", variable="max_sessions")
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self.session_backoff_seconds = session_backoff_seconds
        self.session_backoff_cap_seconds = session_backoff_cap_seconds
        self.max_sessions = max_sessions
        self.clock = clock
        self._lock = threading.Lock()
        self._failures = 0  # provider failures in a row
        self._opened_at: float | None = None  # None: closed
        self._probe_at: float | None = None  # when the half-open probe was let through
        # session key -> (failures in a row, not before)
        self._sessions: OrderedDict[Hashable, tuple[int, float]] = OrderedDict()

    # --- the provider-wide circuit ---------------------------------------------------------------------------

    @property
    def state(self) -> CircuitState:
        """``closed``, ``open`` (refusing) or ``half_open`` (the window passed: a probe may go, or is out)."""
        opened = self._opened_at
        if opened is None:
            return "closed"
        return "open" if self.clock() < opened + self.open_seconds else "half_open"

    @property
    def consecutive_failures(self) -> int:
        """Provider failures in a row (0 after any success)."""
        return self._failures

    def record(self, ok: bool) -> bool:
        """The outcome of one HTTP call to the provider: ``ok`` when it answered (anything but 408/429/5xx).
        Returns whether this outcome opened a closed circuit (the caller may log it once)."""
        if ok and self._failures == 0 and self._opened_at is None:  # the common case: nothing to change
            return False
        with self._lock:
            if ok:
                self._failures, self._opened_at, self._probe_at = 0, None, None
                return False
            self._failures += 1
            was_closed = self._opened_at is None
            if not was_closed or self._failures >= self.failure_threshold:
                self._opened_at, self._probe_at = self.clock(), None
                return was_closed
            return False

    def _provider_wait(self, now: float) -> float:
        """Caller holds the lock. Seconds before the circuit lets a call go (0: now), without taking a probe."""
        opened = self._opened_at
        if opened is None:
            return 0.0
        probe = self._probe_at
        return max(0.0, max(opened, probe if probe is not None else opened) + self.open_seconds - now)

    def _provider_refusal(self, now: float) -> Refusal | None:
        """Caller holds the lock. ``None`` lets the call go (closed, or the half-open probe, which is taken)."""
        opened = self._opened_at
        if opened is None:
            return None
        reopens = opened + self.open_seconds
        if now < reopens:
            return Refusal("provider", _whole_seconds(reopens - now))
        probe = self._probe_at
        if probe is not None and now < probe + self.open_seconds:  # a probe is out: wait for its outcome
            return Refusal("provider", _whole_seconds(probe + self.open_seconds - now))
        self._probe_at = now
        return None

    # --- per session -------------------------------------------------------------------------------------------

    def check(self, key: Hashable | None = None) -> Refusal | None:
        """Whether a call may be made now for the session ``key`` (``None``: a call of no session, such as an API
        key validation): ``None`` (go ahead; in half-open this call is the probe) or the :class:`Refusal`."""
        if self._opened_at is None and not self._sessions:  # the common case: nothing held back
            return None
        now = self.clock()
        with self._lock:
            entry = self._sessions.get(key) if key is not None else None
            if entry is not None and now < entry[1]:
                return Refusal("session", _whole_seconds(max(entry[1] - now, self._provider_wait(now))))
            return self._provider_refusal(now)

    def retry_after(self, key: Hashable | None = None) -> int | None:
        """Seconds until session ``key`` (or, with ``None``, any call) may be tried again, without taking a probe;
        ``None`` when it may be tried now."""
        now = self.clock()
        with self._lock:
            entry = self._sessions.get(key) if key is not None else None
            wait = max(entry[1] - now if entry is not None else 0.0, self._provider_wait(now))
            return _whole_seconds(wait) if wait > 0 else None

    def session_failed(self, key: Hashable, *, retry_after: float | None = None) -> int:
        """A transient refresh failure of session ``key``: back it off; returns the back-off in whole seconds.

        ``retry_after`` (the provider's ``Retry-After``) lengthens the back-off, within the cap."""
        now = self.clock()
        with self._lock:
            entry = self._sessions.pop(key, None)
            failures = 1 if entry is None else entry[0] + 1
            delay = min(self.session_backoff_cap_seconds, self.session_backoff_seconds * 2.0 ** (failures - 1))
            if retry_after is not None and retry_after > delay:
                delay = min(self.session_backoff_cap_seconds, retry_after)
            self._sessions[key] = (failures, now + delay)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return _whole_seconds(delay)

    def session_done(self, key: Hashable) -> None:
        """Session ``key`` was refreshed, or ended: forget its back-off."""
        if key in self._sessions:
            with self._lock:
                self._sessions.pop(key, None)

    @property
    def backed_off_sessions(self) -> int:
        """How many sessions the breaker remembers (at most ``max_sessions``)."""
        return len(self._sessions)

    # --- retries ---------------------------------------------------------------------------------------------

    def max_retries(self, configured: int, *, needed: bool) -> int:
        """The retries one refresh gets: none when it is not ``needed`` (the access token is still valid) or
        when the provider's last call failed; else ``configured``."""
        return configured if needed and self._failures == 0 else 0
