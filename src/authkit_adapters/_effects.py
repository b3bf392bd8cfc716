"""The effects of the middleware's own flows (the callback, the request-scoped functions): a call into the engine's
sync or async face (:func:`engine_call`), and a user hook that may be a coroutine function (:class:`Hook`)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from authkit_core.engine import AuthKit

__all__ = ["Call", "Hook", "engine_call"]


@dataclass(frozen=True, slots=True)
class Call:
    """Call ``sync`` on the blocking face, or await ``async_`` on the async one, with the same arguments."""

    sync: Callable[..., Any]
    async_: Callable[..., Awaitable[Any]]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def run_sync(self, io: object) -> Any:
        return self.sync(*self.args, **self.kwargs)

    async def run_async(self, io: object) -> Any:
        return await self.async_(*self.args, **self.kwargs)


def engine_call(kit: AuthKit, method: str, *args: Any, **kwargs: Any) -> Call:
    """``kit.<method>(...)``, or ``await kit.<method>_async(...)`` on the async face."""
    return Call(getattr(kit, method), getattr(kit, method + "_async"), args, kwargs)


@dataclass(frozen=True, slots=True)
class Hook:
    """Call a user hook; on the async face, await what it returns when that is awaitable."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]

    def run_sync(self, io: object) -> Any:
        return self.fn(*self.args)

    async def run_async(self, io: object) -> Any:
        result = self.fn(*self.args)
        return await result if inspect.isawaitable(result) else result
