"""Timing and tracing hooks: what the engine tells an :class:`Observer` about each operation, when one is attached.

An observer is attached with :meth:`~authkit_core.engine.AuthKit.observe` (``authkit_core.telemetry.instrument``
attaches OpenTelemetry's). Without one, nothing here runs: the engine's entry points are the plain ones (the
observed variants are installed on the instance only while an observer is attached) and each effect tests one
attribute. The operations, by ``name``:

| name | what | attributes |
|---|---|---|
| ``authenticate`` | one request's authentication (a warm answer included) | ``authkit.store``, ``authkit.face`` |
| ``refresh`` | a refresh end to end (lease, grant, save), once per leader | ``authkit.store``, ``authkit.face`` |
| ``sign_in`` | a sign-in callback's code exchange and save | ``authkit.store``, ``authkit.face`` |
| ``store`` | one session-store call | ``authkit.store``, ``authkit.store.operation``, ``authkit.face`` |
| ``workos`` | one HTTP call to WorkOS (a retry is another) | ``authkit.workos.operation``, ``http.request.method`` |
| ``jwks_fetch`` | one JWKS fetch | ``authkit.face`` |

Each ends with an ``outcome`` (``signed_in``, ``signed_out``, ``refreshed``, ``ok``, ``error`` ...) and, on an error,
the error itself (its stable ``code`` becomes ``error.type``). Counts without a duration go to :meth:`Observer.count`
(``jwks_cooldown_skip``: a token with an unknown key refused without a fetch, inside the refetch cooldown).
Attributes never hold a user id, email, token or session handle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from functools import partial
from time import perf_counter
from typing import Any, Protocol

__all__ = [
    "ENTRY_POINTS",
    "Observer",
    "Operation",
    "attach",
    "error_code",
    "observed_async",
    "observed_sync",
    "outcome_of",
    "store_kind",
]


class Operation(Protocol):
    """One operation being observed (see the module); :meth:`end` is called exactly once."""

    def end(self, outcome: str, error: BaseException | None = None, attributes: dict[str, Any] | None = None) -> None:
        """The operation ended with ``outcome`` (and ``error`` when it raised or failed; ``attributes`` learnt on the
        way, such as an HTTP status)."""


class Observer(Protocol):
    """What the engine reports to (see the module)."""

    def start(self, name: str, attributes: dict[str, Any]) -> Operation:
        """An operation starts; it is the current one (a trace's parent) until it ends."""

    def record(self, name: str, seconds: float, attributes: dict[str, Any], outcome: str) -> None:
        """An operation that took ``seconds`` and needs no span (a warm answer)."""

    def count(self, name: str, attributes: dict[str, Any]) -> None:
        """Something happened once."""

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Add the current trace context to an outgoing request's headers."""


def error_code(error: BaseException | None) -> str | None:
    """The stable code of an :class:`~authkit_core.errors.AuthKitError` (else the exception's class name)."""
    if error is None:
        return None
    code = getattr(error, "code", None)
    return code if isinstance(code, str) else type(error).__name__


# --- attaching an observer to an engine -----------------------------------------------------------------------

#: The engine's entry points that get an observed variant while an observer is attached.
ENTRY_POINTS = (
    "peek",
    "peek_header",
    "authenticate",
    "authenticate_async",
    "exchange_code",
    "exchange_code_async",
    "authenticate_with_code",
    "authenticate_with_code_async",
)


def store_kind(store: object) -> str:
    """The ``authkit.store`` attribute of a store: its ``kind`` (``cookie``, ``memory``, ``sql``, ``redis``), else
    its class name."""
    kind = getattr(store, "kind", None)
    return kind if isinstance(kind, str) else type(store).__name__


def outcome_of(result: Any) -> str:
    """``refreshed``, ``signed_in`` or ``signed_out`` for an :class:`~authkit_core.results.AuthResult`."""
    if result.refreshed:
        return "refreshed"
    return "signed_in" if getattr(result.user_info, "user", None) is not None else "signed_out"


def attach(kit: Any, observer: Observer | None) -> None:
    """Attach ``observer`` to the engine ``kit`` (``None``: detach): install the observed entry points on the
    instance and give the effects' resources the observer."""
    state = vars(kit)
    for name in ENTRY_POINTS:
        state.pop(name, None)
    kit.observer = observer
    for io in (kit._sync_io, kit._async_io):
        if io is not None:
            io.observer = observer
            io.jwks.observer = observer
    if observer is None:
        return
    plain = {name: getattr(kit, name) for name in ENTRY_POINTS}
    base = {"authkit.store": store_kind(kit.store)}
    sync, async_ = {**base, "authkit.face": "sync"}, {**base, "authkit.face": "async"}
    warm = {**base, "authkit.warm": True}

    def timed_when_warm(call: Callable[[Any], Any]) -> Callable[[Any], Any]:
        # a warm answer (``peek``, ``peek_header``) is a request's whole authentication; a miss is not timed here
        def observed(arg: Any) -> Any:
            started = perf_counter()
            result = call(arg)
            if result is not None:
                observer.record("authenticate", perf_counter() - started, warm, "signed_in")
            return result

        return observed

    observed_peek = timed_when_warm(plain["peek"])

    def observed_authenticate(cookies: Any, *, refresh: bool = True) -> Any:
        result = observed_peek(cookies)
        if result is not None:
            return result
        return observed_sync(observer, "authenticate", sync, kit._authenticate_now, cookies, refresh, judge=_judged)

    async def observed_authenticate_async(cookies: Any, *, refresh: bool = True) -> Any:
        result = observed_peek(cookies)
        if result is not None:
            return result
        return await observed_async(
            observer, "authenticate", async_, kit._authenticate_now_async, cookies, refresh, judge=_judged
        )

    state.update(
        peek=observed_peek,
        peek_header=timed_when_warm(plain["peek_header"]),
        authenticate=observed_authenticate,
        authenticate_async=observed_authenticate_async,
        exchange_code=partial(observed_sync, observer, "sign_in", sync, plain["exchange_code"]),
        authenticate_with_code=partial(observed_sync, observer, "sign_in", sync, plain["authenticate_with_code"]),
        exchange_code_async=partial(observed_async, observer, "sign_in", async_, plain["exchange_code_async"]),
        authenticate_with_code_async=partial(
            observed_async, observer, "sign_in", async_, plain["authenticate_with_code_async"]
        ),
    )


def _judged(result: Any) -> tuple[str, BaseException | None]:
    """How an authentication ended: :func:`outcome_of` and the error met on the way."""
    return outcome_of(result), result.error


def observed_sync(
    observer: Observer,
    name: str,
    attributes: dict[str, Any],
    call: Callable[..., Any],
    *args: Any,
    judge: Callable[[Any], tuple[str, BaseException | None]] | None = None,
    **kwargs: Any,
) -> Any:
    """``call(*args, **kwargs)`` as the observed operation ``name``: ended ``error`` when it raises, else ``ok`` (or
    the outcome and error ``judge(result)`` gives)."""
    op = observer.start(name, attributes)
    try:
        result = call(*args, **kwargs)
    except BaseException as exc:
        op.end("error", exc)
        raise
    op.end(*(judge(result) if judge is not None else ("ok", None)))
    return result


async def observed_async(
    observer: Observer,
    name: str,
    attributes: dict[str, Any],
    call: Callable[..., Awaitable[Any]],
    *args: Any,
    judge: Callable[[Any], tuple[str, BaseException | None]] | None = None,
    **kwargs: Any,
) -> Any:
    """Async :func:`observed_sync` (``call`` returns an awaitable)."""
    op = observer.start(name, attributes)
    try:
        result = await call(*args, **kwargs)
    except BaseException as exc:
        op.end("error", exc)
        raise
    op.end(*(judge(result) if judge is not None else ("ok", None)))
    return result
