"""The demo's ``/metrics`` page (``--metrics``): the engine's OpenTelemetry metrics in Prometheus's text format.

An SDK ``MeterProvider`` with an in-memory reader records what :func:`authkit_core.telemetry.instrument` measures;
``GET /metrics`` renders the current values, so a person can watch a refresh happen: sign in, press "Refresh
session now" (or wait for the access token to near its expiry, ``--access-token-ttl 60``) and reload the page:
``authkit_refresh_grants_total`` goes up by one and ``authkit_refresh_duration_seconds`` gains a sample. In an app,
use the OpenTelemetry Prometheus exporter instead (see docs/observability.md); this renderer is the demo's own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint

from authkit_core.engine import AuthKit
from authkit_core.telemetry import instrument

__all__ = ["DemoMetrics", "prometheus_text"]


class DemoMetrics:
    """The engine's metrics, recorded in memory; :meth:`render` is the ``/metrics`` page."""

    def __init__(self, kit: AuthKit) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])
        self.stop: Callable[[], None] = instrument(kit, self.provider)

    def render(self) -> str:
        """The current values in the Prometheus text exposition format."""
        data = self.reader.get_metrics_data()
        metrics = [m for rm in (data.resource_metrics if data else ()) for sm in rm.scope_metrics for m in sm.metrics]
        return prometheus_text(metrics)

    def close(self) -> None:
        """Stop recording."""
        self.stop()
        self.provider.shutdown()


def _name(name: str, unit: str) -> str:
    base = name.replace(".", "_").replace("-", "_")
    return base + "_seconds" if unit == "s" and not base.endswith("_seconds") else base


def _labels(attributes: Mapping[str, Any] | None, extra: Iterable[tuple[str, str]] = ()) -> str:
    pairs = [(k.replace(".", "_"), _value(v)) for k, v in sorted((attributes or {}).items())] + list(extra)
    if not pairs:
        return ""
    body = ",".join(f'{k}="{v}"' for k, v in pairs)
    return "{" + body + "}"


def _value(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if isinstance(value, float) else str(value)


def prometheus_text(metrics: Iterable[Any]) -> str:
    """Counters as ``<name>_total``, histograms as ``_bucket``/``_sum``/``_count``, gauges as they are."""
    lines: list[str] = []
    for metric in metrics:
        name = _name(metric.name, metric.unit)
        points = list(metric.data.data_points)
        if not points:
            continue
        if all(isinstance(p, HistogramDataPoint) for p in points):
            lines += [f"# HELP {name} {metric.description}", f"# TYPE {name} histogram"]
            for point in points:
                cumulative = 0
                for bound, count in zip([*point.explicit_bounds, math.inf], point.bucket_counts, strict=True):
                    cumulative += count
                    lines.append(
                        f"{name}_bucket{_labels(point.attributes, [('le', _number(float(bound)))])} {cumulative}"
                    )
                lines.append(f"{name}_sum{_labels(point.attributes)} {_number(point.sum)}")
                lines.append(f"{name}_count{_labels(point.attributes)} {point.count}")
        else:
            monotonic = getattr(metric.data, "is_monotonic", False)
            kind = "counter" if monotonic else "gauge"
            exposed = name + "_total" if monotonic else name
            lines += [f"# HELP {exposed} {metric.description}", f"# TYPE {exposed} {kind}"]
            for point in points:
                if isinstance(point, NumberDataPoint):
                    lines.append(f"{exposed}{_labels(point.attributes)} {_number(point.value)}")
    return "\n".join(lines) + "\n"
