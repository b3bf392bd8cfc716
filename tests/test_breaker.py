"""The circuit breaker's state machine, with no I/O: an injected clock, no network, no sleeping."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authkit_core.breaker import CircuitBreaker, Refusal, is_failure_status
from authkit_core.errors import ConfigurationError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(**options: float) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker(clock=clock, **options), clock  # type: ignore[arg-type]


def test_a_fresh_breaker_lets_everything_through() -> None:
    breaker, _ = make()
    assert breaker.state == "closed"
    assert breaker.check("s1") is None and breaker.check() is None
    assert breaker.retry_after("s1") is None


def test_failure_statuses() -> None:
    assert all(is_failure_status(s) for s in (408, 429, 500, 502, 503, 504))
    assert not any(is_failure_status(s) for s in (200, 201, 400, 401, 403, 404, 422))


def test_session_backoff_doubles_up_to_the_cap() -> None:
    breaker, clock = make(session_backoff_seconds=5, session_backoff_cap_seconds=30)
    assert [breaker.session_failed("s1") for _ in range(5)] == [5, 10, 20, 30, 30]
    assert breaker.check("s1") == Refusal("session", 30)
    assert breaker.check("s2") is None  # another session is not held back
    clock.now += 29.5
    assert breaker.check("s1") == Refusal("session", 1)
    clock.now += 0.5
    assert breaker.check("s1") is None


def test_session_backoff_follows_a_longer_retry_after_within_the_cap() -> None:
    breaker, _ = make(session_backoff_seconds=5, session_backoff_cap_seconds=60)
    assert breaker.session_failed("s1", retry_after=20) == 20
    assert breaker.session_failed("s2", retry_after=3600) == 60
    assert breaker.session_failed("s3", retry_after=1) == 5


def test_a_refreshed_or_ended_session_forgets_its_backoff() -> None:
    breaker, _ = make()
    breaker.session_failed("s1")
    breaker.session_failed("s1")
    breaker.session_done("s1")
    assert breaker.check("s1") is None
    assert breaker.session_failed("s1") == 5  # starts again from the first back-off


def test_sessions_are_bounded() -> None:
    breaker, _ = make(max_sessions=3)
    for i in range(10):
        breaker.session_failed(f"s{i}")
    assert breaker.backed_off_sessions == 3
    assert breaker.check("s0") is None  # the oldest were dropped
    assert breaker.check("s9") is not None


def test_the_circuit_opens_after_the_threshold_of_failures_in_a_row() -> None:
    breaker, _ = make(failure_threshold=3, open_seconds=30)
    assert breaker.record(False) is False
    assert breaker.record(False) is False
    breaker.record(True)  # a success in between starts the count again
    assert breaker.consecutive_failures == 0
    assert [breaker.record(False) for _ in range(3)] == [False, False, True]  # True: this one opened it
    assert breaker.state == "open"
    assert breaker.check("any") == Refusal("provider", 30)
    assert breaker.check() == Refusal("provider", 30)
    assert breaker.retry_after() == 30


def test_terminal_answers_are_successes_for_the_circuit() -> None:
    breaker, _ = make(failure_threshold=2)
    for _ in range(10):
        breaker.record(False)
        breaker.record(True)  # e.g. a 400 invalid_grant: WorkOS answered
    assert breaker.state == "closed"


def test_half_open_lets_one_probe_through_and_its_success_closes() -> None:
    breaker, clock = make(failure_threshold=1, open_seconds=30)
    breaker.record(False)
    clock.now += 30
    assert breaker.state == "half_open"
    assert breaker.check("a") is None  # the probe
    assert breaker.check("b") == Refusal("provider", 30)  # the others wait for its outcome
    assert breaker.check() is not None
    breaker.record(True)
    assert breaker.state == "closed"
    assert breaker.check("b") is None


def test_a_failed_probe_opens_the_circuit_again() -> None:
    breaker, clock = make(failure_threshold=5, open_seconds=30)
    for _ in range(5):
        breaker.record(False)
    clock.now += 31
    assert breaker.check("a") is None
    assert breaker.record(False) is False  # reopened (not "opened a closed circuit": logged once only)
    assert breaker.state == "open"
    assert breaker.check("b") == Refusal("provider", 30)


def test_a_lost_probe_is_replaced_after_a_window() -> None:
    breaker, clock = make(failure_threshold=1, open_seconds=30)
    breaker.record(False)
    clock.now += 30
    assert breaker.check("a") is None  # a probe that never reports (its request died)
    clock.now += 29
    assert breaker.check("b") is not None
    clock.now += 1
    assert breaker.check("b") is None


def test_retries() -> None:
    breaker, _ = make()
    assert breaker.max_retries(3, needed=True) == 3
    assert breaker.max_retries(3, needed=False) == 0  # the token is still valid: one attempt is enough
    breaker.record(False)
    assert breaker.max_retries(3, needed=True) == 0  # the provider's last call failed


@pytest.mark.parametrize(
    "options",
    [
        {"failure_threshold": 0},
        {"open_seconds": 0},
        {"session_backoff_seconds": 0},
        {"session_backoff_seconds": 10, "session_backoff_cap_seconds": 5},
        {"max_sessions": 0},
    ],
)
def test_invalid_settings(options: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        CircuitBreaker(**options)  # type: ignore[arg-type]


_STEP = st.one_of(
    st.tuples(st.just("advance"), st.floats(min_value=0, max_value=40)),
    st.tuples(st.just("record"), st.booleans()),
    st.tuples(st.just("check"), st.sampled_from(["a", "b", "c", None])),
    st.tuples(st.just("failed"), st.sampled_from(["a", "b", "c"])),
    st.tuples(st.just("done"), st.sampled_from(["a", "b", "c"])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_STEP, max_size=60))
def test_invariants_under_any_sequence(steps: list[tuple[str, object]]) -> None:
    """Whatever happens: the memory stays bounded; a closed circuit refuses only a backed-off session; an open
    one refuses everything until its window passes; at most one probe goes per half-open window."""
    breaker, clock = make(failure_threshold=3, open_seconds=30, session_backoff_seconds=5, max_sessions=2)
    backed_off_until: dict[str, float] = {}
    for kind, arg in steps:
        if kind == "advance":
            clock.now += float(arg)  # type: ignore[arg-type]
        elif kind == "record":
            breaker.record(bool(arg))
        elif kind == "failed":
            seconds = breaker.session_failed(arg)
            backed_off_until[str(arg)] = clock.now + seconds
        elif kind == "done":
            breaker.session_done(arg)
            backed_off_until.pop(str(arg), None)
        else:
            state = breaker.state
            refusal = breaker.check(arg)  # type: ignore[arg-type]
            if state == "closed" and (arg is None or clock.now >= backed_off_until.get(str(arg), 0.0)):
                assert refusal is None
            if state == "open":
                assert refusal is not None and refusal.retry_after >= 1
            if refusal is None and state == "half_open":
                assert breaker.check(None) is not None  # the probe was taken: the next caller waits
        assert breaker.backed_off_sessions <= 2
