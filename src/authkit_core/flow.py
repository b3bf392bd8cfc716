"""One body of logic, two shells: the effect protocol every I/O-doing flow in this library is written in.

A *flow* is a generator that does no I/O itself. It ``yield``s an effect (an HTTP request to send, a pause, a
storage call ...) and receives the effect's result, or has the effect's exception thrown into it. The decisions
(retry? refresh? which error is transient?) live in the generator and are written once; :func:`run_sync` and
:func:`run_async` drive the same generator with blocking or anyio-based I/O. This is the shape of httpx's
``Auth.auth_flow``.

Each effect is a small object with a ``run_sync(io)`` and an ``async run_async(io)`` method, where ``io`` is the
shell's bag of resources (an HTTP client, a store ...). Those two methods are the only code that exists twice,
and each is one call into a sync or an async library.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import anyio

__all__ = ["Effect", "Flow", "Sleep", "run_async", "run_sync"]

T = TypeVar("T")
IO = TypeVar("IO", contravariant=True)


class Effect(Protocol[IO]):
    """Something a flow asks its shell to do."""

    def run_sync(self, io: IO) -> Any:
        """Do it with blocking I/O."""

    async def run_async(self, io: IO) -> Any:
        """Do it with anyio (asyncio or trio)."""


#: A flow yields effects, receives their results and returns ``T``.
Flow = Generator["Effect[Any]", Any, T]


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds`` (a retry back-off)."""

    seconds: float

    def run_sync(self, io: object) -> None:
        """Block the thread."""
        import time

        time.sleep(self.seconds)

    async def run_async(self, io: object) -> None:
        """Yield to the event loop."""
        await anyio.sleep(self.seconds)


def run_sync(flow: Flow[T], io: Any) -> T:
    """Drive ``flow`` to completion with blocking I/O and return its value."""
    try:
        effect = next(flow)
        while True:
            try:
                result = effect.run_sync(io)
            except Exception as exc:  # handed to the flow, which decides
                effect = flow.throw(exc)
            else:
                effect = flow.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()


async def run_async(flow: Flow[T], io: Any) -> T:
    """Drive ``flow`` to completion under anyio and return its value."""
    try:
        effect = next(flow)
        while True:
            try:
                result = await effect.run_async(io)
            except Exception as exc:  # handed to the flow, which decides
                effect = flow.throw(exc)
            else:
                effect = flow.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()
