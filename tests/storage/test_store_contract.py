"""The store contract: one behavioural suite that every :class:`~authkit_core.storage.base.SessionStore` passes.

**A new store joins by adding one entry to** :data:`STORES` (a name and a factory yielding a :class:`Subject`).
Every test then runs against it, on the sync methods and on the async (``a``-prefixed) ones, under asyncio and
under trio:

* every store: create / load round trip, update, a cookie that does not open, sign-out expiring the cookie, and
  ``acquire_lease`` / ``release_lease`` answering (an in-process store may always grant);
* a server-side store (:class:`~authkit_core.storage.base.ServerSideSessionStore`, ``keeps_tokens_server_side``):
  delete (by the loaded session and by the cookie alone), reload after delete is ``None``,
  ``revoke_user_sessions`` (only that user's sessions), and **no resurrection**: load, acquire the lease, then
  delete, revoke or expire the session, then ``update`` must raise ``SessionError("session_not_found")`` and leave
  the session unloadable, with the cookie of a copy still signed out;
* a shared store (``shared = True``): leases exclude other owners, the holder re-acquires, only the holder
  releases, a lease expires after its ``ttl``, ``update`` releases it, a gone session cannot be leased, one winner
  among 16 threads;
* a store with ``lease_checks_version``: a lease on a stale read is refused, the reloaded version is granted.

A cookie-only store (``CookieSessionStore``) runs the first group; it cannot revoke, which is asserted too (a
copied cookie still opens after sign-out), so the documentation's "cannot revoke a copied cookie" stays true.

PostgreSQL, MariaDB and Redis are skipped locally when not running and fail in CI (``require_postgres``,
``require_mariadb``, ``require_redis``). Each SQL subject uses a table of its own, dropped afterwards; each Redis
subject a key prefix of its own, whose keys are deleted afterwards.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
import sqlalchemy
import sqlalchemy.pool
from anyio.from_thread import BlockingPortal, start_blocking_portal

from authkit_core import AuthKitConfig, SessionError
from authkit_core.cookies import SetCookie
from authkit_core.models import Session, User
from authkit_core.storage.base import LoadedSession, LoadResult, ServerSideSessionStore, SessionStore
from authkit_core.storage.cookie import CookieSessionStore
from authkit_core.storage.memory import MemorySessionStore
from conftest import require_mariadb, require_postgres, require_redis

CONFIG = AuthKitConfig(
    client_id="client_contract",
    api_key="sk_test_contract",
    redirect_uri="http://localhost:8000/callback",
    cookie_password="contract-cookie-password-0123456789-abcdef",
)
NAME = CONFIG.cookie_name


@dataclass
class Subject:
    """A bound store under test, and what the suite needs to know or do beyond the protocol."""

    store: SessionStore
    #: Make the stored entry of ``loaded`` expire now, as the store's own clock would see it (``None``: the store
    #: has no expiry, and the expiry tests are skipped for it).
    expire: Callable[[LoadedSession], None] | None = None
    #: Called on teardown, after the suite closed anything else.
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    #: Whether the sync methods work (``False`` for a store given only an async client: they raise
    #: ``ConfigurationError``, and the suite runs only the async ones under asyncio).
    sync: bool = True


#: ``factory(tmp_path)`` is a context manager yielding a fresh :class:`Subject` (its store already bound).
Factory = Callable[[Path], AbstractContextManager[Subject]]


class _Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def memory_subject(tmp_path: Path) -> Iterator[Subject]:
    """``MemorySessionStore`` on a settable clock."""
    clock = _Clock()
    store = MemorySessionStore(clock=clock, ttl_seconds=3600)
    store.bind(CONFIG)

    def expire(_loaded: LoadedSession) -> None:
        clock.now += 3601

    yield Subject(store, expire)


@contextmanager
def cookie_subject(tmp_path: Path) -> Iterator[Subject]:
    """``CookieSessionStore``, the default (nothing server-side)."""
    store = CookieSessionStore()
    store.bind(CONFIG)
    yield Subject(store)


def sql_subject(url_of: Callable[[Path], str], async_driver: str | None = None) -> Factory:
    """``SQLSessionStore`` on the database ``url_of(tmp_path)`` names, in a table of its own; with
    ``async_driver`` the async methods use a native async engine of that driver."""

    @contextmanager
    def factory(tmp_path: Path) -> Iterator[Subject]:
        from authkit_core.storage.sql import SQLSessionStore

        url = url_of(tmp_path)
        table = f"authkit_contract_{uuid.uuid4().hex[:10]}"
        aengine = None
        if async_driver is not None:
            from sqlalchemy.ext.asyncio import create_async_engine

            # no pool: the suite calls each async method in an event loop of its own, and an async driver's
            # connection belongs to the loop that opened it
            aengine = create_async_engine(
                sqlalchemy.make_url(url).set(drivername=async_driver), poolclass=sqlalchemy.pool.NullPool
            )
        store = SQLSessionStore(url, table_name=table, create_tables=True, async_engine=aengine)
        store.bind(CONFIG)
        raw = sqlalchemy.create_engine(url)

        def expire(loaded: LoadedSession) -> None:
            statement = sqlalchemy.update(store.table).where(store.table.c.id == loaded.key)
            with raw.begin() as conn:
                conn.execute(statement.values(expires_at=time.time() - 1))

        try:
            yield Subject(store, expire)
        finally:
            store.dispose()
            if aengine is not None:
                anyio.run(aengine.dispose)
            store.table.drop(raw, checkfirst=True)
            raw.dispose()

    return factory


def redis_subject(clients: str) -> Factory:
    """``RedisSessionStore`` on the test Redis under a key prefix of its own (its keys deleted afterwards).

    ``clients``: ``url`` (the store builds a sync client and an asyncio one per event loop), ``clients`` (a sync
    client and ``async_client=``), ``decoded`` (the same with ``decode_responses=True``), ``async-only`` (an
    asyncio client alone; sync calls are skipped for it)."""

    @contextmanager
    def factory(tmp_path: Path) -> Iterator[Subject]:
        import redis
        import redis.asyncio

        from authkit_core.storage.redis import RedisSessionStore

        url = require_redis()
        prefix = f"authkit-contract-{uuid.uuid4().hex[:10]}"
        raw = redis.Redis.from_url(url)
        if clients == "url":
            store = RedisSessionStore(url, key_prefix=prefix)
        elif clients in ("clients", "decoded"):
            decoded = clients == "decoded"
            store = RedisSessionStore(
                redis.Redis.from_url(url, decode_responses=decoded),
                key_prefix=prefix,
                async_client=redis.asyncio.Redis.from_url(url, decode_responses=decoded),
            )
        else:
            store = RedisSessionStore(redis.asyncio.Redis.from_url(url), key_prefix=prefix)
        store.bind(CONFIG)

        def expire(loaded: LoadedSession) -> None:
            raw.pexpire(store.session_key(loaded.key), 1)
            time.sleep(0.01)

        try:
            yield Subject(store, expire, sync=clients != "async-only")
        finally:
            store.close()
            for pattern in (f"{{{prefix}:*", f"{prefix}:*"):
                for key in raw.scan_iter(match=pattern, count=1000):
                    raw.delete(key)
            raw.close()

    return factory


def redis_cluster_subject(async_client: bool) -> Factory:
    """``RedisSessionStore`` on a three-master Redis Cluster the tests start (``redis_cluster.py``): a sync
    ``RedisCluster`` client, with an asyncio one as ``async_client=`` when ``async_client``."""

    @contextmanager
    def factory(tmp_path: Path) -> Iterator[Subject]:
        import redis.asyncio.cluster
        import redis.cluster

        from authkit_core.storage.redis import RedisSessionStore

        from .redis_cluster import cluster_ports

        port = cluster_ports()[0]
        raw = redis.cluster.RedisCluster(host="127.0.0.1", port=port)
        aclient = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=port) if async_client else None
        store = RedisSessionStore(
            redis.cluster.RedisCluster(host="127.0.0.1", port=port),
            key_prefix=f"authkit-contract-{uuid.uuid4().hex[:10]}",
            async_client=aclient,
        )
        store.bind(CONFIG)

        def expire(loaded: LoadedSession) -> None:
            raw.pexpire(store.session_key(loaded.key), 1)
            time.sleep(0.01)

        try:
            yield Subject(store, expire)
        finally:
            raw.close()  # the cluster is the tests' own, killed at the end of the run: no key cleanup

    return factory


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'contract.sqlite3'}"


#: Every store the contract runs against: add yours here (e.g. ``"redis": redis_subject``).
STORES: dict[str, Factory] = {
    "cookie": cookie_subject,
    "memory": memory_subject,
    "sqlite": sql_subject(_sqlite),
    "sqlite+aiosqlite": sql_subject(_sqlite, "sqlite+aiosqlite"),
    "postgresql": sql_subject(lambda _tmp: require_postgres()),
    "postgresql+asyncpg": sql_subject(lambda _tmp: require_postgres(), "postgresql+asyncpg"),
    "mariadb": sql_subject(lambda _tmp: require_mariadb()),
    "mariadb+aiomysql": sql_subject(lambda _tmp: require_mariadb(), "mysql+aiomysql"),
    "redis": redis_subject("url"),
    "redis+clients": redis_subject("clients"),
    "redis+decode_responses": redis_subject("decoded"),
    "redis+asyncio-only": redis_subject("async-only"),
    "redis-cluster": redis_cluster_subject(async_client=False),
    "redis-cluster+asyncio": redis_cluster_subject(async_client=True),
}
#: The stores that keep nothing server-side (they cannot revoke); every other store must.
CLIENT_SIDE = ["cookie"]
#: The stores that keep sessions server-side (and so must revoke, and never resurrect).
SERVER_SIDE = [name for name in STORES if name not in CLIENT_SIDE]
#: The server-side stores that live in one process: they may always grant a lease (the engine's in-process
#: single-flight already serialises refreshes there), so the lease tests do not apply to them.
IN_PROCESS = ["memory"]
#: The stores shared between processes and machines: their leases exclude, expire and check versions.
SHARED = [name for name in SERVER_SIDE if name not in IN_PROCESS]


# --- calling a store on either face --------------------------------------------------------------------------


class Face:
    """Calls the store's sync method, or (with a ``portal``: an event loop in a thread) its async twin (``a`` +
    name) in that event loop."""

    def __init__(self, store: SessionStore, portal: BlockingPortal | None) -> None:
        self.store = store
        self.portal = portal

    def __call__(self, method: str, *args: Any) -> Any:
        if self.portal is None:
            return getattr(self.store, method)(*args)
        return self.portal.call(getattr(self.store, "a" + method), *args)

    def load(self, cookies: dict[str, str]) -> LoadResult:
        """``load`` / ``aload``."""
        result: LoadResult = self("load", cookies)
        return result

    def create(self, session: Session) -> tuple[LoadedSession, list[SetCookie]]:
        """``create`` / ``acreate``."""
        created: tuple[LoadedSession, list[SetCookie]] = self("create", session)
        return created

    def update(
        self, loaded: LoadedSession, session: Session, owner: str | None = None
    ) -> tuple[LoadedSession, list[SetCookie]]:
        """``update`` / ``aupdate``."""
        updated: tuple[LoadedSession, list[SetCookie]] = self("update", loaded, session, owner)
        return updated

    def delete(self, loaded: LoadedSession | None, cookies: dict[str, str]) -> list[SetCookie]:
        """``delete`` / ``adelete``."""
        cleared: list[SetCookie] = self("delete", loaded, cookies)
        return cleared

    def reload(self, loaded: LoadedSession) -> LoadedSession | None:
        """``reload`` / ``areload``."""
        again: LoadedSession | None = self("reload", loaded)
        return again

    def acquire(self, loaded: LoadedSession, owner: str, ttl: float = 30.0) -> bool:
        """``acquire_lease`` / ``aacquire_lease``."""
        return bool(self("acquire_lease", loaded, owner, ttl))

    def release(self, loaded: LoadedSession, owner: str) -> None:
        """``release_lease`` / ``arelease_lease``."""
        self("release_lease", loaded, owner)

    def revoke(self, user_id: str) -> int:
        """``revoke_user_sessions`` / ``arevoke_user_sessions``."""
        return int(self("revoke_user_sessions", user_id))


# --- fixtures ------------------------------------------------------------------------------------------------


def _subject(name: str, tmp_path: Path) -> Iterator[Subject]:
    with STORES[name](tmp_path) as subject:
        yield subject
        for step in subject.cleanup:
            step()


@pytest.fixture(params=list(STORES))
def any_subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    """Each store in :data:`STORES`."""
    yield from _subject(str(request.param), tmp_path)


@pytest.fixture(params=SERVER_SIDE)
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    """Each server-side store in :data:`STORES`."""
    for made in _subject(str(request.param), tmp_path):
        assert getattr(made.store, "keeps_tokens_server_side", False) is True
        assert isinstance(made.store, ServerSideSessionStore)
        yield made


@pytest.fixture(params=SHARED)
def shared_subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    """Each store in :data:`STORES` shared between processes (leases that exclude and check versions)."""
    for made in _subject(str(request.param), tmp_path):
        assert made.store.shared is True
        assert getattr(made.store, "lease_checks_version", False) is True
        yield made


@pytest.fixture(params=CLIENT_SIDE)
def cookie_only(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    """Each store that keeps nothing server-side."""
    yield from _subject(str(request.param), tmp_path)


@pytest.fixture(params=["sync", "asyncio", "trio"])
def face_kind(request: pytest.FixtureRequest) -> str:
    """Which face the test calls: the sync methods, or the async twins under asyncio or under trio."""
    return str(request.param)


@pytest.fixture
def portal(face_kind: str) -> Iterator[BlockingPortal | None]:
    """``None`` to call the sync methods; for the async twins, an event loop of the chosen backend (in a thread)
    for the whole test."""
    if face_kind == "sync":
        yield None
        return
    with start_blocking_portal(backend=face_kind) as loop:
        yield loop


def _check_face(subject: Subject, face_kind: str) -> None:
    # conftest.py deselects every other pairing of an asyncio-only store
    assert subject.sync or face_kind == "asyncio", "an asyncio-only store serves only async calls under asyncio"


@pytest.fixture
def face(subject: Subject, face_kind: str, portal: BlockingPortal | None) -> Face:
    """The server-side store under test, on the chosen face."""
    _check_face(subject, face_kind)
    return Face(subject.store, portal)


@pytest.fixture
def shared_face(shared_subject: Subject, face_kind: str, portal: BlockingPortal | None) -> Face:
    """A store shared between processes, on the chosen face."""
    _check_face(shared_subject, face_kind)
    return Face(shared_subject.store, portal)


@pytest.fixture
def any_face(any_subject: Subject, face_kind: str, portal: BlockingPortal | None) -> Face:
    """Any store under test, on the chosen face."""
    _check_face(any_subject, face_kind)
    return Face(any_subject.store, portal)


# --- helpers -------------------------------------------------------------------------------------------------


def make_session(user_id: str = "user_contract") -> Session:
    """A session with unique fake tokens (stores never verify them)."""
    return Session(
        access_token=f"at_{secrets.token_urlsafe(24)}",
        refresh_token=f"rt_{secrets.token_urlsafe(24)}",
        user=User(id=user_id, email=f"{user_id}@example.com"),
    )


def jar(cookies: Sequence[SetCookie], before: dict[str, str] | None = None) -> dict[str, str]:
    """The browser's cookies after a response that wrote ``cookies``."""
    out = dict(before or {})
    for cookie in cookies:
        if cookie.is_deletion:
            out.pop(cookie.name, None)
        else:
            out[cookie.name] = cookie.value
    return out


def signed_in(face: Face, user_id: str = "user_contract") -> tuple[LoadedSession, dict[str, str]]:
    """A created session, loaded back from its cookies as a request would."""
    _, cookies = face.create(make_session(user_id))
    copied = jar(cookies)
    loaded = face.load(copied).loaded
    assert loaded is not None
    return loaded, copied


def assert_gone(face: Face, loaded: LoadedSession, copied: dict[str, str]) -> None:
    """The session cannot be loaded from a copy of its cookie, nor reloaded, and the load expires the cookie."""
    result = face.load(copied)
    assert result.loaded is None
    assert result.reason is not None
    assert [(c.name, c.is_deletion) for c in result.cookies] == [(NAME, True)]
    assert face.reload(loaded) is None


def assert_expires_the_cookie(cookies: Sequence[SetCookie]) -> None:
    """``cookies`` expire the session cookie and set nothing."""
    assert NAME in {c.name for c in cookies}
    assert all(c.is_deletion for c in cookies)


# --- every store ---------------------------------------------------------------------------------------------


def test_protocol(any_subject: Subject) -> None:
    store = any_subject.store
    assert isinstance(store, SessionStore)
    assert isinstance(store.shared, bool)
    if bool(getattr(store, "keeps_tokens_server_side", False)):
        assert isinstance(store, ServerSideSessionStore)  # revoke_user_sessions and its async twin


def test_create_then_load_round_trips(any_face: Face) -> None:
    session = make_session()
    created, cookies = any_face.create(session)
    assert created.session == session
    assert cookies and not any(c.is_deletion for c in cookies)
    assert all(session.refresh_token not in c.value for c in cookies)
    result = any_face.load(jar(cookies))
    assert result.loaded is not None
    assert result.loaded.session == session
    assert result.loaded.key == created.key
    assert result.reason is None
    assert any_face.load({}).loaded is None
    assert any_face.load({}).cookies == ()


def test_every_create_is_a_new_session(any_face: Face) -> None:
    session = make_session()
    first, first_cookies = any_face.create(session)
    second, second_cookies = any_face.create(make_session())
    assert first.key != second.key
    assert jar(first_cookies) != jar(second_cookies)


def test_update_replaces_the_session(any_face: Face) -> None:
    loaded, copied = signed_in(any_face)
    newer = make_session()
    updated, cookies = any_face.update(loaded, newer, None)
    assert updated.session == newer
    assert not any(c.is_deletion and c.name == NAME for c in cookies)
    browser = jar(cookies, copied)
    result = any_face.load(browser)
    assert result.loaded is not None and result.loaded.session == newer
    again = any_face.reload(updated)
    assert again is not None and again.session == newer


def test_a_cookie_that_does_not_open_is_signed_out_and_expired(any_face: Face) -> None:
    result = any_face.load({NAME: "Fe26.2**garbage", "other": "x"})
    assert result.loaded is None
    assert result.reason is not None
    assert_expires_the_cookie(result.cookies)


def test_delete_expires_the_cookie(any_face: Face) -> None:
    loaded, copied = signed_in(any_face)
    assert_expires_the_cookie(any_face.delete(loaded, copied))
    assert_expires_the_cookie(any_face.delete(None, {}))


def test_leases_answer(any_face: Face) -> None:
    loaded, _ = signed_in(any_face)
    assert any_face.acquire(loaded, "owner-a") is True
    if not any_face.store.shared:  # in-process: the engine's single-flight serialises; the lease may always grant
        assert any_face.acquire(loaded, "owner-b") is True
    any_face.release(loaded, "owner-a")


def test_a_cookie_only_store_cannot_revoke_a_copy(cookie_only: Subject, portal: BlockingPortal | None) -> None:
    face = Face(cookie_only.store, portal)
    loaded, copied = signed_in(face)
    face.delete(loaded, copied)
    assert face.load(copied).loaded is not None  # documented: nothing server-side to delete


# --- server-side stores: delete, revoke ----------------------------------------------------------------------


def test_delete_makes_a_copied_cookie_signed_out(face: Face) -> None:
    loaded, copied = signed_in(face)
    other, other_copied = signed_in(face)
    assert_expires_the_cookie(face.delete(loaded, copied))
    assert_gone(face, loaded, copied)
    assert face.load(other_copied).loaded is not None  # only that session
    assert face.reload(other) is not None


def test_delete_by_the_cookie_alone(face: Face) -> None:
    loaded, copied = signed_in(face)
    assert_expires_the_cookie(face.delete(None, copied))
    assert_gone(face, loaded, copied)


def test_revoke_user_sessions_ends_only_that_users_sessions(face: Face) -> None:
    user = f"user_{uuid.uuid4().hex[:8]}"
    first, first_copied = signed_in(face, user)
    second, second_copied = signed_in(face, user)
    other, other_copied = signed_in(face, user + "_other")
    assert face.revoke(user) == 2
    assert_gone(face, first, first_copied)
    assert_gone(face, second, second_copied)
    assert face.load(other_copied).loaded is not None
    assert face.revoke(user) == 0
    assert face.revoke(user + "_other") == 1
    assert_gone(face, other, other_copied)


def test_revoke_after_a_refresh_still_finds_the_session(face: Face) -> None:
    user = f"user_{uuid.uuid4().hex[:8]}"
    loaded, copied = signed_in(face, user)
    for _ in range(3):
        loaded, _cookies = face.update(loaded, make_session(user), None)
    assert face.revoke(user) == 1
    assert_gone(face, loaded, copied)


# --- server-side stores: no resurrection ---------------------------------------------------------------------


def _end(subject: Subject, face: Face, how: str, loaded: LoadedSession, copied: dict[str, str]) -> None:
    if how == "delete":
        face.delete(loaded, copied)
    elif how == "delete-by-cookie":
        face.delete(None, copied)
    elif how == "revoke":
        assert face.revoke(loaded.session.user.id) == 1
    else:
        assert subject.expire is not None, "a server-side store's subject must say how to expire an entry"
        subject.expire(loaded)


@pytest.mark.parametrize("how", ["delete", "delete-by-cookie", "revoke", "expire"])
@pytest.mark.parametrize("leased", [True, False], ids=["leased", "unleased"])
def test_no_resurrection_by_a_refresh_in_flight(subject: Subject, face: Face, how: str, leased: bool) -> None:
    """The refresh's save (``update``) after the session ended: refused with ``session_not_found``, and the
    session stays gone for a copied cookie."""
    user = f"user_{uuid.uuid4().hex[:8]}"
    loaded, copied = signed_in(face, user)
    owner = uuid.uuid4().hex if leased else None
    if owner is not None:
        assert face.acquire(loaded, owner) is True
    _end(subject, face, how, loaded, copied)
    with pytest.raises(SessionError) as raised:
        face.update(loaded, make_session(user), owner)
    assert raised.value.code == "session_not_found"
    assert not raised.value.is_transient
    assert_gone(face, loaded, copied)
    if how != "expire":  # an expired entry may still be counted until it is swept; a deleted one never is
        assert face.revoke(user) == 0
    # the store keeps working for everyone else
    fresh, fresh_copied = signed_in(face, user)
    assert face.update(fresh, make_session(user), None)[0].key == fresh.key
    assert face.load(fresh_copied).loaded is not None


def test_no_resurrection_by_a_waiter_either(face: Face) -> None:
    """Two saves racing a sign-out (the leader's and a stale second one): neither brings the session back."""
    loaded, copied = signed_in(face)
    updated, _ = face.update(loaded, make_session(), None)
    face.delete(updated, copied)
    for stale in (loaded, updated):
        with pytest.raises(SessionError):
            face.update(stale, make_session(), None)
    assert_gone(face, loaded, copied)


# --- shared stores: leases -----------------------------------------------------------------------------------


def test_lease_excludes_other_owners_until_released(shared_face: Face) -> None:
    face = shared_face
    loaded, _ = signed_in(face)
    assert face.acquire(loaded, "owner-a") is True
    assert face.acquire(loaded, "owner-b") is False
    assert face.acquire(loaded, "owner-a") is True  # the holder re-acquires
    face.release(loaded, "owner-b")  # not the holder: nothing happens
    assert face.acquire(loaded, "owner-b") is False
    face.release(loaded, "owner-a")
    assert face.acquire(loaded, "owner-b") is True
    assert face.acquire(loaded, "owner-a") is False
    face.release(loaded, "owner-b")


def test_lease_expires_after_its_ttl(shared_face: Face) -> None:
    face = shared_face
    loaded, _ = signed_in(face)
    assert face.acquire(loaded, "crashed", 0.2) is True
    assert face.acquire(loaded, "owner-b") is False
    time.sleep(0.3)
    assert face.acquire(loaded, "owner-b") is True
    assert face.acquire(loaded, "crashed") is False  # the late holder lost it


def test_update_releases_the_lease(shared_face: Face) -> None:
    face = shared_face
    loaded, _ = signed_in(face)
    assert face.acquire(loaded, "owner-a") is True
    updated, _ = face.update(loaded, make_session(), "owner-a")
    again = face.reload(updated)
    assert again is not None
    assert face.acquire(again, "owner-b") is True


def test_a_gone_session_cannot_be_leased(shared_face: Face) -> None:
    face = shared_face
    loaded, copied = signed_in(face)
    face.delete(loaded, copied)
    assert face.acquire(loaded, "owner-a") is False


def test_one_lease_winner_among_16_threads(shared_subject: Subject) -> None:
    subject = shared_subject
    _check_face(subject, "sync")
    face = Face(subject.store, None)
    loaded, _ = signed_in(face)
    barrier = threading.Barrier(16)
    won: list[bool] = []
    lock = threading.Lock()

    def contend(i: int) -> None:
        barrier.wait()
        granted = subject.store.acquire_lease(loaded, f"thread-{i}", 30)
        with lock:
            won.append(granted)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(won) == 16 and won.count(True) == 1


def test_version_checked_lease_refuses_a_stale_read(shared_face: Face) -> None:
    face = shared_face
    loaded, _ = signed_in(face)
    assert loaded.version is not None
    updated, _ = face.update(loaded, make_session(), None)  # another process refreshed since ``loaded`` was read
    assert face.acquire(loaded, "owner-a") is False  # free, but ``loaded`` is stale
    current = face.reload(loaded)
    assert current is not None and current.version is not None and current.version != loaded.version
    assert current.session == updated.session
    assert face.acquire(current, "owner-a") is True
