"""OpenTelemetry for an engine (extra ``otel``: ``opentelemetry-api``): :func:`instrument` records its events
(:mod:`authkit_core.events`) and its operations (:mod:`authkit_core.observe`) as metrics, and traces the sign-in
callback, each refresh and each JWKS fetch (with their store and WorkOS calls as child spans; the outgoing request
to WorkOS carries the trace context, ``traceparent``).

Histograms (unit ``s``; each with ``authkit.outcome`` and, on an error, ``error.type``, the stable code):

- ``authkit.authentication.duration``: one request's authentication, a warm answer included; ``authkit.store``,
  ``authkit.face`` (``sync``, ``async``), ``authkit.warm``; outcome ``signed_in``, ``refreshed``, ``signed_out``;
- ``authkit.refresh.duration``: a refresh end to end (lease, grant, save), once per leader; ``authkit.store``,
  ``authkit.face``;
- ``authkit.sign_in.duration``: a sign-in callback's code exchange; ``authkit.store``, ``authkit.face``;
- ``authkit.store.duration``: one store call; ``authkit.store``, ``authkit.store.operation`` (``load``,
  ``acquire_lease``, ``update``, ``create``, ``delete`` ...), ``authkit.face``;
- ``authkit.workos.duration``: one HTTP call to WorkOS; ``authkit.workos.operation`` (``authenticate``,
  ``jwks`` ...), ``http.request.method``, ``http.response.status_code``;
- ``authkit.jwks.fetch.duration``: one JWKS fetch; ``authkit.face``.

Counters: ``authkit.refresh.grants``; ``authkit.refresh.coalesced`` (``authkit.scope``: ``process``,
``processes``); ``authkit.refresh.failures`` (``error.type``, ``authkit.transient``); ``authkit.sessions.ended``
(``authkit.reason``); ``authkit.sign_ins`` (``authkit.outcome``: ``success``, ``failure``; ``error.type``);
``authkit.jwks.cooldown_skips``; and, for a store that evicts (memory), the observable
``authkit.store.evictions`` (``authkit.store``).

The refresh's WorkOS share is ``authkit.workos.duration`` with ``authkit.workos.operation=authenticate``. Spans are
named ``authkit.sign_in``, ``authkit.refresh``, ``authkit.jwks.fetch``, ``authkit.store`` and ``authkit.workos``
(the last two only inside one of the first three); a failed one has status ``ERROR`` and ``error.type``.
Attributes never hold a user id, email, token or handle. Nothing is imported from OpenTelemetry unless
:func:`instrument` is called; without it the engine's entry points are the plain ones, and with the API's no-op
providers each record is a function call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from time import perf_counter
from typing import Any

from .engine import AuthKit
from .errors import ConfigurationError
from .events import Event, RefreshCoalesced, RefreshFailed, RefreshGranted, SessionEnded, SignedIn, SignInFailed
from .observe import Operation, error_code, store_kind

__all__ = ["instrument"]

#: Operations that get a span of their own; store and WorkOS calls get one only inside them.
_ROOT_SPANS = {"sign_in": "authkit.sign_in", "refresh": "authkit.refresh", "jwks_fetch": "authkit.jwks.fetch"}
_CHILD_SPANS = {"store": "authkit.store", "workos": "authkit.workos"}
#: Histogram bucket bounds in seconds, from a warm request (microseconds) to a slow refresh (seconds); the SDK's
#: default bounds (0, 5, 10 ... 10,000) suit milliseconds and would put every duration in the first bucket.
BUCKETS = [
    0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
]  # fmt: skip
_HISTOGRAMS = {
    "authenticate": ("authkit.authentication.duration", "One request's authentication, a warm answer included"),
    "refresh": ("authkit.refresh.duration", "A refresh end to end: lease, grant and save"),
    "sign_in": ("authkit.sign_in.duration", "A sign-in callback's code exchange"),
    "store": ("authkit.store.duration", "One session store call"),
    "workos": ("authkit.workos.duration", "One HTTP call to WorkOS"),
    "jwks_fetch": ("authkit.jwks.fetch.duration", "One JWKS fetch"),
}


def instrument(kit: AuthKit, meter_provider: Any = None, tracer_provider: Any = None) -> Callable[[], None]:
    """Record ``kit``'s events and operations as OpenTelemetry metrics (on ``meter_provider``, else the global
    one) and trace them (on ``tracer_provider``, else the global one); returns the function that stops both."""
    try:
        from opentelemetry import context, metrics, propagate, trace
    except ImportError:
        message = "OpenTelemetry needs opentelemetry-api: pip install 'authkit-session[otel]'"
        raise ConfigurationError(message) from None
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("authkit-session")
    except PackageNotFoundError:  # pragma: no cover - a source checkout without metadata
        ours = "0"
    meter = (meter_provider or metrics.get_meter_provider()).get_meter("authkit_session", ours)
    tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer("authkit_session", ours)
    histograms = {
        name: meter.create_histogram(metric, unit="s", description=text, explicit_bucket_boundaries_advisory=BUCKETS)
        for name, (metric, text) in _HISTOGRAMS.items()
    }
    counts = {
        "jwks_cooldown_skip": meter.create_counter(
            "authkit.jwks.cooldown_skips",
            unit="{token}",
            description="Unknown keys refused inside the refetch cooldown",
        )
    }
    grants = meter.create_counter("authkit.refresh.grants", unit="{grant}", description="Refresh grants WorkOS made")
    coalesced = meter.create_counter(
        "authkit.refresh.coalesced", unit="{request}", description="Refreshes answered by another one's result"
    )
    failures = meter.create_counter("authkit.refresh.failures", unit="{failure}", description="Refreshes that failed")
    ended = meter.create_counter("authkit.sessions.ended", unit="{session}", description="Sessions that ended, by why")
    sign_ins = meter.create_counter("authkit.sign_ins", unit="{sign_in}", description="Sign-in callbacks, by outcome")
    store = kit.store
    if hasattr(store, "evictions"):
        attributes = {"authkit.store": store_kind(store)}

        def evictions(_options: Any) -> Iterable[Any]:
            yield metrics.Observation(store.evictions, attributes)

        meter.create_observable_counter(
            "authkit.store.evictions",
            callbacks=[evictions],
            unit="{session}",
            description="Sessions evicted to stay within the store's bound (each one a sign-out)",
        )

    def record(event: Event) -> None:
        if isinstance(event, RefreshGranted):
            grants.add(1)
        elif isinstance(event, RefreshCoalesced):
            coalesced.add(1, {"authkit.scope": event.scope})
        elif isinstance(event, RefreshFailed):
            failures.add(1, {"error.type": event.code, "authkit.transient": event.transient})
        elif isinstance(event, SessionEnded):
            ended.add(1, {"authkit.reason": event.reason})
        elif isinstance(event, SignedIn):
            sign_ins.add(1, {"authkit.outcome": "success"})
        elif isinstance(event, SignInFailed):
            sign_ins.add(1, {"authkit.outcome": "failure", "error.type": event.code})

    ours = context.create_key("authkit_span")

    class _Op:
        __slots__ = ("attributes", "histogram", "span", "started", "token")

        def __init__(self, name: str, attributes: dict[str, Any]) -> None:
            self.histogram = histograms[name]
            self.attributes = attributes
            self.span: Any = None
            self.token: Any = None
            span_name = _ROOT_SPANS.get(name)
            if span_name is None and context.get_value(ours):
                span_name = _CHILD_SPANS.get(name)
            if span_name is not None:
                self.span = tracer.start_span(span_name, attributes=attributes)
                self.token = context.attach(context.set_value(ours, True, trace.set_span_in_context(self.span)))
            self.started = perf_counter()

        def end(
            self, outcome: str, error: BaseException | None = None, attributes: dict[str, Any] | None = None
        ) -> None:
            seconds = perf_counter() - self.started
            final = {**self.attributes, **(attributes or {}), "authkit.outcome": outcome}
            code = error_code(error)
            if code is not None:
                final["error.type"] = code
            self.histogram.record(seconds, final)
            span = self.span
            if span is not None:
                span.set_attributes(final)
                if outcome == "error":
                    span.set_status(trace.Status(trace.StatusCode.ERROR, code))
                context.detach(self.token)
                span.end()

    class _Observer:
        def start(self, name: str, attributes: dict[str, Any]) -> Operation:
            return _Op(name, attributes)

        def record(self, name: str, seconds: float, attributes: dict[str, Any], outcome: str) -> None:
            histograms[name].record(seconds, {**attributes, "authkit.outcome": outcome})

        def count(self, name: str, attributes: dict[str, Any]) -> None:
            counts[name].add(1, attributes)

        def inject(self, headers: MutableMapping[str, str]) -> None:
            if context.get_value(ours):
                propagate.inject(headers)

    unsubscribe = kit.events.subscribe(record)
    observer = _Observer()
    kit.observe(observer)  # an engine has one observer: a later instrument() takes over the timing and traces

    def stop() -> None:
        unsubscribe()
        if kit.observer is observer:
            kit.observe(None)

    return stop
