"""``SQLSessionStore``: sessions in a SQL table (SQLite, PostgreSQL, MariaDB/MySQL) through SQLAlchemy Core.

The browser's cookie holds only a sealed random *handle*; the table is keyed by the handle's SHA-256 and keeps
the session encrypted with AES-256-GCM under a key derived from the handle, so neither the cookie alone nor the
table alone gives away a refresh token. Leases for coordinated refreshes are one atomic ``UPDATE`` each.

Every SQL statement is built once per store (:class:`_Statements`). An operation is prepared as a
:class:`_Step` (statement, parameters and what to make of the result) by shared code, then run by one of two thin
executors: a sync one on an :class:`~sqlalchemy.engine.Engine`, and an async one on an
:class:`~sqlalchemy.ext.asyncio.AsyncEngine` (under asyncio) or, failing that, the sync one in a worker thread.
The sync one runs the statement SQLAlchemy compiled for the engine's dialect straight on a pooled driver
connection (:class:`_Driver`) when nothing observes SQLAlchemy's execution (no event listeners, echo or execution
options), and through SQLAlchemy's ``Connection`` otherwise.

A refresh costs three statements: ``load`` (a ``SELECT``), the lease (an ``UPDATE`` granted only while the row is
still the version ``load`` read, so no re-read is needed) and the save (an ``UPDATE`` that also clears the lease).

The table and its statements are in ``sql_schema.py``, how they run in ``sql_exec.py``. See
``docs/storage-sql.md``; ``python -m authkit_core.storage.sql --print-ddl postgresql`` prints the DDL.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
from sqlalchemy import Engine, MetaData, create_engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from ..config import AuthKitConfig
from ..cookies import SetCookie, expired_cookie, session_cookie
from ..errors import ConfigurationError, SealError, SessionError
from ..models import Session
from .base import LoadedSession, LoadResult, running_on_asyncio
from .handles import forget_handle, handle_id, new_handle, open_handle, seal_handle
from .sealed_payload import decrypt_session, encrypt_session, lease_owner, session_id_of
from .sql_exec import (
    _OWN_ENGINE_OPTIONS,
    _create_async_engine,
    _Done,
    _Driver,
    _driver_errors,
    _execute,
    _granted,
    _is_async_engine,
    _nothing,
    _prepare_engine,
    _rowcount,
    _Step,
    _storage_error,
    _Work,
)
from .sql_schema import DEFAULT_TABLE_NAME, _Statements, ddl, session_table

if TYPE_CHECKING:  # imported lazily: SQLAlchemy's asyncio support needs greenlet, sync use does not
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

__all__ = ["DEFAULT_TABLE_NAME", "SQLSessionStore", "ddl", "session_table"]


# --- the store --------------------------------------------------------------------------------------------------


class SQLSessionStore:
    """Sessions in a SQL table; the cookie holds only a sealed random handle.

    ``url_or_engine`` is a SQLAlchemy URL string, an :class:`~sqlalchemy.engine.Engine` or an
    :class:`~sqlalchemy.ext.asyncio.AsyncEngine`. A URL with an async driver (``sqlite+aiosqlite``,
    ``postgresql+asyncpg``, ``mysql+aiomysql``) gives an async engine. ``async_engine=`` adds an async engine to a
    sync one. Async methods use the async engine under asyncio; otherwise (no async engine, or under trio) they
    run the sync methods in a worker thread. Sync methods need a sync engine.

    ``create_tables=True`` creates the table (if missing) now; it needs a sync engine (with only an async one,
    ``await store.acreate_tables()`` instead). SQLite connections get WAL and a 5 s busy timeout.

    ``driver_shortcut=True`` (the default) runs the store's statements, compiled by SQLAlchemy for the engine's
    dialect, straight on a pooled driver connection when the sync engine uses the stdlib SQLite driver, psycopg
    or PyMySQL and nothing observes SQLAlchemy's execution (no event listener, ``echo``, statement logging or
    execution option): about half the cost of a ``load`` on a local database. ``False`` always goes through
    SQLAlchemy's ``Connection``.
    """

    #: Leases live in the database, so several processes coordinate refreshes through it.
    shared = True
    #: The ``authkit.store`` attribute of its metrics (see ``observe.py``).
    kind = "sql"
    #: The browser holds only a handle: refresh grants may use a replayable ``Idempotency-Key`` (see the engine).
    keeps_tokens_server_side = True
    #: ``load`` and ``reload`` give the row's version, and a lease on such a session is granted only while the row
    #: is still that version: a granted lease proves the session current, so the engine does not re-read it.
    lease_checks_version = True

    def __init__(
        self,
        url_or_engine: str | Engine | AsyncEngine,
        *,
        table_name: str = DEFAULT_TABLE_NAME,
        async_engine: AsyncEngine | None = None,
        create_tables: bool = False,
        driver_shortcut: bool = True,
    ) -> None:
        self.driver_shortcut = driver_shortcut
        self._owned: list[Engine | AsyncEngine] = []
        engine: Engine | None = None
        aengine = async_engine
        if _is_async_engine(url_or_engine):
            if async_engine is not None:
                raise ConfigurationError("pass the async engine once: as the first argument or as async_engine=")
            aengine = url_or_engine
        elif isinstance(url_or_engine, Engine):
            engine = url_or_engine
        elif isinstance(url_or_engine, str):
            url = make_url(url_or_engine)
            if url.get_dialect().is_async:
                if async_engine is not None:
                    raise ConfigurationError("an async URL and async_engine= both give an async engine; pass one")
                aengine = _create_async_engine(url)
                self._owned.append(aengine)
            else:
                engine = create_engine(url, **_OWN_ENGINE_OPTIONS)
                self._owned.append(engine)
        else:
            raise ConfigurationError("SQLSessionStore takes a URL string, an Engine or an AsyncEngine")
        if engine is not None:
            _prepare_engine(engine)
        if aengine is not None:
            _prepare_engine(aengine.sync_engine)
        self._engine = engine
        self._aengine = aengine
        self._driver: _Driver | None = None
        self._errors: tuple[type[BaseException], ...] | None = None
        self._metadata = MetaData()
        #: The SQLAlchemy table this store reads and writes.
        self.table = session_table(self._metadata, table_name)
        self._sql = _Statements(self.table)
        self._config: AuthKitConfig | None = None
        if create_tables:
            if engine is None:
                raise ConfigurationError(
                    "create_tables=True needs a sync engine; with only an async engine, "
                    "`await store.acreate_tables()` at start-up"
                )
            self.create_tables()

    def bind(self, config: AuthKitConfig) -> None:
        """Receive the configuration (cookie name and attributes, cookie passwords, max age)."""
        self._config = config

    # --- executors ---

    def _sync_engine(self) -> Engine:
        if self._engine is None:
            raise ConfigurationError(
                "this SQLSessionStore has only an async engine: sync calls (and async calls under trio) need a "
                "sync one, e.g. SQLSessionStore('postgresql+psycopg://...', async_engine=...)"
            )
        return self._engine

    def _run(self, work: _Work[T]) -> T:
        if isinstance(work, _Done):
            return work.value
        engine = self._sync_engine()
        errors = self._errors
        if errors is None:
            errors = self._errors = (SQLAlchemyError, OSError, *_driver_errors(engine))
        try:
            if self.driver_shortcut and isinstance(work, _Step) and _Driver.fits(engine):
                if self._driver is None:
                    self._driver = _Driver(engine, engine in self._owned)
                step: _Step[T] = work
                return self._driver.run(step)
            with engine.connect() as conn:
                return _execute(conn, work, engine in self._owned)
        except errors as exc:
            raise _storage_error(exc) from exc

    async def _arun(self, work: _Work[T]) -> T:
        if isinstance(work, _Done):
            return work.value
        if self._aengine is None or not running_on_asyncio():
            return await anyio.to_thread.run_sync(self._run, work)
        try:
            async with self._aengine.connect() as conn:
                return await conn.run_sync(_execute, work, self._aengine in self._owned)
        except (SQLAlchemyError, OSError) as exc:
            raise _storage_error(exc) from exc

    # --- shared preparation ---

    def _bound(self) -> AuthKitConfig:
        if self._config is None:
            raise ConfigurationError("SQLSessionStore.bind(config) was not called (AuthKit does this)")
        return self._config

    def _handle_from_cookies(self, cookies: Mapping[str, str]) -> str | None:
        """The handle in the request's cookie; ``""`` when there is a cookie that does not open."""
        config = self._bound()
        raw = cookies.get(config.cookie_name)
        if not raw:
            return None
        try:
            handle = open_handle(raw, config.cookie_passwords)
        except SealError:
            return ""
        return handle if 16 <= len(handle) <= 256 else ""

    def _cookie(self, handle: str) -> SetCookie:
        config = self._bound()
        return session_cookie(config, config.cookie_name, seal_handle(handle, config.cookie_passwords))

    def _expired(self) -> SetCookie:
        config = self._bound()
        return expired_cookie(config, config.cookie_name)

    def _read(self, row_id: str, handle: str) -> _Step[LoadedSession | str]:
        """Read and decrypt a row: the session, or why not (``not_found``, ``expired``, ``undecryptable``)."""
        now = time.time()

        def finish(_count: int, row: Sequence[Any] | None) -> LoadedSession | str:
            if row is None:
                return "not_found"
            data, expires_at, version = row
            if expires_at <= now:
                return "expired"
            session = decrypt_session(handle, row_id, data)
            if session is None:
                return "undecryptable"
            return LoadedSession(session, key=row_id, ref=handle, version=version)

        return _Step(self._sql.select, {"row_id": row_id}, finish, rows=True)

    def _load(self, cookies: Mapping[str, str]) -> _Work[LoadResult]:
        handle = self._handle_from_cookies(cookies)
        if handle is None:
            return _Done(LoadResult(None))
        if not handle:
            return _Done(LoadResult(None, (self._expired(),), reason="invalid_seal"))
        read = self._read(handle_id(handle), handle)

        def finish(count: int, row: Sequence[Any] | None) -> LoadResult:
            found = read.finish(count, row)
            if isinstance(found, str):
                return LoadResult(None, (self._expired(),), reason=found)
            return LoadResult(found)

        return _Step(read.statement, read.params, finish, rows=True)

    def _write_values(self, handle: str, row_id: str, session: Session, now: float) -> dict[str, Any]:
        return {
            "data": encrypt_session(handle, row_id, session),
            "user_id": session.user.id[:255],
            "session_id": session_id_of(session),
            "expires_at": now + self._bound().cookie_max_age,
        }

    def _create(self, session: Session) -> _Step[tuple[LoadedSession, list[SetCookie]]]:
        handle = new_handle()
        row_id = handle_id(handle)
        now = time.time()
        values = {
            "id": row_id,
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "lease_owner": None,
            "lease_until": None,
        }
        values.update(self._write_values(handle, row_id, session, now))
        answer = (LoadedSession(session, key=row_id, ref=handle), [self._cookie(handle)])
        return _Step(self._sql.insert, values, lambda _count, _row: answer)

    def _update(self, loaded: LoadedSession, session: Session) -> _Step[tuple[LoadedSession, list[SetCookie]]]:
        handle = loaded.ref
        if not isinstance(handle, str) or handle_id(handle) != loaded.key:
            raise SessionError("this LoadedSession does not come from a SQLSessionStore")
        now = time.time()
        values = {f"new_{k}": v for k, v in self._write_values(handle, loaded.key, session, now).items()}
        values.update(row_id=loaded.key, now=now)
        new = LoadedSession(session, key=loaded.key, ref=handle)

        def finish(count: int, _row: Sequence[Any] | None) -> tuple[LoadedSession, list[SetCookie]]:
            if not count:  # gone: signed out, revoked or expired meanwhile. Never resurrect it.
                raise SessionError("the session ended while it was being refreshed", code="session_not_found")
            return new, [self._cookie(handle)]

        return _Step(self._sql.update, values, finish)

    def _delete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> _Work[list[SetCookie]]:
        answer = [self._expired()]
        row_id = loaded.key if loaded is not None else None
        handle = loaded.ref if loaded is not None else None
        if row_id is None:
            handle = self._handle_from_cookies(cookies)
            row_id = handle_id(handle) if handle else None
        forget_handle(handle, cookies.get(self._bound().cookie_name))
        if row_id is None:
            return _Done(answer)
        return _Step(self._sql.delete, {"row_id": row_id}, lambda _count, _row: answer)

    def _reload(self, loaded: LoadedSession) -> _Work[LoadedSession | None]:
        if not isinstance(loaded.ref, str):
            return _Done(None)
        read = self._read(loaded.key, loaded.ref)

        def finish(count: int, row: Sequence[Any] | None) -> LoadedSession | None:
            found = read.finish(count, row)
            return None if isinstance(found, str) else found

        return _Step(read.statement, read.params, finish, rows=True)

    def _acquire(self, loaded: LoadedSession, owner: str, ttl: float) -> _Step[bool]:
        now = time.time()
        params: dict[str, Any] = {"row_id": loaded.key, "owner": lease_owner(owner), "now": now, "until": now + ttl}
        statement = self._sql.acquire
        if loaded.version is not None:  # read from the table: granted only while the row is still that version
            statement = self._sql.acquire_current
            params["read_version"] = loaded.version
        return _Step(statement, params, _granted, lease=True)

    def _release(self, loaded: LoadedSession, owner: str) -> _Step[None]:
        return _Step(self._sql.release, {"row_id": loaded.key, "owner": lease_owner(owner)}, _nothing, lease=True)

    def _delete_expired(self, now: float | None) -> _Step[int]:
        return _Step(self._sql.delete_expired, {"now": time.time() if now is None else now}, _rowcount)

    def _revoke(self, user_id: str) -> _Step[int]:
        return _Step(self._sql.delete_user, {"user": user_id}, _rowcount)

    # --- the SessionStore protocol, sync ---

    def load(self, cookies: Mapping[str, str]) -> LoadResult:
        """Find the request's session. Bad cookies, unknown or expired rows are a signed-out result with the
        cookie expired; database failures raise a transient :class:`SessionError`."""
        return self._run(self._load(cookies))

    def create(self, session: Session) -> tuple[LoadedSession, list[SetCookie]]:
        """Store ``session`` under a fresh handle and return the cookie that carries it."""
        return self._run(self._create(session))

    def update(
        self, loaded: LoadedSession, session: Session, owner: str | None = None
    ) -> tuple[LoadedSession, list[SetCookie]]:
        """Re-encrypt ``session`` under the same handle, bump the version, extend expiry and clear the lease.

        Returns the same cookie with a fresh ``Max-Age``. A row that is gone (signed out, revoked or expired since
        ``loaded`` was read) is not recreated: :class:`SessionError` (``session_not_found``, terminal) is raised
        instead, so the refreshing request ends signed out (the engine then expires its cookie).
        """
        return self._run(self._update(loaded, session))

    def delete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> list[SetCookie]:
        """Delete the row (found from ``loaded`` or the cookie) so a copied cookie stops working; expire the
        cookie."""
        return self._run(self._delete(loaded, cookies))

    def reload(self, loaded: LoadedSession) -> LoadedSession | None:
        """Read and decrypt the row again; ``None`` when it is gone or expired."""
        return self._run(self._reload(loaded))

    def acquire_lease(self, loaded: LoadedSession, owner: str, ttl: float) -> bool:
        """One atomic ``UPDATE``: granted when nobody, ``owner`` itself or an expired lease holds the row, and,
        when ``loaded`` was read from the table (``loaded.version`` set), only while the row is still that version
        and unexpired, so a grant proves ``loaded`` current."""
        return self._run(self._acquire(loaded, owner, ttl))

    def release_lease(self, loaded: LoadedSession, owner: str) -> None:
        """Clear the lease if ``owner`` holds it; otherwise nothing happens."""
        self._run(self._release(loaded, owner))

    def delete_expired(self, now: float | None = None) -> int:
        """Delete rows whose expiry has passed (run it from cron); returns how many."""
        return self._run(self._delete_expired(now))

    def revoke_user_sessions(self, user_id: str) -> int:
        """Delete every session of ``user_id`` (sign out everywhere); returns how many."""
        return self._run(self._revoke(user_id))

    def create_tables(self) -> None:
        """Create the table and its indexes if they do not exist."""
        self._run(self._metadata.create_all)

    def dispose(self) -> None:
        """Close the connection pools of engines this store created from a URL (yours are left alone)."""
        for engine in self._owned:
            if isinstance(engine, Engine):
                engine.dispose()

    # --- async twins ---

    async def aload(self, cookies: Mapping[str, str]) -> LoadResult:
        """Async :meth:`load`."""
        return await self._arun(self._load(cookies))

    async def acreate(self, session: Session) -> tuple[LoadedSession, list[SetCookie]]:
        """Async :meth:`create`."""
        return await self._arun(self._create(session))

    async def aupdate(
        self, loaded: LoadedSession, session: Session, owner: str | None = None
    ) -> tuple[LoadedSession, list[SetCookie]]:
        """Async :meth:`update`."""
        return await self._arun(self._update(loaded, session))

    async def adelete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> list[SetCookie]:
        """Async :meth:`delete`."""
        return await self._arun(self._delete(loaded, cookies))

    async def areload(self, loaded: LoadedSession) -> LoadedSession | None:
        """Async :meth:`reload`."""
        return await self._arun(self._reload(loaded))

    async def aacquire_lease(self, loaded: LoadedSession, owner: str, ttl: float) -> bool:
        """Async :meth:`acquire_lease`."""
        return await self._arun(self._acquire(loaded, owner, ttl))

    async def arelease_lease(self, loaded: LoadedSession, owner: str) -> None:
        """Async :meth:`release_lease`."""
        await self._arun(self._release(loaded, owner))

    async def adelete_expired(self, now: float | None = None) -> int:
        """Async :meth:`delete_expired`."""
        return await self._arun(self._delete_expired(now))

    async def arevoke_user_sessions(self, user_id: str) -> int:
        """Async :meth:`revoke_user_sessions`."""
        return await self._arun(self._revoke(user_id))

    async def acreate_tables(self) -> None:
        """Async :meth:`create_tables`."""
        await self._arun(self._metadata.create_all)

    async def adispose(self) -> None:
        """Close the pools of every engine this store created from a URL, async ones included."""
        for engine in self._owned:
            if _is_async_engine(engine):
                await engine.dispose()
            else:
                engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m authkit_core.storage.sql --print-ddl DIALECT [--table NAME]``: print the table's DDL."""
    parser = argparse.ArgumentParser(prog="python -m authkit_core.storage.sql", description=main.__doc__)
    parser.add_argument("--print-ddl", metavar="DIALECT", required=True, help="postgresql, mysql, mariadb, sqlite")
    parser.add_argument("--table", default=DEFAULT_TABLE_NAME, help="table name (default %(default)s)")
    args = parser.parse_args(argv)
    sys.stdout.write(ddl(args.print_ddl, args.table))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
