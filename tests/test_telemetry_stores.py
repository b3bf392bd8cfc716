"""OpenTelemetry metrics and traces on both faces (threads, anyio tasks) and every store (cookie, memory, SQLite,
PostgreSQL, MariaDB, Redis), read with the SDK's in-memory reader and span exporter, against the emulator over real
HTTP: a storm on one due session shows one grant, the rest coalesced, one refresh timed with its store and WorkOS
calls, and one ``authkit.refresh`` span whose children are those calls and whose trace context reached WorkOS."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from authkit_core import AuthKit, UserInfo
from authkit_core.storage.base import SessionStore
from authkit_core.telemetry import instrument
from authkit_core.testing.browser import signed_in_cookies
from engine.conftest import make_store

STORES = ["cookie", "memory", "sqlite", "postgres", "mariadb", "redis"]
STORE_KIND = {"cookie": "cookie", "memory": "memory", "sqlite": "sql", "postgres": "sql", "mariadb": "sql"}
STORM = 20


def histogram_counts(reader: InMemoryMetricReader, name: str) -> dict[frozenset[tuple[str, Any]], int]:
    out: dict[frozenset[tuple[str, Any]], int] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        out[frozenset(point.attributes.items())] = getattr(point, "count", None) or point.value
    return out


def total(reader: InMemoryMetricReader, name: str, **match: Any) -> int:
    return sum(
        count
        for attributes, count in histogram_counts(reader, name).items()
        if all((key.replace("_", "."), value) in attributes for key, value in match.items())
    )


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[str, SessionStore]]:
    made, cleanup = make_store(request.param, tmp_path)
    yield request.param, made
    cleanup()


@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_refresh_storm_is_measured_and_traced(
    face: str, store: tuple[str, SessionStore], workos_emulator: Any
) -> None:
    kind, made = store
    kit = AuthKit(workos_emulator.config(), store=made)
    reader, exporter = InMemoryMetricReader(), InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    stop = instrument(kit, MeterProvider(metric_readers=[reader]), tracing)
    workos_emulator.access_token_ttl = 20  # inside the refresh buffer: every request wants to refresh
    try:
        jar = signed_in_cookies(kit, workos_emulator, "alice@example.com")
    finally:
        workos_emulator.access_token_ttl = 300
    results: list[Any] = []
    if face == "sync":
        barrier = threading.Barrier(STORM)

        def request() -> None:
            barrier.wait()
            results.append(kit.authenticate(jar))

        threads = [threading.Thread(target=request) for _ in range(STORM)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    else:

        async def storm() -> None:
            async def one() -> None:
                results.append(await kit.authenticate_async(jar))

            async with anyio.create_task_group() as group:
                for _ in range(STORM):
                    group.start_soon(one)
            await kit.aclose()

        anyio.run(storm)
    stop()
    kit.close()
    assert len(results) == STORM and all(isinstance(r.user_info, UserInfo) for r in results)
    assert workos_emulator.grant_count("refresh_token") == 1
    store_kind = STORE_KIND.get(kind, kind)

    # metrics: every request timed, one refresh timed with its WorkOS share and its store calls
    assert total(reader, "authkit.authentication.duration", authkit_face=face) == STORM
    assert total(reader, "authkit.authentication.duration", authkit_outcome="refreshed") >= 1
    refreshes = histogram_counts(reader, "authkit.refresh.duration")
    assert list(refreshes.values()) == [1]
    (attributes,) = refreshes
    assert dict(attributes) == {"authkit.store": store_kind, "authkit.face": face, "authkit.outcome": "ok"}
    grant = total(reader, "authkit.workos.duration", authkit_workos_operation="authenticate")
    assert grant == 1
    assert total(reader, "authkit.store.duration", authkit_store=store_kind, authkit_store_operation="load") >= 1
    if kind != "cookie":  # a server-side refresh leases and saves
        assert total(reader, "authkit.store.duration", authkit_store_operation="acquire_lease") >= 1
        assert total(reader, "authkit.store.duration", authkit_store_operation="update") == 1

    # traces: one refresh span, its WorkOS call and store calls as children, the trace context sent to WorkOS
    spans = exporter.get_finished_spans()
    (refresh,) = [s for s in spans if s.name == "authkit.refresh"]
    children = [s for s in spans if s.parent is not None and s.parent.span_id == refresh.context.span_id]
    assert {s.name for s in children} >= {"authkit.workos"} | ({"authkit.store"} if kind != "cookie" else set())
    (call,) = [s for s in children if s.name == "authkit.workos"]
    assert call.attributes["http.response.status_code"] == 200
    (sent,) = workos_emulator.requests_to("/user_management/authenticate", "POST")[-1:]
    assert sent.headers["traceparent"].split("-")[1] == format(refresh.context.trace_id, "032x")
    for span in spans:  # no user id, email or token in any attribute
        for value in (span.attributes or {}).values():
            assert "alice" not in str(value) and "user_" not in str(value)
