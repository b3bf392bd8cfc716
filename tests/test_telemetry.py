"""The event channel and its OpenTelemetry subscriber (``authkit_core.telemetry.instrument``), read with the SDK's
in-memory metric reader, against the emulator over real HTTP: a storm of 100 requests on one due session shows 1
grant and 99 coalesced; a tampered cookie, an ``invalid_grant`` and a WorkOS outage each show their counter and
code; a sign-in through the middleware counts; a failing subscriber breaks nothing; no attribute holds a user id,
email or token."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from authkit_core import AuthKit, UserInfo
from authkit_core.events import Event, SessionEnded
from authkit_core.storage import CookieSessionStore, MemorySessionStore
from authkit_core.telemetry import instrument
from authkit_core.testing.browser import signed_in_cookies
from engine.conftest import sign_in

AUTHENTICATE = "/user_management/authenticate"


def points(reader: InMemoryMetricReader) -> dict[tuple[str, frozenset[tuple[str, Any]]], float]:
    """``{(metric name, attributes): value}`` (a histogram's value is its count)."""
    out: dict[tuple[str, frozenset[tuple[str, Any]]], float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    out[(metric.name, frozenset(point.attributes.items()))] = (
                        value if value is not None else point.count
                    )
    return out


@pytest.fixture(params=["cookie", "memory"])
def kit(request: pytest.FixtureRequest, workos_emulator: Any) -> Iterator[AuthKit]:
    store = CookieSessionStore() if request.param == "cookie" else MemorySessionStore()
    kit = AuthKit(workos_emulator.config(), store=store)
    yield kit
    kit.close()


@pytest.fixture
def reader(kit: AuthKit) -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    stop = instrument(kit, MeterProvider(metric_readers=[reader]))
    yield reader
    stop()


def due_session(kit: AuthKit, emulator: Any) -> dict[str, str]:
    emulator.access_token_ttl = 20  # inside the refresh buffer: every request wants to refresh
    try:
        return signed_in_cookies(kit, emulator, "alice@example.com")
    finally:
        emulator.access_token_ttl = 300


def test_a_storm_shows_one_grant_and_99_coalesced(kit: AuthKit, reader: Any, workos_emulator: Any) -> None:
    jar = due_session(kit, workos_emulator)
    barrier = threading.Barrier(100)
    results: list[Any] = []

    def request() -> None:
        barrier.wait()
        results.append(kit.authenticate(jar))

    threads = [threading.Thread(target=request) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(isinstance(r.user_info, UserInfo) for r in results) and len(results) == 100
    seen = points(reader)
    assert seen[("authkit.refresh.grants", frozenset())] == 1 == workos_emulator.grant_count("refresh_token")
    assert seen[("authkit.refresh.coalesced", frozenset({("authkit.scope", "process")}))] == 99
    durations = [v for (name, _), v in seen.items() if name == "authkit.refresh.duration"]
    assert durations == [1]  # the leader's refresh, timed once


def test_tampered_invalid_grant_and_outage(kit: AuthKit, reader: Any, workos_emulator: Any) -> None:
    jar = due_session(kit, workos_emulator)
    tampered = {name: value[:-8] + "AAAAAAAA" for name, value in jar.items()}
    reason = kit.authenticate(tampered).reason
    assert reason is not None
    workos_emulator.inject_fault(AUTHENTICATE, method="POST", status=503, count=100)
    kit.authenticate(jar)
    workos_emulator.clear_faults()
    other = AuthKit(kit.config, store=kit.store)  # no back-off memory: it refreshes now
    instrument(other, reader_provider := MeterProvider(metric_readers=[second := InMemoryMetricReader()]))
    assert reader_provider is not None
    workos_emulator.end_session(workos_emulator.sessions()[0]["id"])  # revoked at WorkOS: invalid_grant
    assert other.authenticate(jar).reason == "invalid_grant"
    other.close()
    seen, later = points(reader), points(second)
    assert seen[("authkit.sessions.ended", frozenset({("authkit.reason", reason)}))] == 1
    failed = ("authkit.refresh.failures", frozenset({("error.type", "server_error"), ("authkit.transient", True)}))
    assert seen[failed] == 1
    grant = ("authkit.refresh.failures", frozenset({("error.type", "invalid_grant"), ("authkit.transient", False)}))
    assert later[grant] == 1
    assert later[("authkit.sessions.ended", frozenset({("authkit.reason", "invalid_grant")}))] == 1
    for (_, attributes), _value in {**seen, **later}.items():
        for _, value in attributes:
            assert "alice" not in str(value) and "user_" not in str(value) and "." not in str(value)


def test_a_failing_subscriber_is_logged_and_breaks_nothing(
    kit: AuthKit, workos_emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    kit.events.subscribe(broken)
    unsubscribe = kit.events.subscribe(seen.append)
    jar = due_session(kit, workos_emulator)
    with caplog.at_level(logging.ERROR, logger="authkit_session"):
        result = kit.authenticate({k: v[:-8] + "AAAAAAAA" for k, v in jar.items()})
    assert result.reason is not None and isinstance(seen[0], SessionEnded)
    assert any("event subscriber failed" in r.getMessage() for r in caplog.records)
    unsubscribe()
    kit.authenticate({k: v[:-8] + "AAAAAAAA" for k, v in jar.items()})
    assert len(seen) == 1


def test_sign_ins_through_the_middleware(workos_emulator: Any) -> None:
    """A sign-in through the WSGI middleware on a real server counts as a success, a broken callback as a
    failure."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from adapters.conftest import authorize
    from authkit_adapters.wsgi import AuthKitWSGIMiddleware, with_auth

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with_auth(ensure_signed_in=True)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    served: dict[str, Any] = {}
    httpd = make_server("127.0.0.1", 0, lambda e, s: served["app"](e, s), handler_class=Quiet)
    base = f"http://127.0.0.1:{httpd.server_port}"
    kit = AuthKit(workos_emulator.config(redirect_uri=base + "/callback"))
    reader = InMemoryMetricReader()
    instrument(kit, MeterProvider(metric_readers=[reader]))
    served["app"] = AuthKitWSGIMiddleware(app, authkit=kit)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=base, headers={"Accept": "text/html"}) as client:
            first = client.get("/page")
            assert client.get(authorize(first.headers["location"])).status_code == 307
            assert client.get("/callback?code=nope&state=nope").status_code == 400
    finally:
        httpd.shutdown()
        httpd.server_close()
        kit.close()
    seen = points(reader)
    assert seen[("authkit.sign_ins", frozenset({("authkit.outcome", "success")}))] == 1
    failures = [
        v for (name, attrs), v in seen.items() if name == "authkit.sign_ins" and ("authkit.outcome", "failure") in attrs
    ]
    assert failures == [1]


def test_coalesced_across_processes_through_the_lease(workos_emulator: Any, tmp_path: Any) -> None:
    """Two engines on one SQL store stand for two processes: while the first holds the lease through a slow grant,
    the second waits, then uses the session the first saved: one grant, one ``processes`` coalescing."""
    from authkit_core.storage import SQLSessionStore

    store = SQLSessionStore(f"sqlite:///{tmp_path / 'sessions.sqlite3'}", create_tables=True)
    first, second = AuthKit(workos_emulator.config(), store=store), AuthKit(workos_emulator.config(), store=store)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    instrument(first, provider)
    instrument(second, provider)
    jar = due_session(first, workos_emulator)
    workos_emulator.inject_fault(AUTHENTICATE, method="POST", delay=1.0, count=1)
    leader = threading.Thread(target=lambda: first.authenticate(jar))
    leader.start()
    while workos_emulator.grant_count("refresh_token") == 0:
        threading.Event().wait(0.01)
    assert isinstance(second.authenticate(jar).user_info, UserInfo)
    leader.join(30)
    seen = points(reader)
    assert seen[("authkit.refresh.grants", frozenset())] == 1
    assert seen[("authkit.refresh.coalesced", frozenset({("authkit.scope", "processes")}))] == 1
    first.close()
    second.close()
    store.dispose()


def test_jwks_fetches_cooldown_skips_and_sign_in_spans(workos_emulator: Any) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from authkit_core.errors import TokenError
    from authkit_core.observe import ENTRY_POINTS

    kit = AuthKit(workos_emulator.config())
    reader, exporter = InMemoryMetricReader(), InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    stop = instrument(kit, MeterProvider(metric_readers=[reader]), tracing)
    _, jar = sign_in(kit)  # through the emulator's authorize endpoint and the code exchange
    assert isinstance(kit.authenticate(jar).user_info, UserInfo)
    jwks = kit._sio().jwks
    token = kit.authenticate(jar).user_info.access_token  # type: ignore[union-attr]
    header, _, rest = token.partition(".")
    import base64
    import json

    forged = json.loads(base64.urlsafe_b64decode(header + "=="))
    forged["kid"] = "unknown-key"
    other = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode() + "." + rest
    for _ in range(3):  # the first may refetch; the others fall inside the cooldown
        with pytest.raises(TokenError):
            jwks.verify(other)
    seen = points(reader)
    fetches = [v for (name, attrs), v in seen.items() if name == "authkit.jwks.fetch.duration"]
    assert sum(fetches) >= 1
    assert seen[("authkit.jwks.cooldown_skips", frozenset())] >= 2
    names = [s.name for s in exporter.get_finished_spans()]
    assert "authkit.sign_in" in names and "authkit.jwks.fetch" in names
    (callback,) = [s for s in exporter.get_finished_spans() if s.name == "authkit.sign_in"]
    assert any(
        s.name == "authkit.workos" and s.parent is not None and s.parent.span_id == callback.context.span_id
        for s in exporter.get_finished_spans()
    )
    assert all(name in vars(kit) for name in ENTRY_POINTS)
    stop()  # back to the plain entry points: nothing timed, nothing traced
    assert not any(name in vars(kit) for name in ENTRY_POINTS) and kit.observer is None
    assert kit._sio().observer is None and jwks.observer is None
    before = len(exporter.get_finished_spans())
    kit.authenticate(jar)
    assert len(exporter.get_finished_spans()) == before
    kit.close()


def test_a_failed_refresh_is_an_error_span_with_its_code(workos_emulator: Any) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    kit = AuthKit(workos_emulator.config(), store=MemorySessionStore(), breaker=False)
    reader, exporter = InMemoryMetricReader(), InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    instrument(kit, MeterProvider(metric_readers=[reader]), tracing)
    jar = due_session(kit, workos_emulator)
    workos_emulator.end_session(workos_emulator.sessions()[0]["id"])  # revoked at WorkOS: invalid_grant
    assert kit.authenticate(jar).reason == "invalid_grant"
    (refresh,) = [s for s in exporter.get_finished_spans() if s.name == "authkit.refresh"]
    assert refresh.status.status_code is StatusCode.ERROR and refresh.attributes["error.type"] == "invalid_grant"
    seen = points(reader)
    failed = [
        attrs
        for (name, attrs), _ in seen.items()
        if name == "authkit.refresh.duration" and ("authkit.outcome", "error") in attrs
    ]
    assert failed and ("error.type", "invalid_grant") in failed[0]
    kit.close()


def test_histogram_buckets_are_in_seconds(kit: AuthKit, reader: Any, workos_emulator: Any) -> None:
    # The SDK's default bounds (0, 5, 10 ... 10,000) suit milliseconds: every duration in seconds would fall in one
    # bucket. A refresh (about a millisecond here) and a warm request (microseconds) must land in different ones.
    jar = due_session(kit, workos_emulator)
    assert kit.authenticate(jar).refreshed
    for _ in range(5):
        kit.authenticate(jar)
    data = reader.get_metrics_data()
    histograms = {
        m.name: m.data.data_points
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name in ("authkit.refresh.duration", "authkit.authentication.duration")
    }
    (refresh,) = histograms["authkit.refresh.duration"]
    assert refresh.explicit_bounds[0] <= 0.00001 and refresh.explicit_bounds[-1] >= 5
    used = [i for i, count in enumerate(refresh.bucket_counts) if count]
    assert used and 0 < used[0] < len(refresh.explicit_bounds)  # neither the first bucket nor the overflow
    fastest = min(
        next(i for i, count in enumerate(point.bucket_counts) if count)
        for point in histograms["authkit.authentication.duration"]
    )
    assert refresh.explicit_bounds[fastest - 1 if fastest else 0] < 0.001 and fastest < used[0]
