"""Memory that must stay flat in a long-lived process (the soak measures the whole process; this pins a cause).

The engine's single-flight remembers each successful refresh for 30 s, keyed by the refresh token it spent. Keys
are never asked for again once the session moved on, so an expired result must be dropped by time, not only when
10 000 others pushed it out: otherwise a busy process keeps up to 10 000 dead sessions (tokens and cookies)
per face, tens of megabytes, for nothing.
"""

from __future__ import annotations

from authkit_core.coordination import SingleFlight

from .conftest import count


def test_expired_refresh_results_are_dropped() -> None:
    now = [0.0]
    flights = SingleFlight(remember_seconds=30.0, clock=lambda: now[0])
    for index in range(2000):  # one refresh per key, a second apart: 2000 distinct sessions or rotations
        assert flights.do(f"session-{index}", lambda i=index: i) == index
        now[0] += 1.0
    count("memory_checks")
    remembered = len(flights._flights._recent)  # the results kept for late requests
    assert remembered <= 31, remembered  # only those of the last 30 s
    assert flights.do("session-1999", lambda: -1) == 1999  # a recent one still answers a late request
