"""What OpenTelemetry costs (issue 15): the engine's per-request and per-refresh cost with ``instrument()`` and an
SDK provider configured, against the same engine never instrumented, in the same run.

Four engines per store (cookie, memory): ``plain`` (never instrumented), ``stopped`` (instrumented, then
stopped: the entry points are the plain ones again, so this is the "absent" cost and must equal ``plain`` within
noise), ``api_only`` (instrumented with no SDK configured: the API's no-op providers) and ``otel`` (an SDK
``MeterProvider`` with an in-memory reader and a ``TracerProvider`` exporting to nowhere through a batch
processor: the recording and span work an app pays, without an exporter's I/O). Measured interleaved:

- the warm path, ``AuthKit.authenticate`` on a cookie authenticated a moment ago (microseconds per request);
- an explicit refresh, ``AuthKit.refresh`` against the emulator (microseconds per refresh; the emulator's HTTP
  round trip dominates, so the difference is the figure to read, with its noise).

Run: ``python -m benchmarks.run --only telemetry`` (or ``python -m benchmarks.telemetry`` for the table alone).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from authkit_core.engine import AuthKit
from authkit_core.telemetry import instrument

from .common import Lab, interleaved

STORES = ("cookie", "memory")


class _Nowhere(SpanExporter):
    """Drops every span (the batch processor's work is paid, no exporter I/O)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _median_us(samples: list[int]) -> float:
    return statistics.median(samples) / 1000


def _warm_case(kit: AuthKit, jar: dict[str, str]) -> Callable[[], object]:
    return lambda: kit.authenticate(jar)


def _refresh_case(kit: AuthKit, jar: dict[str, str], results: dict[str, Any], name: str) -> Callable[[], None]:
    def call() -> None:
        result = kit.refresh(results[name], jar)
        results[name] = result
        for cookie in result.cookies:  # the browser keeps the rotated cookie
            if not cookie.is_deletion:
                jar[cookie.name] = cookie.value

    return call


def run(lab: Lab, *, rounds: int, per_round: int, refreshes: int) -> dict[str, Any]:
    """Per store: warm-path and refresh medians for ``plain``, ``stopped`` and ``otel`` engines."""
    out: dict[str, Any] = {}
    tracing = TracerProvider()
    tracing.add_span_processor(BatchSpanProcessor(_Nowhere()))
    for store in STORES:
        kits: dict[str, AuthKit] = {}
        cleanups = []
        for name in ("plain", "stopped", "api_only", "otel"):
            backend = lab.backend(store, tag=f"_otel_{name}")
            kits[name] = backend.kit
            cleanups.append(backend.cleanup)
        instrument(kits["stopped"], MeterProvider(metric_readers=[InMemoryMetricReader()]), tracing)()
        instrument(kits["api_only"])  # the API's own no-op providers: no SDK configured
        instrument(kits["otel"], MeterProvider(metric_readers=[InMemoryMetricReader()]), tracing)
        jars = {name: lab.sign_in(kit) for name, kit in kits.items()}
        warm = interleaved(
            {name: _warm_case(kit, jars[name]) for name, kit in kits.items()},
            rounds=rounds,
            per_round=per_round,
        )
        results = {name: kit.authenticate(jars[name]) for name, kit in kits.items()}

        refresh = interleaved(
            {name: _refresh_case(kit, jars[name], results, name) for name, kit in kits.items()},
            rounds=max(1, refreshes // 10),
            per_round=10,
        )
        warm_us = {name: _median_us(s) for name, s in warm.items()}
        refresh_us = {name: _median_us(s) for name, s in refresh.items()}
        out[store] = {
            "warm_us": warm_us,
            "refresh_us": refresh_us,
            "warm_added_us": warm_us["otel"] - warm_us["plain"],
            "warm_absent_added_us": warm_us["stopped"] - warm_us["plain"],
            "warm_api_only_added_us": warm_us["api_only"] - warm_us["plain"],
            "refresh_added_us": refresh_us["otel"] - refresh_us["plain"],
            "requests": rounds * per_round,
            "refreshes": len(refresh["plain"]),
        }
        for kit in kits.values():
            kit.close()
        for cleanup in cleanups:
            cleanup()
    tracing.shutdown()
    return out


def table(results: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| store | warm: plain | instrumented, then stopped | API only (no SDK) | with the SDK | added | "
        "refresh: plain | with the SDK | added |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for store, row in results.items():
        w, r = row["warm_us"], row["refresh_us"]
        lines.append(
            f"| {store} | {w['plain']:.2f} us | {w['stopped']:.2f} us | {w['api_only']:.2f} us | {w['otel']:.2f} us | "
            f"{row['warm_added_us']:+.2f} us | {r['plain']:.0f} us | {r['otel']:.0f} us | "
            f"{row['refresh_added_us']:+.0f} us |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - a manual run
    with Lab() as lab:
        print(table(run(lab, rounds=20, per_round=2000, refreshes=200)))
