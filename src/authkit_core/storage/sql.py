"""``SQLSessionStore``: sessions in a SQL table (SQLite, PostgreSQL, MariaDB/MySQL) through SQLAlchemy Core.

The browser's cookie holds only a sealed random *handle*; the table is keyed by the handle's SHA-256 and keeps
the session encrypted with AES-256-GCM under a key derived from the handle, so neither the cookie alone nor the
table alone gives away a refresh token. Leases for coordinated refreshes are one atomic ``UPDATE`` each.

Every SQL statement is built once per store (:class:`_Statements`). An operation is prepared as a
:class:`_Step` (statement, parameters and what to make of the result) by shared code, then run by one of two thin
executors: a sync one on an :class:`~sqlalchemy.engine.Engine`, and an async one on an
:class:`~sqlalchemy.ext.asyncio.AsyncEngine` (under asyncio) or, failing that, the sync one in a worker thread.

See ``docs/storage-sql.md``; ``python -m authkit_core.storage.sql --print-ddl postgresql`` prints the DDL.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeGuard, TypeVar

import anyio.to_thread
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import (
    Column,
    Double,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    create_mock_engine,
    delete,
    event,
    insert,
    make_url,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL, Connection, CursorResult, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import BindParameter

from ..config import AuthKitConfig
from ..cookies import SetCookie, expired_cookie, session_cookie
from ..errors import (
    ConfigurationError,
    InvalidResponseError,
    SealError,
    SessionError,
    SessionUnavailableError,
    TokenError,
)
from ..models import Session
from ..tokens import get_token_claims
from .base import LoadedSession, LoadResult
from .handles import handle_id, new_handle, open_handle, seal_handle

if TYPE_CHECKING:  # imported lazily: SQLAlchemy's asyncio support needs greenlet, sync use does not
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["DEFAULT_TABLE_NAME", "SQLSessionStore", "ddl", "session_table"]

#: The table name used unless ``table_name=`` says otherwise.
DEFAULT_TABLE_NAME = "authkit_sessions"

_HKDF_INFO = b"authkit-session sql v1"
_FORMAT = b"\x01"  # first byte of ``data``: the encryption format, so it can change later
_NONCE_BYTES = 12
_OWNER_MAX = 64
# Engines the store builds itself: every operation is one statement, so autocommit gives the same atomicity
# with one round trip instead of three (statement, COMMIT, the pool's ROLLBACK). Recycle connections before
# MySQL's and most proxies' idle timeouts.
_OWN_ENGINE_OPTIONS: dict[str, Any] = {
    "isolation_level": "AUTOCOMMIT",
    "skip_autocommit_rollback": True,
    "pool_recycle": 1800,
}

# MySQL's BLOB stops at 64 KiB; MEDIUMBLOB leaves room for large user metadata.
_BLOB = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")

T = TypeVar("T")


def session_table(metadata: MetaData, name: str = DEFAULT_TABLE_NAME) -> Table:
    """Define the sessions table on ``metadata`` (for Alembic autogenerate or your own ``create_all``)."""
    return Table(
        name,
        metadata,
        Column("id", String(64), primary_key=True),
        Column("user_id", String(255), nullable=False, index=True),
        Column("session_id", String(255), nullable=True),
        Column("data", _BLOB, nullable=False),
        Column("created_at", Double(), nullable=False),
        Column("updated_at", Double(), nullable=False),
        Column("expires_at", Double(), nullable=False, index=True),
        Column("version", Integer(), nullable=False),
        Column("lease_owner", String(_OWNER_MAX), nullable=True),
        Column("lease_until", Double(), nullable=True),
    )


def ddl(dialect: str, table_name: str = DEFAULT_TABLE_NAME) -> str:
    """The ``CREATE TABLE`` and ``CREATE INDEX`` statements for ``dialect`` (``postgresql``, ``mysql``, ...)."""
    metadata = MetaData()
    session_table(metadata, table_name)
    statements: list[str] = []

    def collect(sql: Any, *args: Any, **kwargs: Any) -> None:
        statements.append(str(sql.compile(dialect=engine.dialect)).strip() + ";")

    engine = create_mock_engine(make_url(f"{dialect}://"), collect)
    metadata.create_all(engine, checkfirst=False)
    return "\n\n".join(statements) + "\n"


# --- secrets: handle -> row id, key; payload encryption -------------------------------------------------------


def _aead(handle: str) -> AESGCM:
    key = HKDF(algorithm=SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(handle.encode())
    return AESGCM(key)


def _encrypt(handle: str, row_id: str, session: Session) -> bytes:
    plaintext = json.dumps(session.to_json(), separators=(",", ":")).encode()
    nonce = os.urandom(_NONCE_BYTES)
    return _FORMAT + nonce + _aead(handle).encrypt(nonce, plaintext, row_id.encode())


def _decrypt(handle: str, row_id: str, data: bytes) -> Session | None:
    data = bytes(data)
    if data[:1] != _FORMAT or len(data) < 1 + _NONCE_BYTES + 16:
        return None
    nonce, ciphertext = data[1 : 1 + _NONCE_BYTES], data[1 + _NONCE_BYTES :]
    try:
        plaintext = _aead(handle).decrypt(nonce, ciphertext, row_id.encode())
        return Session.from_json(json.loads(plaintext))
    except (InvalidTag, ValueError, RecursionError, InvalidResponseError):
        return None


def _session_id(session: Session) -> str | None:
    try:
        sid = get_token_claims(session.access_token).get("sid")
    except TokenError:
        return None
    return sid[:255] if isinstance(sid, str) else None


def _owner(owner: str) -> str:
    """Owners longer than the column are stored as their SHA-256 (still one value per owner)."""
    return owner if len(owner) <= _OWNER_MAX else hashlib.sha256(owner.encode()).hexdigest()


def _storage_error(exc: BaseException) -> SessionUnavailableError:
    """A transient :class:`SessionError` naming only the error's type (driver messages may quote data)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return SessionUnavailableError(f"the session database failed ({type(cause).__name__}); check that it is reachable")


def _is_async_engine(value: object) -> TypeGuard[AsyncEngine]:
    # No AsyncEngine can exist before its module was imported, so sync-only apps never import it (nor greenlet).
    if "sqlalchemy.ext.asyncio" not in sys.modules:
        return False
    from sqlalchemy.ext.asyncio import AsyncEngine

    return isinstance(value, AsyncEngine)


def _create_async_engine(url: URL) -> AsyncEngine:
    try:
        from sqlalchemy.ext.asyncio import create_async_engine
    except ImportError:
        raise ConfigurationError(
            f"the async driver {url.drivername!r} needs SQLAlchemy's asyncio support: "
            "pip install 'sqlalchemy[asyncio]' (greenlet)"
        ) from None
    return create_async_engine(url, **_OWN_ENGINE_OPTIONS)


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching a fresh file to WAL needs a write lock, and another process may hold it
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def _prepare_engine(engine: Engine) -> None:
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_pragmas):
        event.listen(engine, "connect", _sqlite_pragmas)


# --- statements and steps ---------------------------------------------------------------------------------------


class _Statements:
    """Every statement the store runs, built once from the table with named bound parameters."""

    def __init__(self, t: Table) -> None:
        c = t.c
        owner = bindparam("owner", type_=String())
        now: BindParameter[float] = bindparam("now", type_=Double())
        self.select = select(c.data, c.expires_at).where(c.id == bindparam("row_id"))
        self.insert = insert(t)
        self.update = (
            update(t)
            .where(c.id == bindparam("row_id"))
            .values(
                data=bindparam("new_data"),
                user_id=bindparam("new_user_id"),
                session_id=bindparam("new_session_id"),
                updated_at=now,
                expires_at=bindparam("new_expires_at"),
                version=c.version + 1,
                lease_owner=None,
                lease_until=None,
            )
        )
        self.delete = delete(t).where(c.id == bindparam("row_id"))
        self.acquire = (
            update(t)
            .where(c.id == bindparam("row_id"))
            .where(or_(c.lease_owner.is_(None), c.lease_until < now, c.lease_owner == owner))
            .values(lease_owner=owner, lease_until=bindparam("until"))
        )
        self.release = (
            update(t)
            .where(c.id == bindparam("row_id"))
            .where(c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
        self.delete_expired = delete(t).where(c.expires_at < now)
        self.delete_user = delete(t).where(c.user_id == bindparam("user"))


@dataclass(frozen=True, slots=True)
class _Step(Generic[T]):
    """One statement: ``finish`` turns its result into the operation's answer. Call it with a connection."""

    statement: Executable
    params: Mapping[str, Any]
    finish: Callable[[CursorResult[Any]], T]

    def __call__(self, conn: Connection) -> T:
        return self.finish(conn.execute(self.statement, dict(self.params)))


@dataclass(frozen=True, slots=True)
class _Done(Generic[T]):
    """An answer found without the database (no cookie, a cookie that does not open ...)."""

    value: T


#: What the executors run: a step, an answer, or any function of a connection (``MetaData.create_all``).
_Work = _Step[T] | _Done[T] | Callable[[Connection], T]


def _rowcount(result: CursorResult[Any]) -> int:
    return int(result.rowcount)


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
    """

    #: Leases live in the database, so several processes coordinate refreshes through it.
    shared = True
    #: The browser holds only a handle: refresh grants may use a replayable ``Idempotency-Key`` (see the engine).
    keeps_tokens_server_side = True

    def __init__(
        self,
        url_or_engine: str | Engine | AsyncEngine,
        *,
        table_name: str = DEFAULT_TABLE_NAME,
        async_engine: AsyncEngine | None = None,
        create_tables: bool = False,
    ) -> None:
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
        try:
            with engine.connect() as conn:
                value = work(conn)
                if engine not in self._owned:  # not in autocommit mode
                    conn.commit()
                return value
        except (SQLAlchemyError, OSError) as exc:
            raise _storage_error(exc) from exc

    async def _arun(self, work: _Work[T]) -> T:
        if isinstance(work, _Done):
            return work.value
        if self._aengine is None or not _on_asyncio():
            return await anyio.to_thread.run_sync(self._run, work)
        try:
            async with self._aengine.connect() as conn:
                value = await conn.run_sync(work)
                if self._aengine not in self._owned:
                    await conn.commit()
                return value
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

        def finish(result: CursorResult[Any]) -> LoadedSession | str:
            row = result.first()
            if row is None:
                return "not_found"
            if row.expires_at <= now:
                return "expired"
            session = _decrypt(handle, row_id, row.data)
            return "undecryptable" if session is None else LoadedSession(session, key=row_id, ref=handle)

        return _Step(self._sql.select, {"row_id": row_id}, finish)

    def _load(self, cookies: Mapping[str, str]) -> _Work[LoadResult]:
        handle = self._handle_from_cookies(cookies)
        if handle is None:
            return _Done(LoadResult(None))
        if not handle:
            return _Done(LoadResult(None, (self._expired(),), reason="invalid_seal"))
        read = self._read(handle_id(handle), handle)

        def finish(result: CursorResult[Any]) -> LoadResult:
            found = read.finish(result)
            if isinstance(found, str):
                return LoadResult(None, (self._expired(),), reason=found)
            return LoadResult(found)

        return _Step(read.statement, read.params, finish)

    def _write_values(self, handle: str, row_id: str, session: Session, now: float) -> dict[str, Any]:
        return {
            "data": _encrypt(handle, row_id, session),
            "user_id": session.user.id[:255],
            "session_id": _session_id(session),
            "expires_at": now + self._bound().cookie_max_age,
        }

    def _create(self, session: Session) -> _Step[tuple[LoadedSession, list[SetCookie]]]:
        handle = new_handle()
        row_id = handle_id(handle)
        now = time.time()
        values = {"id": row_id, "created_at": now, "updated_at": now, "version": 1}
        values.update(self._write_values(handle, row_id, session, now))
        answer = (LoadedSession(session, key=row_id, ref=handle), [self._cookie(handle)])
        return _Step(self._sql.insert, values, lambda _result: answer)

    def _update(self, loaded: LoadedSession, session: Session) -> _Step[tuple[LoadedSession, list[SetCookie]]]:
        handle = loaded.ref
        if not isinstance(handle, str) or handle_id(handle) != loaded.key:
            raise SessionError("this LoadedSession does not come from a SQLSessionStore")
        now = time.time()
        values = {f"new_{k}": v for k, v in self._write_values(handle, loaded.key, session, now).items()}
        values.update(row_id=loaded.key, now=now)
        new = LoadedSession(session, key=loaded.key, ref=handle)

        def finish(result: CursorResult[Any]) -> tuple[LoadedSession, list[SetCookie]]:
            # Gone: signed out or revoked meanwhile. Never resurrect it; clear the browser's cookie.
            return new, [self._cookie(handle) if _rowcount(result) else self._expired()]

        return _Step(self._sql.update, values, finish)

    def _delete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> _Work[list[SetCookie]]:
        answer = [self._expired()]
        row_id = loaded.key if loaded is not None else None
        if row_id is None:
            handle = self._handle_from_cookies(cookies)
            row_id = handle_id(handle) if handle else None
        if row_id is None:
            return _Done(answer)
        return _Step(self._sql.delete, {"row_id": row_id}, lambda _result: answer)

    def _reload(self, loaded: LoadedSession) -> _Work[LoadedSession | None]:
        if not isinstance(loaded.ref, str):
            return _Done(None)
        read = self._read(loaded.key, loaded.ref)

        def finish(result: CursorResult[Any]) -> LoadedSession | None:
            found = read.finish(result)
            return None if isinstance(found, str) else found

        return _Step(read.statement, read.params, finish)

    def _acquire(self, loaded: LoadedSession, owner: str, ttl: float) -> _Step[bool]:
        now = time.time()
        params = {"row_id": loaded.key, "owner": _owner(owner), "now": now, "until": now + ttl}
        return _Step(self._sql.acquire, params, lambda result: _rowcount(result) == 1)

    def _release(self, loaded: LoadedSession, owner: str) -> _Step[None]:
        return _Step(self._sql.release, {"row_id": loaded.key, "owner": _owner(owner)}, lambda _result: None)

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

        Returns the same cookie with a fresh ``Max-Age``; if the row is gone (signed out or revoked meanwhile) it
        is not recreated and the cookie is expired instead.
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
        """One atomic ``UPDATE``: granted when nobody, ``owner`` itself or an expired lease holds the row."""
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
