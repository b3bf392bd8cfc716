"""Where sessions live: the ``SessionStore`` protocol and its backends.

- :class:`CookieSessionStore` (the default): the sealed session in the ``wos-session`` cookie, shareable with
  authkit-nextjs.
- :class:`MemorySessionStore`: this process's memory (tests, single-process apps).
- :class:`SQLSessionStore`: SQLite, PostgreSQL or MariaDB through SQLAlchemy (imported on first use, so apps
  that do not use it never load SQLAlchemy).
- :class:`RedisSessionStore`: Redis 6/7 or Valkey (standalone, Sentinel, Cluster) through redis-py (imported on
  first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import LoadedSession, LoadResult, ServerSideSessionStore, SessionStore, SyncStoreMixin
from .cookie import CookieSessionStore
from .memory import MemorySessionStore

if TYPE_CHECKING:
    from .redis import RedisSessionStore
    from .sql import SQLSessionStore

__all__ = [
    "CookieSessionStore",
    "LoadResult",
    "LoadedSession",
    "MemorySessionStore",
    "RedisSessionStore",
    "SQLSessionStore",
    "ServerSideSessionStore",
    "SessionStore",
    "SyncStoreMixin",
]


def __getattr__(name: str) -> Any:
    if name == "SQLSessionStore":
        from .sql import SQLSessionStore

        return SQLSessionStore
    if name == "RedisSessionStore":
        from .redis import RedisSessionStore

        return RedisSessionStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
