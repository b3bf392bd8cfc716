"""A WorkOS outage: the latency of requests whose session is due for refresh while the emulator is stopped.

Two engines on the cookie store, the same configuration (the default 3 retries with back-off), against one
emulator in a separate process (:class:`~benchmarks.refresh.RemoteEmulator`): ``off`` has no circuit breaker
(``breaker=False``: the behaviour before it existed), ``on`` the default :class:`CircuitBreaker`. Each gets
``sessions`` signed-in sessions of two kinds:

* ``due``: the access token is valid but inside the refresh buffer (``refresh_buffer_seconds`` larger than any
  token's life), so every request wants to refresh it and can be served with the current token;
* ``expired``: the access token expired two minutes ago (the request is answered signed out, session kept, and
  the middleware answers a protected page with a 503).

Phase ``up``: a few requests per session while the emulator answers (the refreshes succeed; the engines' JWKS is
fetched). Then the emulator **process is stopped** (connections refused), and ``threads`` threads send requests
round-robin over the sessions of each kind, for ``off`` and then ``on``; each request is timed (ms). Reported per
kind and engine: p50/p99, the HTTP attempts per request (counted by the engine's transport), and requests
answered wrongly (a ``due`` session not served with its token, an ``expired`` one not kept); and the ratios
``off``/``on``. ``off`` makes fewer requests: each costs the whole retry loop (about 2.5 s).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from authkit_core.breaker import CircuitBreaker
from authkit_core.engine import AuthKit
from authkit_core.models import UserInfo
from authkit_core.storage.cookie import CookieSessionStore
from authkit_core.tokens import get_token_claims

from .common import USER, Lab, summarize
from .refresh import RemoteEmulator

KINDS = ("due", "expired")


class CountingTransport(httpx.HTTPTransport):
    """The default transport, counting the requests it is asked to send."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Count, then send."""
        with self._lock:
            self.sent += 1
        return super().handle_request(request)


def _engine(lab: Lab, port: int, breaker: bool) -> tuple[AuthKit, CountingTransport]:
    transport = CountingTransport()
    kit = AuthKit(
        lab.config(api_port=port, refresh_buffer_seconds=10**8),
        store=CookieSessionStore(),
        http=httpx.Client(transport=transport, timeout=10),
        breaker=CircuitBreaker() if breaker else False,
    )
    return kit, transport


def _expired_response(remote: RemoteEmulator) -> dict[str, Any]:
    response = remote.issue_session(USER)
    sid = get_token_claims(response["access_token"])["sid"]
    response["access_token"] = remote._call(
        "mint_access_token", USER, session_id=sid, organization_id=response["organization_id"], expires_in=-120
    )
    return response


def _measure(
    kit: AuthKit, transport: CountingTransport, jars: list[dict[str, str]], kind: str, requests: int, threads: int
) -> dict[str, Any]:
    """``requests`` requests round-robin over ``jars`` from ``threads`` threads: latency (ms) and correctness."""
    samples: list[int] = []
    wrong = 0
    lock = threading.Lock()
    sent_before = transport.sent

    def one(i: int) -> None:
        nonlocal wrong
        jar = jars[i % len(jars)]
        start = time.perf_counter_ns()
        result = kit.authenticate(jar)
        elapsed = time.perf_counter_ns() - start
        kept = result.loaded is not None and not any(c.is_deletion for c in result.cookies)
        if kind == "due":
            ok = kept and isinstance(result.user_info, UserInfo) and result.error is not None
        else:
            transient = result.error is not None and result.error.is_transient
            ok = kept and not isinstance(result.user_info, UserInfo) and transient
        with lock:
            samples.append(elapsed)
            wrong += 0 if ok else 1

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(requests)))
    stats = summarize(samples, unit=1e6)
    stats["attempts_per_request"] = (transport.sent - sent_before) / requests
    stats["wrong"] = wrong
    return stats


def run(lab: Lab, *, sessions: int, threads: int, off_requests: int, on_requests: int) -> dict[str, Any]:
    """The outage part (see the module documentation); latencies in milliseconds."""
    out: dict[str, Any] = {
        "settings": {
            "sessions": sessions,
            "threads": threads,
            "off_requests": off_requests,
            "on_requests": on_requests,
            "store": "cookie",
            "max_retries": lab.config().max_retries,
            "emulator": "separate process, stopped mid-run (connection refused)",
        },
        "up": {},
    }
    engines: dict[str, tuple[AuthKit, CountingTransport]] = {}
    jars: dict[tuple[str, str], list[dict[str, str]]] = {}
    remote = RemoteEmulator().__enter__()
    try:
        for mode in ("off", "on"):
            kit, transport = engines[mode] = _engine(lab, remote.port, breaker=mode == "on")
            due = [lab.sign_in(kit, remote.issue_session(USER)) for _ in range(sessions)]
            samples = []
            for round_ in range(3):  # WorkOS up: every request refreshes (the JWKS is fetched on the first)
                for i, jar in enumerate(due):
                    start = time.perf_counter_ns()
                    result = kit.authenticate(jar)
                    if round_:
                        samples.append(time.perf_counter_ns() - start)
                    assert result.refreshed, result.error
                    due[i] = {**jar, **{c.name: c.value for c in result.cookies if not c.is_deletion}}
            out["up"][mode] = summarize(samples, unit=1e6)
            jars[(mode, "due")] = due
            jars[(mode, "expired")] = [lab.sign_in(kit, _expired_response(remote)) for _ in range(sessions)]
    finally:
        remote.close()  # the outage: the emulator's process is gone
    try:
        for kind in KINDS:
            entry: dict[str, Any] = {}
            for mode, count in (("off", off_requests), ("on", on_requests)):
                kit, transport = engines[mode]
                entry[mode] = _measure(kit, transport, jars[(mode, kind)], kind, count, threads)
            entry["p50_ratio"] = entry["off"]["median"] / entry["on"]["median"]
            entry["p99_ratio"] = entry["off"]["p99"] / entry["on"]["p99"]
            out[kind] = entry
    finally:
        for kit, _ in engines.values():
            kit.close()
    return out
