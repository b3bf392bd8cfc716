"""How ``SQLSessionStore``'s statements run: the engines it builds, a statement prepared as a :class:`_Step` (or
an answer found without the database, :class:`_Done`), the sync executor's shortcut straight to the driver
(:class:`_Driver`), and the relaxed durability of lease writes on SQLite (:func:`_relax_sqlite_sync`)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeGuard, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.base import Executable

from ..errors import ConfigurationError, SessionUnavailableError

if TYPE_CHECKING:  # imported lazily: SQLAlchemy's asyncio support needs greenlet, sync use does not
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

# Engines the store builds itself: every operation is one statement, so autocommit gives the same atomicity
# with one round trip instead of three (statement, COMMIT, the pool's ROLLBACK). Recycle connections before
# MySQL's and most proxies' idle timeouts.
_OWN_ENGINE_OPTIONS: dict[str, Any] = {
    "isolation_level": "AUTOCOMMIT",
    "skip_autocommit_rollback": True,
    "pool_recycle": 1800,
}


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


@dataclass(frozen=True, slots=True)
class _Step(Generic[T]):
    """One statement: ``finish(rowcount, first row)`` turns its result into the operation's answer.

    ``rows``: the statement is a ``SELECT`` (``finish`` gets its first row, or ``None``; the row count is -1);
    otherwise ``finish`` gets the row count and ``None``. ``lease``: the statement only writes a refresh lease,
    which need not survive a crash of the machine holding the database when every holder dies with it (SQLite,
    see :func:`_relax_sqlite_sync`). Call it with a connection to run it through SQLAlchemy's execution layer."""

    statement: Executable
    params: Mapping[str, Any]
    finish: Callable[[int, Sequence[Any] | None], T]
    rows: bool = False
    lease: bool = False

    def __call__(self, conn: Connection) -> T:
        result = conn.execute(self.statement, dict(self.params))
        if self.rows:
            return self.finish(-1, result.first())
        return self.finish(result.rowcount, None)


@dataclass(frozen=True, slots=True)
class _Done(Generic[T]):
    """An answer found without the database (no cookie, a cookie that does not open ...)."""

    value: T


#: What the executors run: a step, an answer, or any function of a connection (``MetaData.create_all``).
_Work = _Step[T] | _Done[T] | Callable[[Connection], T]


def _execute(conn: Connection, work: _Step[T] | Callable[[Connection], T], owned: bool) -> T:
    """Run ``work`` on ``conn`` and commit it, unless the connection is in autocommit mode (the store's own
    engines always are): a COMMIT there does nothing, and costs a round trip with some drivers (PyMySQL)."""
    dbapi = conn.connection.dbapi_connection
    relax = isinstance(work, _Step) and work.lease and _is_pysqlite(conn.dialect)
    with _lease_durability(dbapi, relax, conn.invalidate):
        value = work(conn)
        if not owned and not _autocommit(conn.dialect, dbapi):
            conn.commit()
    return value


class _Driver:
    """The store's hot statements (``load``, the lease, the save) run on a pooled DBAPI connection, compiled once.

    SQLAlchemy's execution layer (a ``Connection``, an execution context, the compiled-cache lookup, a result
    object) costs more Python per statement than the statement itself on a local database, and a refresh runs
    three of them; this runs the statement SQLAlchemy compiled for the engine's dialect directly on the driver's
    cursor. Used only for the stdlib SQLite driver, psycopg and PyMySQL, and only for an engine without event
    listeners, statement logging (``echo``, or the ``sqlalchemy.engine`` logger at INFO) or execution options
    (schema translation ...), which the shortcut would skip: anything else goes through SQLAlchemy as before. Any
    failure discards the connection instead of returning it to the pool.
    """

    DRIVERS = frozenset({"pysqlite", "psycopg", "pymysql"})

    def __init__(self, engine: Engine, owned: bool) -> None:
        self.engine = engine
        self.owned = owned
        self.sqlite = _is_pysqlite(engine.dialect)
        self._compiled: dict[int, tuple[str, tuple[str, ...] | None, Any]] = {}

    @classmethod
    def fits(cls, engine: Engine) -> bool:
        """Whether ``engine`` can take the shortcut now (listeners, logging and options can come at any time)."""
        logger = getattr(engine, "logger", None)
        return (
            engine.dialect.driver in cls.DRIVERS
            and not getattr(engine, "_has_events", True)
            and not engine.echo
            and logger is not None
            and not logger.isEnabledFor(logging.INFO)  # SQLAlchemy logs statements at INFO
            and not engine.get_execution_options()
        )

    def _prepare(self, statement: Executable) -> tuple[str, tuple[str, ...] | None, Any]:
        found = self._compiled.get(id(statement))
        if found is None:
            compiled = statement.compile(dialect=self.engine.dialect)  # type: ignore[attr-defined]
            order = tuple(compiled.positiontup) if compiled.positional else None
            found = self._compiled[id(statement)] = (compiled.string, order, compiled)
        return found

    def run(self, step: _Step[T]) -> T:
        sql, order, compiled = self._prepare(step.statement)
        params = compiled.construct_params(dict(step.params))
        parameters = params if order is None else tuple(params[name] for name in order)
        raw = self.engine.raw_connection()
        try:
            dbapi = raw.dbapi_connection
            with _lease_durability(dbapi, step.lease and self.sqlite, raw.invalidate):
                cursor = raw.cursor()
                try:
                    cursor.execute(sql, parameters)
                    row = cursor.fetchone() if step.rows else None
                    count = -1 if step.rows else int(cursor.rowcount)
                finally:
                    cursor.close()
                if not self.owned and not _autocommit(self.engine.dialect, dbapi):
                    raw.commit()
        except BaseException:
            if raw.dbapi_connection is not None:  # not already discarded by _lease_durability
                raw.invalidate()  # a failed or interrupted statement: never pool a connection in an unknown state
            raise
        finally:
            raw.close()
        return step.finish(count, row)


def _driver_errors(engine: Engine) -> tuple[type[BaseException], ...]:
    """The DBAPI's own error class, which the shortcut (:class:`_Driver`) lets through unwrapped."""
    dbapi = getattr(engine.dialect, "loaded_dbapi", None)
    error = getattr(dbapi, "Error", None)
    return (error,) if isinstance(error, type) and issubclass(error, BaseException) else ()


def _is_pysqlite(dialect: Any) -> bool:
    return bool(dialect.name == "sqlite" and dialect.driver == "pysqlite")


def _autocommit(dialect: Any, dbapi: Any) -> bool:
    """Whether the driver connection is in autocommit mode, asked without a round trip (``False`` if unknown)."""
    detect = getattr(dialect, "detect_autocommit_setting", None)  # SQLAlchemy >= 2.0.43
    if detect is None or dbapi is None:
        return False
    try:
        return bool(detect(dbapi))
    except (NotImplementedError, AttributeError):
        return False


@contextlib.contextmanager
def _lease_durability(dbapi: Any, relax: bool, invalidate: Callable[[], object]) -> Iterator[None]:
    """Around one statement: with ``relax`` (a lease write on SQLite), let it commit without waiting for the disk
    (:func:`_relax_sqlite_sync`), then restore the connection's setting whatever happened; a connection whose
    setting cannot be restored is discarded (``invalidate``), never pooled."""
    level = _relax_sqlite_sync(dbapi) if relax else None
    try:
        yield
    finally:
        if level is not None and not _restore_sqlite_sync(dbapi, level):
            invalidate()


def _relax_sqlite_sync(dbapi: Any) -> int | None:
    """Before a lease write on SQLite in WAL mode: commit it without waiting for the disk (``synchronous=NORMAL``).

    WAL needs shared memory, so every process sharing a SQLite database runs on the machine that holds the file.
    A lease write is visible to all of them at once and survives any of them being killed; only a power cut or
    an OS crash can lose it, and that ends every process that could hold it, which makes the lease moot. Writes
    of tokens (``create``, ``update``, ``delete``) keep the connection's own setting (SQLite's default ``FULL``
    waits for the disk). Only outside a transaction and in WAL mode; returns the setting to restore, or ``None``
    when nothing was changed."""
    try:
        if dbapi is None or getattr(dbapi, "in_transaction", True):
            return None
        cursor = dbapi.cursor()
        try:
            cursor.execute("PRAGMA journal_mode")
            mode = cursor.fetchone()
            cursor.execute("PRAGMA synchronous")
            level = cursor.fetchone()
            if not mode or str(mode[0]).lower() != "wal" or not level or int(level[0]) <= 1:
                return None
            cursor.execute("PRAGMA synchronous=1")
            return int(level[0])
        finally:
            cursor.close()
    except Exception:  # a pragma that fails leaves the write as durable as the connection makes it
        return None


def _restore_sqlite_sync(dbapi: Any, level: int) -> bool:
    """Undo :func:`_relax_sqlite_sync`; ``False`` when that failed (the caller discards the connection)."""
    try:
        cursor = dbapi.cursor()
        try:
            cursor.execute(f"PRAGMA synchronous={int(level)}")
        finally:
            cursor.close()
    except Exception:
        return False
    return True


def _rowcount(count: int, _row: Sequence[Any] | None) -> int:
    return count


def _granted(count: int, _row: Sequence[Any] | None) -> bool:
    return count == 1


def _nothing(_count: int, _row: Sequence[Any] | None) -> None:
    return None
