"""OpenTelemetry metrics for an engine (extra ``otel``: ``opentelemetry-api``): :func:`instrument` subscribes to its
event channel (:mod:`authkit_core.events`) and records:

| instrument | kind | unit | attributes |
|---|---|---|---|
| ``authkit.refresh.grants`` | counter | ``{grant}`` | |
| ``authkit.refresh.duration`` | histogram | ``s`` | |
| ``authkit.refresh.coalesced`` | counter | ``{request}`` | ``authkit.scope`` (``process``, ``processes``) |
| ``authkit.refresh.failures`` | counter | ``{failure}`` | ``error.type`` (the stable code), ``authkit.transient`` |
| ``authkit.sessions.ended`` | counter | ``{session}`` | ``authkit.reason`` |
| ``authkit.sign_ins`` | counter | ``{sign_in}`` | ``authkit.outcome`` (``success``, ``failure``), ``error.type`` |

Attributes never hold a user id, email, token or handle. Nothing is imported from OpenTelemetry unless
:func:`instrument` is called, and with no meter provider configured the API's no-op meter makes each record a
function call. Spans are not emitted yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .engine import AuthKit
from .errors import ConfigurationError
from .events import Event, RefreshCoalesced, RefreshFailed, RefreshGranted, SessionEnded, SignedIn, SignInFailed

__all__ = ["instrument"]


def instrument(kit: AuthKit, meter_provider: Any = None) -> Callable[[], None]:
    """Record ``kit``'s events as OpenTelemetry metrics (on ``meter_provider``, else the global one); returns the
    function that stops it."""
    try:
        from opentelemetry import metrics
    except ImportError:
        message = "OpenTelemetry metrics need opentelemetry-api: pip install 'authkit-session[otel]'"
        raise ConfigurationError(message) from None
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("authkit-session")
    except PackageNotFoundError:  # pragma: no cover - a source checkout without metadata
        ours = "0"
    meter = (meter_provider or metrics.get_meter_provider()).get_meter("authkit_session", ours)
    grants = meter.create_counter("authkit.refresh.grants", unit="{grant}", description="Refresh grants WorkOS made")
    duration = meter.create_histogram(
        "authkit.refresh.duration", unit="s", description="A refresh end to end: lease, grant and save"
    )
    coalesced = meter.create_counter(
        "authkit.refresh.coalesced", unit="{request}", description="Refreshes answered by another one's result"
    )
    failures = meter.create_counter("authkit.refresh.failures", unit="{failure}", description="Refreshes that failed")
    ended = meter.create_counter("authkit.sessions.ended", unit="{session}", description="Sessions that ended, by why")
    sign_ins = meter.create_counter("authkit.sign_ins", unit="{sign_in}", description="Sign-in callbacks, by outcome")

    def record(event: Event) -> None:
        if isinstance(event, RefreshGranted):
            grants.add(1)
            duration.record(event.seconds)
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

    return kit.events.subscribe(record)
