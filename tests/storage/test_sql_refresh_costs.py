"""What a refresh costs the SQL store, and the guarantees kept while cutting it.

* ``load``/``reload`` give the row's version, and a lease asked with that version is granted only while the row is
  unchanged: a granted lease proves the session current, so the engine's refresh is ``load``, lease, save (three
  statements, no re-read), and a refresh that lost the race reuses the winner's session without a grant;
* the hot statements run on the driver's cursor (no SQLAlchemy execution layer) only for engines without event
  listeners; database failures there are still a typed, transient ``SessionUnavailableError``;
* SQLite lease writes skip the wait for the disk (``synchronous=NORMAL`` for that one statement), token writes do
  not, and an app's own ``synchronous`` setting is left as it was;
* a refresh re-sends the handle's cookie value it already has instead of sealing the handle again.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text, update

from authkit_core import AuthKitConfig, SessionUnavailableError, UserInfo
from authkit_core.engine import AuthKit, AuthResult
from authkit_core.models import AuthenticationResponse, NoUserInfo
from authkit_core.storage.base import LoadedSession
from authkit_core.storage.handles import open_handle, seal_handle
from authkit_core.storage.sql import SQLSessionStore
from authkit_core.storage.sql_exec import _Driver
from conftest import require_mariadb, require_postgres

from .test_sql_store import CONFIG, jar, make_session

REFRESH = "refresh_token"


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sessions.db'}"
    return require_postgres() if request.param == "postgresql" else require_mariadb()


@pytest.fixture
def store(url: str) -> Iterator[SQLSessionStore]:
    st = SQLSessionStore(url, table_name=f"authkit_test_{secrets.token_hex(5)}", create_tables=True)
    st.bind(CONFIG)
    yield st
    raw = create_engine(url)
    st.table.drop(raw, checkfirst=True)
    raw.dispose()
    st.dispose()


def test_load_and_reload_carry_the_rows_version(store: SQLSessionStore) -> None:
    created, cookies = store.create(make_session())
    assert created.version is None  # not read from the table
    loaded = store.load(jar(cookies)).loaded
    assert loaded is not None and loaded.version == 1
    saved, _ = store.update(loaded, make_session(), None)
    assert saved.version is None
    again = store.reload(loaded)
    assert again is not None and again.version == 2


def test_a_lease_asked_with_a_stale_version_is_refused(store: SQLSessionStore) -> None:
    _, cookies = store.create(make_session())
    read = store.load(jar(cookies)).loaded
    assert read is not None
    store.update(read, make_session(), None)  # another process refreshed after our read
    assert store.acquire_lease(read, "owner-a", 30) is False  # free, but our copy is stale
    current = store.reload(read)
    assert current is not None
    assert store.acquire_lease(current, "owner-a", 30) is True
    assert store.acquire_lease(current, "owner-b", 30) is False  # the lease itself still excludes others
    store.release_lease(current, "owner-a")
    unversioned = LoadedSession(current.session, key=current.key, ref=current.ref)
    assert store.acquire_lease(unversioned, "owner-b", 30) is True  # no version: the lease alone decides


def test_a_lease_on_an_expired_row_read_with_its_version_is_refused(store: SQLSessionStore, url: str) -> None:
    _, cookies = store.create(make_session())
    read = store.load(jar(cookies)).loaded
    assert read is not None
    raw = create_engine(url)
    with raw.begin() as conn:
        conn.execute(update(store.table).where(store.table.c.id == read.key).values(expires_at=time.time() - 1))
    raw.dispose()
    assert store.acquire_lease(read, "owner-a", 30) is False
    assert store.reload(read) is None


def test_the_driver_shortcut_only_without_listeners(url: str) -> None:
    engine = create_engine(url)
    try:
        assert _Driver.fits(engine)
        seen: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
        assert not _Driver.fits(engine)  # listeners (tracing, metrics) see every statement, as before
        store = SQLSessionStore(engine, table_name=f"authkit_test_{secrets.token_hex(5)}", create_tables=True)
        store.bind(CONFIG)
        try:
            _, cookies = store.create(make_session())
            assert store.load(jar(cookies)).loaded is not None
            assert any(s.lstrip().upper().startswith("SELECT") for s in seen)
        finally:
            store.table.drop(engine, checkfirst=True)
        assert not _Driver.fits(create_engine(url).execution_options(schema_translate_map={None: "x"}))
        assert not _Driver.fits(create_engine(url, echo=True))
        sql_logger = logging.getLogger("sqlalchemy.engine.Engine")
        level = sql_logger.level
        sql_logger.setLevel(logging.INFO)
        try:
            assert not _Driver.fits(create_engine(url))  # an app that logs SQL sees these statements too
        finally:
            sql_logger.setLevel(level)
    finally:
        engine.dispose()


def test_connections_killed_under_the_driver_are_a_transient_error_then_replaced() -> None:
    url = require_postgres()
    store = SQLSessionStore(url, table_name=f"authkit_test_{secrets.token_hex(5)}", create_tables=True)
    store.bind(CONFIG)
    raw = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        loaded, cookies = store.create(make_session())
        assert store.load(jar(cookies)).loaded is not None
        engine = store._engine
        assert engine is not None and engine.pool.checkedin() == 1  # the one pooled connection the store uses
        with engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with raw.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(SessionUnavailableError) as info:
            store.load(jar(cookies))
        assert info.value.is_transient and info.value.code == "storage_unavailable"
        assert store.load(jar(cookies)).loaded is not None  # the dead connection was discarded
        assert store.acquire_lease(loaded, "owner-a", 30) is True
    finally:
        store.table.drop(raw, checkfirst=True)
        raw.dispose()
        store.dispose()


# --- SQLite: which writes wait for the disk ------------------------------------------------------------------------


def _traced(engine: Engine, statements: list[str]) -> None:
    def on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    event.listen(engine, "connect", on_connect)  # a pool event: the driver shortcut stays on


def test_sqlite_lease_writes_skip_the_disk_wait_and_token_writes_do_not(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'sessions.db'}", isolation_level="AUTOCOMMIT")
    statements: list[str] = []
    _traced(engine, statements)
    store = SQLSessionStore(engine, create_tables=True)
    store.bind(CONFIG)
    assert _Driver.fits(engine)
    _, cookies = store.create(make_session())
    loaded = store.load(jar(cookies)).loaded
    assert loaded is not None
    statements.clear()
    assert store.acquire_lease(loaded, "owner-a", 30)
    lease = [s for s in statements if s.strip().upper() not in ("PRAGMA JOURNAL_MODE", "PRAGMA SYNCHRONOUS")]
    assert [s.split()[0].upper() for s in lease] == ["PRAGMA", "UPDATE", "PRAGMA"]
    assert lease[0].replace(" ", "").lower() == "pragmasynchronous=1"
    assert lease[2].replace(" ", "").lower() == "pragmasynchronous=2"
    statements.clear()
    store.update(loaded, make_session(), "owner-a")
    assert [s.split()[0].upper() for s in statements] == ["UPDATE"]  # the tokens' write waits for the disk
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    engine.dispose()


def test_sqlite_an_apps_own_synchronous_setting_is_left_alone(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'sessions.db'}", isolation_level="AUTOCOMMIT")

    def normal(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    event.listen(engine, "connect", normal)
    statements: list[str] = []
    _traced(engine, statements)
    store = SQLSessionStore(engine, create_tables=True)
    store.bind(CONFIG)
    _, cookies = store.create(make_session())
    loaded = store.load(jar(cookies)).loaded
    assert loaded is not None
    statements.clear()
    assert store.acquire_lease(loaded, "owner-a", 30)
    assert not any(s.replace(" ", "").lower().startswith("pragmasynchronous=") for s in statements)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    engine.dispose()


# --- the engine's refresh ----------------------------------------------------------------------------------------


def _signed_in(kit: AuthKit, emulator: Any) -> dict[str, str]:
    result = AuthResult(NoUserInfo())
    kit.save_session(result, AuthenticationResponse.from_api(emulator.issue_session("user_alice")), {})
    return jar(result.cookies)


def test_a_refresh_is_three_statements(tmp_path: Path, workos_emulator: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'sessions.db'}", isolation_level="AUTOCOMMIT")
    statements: list[str] = []
    _traced(engine, statements)
    kit = AuthKit(workos_emulator.config(refresh_buffer_seconds=10**8), store=SQLSessionStore(engine))
    try:
        assert isinstance(kit.store, SQLSessionStore)
        kit.store.create_tables()
        cookies = _signed_in(kit, workos_emulator)
        statements.clear()
        result = kit.authenticate(cookies)
        assert result.refreshed and isinstance(result.user_info, UserInfo) and result.error is None
        assert workos_emulator.grant_count(REFRESH) == 1
        sql = [s.split()[0].upper() for s in statements if not s.upper().startswith("PRAGMA")]
        assert sql == ["SELECT", "UPDATE", "UPDATE"]  # load, lease (version-checked), save (lease cleared)
        assert [c.value for c in result.cookies] == [cookies[kit.config.cookie_name]]  # same handle cookie
    finally:
        kit.close()
        engine.dispose()


class _RacedStore(SQLSessionStore):
    """Another process finishes a refresh of the session between this request's load and its lease."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.winner: LoadedSession | None = None
        self.leases_asked = 0

    def acquire_lease(self, loaded: LoadedSession, owner: str, ttl: float) -> bool:
        self.leases_asked += 1
        if self.winner is None:
            refreshed = replace(loaded.session, refresh_token="rt_" + secrets.token_urlsafe(24))
            self.winner, _ = self.update(loaded, refreshed, None)
        return super().acquire_lease(loaded, owner, ttl)


def test_a_refresh_that_lost_the_race_uses_the_winners_session_without_a_grant(
    tmp_path: Path, workos_emulator: Any
) -> None:
    store = _RacedStore(f"sqlite:///{tmp_path / 'sessions.db'}", create_tables=True)
    kit = AuthKit(workos_emulator.config(refresh_buffer_seconds=10**8), store=store)
    try:
        cookies = _signed_in(kit, workos_emulator)
        result = kit.authenticate(cookies)
        assert store.winner is not None and store.leases_asked == 1
        assert isinstance(result.user_info, UserInfo) and result.error is None
        assert result.loaded is not None
        assert result.loaded.session.refresh_token == store.winner.session.refresh_token
        assert workos_emulator.grant_count(REFRESH) == 0
    finally:
        kit.close()
        store.dispose()


# --- handle cookies ------------------------------------------------------------------------------------------------


def test_a_handle_is_sealed_once_per_password_set() -> None:
    handle = secrets.token_urlsafe(32)
    passwords = dict(CONFIG.cookie_passwords)
    first = seal_handle(handle, passwords)
    assert seal_handle(handle, passwords) == first
    assert open_handle(first, passwords) == handle
    rotated = {"1": passwords[max(passwords, key=int)], "2": "a-brand-new-cookie-password-0123456789abcdef"}
    moved = seal_handle(handle, rotated)
    assert moved != first and moved.split("*")[1] == "2"  # a rotation moves the cookie to the new password
    assert open_handle(moved, rotated) == handle


def test_an_opened_cookie_sealed_with_an_older_password_is_not_sent_again() -> None:
    from authkit_core.iron import seal

    handle = secrets.token_urlsafe(32)
    old_password = "the-old-cookie-password-0123456789abcdefgh"
    passwords = {"1": old_password, "2": "the-new-cookie-password-0123456789abcdefgh"}
    old_value = seal({"h": handle}, {"1": old_password})
    assert open_handle(old_value, passwords) == handle
    assert seal_handle(handle, passwords).split("*")[1] == "2"


def test_a_refresh_resends_the_browsers_handle_cookie(store: SQLSessionStore) -> None:
    config: AuthKitConfig = CONFIG
    _, cookies = store.create(make_session())
    loaded = store.load(jar(cookies)).loaded
    assert loaded is not None
    _, out = store.update(loaded, make_session(), None)
    assert out[0].value == cookies[0].value  # the browser's value, with a fresh Max-Age
    assert out[0].max_age == config.cookie_max_age


def test_the_driver_shortcut_can_be_turned_off(url: str) -> None:
    engine = create_engine(url)
    try:
        for shortcut in (True, False):
            store = SQLSessionStore(
                engine, table_name=f"authkit_test_{secrets.token_hex(5)}", create_tables=True, driver_shortcut=shortcut
            )
            store.bind(CONFIG)
            try:
                _, cookies = store.create(make_session())
                assert store.load(jar(cookies)).loaded is not None
                assert (store._driver is not None) is shortcut
            finally:
                store.table.drop(engine, checkfirst=True)
    finally:
        engine.dispose()
