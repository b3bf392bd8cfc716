"""``SQLSessionStore`` against SQLite, PostgreSQL and MariaDB: sync, async through a worker thread (asyncio and
trio), and async on a native async engine (aiosqlite, asyncpg, aiomysql).

Every test gets a fresh table, dropped afterwards. Sessions are built directly with fake token strings.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import multiprocessing
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import Engine, create_engine, make_url, select, update
from sqlalchemy.engine import Row

from authkit_core import AuthKitConfig, ConfigurationError, SessionError, SessionUnavailableError
from authkit_core.cookies import SetCookie
from authkit_core.iron import seal, unseal
from authkit_core.models import Session, User
from authkit_core.storage.base import LoadedSession, LoadResult, SessionStore
from authkit_core.storage.sql import SQLSessionStore, ddl, main
from conftest import require_mariadb, require_postgres

PASSWORD = "correct-horse-battery-staple-0123456789"
CONFIG = AuthKitConfig(
    client_id="client_test",
    api_key="sk_test_key",
    redirect_uri="http://localhost:8000/callback",
    cookie_password=PASSWORD,
)
NAME = CONFIG.cookie_name
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "mysql": "mysql+aiomysql"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fake_jwt(sid: str) -> str:
    """An unsigned token shaped like WorkOS's access token (the store only reads its ``sid``)."""
    header = _b64(json.dumps({"alg": "RS256", "kid": "k1"}).encode())
    payload = _b64(json.dumps({"sid": sid, "sub": "user", "exp": 2_000_000_000}).encode())
    return f"{header}.{payload}.{_b64(b'signature')}"


def make_session(user_id: str = "user_01", sid: str = "session_01") -> Session:
    """A session with unique fake tokens."""
    return Session(
        access_token=fake_jwt(sid),
        refresh_token=f"rt_{secrets.token_urlsafe(24)}",
        user=User(id=user_id, email=f"{user_id}@example.com", first_name="Ada"),
    )


def jar(cookies: Sequence[SetCookie]) -> dict[str, str]:
    """The request cookies a browser would send after ``cookies``."""
    return {c.name: c.value for c in cookies if not c.is_deletion}


def handle_of(cookie_value: str) -> str:
    """The handle sealed in a cookie."""
    opened = unseal(cookie_value, CONFIG.cookie_passwords)
    assert isinstance(opened, dict)
    assert set(opened) == {"h"}
    handle = opened["h"]
    assert isinstance(handle, str)
    return handle


def assert_signed_out(result: LoadResult, reason: str) -> None:
    """Nothing loaded, the reason given, and the session cookie expired."""
    assert result.loaded is None
    assert result.reason == reason
    assert [(c.name, c.value, c.max_age) for c in result.cookies] == [(NAME, "", 0)]


# --- fixtures ----------------------------------------------------------------------------------------------------


def _url(db: str, tmp_path: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{tmp_path / 'sessions.db'}"
    return require_postgres() if db == "postgresql" else require_mariadb()


def _async_url(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername=ASYNC_DRIVERS[parsed.get_backend_name()]).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db(request: pytest.FixtureRequest) -> str:
    """The database under test."""
    return str(request.param)


@pytest.fixture
def url(db: str, tmp_path: Path) -> str:
    """The database's sync SQLAlchemy URL."""
    return _url(db, tmp_path)


@pytest.fixture
def table_name() -> str:
    """A fresh table name for each test."""
    return f"authkit_test_{secrets.token_hex(5)}"


@pytest.fixture
def raw(url: str) -> Iterator[Engine]:
    """A separate engine on the same database, for reading rows as they are stored."""
    engine = create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(url: str, table_name: str, raw: Engine) -> Iterator[SQLSessionStore]:
    """A bound store on a fresh table, dropped afterwards."""
    st = SQLSessionStore(url, table_name=table_name, create_tables=True)
    st.bind(CONFIG)
    yield st
    st.dispose()
    st.table.drop(raw, checkfirst=True)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Async tests run under asyncio and trio."""
    return str(request.param)


def raw_row(raw: Engine, store: SQLSessionStore, row_id: str) -> Row[Any] | None:
    """The stored row, read with another engine."""
    with raw.connect() as conn:
        return conn.execute(select(store.table).where(store.table.c.id == row_id)).first()


# --- sync ----------------------------------------------------------------------------------------------------------


def test_is_a_shared_session_store(store: SQLSessionStore) -> None:
    assert isinstance(store, SessionStore)
    assert store.shared is True


def test_create_then_load_round_trip(store: SQLSessionStore) -> None:
    session = make_session()
    loaded, cookies = store.create(session)
    assert [(c.name, c.max_age, c.http_only) for c in cookies] == [(NAME, CONFIG.cookie_max_age, True)]
    result = store.load(jar(cookies))
    assert result.loaded is not None
    assert result.cookies == ()
    assert result.reason is None
    assert result.loaded.session == session
    assert result.loaded.key == loaded.key == hashlib.sha256(handle_of(cookies[0].value).encode()).hexdigest()
    assert result.loaded.ref == handle_of(cookies[0].value)


def test_no_cookie_is_signed_out_without_cookies(store: SQLSessionStore) -> None:
    assert store.load({}) == LoadResult(None)
    assert store.load({"other": "x", NAME: ""}) == LoadResult(None)


def test_cookie_holds_only_the_sealed_handle(store: SQLSessionStore) -> None:
    session = make_session()
    loaded, cookies = store.create(session)
    value = cookies[0].value
    assert loaded.key not in value
    assert session.refresh_token not in value
    assert session.access_token not in value
    handle = handle_of(value)
    assert handle not in value
    assert len(base64.urlsafe_b64decode(handle + "==")) == 32


def test_row_holds_neither_handle_nor_tokens(store: SQLSessionStore, raw: Engine) -> None:
    session = make_session(sid="session_sid_42")
    loaded, cookies = store.create(session)
    handle = handle_of(cookies[0].value)
    row = raw_row(raw, store, loaded.key)
    assert row is not None
    data = bytes(row.data)
    for secret in (session.refresh_token, session.access_token, handle, "Ada"):
        assert secret.encode() not in data
    text = repr(tuple(row))
    assert handle not in text
    assert session.refresh_token not in text
    assert row.id == hashlib.sha256(handle.encode()).hexdigest()
    assert row.user_id == "user_01"
    assert row.session_id == "session_sid_42"
    assert row.version == 1
    assert row.lease_owner is None
    assert row.lease_until is None
    assert row.expires_at == pytest.approx(time.time() + CONFIG.cookie_max_age, abs=30)


def test_each_create_gets_a_new_handle(store: SQLSessionStore) -> None:
    session = make_session()
    first, first_cookies = store.create(session)
    second, second_cookies = store.create(session)
    assert first.key != second.key
    assert handle_of(first_cookies[0].value) != handle_of(second_cookies[0].value)
    loaded_first = store.load(jar(first_cookies)).loaded
    loaded_second = store.load(jar(second_cookies)).loaded
    assert loaded_first is not None
    assert loaded_second is not None
    assert (loaded_first.key, loaded_second.key) == (first.key, second.key)


@pytest.mark.parametrize(
    "make_value",
    [
        pytest.param(lambda good: "garbage", id="garbage"),
        pytest.param(lambda good: good[:-6] + ("A" if good[-6] != "A" else "B") + good[-5:], id="tampered"),
        pytest.param(lambda good: seal({"h": handle_of(good)}, "z" * 32), id="other-password"),
        pytest.param(lambda good: seal({"x": 1}, PASSWORD), id="wrong-shape"),
        pytest.param(lambda good: seal({"h": 7}, PASSWORD), id="handle-not-a-string"),
    ],
)
def test_bad_cookie_is_invalid_seal(store: SQLSessionStore, make_value: Any) -> None:
    _, cookies = store.create(make_session())
    assert_signed_out(store.load({NAME: make_value(cookies[0].value)}), "invalid_seal")


def test_unknown_handle_is_not_found(store: SQLSessionStore) -> None:
    assert_signed_out(store.load({NAME: seal({"h": secrets.token_urlsafe(32)}, PASSWORD)}), "not_found")


def test_expired_row_is_expired_and_delete_expired_removes_only_it(store: SQLSessionStore, raw: Engine) -> None:
    live, live_cookies = store.create(make_session())
    store.bind(replace(CONFIG, cookie_max_age=0))
    dead, dead_cookies = store.create(make_session())
    store.bind(CONFIG)
    assert_signed_out(store.load({NAME: dead_cookies[0].value}), "expired")
    assert store.reload(dead) is None
    assert store.delete_expired() == 1
    assert raw_row(raw, store, dead.key) is None
    assert store.load(jar(live_cookies)).loaded is not None
    assert store.delete_expired() == 0
    assert store.delete_expired(now=time.time() + CONFIG.cookie_max_age + 60) == 1
    assert raw_row(raw, store, live.key) is None


def test_tampered_row_data_is_undecryptable(store: SQLSessionStore, raw: Engine) -> None:
    loaded, cookies = store.create(make_session())
    other, _ = store.create(make_session())
    row = raw_row(raw, store, other.key)
    assert row is not None
    t = store.table
    with raw.begin() as conn:  # another row's ciphertext moved here: the row id is authenticated data
        conn.execute(update(t).where(t.c.id == loaded.key).values(data=row.data))
    assert_signed_out(store.load(jar(cookies)), "undecryptable")
    with raw.begin() as conn:
        conn.execute(update(t).where(t.c.id == loaded.key).values(data=b"\x01" + b"\x00" * 40))
    assert_signed_out(store.load(jar(cookies)), "undecryptable")
    assert store.reload(loaded) is None


def test_delete_removes_the_row_so_a_copied_cookie_stops_working(store: SQLSessionStore, raw: Engine) -> None:
    loaded, cookies = store.create(make_session())
    copied = dict(jar(cookies))
    out = store.delete(loaded, jar(cookies))
    assert [(c.name, c.value, c.max_age) for c in out] == [(NAME, "", 0)]
    assert raw_row(raw, store, loaded.key) is None
    assert_signed_out(store.load(copied), "not_found")


def test_delete_without_loaded_uses_the_cookie(store: SQLSessionStore, raw: Engine) -> None:
    loaded, cookies = store.create(make_session())
    assert [c.is_deletion for c in store.delete(None, jar(cookies))] == [True]
    assert raw_row(raw, store, loaded.key) is None
    assert [c.is_deletion for c in store.delete(None, {NAME: "garbage"})] == [True]
    assert [c.is_deletion for c in store.delete(None, {})] == [True]


def test_update_keeps_the_handle_and_bumps_the_version(store: SQLSessionStore, raw: Engine) -> None:
    loaded, cookies = store.create(make_session())
    refreshed = make_session(sid="session_02")
    new, out = store.update(loaded, refreshed, None)
    assert (new.key, new.ref, new.session) == (loaded.key, loaded.ref, refreshed)
    assert [(c.name, c.max_age) for c in out] == [(NAME, CONFIG.cookie_max_age)]
    assert handle_of(out[0].value) == handle_of(cookies[0].value)
    result = store.load(jar(cookies))  # the old cookie still works and sees the new tokens
    assert result.loaded is not None
    assert result.loaded.session == refreshed
    row = raw_row(raw, store, loaded.key)
    assert row is not None
    assert row.version == 2
    assert row.session_id == "session_02"
    store.update(new, make_session(), None)
    row = raw_row(raw, store, loaded.key)
    assert row is not None
    assert row.version == 3
    assert row.updated_at >= row.created_at


def test_update_of_a_deleted_session_does_not_resurrect_it(store: SQLSessionStore, raw: Engine) -> None:
    loaded, cookies = store.create(make_session())
    store.delete(loaded, jar(cookies))
    with pytest.raises(SessionError) as raised:
        store.update(loaded, make_session(), "owner-a")
    assert raised.value.code == "session_not_found" and not raised.value.is_transient
    assert raw_row(raw, store, loaded.key) is None


def test_reload_sees_another_writer(store: SQLSessionStore) -> None:
    loaded, cookies = store.create(make_session())
    refreshed = make_session()
    store.update(loaded, refreshed, None)
    again = store.reload(loaded)
    assert again is not None
    assert again.session == refreshed
    assert again.key == loaded.key
    store.delete(loaded, jar(cookies))
    assert store.reload(loaded) is None


def test_leases(store: SQLSessionStore, raw: Engine) -> None:
    loaded, _ = store.create(make_session())
    assert store.acquire_lease(loaded, "owner-a", 30) is True
    assert store.acquire_lease(loaded, "owner-b", 30) is False  # held by someone else
    assert store.acquire_lease(loaded, "owner-a", 30) is True  # the holder re-acquires
    store.release_lease(loaded, "owner-b")  # not the holder: no-op
    row = raw_row(raw, store, loaded.key)
    assert row is not None
    assert row.lease_owner == "owner-a"
    assert row.lease_until > time.time() + 20
    assert store.acquire_lease(loaded, "owner-b", 30) is False
    store.release_lease(loaded, "owner-a")
    assert store.acquire_lease(loaded, "owner-b", 30) is True
    store.release_lease(loaded, "owner-b")
    row = raw_row(raw, store, loaded.key)
    assert row is not None
    assert row.lease_owner is None
    assert row.lease_until is None


def test_expired_lease_can_be_taken_over(store: SQLSessionStore) -> None:
    loaded, _ = store.create(make_session())
    assert store.acquire_lease(loaded, "crashed", 0.05) is True
    assert store.acquire_lease(loaded, "owner-b", 30) is False
    time.sleep(0.1)
    assert store.acquire_lease(loaded, "owner-b", 30) is True
    assert store.acquire_lease(loaded, "crashed", 30) is False


def test_update_releases_the_lease(store: SQLSessionStore, raw: Engine) -> None:
    loaded, _ = store.create(make_session())
    assert store.acquire_lease(loaded, "owner-a", 30)
    new, _ = store.update(loaded, make_session(), "owner-a")
    row = raw_row(raw, store, loaded.key)
    assert row is not None
    assert row.lease_owner is None
    assert row.lease_until is None
    assert store.acquire_lease(new, "owner-b", 30) is True


def test_long_owner_names_work(store: SQLSessionStore) -> None:
    loaded, _ = store.create(make_session())
    long_a, long_b = "a" * 100 + "-1", "a" * 100 + "-2"
    assert store.acquire_lease(loaded, long_a, 30) is True
    assert store.acquire_lease(loaded, long_b, 30) is False
    assert store.acquire_lease(loaded, long_a, 30) is True
    store.release_lease(loaded, long_a)
    assert store.acquire_lease(loaded, long_b, 30) is True


def test_lease_on_a_missing_row_is_refused(store: SQLSessionStore) -> None:
    loaded, cookies = store.create(make_session())
    store.delete(loaded, jar(cookies))
    assert store.acquire_lease(loaded, "owner-a", 30) is False


def test_concurrent_acquire_from_16_threads_has_one_winner(store: SQLSessionStore) -> None:
    loaded, _ = store.create(make_session())
    barrier = threading.Barrier(16)
    results: list[bool] = []
    lock = threading.Lock()

    def contend(i: int) -> None:
        barrier.wait()
        won = store.acquire_lease(loaded, f"thread-{i}", 30)
        with lock:
            results.append(won)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 16
    assert results.count(True) == 1


def test_revoke_user_sessions_removes_only_that_users_rows(store: SQLSessionStore) -> None:
    a1 = store.create(make_session("user_a"))[1]
    a2 = store.create(make_session("user_a"))[1]
    b = store.create(make_session("user_b"))[1]
    assert store.revoke_user_sessions("user_a") == 2
    assert_signed_out(store.load(jar(a1)), "not_found")
    assert_signed_out(store.load(jar(a2)), "not_found")
    assert store.load(jar(b)).loaded is not None
    assert store.revoke_user_sessions("user_a") == 0


def test_a_user_engine_with_transactions_works(url: str, table_name: str, raw: Engine) -> None:
    engine = create_engine(url)  # not the store's own autocommit engine: writes must be committed
    store = SQLSessionStore(engine, table_name=table_name, create_tables=True)
    store.bind(CONFIG)
    try:
        loaded, cookies = store.create(make_session())
        assert raw_row(raw, store, loaded.key) is not None
        assert store.acquire_lease(loaded, "owner-a", 30) is True
        assert store.acquire_lease(loaded, "owner-b", 30) is False
        store.update(loaded, make_session(), "owner-a")
        row = raw_row(raw, store, loaded.key)
        assert row is not None
        assert row.version == 2
        assert row.lease_owner is None
        assert store.load(jar(cookies)).loaded is not None
        store.dispose()  # leaves the caller's engine alone
        assert store.load(jar(cookies)).loaded is not None
    finally:
        store.table.drop(raw, checkfirst=True)
        engine.dispose()


def _down_url(db: str) -> str:
    if db == "sqlite":
        return "sqlite:////nonexistent-authkit-dir/sub/sessions.db"
    if db == "postgresql":
        return "postgresql+psycopg://postgres:s3cr3t-pw@127.0.0.1:1/test"
    return "mysql+pymysql://root:s3cr3t-pw@127.0.0.1:1/test"


@pytest.mark.parametrize("db", ["sqlite", "postgresql", "mariadb"])
def test_database_down_raises_session_error_without_secrets(db: str) -> None:
    store = SQLSessionStore(_down_url(db))
    store.bind(CONFIG)
    cookie = {NAME: seal({"h": secrets.token_urlsafe(32)}, PASSWORD)}
    loaded = LoadedSession(make_session(), key="0" * 64, ref=secrets.token_urlsafe(32))
    calls = [
        lambda: store.load(cookie),
        lambda: store.create(make_session()),
        lambda: store.acquire_lease(loaded, "owner", 30),
        lambda: store.delete_expired(),
        store.create_tables,
    ]
    for call in calls:
        with pytest.raises(SessionError) as info:
            call()
        assert type(info.value) is SessionUnavailableError
        assert info.value.is_transient is True
        assert info.value.code == "storage_unavailable"
        assert "s3cr3t" not in str(info.value)
        assert PASSWORD not in str(info.value)
    # Bad input still needs no database.
    assert store.load({NAME: "garbage"}).reason == "invalid_seal"
    store.dispose()


def test_not_bound_is_a_configuration_error(url: str) -> None:
    store = SQLSessionStore(url)
    with pytest.raises(ConfigurationError):
        store.load({NAME: "x"})
    store.dispose()


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    store = SQLSessionStore(f"sqlite:///{tmp_path / 'wal.db'}", create_tables=True)
    store.bind(CONFIG)
    store.create(make_session())
    with sqlite3.connect(tmp_path / "wal.db") as conn:  # WAL is a property of the file
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    engine = create_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    SQLSessionStore(engine)  # a caller's SQLite engine gets the pragmas too
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()
    store.dispose()


def test_printed_ddl_creates_a_working_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--print-ddl", "postgresql", "--table", "my_sessions"]) == 0
    printed = capsys.readouterr().out
    assert "CREATE TABLE my_sessions" in printed
    assert "BYTEA" in printed
    assert "ix_my_sessions_user_id" in printed
    assert "MEDIUMBLOB" in ddl("mysql")
    assert "DOUBLE" in ddl("mysql")
    path = tmp_path / "ddl.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(ddl("sqlite", "my_sessions"))
    store = SQLSessionStore(f"sqlite:///{path}", table_name="my_sessions")
    store.bind(CONFIG)
    _, cookies = store.create(make_session())
    assert store.load(jar(cookies)).loaded is not None
    store.dispose()


def _acquire_in_process(url: str, table: str, key: str, handle: str, barrier: Any, results: Any) -> None:
    store = SQLSessionStore(url, table_name=table)
    loaded = LoadedSession(make_session(), key=key, ref=handle)
    barrier.wait(30)
    results.put(store.acquire_lease(loaded, f"process-{multiprocessing.current_process().name}", 30))
    store.dispose()


@pytest.mark.parametrize("db", ["postgresql"])
def test_concurrent_acquire_from_4_processes_has_one_winner(store: SQLSessionStore, url: str) -> None:
    loaded, _ = store.create(make_session())
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    results = ctx.Queue()
    args = (url, store.table.name, loaded.key, loaded.ref, barrier, results)
    procs = [ctx.Process(target=_acquire_in_process, args=args, name=f"p{i}") for i in range(4)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert sorted(outcomes) == [False, False, False, True]


# --- async -------------------------------------------------------------------------------------------------------


async def _async_scenario(store: SQLSessionStore) -> None:
    """The protocol through the async methods."""
    session = make_session("user_async")
    loaded, cookies = await store.acreate(session)
    result = await store.aload(jar(cookies))
    assert result.loaded is not None
    assert result.loaded.session == session
    assert (await store.aload({NAME: "garbage"})).reason == "invalid_seal"
    assert await store.aacquire_lease(loaded, "owner-a", 30) is True
    assert await store.aacquire_lease(loaded, "owner-b", 30) is False
    await store.arelease_lease(loaded, "owner-b")
    assert await store.aacquire_lease(loaded, "owner-b", 30) is False
    refreshed = make_session("user_async")
    new, out = await store.aupdate(loaded, refreshed, "owner-a")
    assert handle_of(out[0].value) == loaded.ref
    assert await store.aacquire_lease(new, "owner-b", 30) is True
    await store.arelease_lease(new, "owner-b")
    again = await store.areload(loaded)
    assert again is not None
    assert again.session == refreshed

    results: list[bool] = []

    async def contend(i: int) -> None:
        results.append(await store.aacquire_lease(loaded, f"task-{i}", 30))

    async with anyio.create_task_group() as tg:
        for i in range(16):
            tg.start_soon(contend, i)
    assert results.count(True) == 1

    other = (await store.acreate(make_session("user_other")))[1]
    assert await store.adelete_expired(now=time.time() + CONFIG.cookie_max_age + 60) == 2
    _, cookies = await store.acreate(make_session("user_async"))
    assert await store.arevoke_user_sessions("user_async") == 1
    assert (await store.aload(jar(cookies))).reason == "not_found"
    assert (await store.aload(jar(other))).reason == "not_found"
    loaded, cookies = await store.acreate(make_session())
    assert [c.is_deletion for c in await store.adelete(loaded, jar(cookies))] == [True]
    assert await store.areload(loaded) is None


@pytest.mark.anyio
async def test_async_through_worker_threads(url: str, table_name: str, raw: Engine) -> None:
    engine = create_engine(url)
    threads: set[int] = set()

    def record(*_args: Any) -> None:
        threads.add(threading.get_ident())

    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", record)
    store = SQLSessionStore(engine, table_name=table_name)
    store.bind(CONFIG)
    try:
        await store.acreate_tables()
        await _async_scenario(store)
        assert threads
        assert threading.get_ident() not in threads
    finally:
        store.table.drop(raw, checkfirst=True)
        engine.dispose()


def _aiomysql_cannot_bind_bytes() -> bool:
    converters = importlib.import_module("pymysql.converters")
    return not callable(getattr(converters, "escape_bytes_prefixed", None))


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_on_a_native_async_engine(url: str, table_name: str, raw: Engine) -> None:
    pytest.importorskip("greenlet", reason="SQLAlchemy's asyncio support needs greenlet")
    if make_url(url).get_backend_name() == "mysql" and _aiomysql_cannot_bind_bytes():
        pytest.xfail("aiomysql 0.3.2 cannot bind bytes with PyMySQL >= 1.2.3 (aio-libs/aiomysql#1080)")
    store = SQLSessionStore(_async_url(url), table_name=table_name)
    store.bind(CONFIG)
    try:
        await store.acreate_tables()
        await _async_scenario(store)
        with pytest.raises(ConfigurationError):  # no sync engine for sync calls
            store.load({NAME: seal({"h": secrets.token_urlsafe(32)}, PASSWORD)})
    finally:
        await store.adispose()
        store.table.drop(raw, checkfirst=True)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_native_async_database_down_raises_session_error(db: str) -> None:
    pytest.importorskip("greenlet", reason="SQLAlchemy's asyncio support needs greenlet")
    store = SQLSessionStore(_async_url(_down_url(db)))
    store.bind(CONFIG)
    try:
        for call in (
            lambda: store.aload({NAME: seal({"h": secrets.token_urlsafe(32)}, PASSWORD)}),
            store.acreate_tables,
        ):
            with pytest.raises(SessionError) as info:
                await call()
            assert type(info.value) is SessionUnavailableError
            assert info.value.is_transient
            assert "s3cr3t" not in str(info.value)
    finally:
        await store.adispose()


@pytest.mark.anyio
async def test_async_database_down_through_threads(anyio_backend: str) -> None:
    store = SQLSessionStore(_down_url("postgresql"))
    store.bind(CONFIG)
    with pytest.raises(SessionError) as info:
        await store.aload({NAME: seal({"h": secrets.token_urlsafe(32)}, PASSWORD)})
    assert "s3cr3t" not in str(info.value)
    store.dispose()


def test_async_only_store_refuses_create_tables_at_construction() -> None:
    pytest.importorskip("greenlet", reason="SQLAlchemy's asyncio support needs greenlet")
    with pytest.raises(ConfigurationError, match="acreate_tables"):
        SQLSessionStore("sqlite+aiosqlite:///:memory:", create_tables=True)
