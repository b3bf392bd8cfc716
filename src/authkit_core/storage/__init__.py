"""Where sessions live: the ``SessionStore`` protocol and its three backends.

- :class:`CookieSessionStore` (the default): the sealed session in the ``wos-session`` cookie, shareable with
  authkit-nextjs.
- :class:`MemorySessionStore`: this process's memory (tests, single-process apps).
- :class:`SQLSessionStore`: SQLite, PostgreSQL or MariaDB through SQLAlchemy (imported on first use, so apps
  that do not use it never load SQLAlchemy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import LoadedSession, LoadResult, ServerSideSessionStore, SessionStore, SyncStoreMixin
from .cookie import CookieSessionStore
from .memory import MemorySessionStore

if TYPE_CHECKING:
    from .sql import SQLSessionStore

__all__ = [
    "CookieSessionStore",
    "LoadResult",
    "LoadedSession",
    "MemorySessionStore",
    "SQLSessionStore",
    "ServerSideSessionStore",
    "SessionStore",
    "SyncStoreMixin",
]


def __getattr__(name: str) -> Any:
    if name == "SQLSessionStore":
        from .sql import SQLSessionStore

        return SQLSessionStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
