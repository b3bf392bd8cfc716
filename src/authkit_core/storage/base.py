"""The ``SessionStore`` protocol: where a signed-in browser's session lives, and what refresh coordination needs.

A store turns the request's cookies into a :class:`LoadedSession` and turns a saved session into the cookies to
write back. Every method has a sync and an async (``a``-prefixed) form; stores with no I/O of their own (cookie,
memory) get the async forms from :class:`SyncStoreMixin`.

Refresh coordination (the engine's single-flight and lease protocol, see ``docs/refresh-coordination.md``):

1. ``acquire_lease(loaded, owner, ttl)`` atomically claims the right to refresh this session; ``False`` means
   another process holds an unexpired lease.
2. ``reload(loaded)`` reads the session again, so a refresh someone else just finished is seen and reused. A store
   that versions its sessions (``lease_checks_version = True``) skips this round trip: when ``loaded.version`` is
   set, its ``acquire_lease`` grants only while the stored session is still that version, so a granted lease
   proves ``loaded`` current; a refusal then means "held by another" *or* "changed since read", and the engine
   reloads to tell which.
3. ``update(loaded, session, owner)`` stores the rotated tokens and releases the lease in one step.
4. ``release_lease(loaded, owner)`` gives the lease back after a failed refresh. A crashed holder's lease simply
   expires after ``ttl`` seconds.

Stores whose state lives only in this process (``shared = False``) may answer ``acquire_lease`` with ``True``: the
engine's in-process single-flight already serialises refreshes there.

Sign-out and revocation while a refresh is in flight. A store that keeps sessions server-side
(:class:`ServerSideSessionStore`: memory, SQL, Redis) never brings back an entry that is gone: ``update`` replaces the
entry only if it is still there (not deleted by a sign-out, not revoked by ``revoke_user_sessions``, not expired
or evicted) and otherwise raises :class:`~authkit_core.errors.SessionError` with code ``session_not_found``
(terminal), so the refreshing request ends signed out and its cookie is expired; a copied cookie stays signed out.
The check and the write must be one atomic step (a conditional ``UPDATE ... WHERE``, a compare-and-set), never a
read followed by a write. A cookie-only store cannot revoke anything (a copied cookie opens until its refresh token
is refused).

To write your own store, implement every method of :class:`SessionStore` (and, for a server-side store,
:class:`ServerSideSessionStore`), then add one entry to ``STORES`` in ``tests/storage/test_store_contract.py``: the
shared behavioural suite there runs against every store (load, create, update, delete, reload,
``revoke_user_sessions``, leases and their expiry, version-checked leases, and no resurrection after a delete, a
revocation or an expiry while a lease is held), on the sync and the async methods.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..config import AuthKitConfig
from ..cookies import SetCookie
from ..models import Session

__all__ = [
    "LoadResult",
    "LoadedSession",
    "ServerSideSessionStore",
    "SessionStore",
    "SyncStoreMixin",
    "running_on_asyncio",
]


@dataclass(frozen=True, slots=True)
class LoadedSession:
    """A session read from a store.

    ``key`` identifies the session for coordination (stable across refreshes where the store allows it);
    ``ref`` is the store's own handle (the row handle for SQL, the chunk count for cookies ...); ``version`` is the
    stored session's version when it was read (``load``, ``reload``) by a store that keeps one, else ``None``.
    """

    session: Session
    key: str = field(repr=False)
    ref: object = field(default=None, repr=False)
    version: int | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What :meth:`SessionStore.load` found, and cookies to write regardless (e.g. expiring a bad cookie)."""

    loaded: LoadedSession | None
    cookies: tuple[SetCookie, ...] = ()
    #: Why nothing was loaded although a cookie was present (``invalid_seal``, ``not_found`` ...), for logging.
    reason: str | None = None


@runtime_checkable
class SessionStore(Protocol):
    """Storage for sessions. See the module documentation for the coordination contract."""

    #: Whether the store's state is shared between processes (and so needs leases to coordinate refreshes).
    shared: bool

    def bind(self, config: AuthKitConfig) -> None:
        """Receive the configuration (cookie name, attributes, passwords). Called once by ``AuthKit``."""
        ...

    def load(self, cookies: Mapping[str, str]) -> LoadResult:
        """Find the request's session. Never raises for bad cookies: those are a signed-out result."""
        ...

    def create(self, session: Session) -> tuple[LoadedSession, list[SetCookie]]:
        """Store a new session (a sign-in) under a fresh handle and return the cookies that point to it."""
        ...

    def update(
        self, loaded: LoadedSession, session: Session, owner: str | None = None
    ) -> tuple[LoadedSession, list[SetCookie]]:
        """Replace ``loaded`` with the refreshed ``session`` (releasing ``owner``'s lease). A server-side store
        never re-creates a session that is gone (deleted, revoked, expired): it raises
        :class:`~authkit_core.errors.SessionError` (``session_not_found``) instead."""
        ...

    def delete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> list[SetCookie]:
        """Remove the session and return the cookies that clear it from the browser."""
        ...

    def reload(self, loaded: LoadedSession) -> LoadedSession | None:
        """Read the session again (``None`` when it is gone)."""
        ...

    def acquire_lease(self, loaded: LoadedSession, owner: str, ttl: float) -> bool:
        """Claim the right to refresh for ``ttl`` seconds; ``False`` when another owner holds it (or, for a store
        with ``lease_checks_version``, when ``loaded.version`` is set and the stored session is no longer it)."""
        ...

    def release_lease(self, loaded: LoadedSession, owner: str) -> None:
        """Give the lease back (no-op when ``owner`` does not hold it)."""
        ...

    async def aload(self, cookies: Mapping[str, str]) -> LoadResult:
        """Async :meth:`load`."""
        ...

    async def acreate(self, session: Session) -> tuple[LoadedSession, list[SetCookie]]:
        """Async :meth:`create`."""
        ...

    async def aupdate(
        self, loaded: LoadedSession, session: Session, owner: str | None = None
    ) -> tuple[LoadedSession, list[SetCookie]]:
        """Async :meth:`update`."""
        ...

    async def adelete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> list[SetCookie]:
        """Async :meth:`delete`."""
        ...

    async def areload(self, loaded: LoadedSession) -> LoadedSession | None:
        """Async :meth:`reload`."""
        ...

    async def aacquire_lease(self, loaded: LoadedSession, owner: str, ttl: float) -> bool:
        """Async :meth:`acquire_lease`."""
        ...

    async def arelease_lease(self, loaded: LoadedSession, owner: str) -> None:
        """Async :meth:`release_lease`."""
        ...


@runtime_checkable
class ServerSideSessionStore(SessionStore, Protocol):
    """A store that keeps sessions server-side (the cookie holds only a handle), so it can revoke them.

    Sign-out (``delete``) and :meth:`revoke_user_sessions` end a session for good: a copied cookie is signed out,
    and a refresh that was in flight when the session ended does not bring it back (``update`` raises
    ``session_not_found``)."""

    #: The browser holds only a handle: refresh grants may use a replayable ``Idempotency-Key`` (see the engine).
    keeps_tokens_server_side: bool

    def revoke_user_sessions(self, user_id: str) -> int:
        """Delete every session of ``user_id`` (sign out everywhere); returns how many."""
        ...

    async def arevoke_user_sessions(self, user_id: str) -> int:
        """Async :meth:`revoke_user_sessions`."""
        ...


class SyncStoreMixin(ABC):
    """Async methods for a store that does no I/O: each calls its sync twin directly."""

    @abstractmethod
    def load(self, cookies: Mapping[str, str]) -> LoadResult:
        """See :meth:`SessionStore.load`."""

    @abstractmethod
    def create(self, session: Session) -> tuple[LoadedSession, list[SetCookie]]:
        """See :meth:`SessionStore.create`."""

    @abstractmethod
    def update(
        self, loaded: LoadedSession, session: Session, owner: str | None = None
    ) -> tuple[LoadedSession, list[SetCookie]]:
        """See :meth:`SessionStore.update`."""

    @abstractmethod
    def delete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> list[SetCookie]:
        """See :meth:`SessionStore.delete`."""

    @abstractmethod
    def reload(self, loaded: LoadedSession) -> LoadedSession | None:
        """See :meth:`SessionStore.reload`."""

    def acquire_lease(self, loaded: LoadedSession, owner: str, ttl: float) -> bool:
        """In-process stores rely on the engine's single-flight: the lease is always granted."""
        return True

    def release_lease(self, loaded: LoadedSession, owner: str) -> None:
        """Nothing to release."""
        return None

    async def aload(self, cookies: Mapping[str, str]) -> LoadResult:
        """Same as :meth:`load`."""
        return self.load(cookies)

    async def acreate(self, session: Session) -> tuple[LoadedSession, list[SetCookie]]:
        """Same as :meth:`create`."""
        return self.create(session)

    async def aupdate(
        self, loaded: LoadedSession, session: Session, owner: str | None = None
    ) -> tuple[LoadedSession, list[SetCookie]]:
        """Same as :meth:`update`."""
        return self.update(loaded, session, owner)

    async def adelete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> list[SetCookie]:
        """Same as :meth:`delete`."""
        return self.delete(loaded, cookies)

    async def areload(self, loaded: LoadedSession) -> LoadedSession | None:
        """Same as :meth:`reload`."""
        return self.reload(loaded)

    async def aacquire_lease(self, loaded: LoadedSession, owner: str, ttl: float) -> bool:
        """Same as :meth:`acquire_lease`."""
        return self.acquire_lease(loaded, owner, ttl)

    async def arelease_lease(self, loaded: LoadedSession, owner: str) -> None:
        """Same as :meth:`release_lease`."""
        self.release_lease(loaded, owner)


def running_on_asyncio() -> bool:
    """Whether the caller runs in an asyncio event loop (a store's async methods then use its asyncio driver or
    client; under trio, or with none, they run the blocking methods in a worker thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
