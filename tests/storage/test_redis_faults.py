"""``RedisSessionStore`` under Redis faults, on a ``redis-server`` each test starts itself on a spare port.

(The machine's Redis at 127.0.0.1:6379 is for the other tests.) Every fault must be a transient
:class:`~authkit_core.errors.SessionUnavailableError` (the engine then serves the request as its storage-outage
policy says and deletes nothing), and the store must work again, with its sessions, once Redis is back:

- killed (SIGKILL) and restarted mid-storm: with ``appendfsync always`` no session is lost; without persistence
  every session is (the documented cost of running Redis without persistence: those users sign in again);
- paused (SIGSTOP) past the store's timeout: an outage within about the timeout, then business as usual;
- ``maxmemory`` reached (``noeviction``): writes fail as transient, reads go on, nothing is lost;
- read-only (a replica, as after a failover): writes fail as transient, the session is kept;
- a replica promoted mid-storm after its primary was killed: no session lost; the store works on it;
- a real Sentinel failing over: the store built on ``Sentinel.master_for`` rides it out (outages, then the new
  master with every session).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from authkit_core import SessionError, SessionUnavailableError
from authkit_core.storage.base import LoadedSession
from conftest import require_service

from .test_store_contract import CONFIG, jar, make_session

redis = pytest.importorskip("redis")

from authkit_core.storage.redis import RedisSessionStore  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A ``redis-server`` of the test's own (in ``tmp_path``), killed at teardown."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.port = _free_port()
        self.dir = tmp_path
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers."""
        exe = shutil.which("redis-server")
        assert exe is not None
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir), "--save", "", *self.args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return
            except redis.exceptions.RedisError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def signal(self, sig: int) -> None:
        """Send ``sig`` (SIGSTOP, SIGCONT)."""
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def admin(self) -> redis.Redis:
        """A plain client for setting the server up."""
        return redis.Redis(port=self.port, socket_timeout=5)


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    """A fresh ``redis-server`` (args from ``@pytest.mark.parametrize('server', [...], indirect=True)``)."""
    require_service("redis-server", shutil.which("redis-server") is not None, "install Redis (redis-server on PATH)")
    args: tuple[str, ...] = tuple(getattr(request, "param", ("--appendonly", "no")))
    made = Server(tmp_path, *args)
    made.start()
    try:
        yield made
    finally:
        made.kill()


def _store(server: Server, timeout: float = 0.5) -> RedisSessionStore:
    store = RedisSessionStore(server.url, key_prefix=f"faults-{uuid.uuid4().hex[:8]}", timeout=timeout)
    store.bind(CONFIG)
    return store


def _sign_in(store: RedisSessionStore, n: int) -> list[dict[str, str]]:
    return [jar(store.create(make_session(f"user_{i}"))[1]) for i in range(n)]


def _alive(store: RedisSessionStore, browsers: list[dict[str, str]]) -> int:
    return sum(1 for b in browsers if store.load(b).loaded is not None)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, SessionUnavailableError) and exc.is_transient


def _storm(
    store: RedisSessionStore, browsers: list[dict[str, str]], stop: threading.Event, gone_ok: bool
) -> tuple[int, list[str]]:
    """Refresh the sessions from 8 threads until ``stop``; returns (refreshes done, errors that were not
    transient, other than ``session_not_found`` for a session a restart lost when ``gone_ok``)."""
    done = [0]
    wrong: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        owner = f"worker-{i}"
        while not stop.is_set():
            for browser in browsers[i::8]:
                try:
                    loaded = store.load(browser).loaded
                    if loaded is None:
                        continue
                    if store.acquire_lease(loaded, owner, 5):
                        store.update(loaded, make_session(loaded.session.user.id), owner)
                        with lock:
                            done[0] += 1
                except SessionError as exc:
                    if not _transient(exc) and not (gone_ok and exc.code == "session_not_found"):
                        with lock:
                            wrong.append(repr(exc))
                    time.sleep(0.01)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    stop.wait()
    for t in threads:
        t.join(30)
    return done[0], wrong


@pytest.mark.parametrize(
    ("server", "lost"),
    [(("--appendonly", "yes", "--appendfsync", "always"), 0), (("--appendonly", "no"), 40)],
    ids=["appendfsync-always", "no-persistence"],
    indirect=["server"],
)
def test_killed_and_restarted_mid_storm(server: Server, lost: int) -> None:
    store = _store(server)
    browsers = _sign_in(store, 40)
    stop = threading.Event()
    outcome: list[tuple[int, list[str]]] = []
    storm = threading.Thread(target=lambda: outcome.append(_storm(store, browsers, stop, lost > 0)))
    storm.start()
    time.sleep(0.5)
    server.kill()
    time.sleep(0.5)  # the storm meets a dead Redis
    with pytest.raises(SessionUnavailableError):
        store.load(browsers[0])
    server.start()
    time.sleep(0.5)
    stop.set()
    storm.join(60)
    done, wrong = outcome[0]
    assert wrong == []
    assert done > 0
    assert len(browsers) - _alive(store, browsers) == lost
    # the store works again (scripts are loaded anew after the restart)
    fresh = _sign_in(store, 1)[0]
    loaded = store.load(fresh).loaded
    assert loaded is not None and store.acquire_lease(loaded, "after", 5)
    store.update(loaded, make_session(loaded.session.user.id), "after")
    store.close()


def test_paused_past_the_timeout_is_an_outage(server: Server) -> None:
    store = _store(server, timeout=0.3)
    browser = _sign_in(store, 1)[0]
    server.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(SessionUnavailableError) as raised:
            store.load(browser)
        assert raised.value.is_transient
        assert time.monotonic() - started < 3
    finally:
        server.signal(signal.SIGCONT)
    assert _alive(store, [browser]) == 1  # nothing lost, the store recovers
    store.close()


def test_paused_past_the_timeout_async(server: Server) -> None:
    import anyio

    store = _store(server, timeout=0.3)
    browser = _sign_in(store, 1)[0]

    async def main() -> None:
        server.signal(signal.SIGSTOP)
        try:
            with pytest.raises(SessionUnavailableError):
                await store.aload(browser)
        finally:
            server.signal(signal.SIGCONT)
        assert (await store.aload(browser)).loaded is not None
        await store.aclose()

    anyio.run(main)
    store.close()


def _over_maxmemory(admin: redis.Redis) -> None:
    """Fill Redis with 4 MB, then lower ``maxmemory`` below what is used (``noeviction``): every write is refused
    with ``OOM`` (at the exact edge a small write may still fit, which proves nothing)."""
    admin.mset({f"junk:{i}": b"x" * 65536 for i in range(64)})
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", str(used // 2))
    with pytest.raises(redis.exceptions.OutOfMemoryError):  # redis-py's name for an ``OOM ...`` error reply
        admin.set("junk:more", b"x")


def test_maxmemory_reached(server: Server) -> None:
    store = _store(server)
    browser = _sign_in(store, 1)[0]
    loaded = store.load(browser).loaded
    assert loaded is not None
    admin = server.admin()
    _over_maxmemory(admin)
    writes = {
        "create": lambda: store.create(make_session()),
        "lease": lambda: store.acquire_lease(loaded, "owner", 5),
        "update": lambda: store.update(loaded, make_session(loaded.session.user.id), None),
    }
    for write in writes.values():
        with pytest.raises(SessionUnavailableError):
            write()
    again = store.load(browser).loaded  # reads go on
    assert again is not None and again.session == loaded.session
    admin.config_set("maxmemory", "0")
    assert store.acquire_lease(again, "owner", 5)
    store.update(again, make_session(loaded.session.user.id), "owner")
    store.close()


def test_read_only_replica_after_a_failover(server: Server) -> None:
    store = _store(server)
    browser = _sign_in(store, 1)[0]
    loaded = store.load(browser).loaded
    assert isinstance(loaded, LoadedSession)
    admin = server.admin()
    admin.replicaof("127.0.0.1", str(_free_port()))  # a master that never answers: the data stays, read-only
    try:
        with pytest.raises(SessionUnavailableError):
            store.acquire_lease(loaded, "owner", 5)
        with pytest.raises(SessionUnavailableError):
            store.update(loaded, make_session(loaded.session.user.id), None)
        with pytest.raises(SessionUnavailableError):
            store.create(make_session())
        assert store.load(browser).loaded is not None
    finally:
        admin.replicaof("NO", "ONE")
    assert store.acquire_lease(loaded, "owner", 5)
    store.close()


def test_a_replica_promoted_mid_storm(tmp_path: Path) -> None:
    """A primary and its replica (asynchronous replication); sessions signed in and acknowledged by the replica
    (``WAIT``), then refreshed from 8 threads while the primary is SIGKILLed and the replica promoted
    (``REPLICAOF NO ONE``, as a Sentinel would). On the promoted replica: no session is lost, none is newer than
    what the primary acknowledged but for the one save in flight at the kill (nothing invented), and the store
    works on it (leases, saves, the scripts loaded anew). What a failover may lose is the refreshes the primary
    acknowledged but had not yet replicated: those sessions keep an older version (a spent refresh token: signed
    out at their next refresh, see docs/storage-redis.md); the figure is printed (``-s``) and documented."""
    require_service("redis-server", shutil.which("redis-server") is not None, "install Redis (redis-server on PATH)")
    primary_dir, replica_dir = tmp_path / "primary", tmp_path / "replica"
    primary_dir.mkdir()
    replica_dir.mkdir()
    primary = Server(primary_dir, "--appendonly", "no")
    primary.start()
    replica = Server(replica_dir, "--appendonly", "no", "--replicaof", "127.0.0.1", str(primary.port))
    try:
        replica.start()
        store = _store(primary)
        browsers = _sign_in(store, 40)
        assert primary.admin().wait(1, 5000) == 1  # the replica has every sign-in
        acknowledged: dict[int, int] = {}
        lock = threading.Lock()
        stop = threading.Event()

        def worker(i: int) -> None:
            while not stop.is_set():
                for n in range(i, len(browsers), 8):
                    try:
                        loaded = store.load(browsers[n]).loaded
                        if loaded is None or not store.acquire_lease(loaded, f"w{i}", 5):
                            continue
                        saved, _ = store.update(loaded, make_session(loaded.session.user.id), f"w{i}")
                        with lock:
                            acknowledged[n] = max(acknowledged.get(n, 1), int(saved.version or 0))
                    except SessionUnavailableError:
                        time.sleep(0.01)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        primary.kill()  # mid-storm: some acknowledged saves may not have reached the replica
        replica.admin().replicaof("NO", "ONE")
        stop.set()
        for t in threads:
            t.join(30)
        assert acknowledged, "the storm refreshed nothing before the failover"

        promoted = RedisSessionStore(replica.url, key_prefix=store.key_prefix, timeout=0.5)
        promoted.bind(CONFIG)
        found = [promoted.load(b).loaded for b in browsers]
        assert [n for n, loaded in enumerate(found) if loaded is None] == []  # no session lost
        versions = {n: int(loaded.version or 0) for n, loaded in enumerate(found) if loaded is not None}
        # nothing invented: at most the one save per session that was in flight when the primary died
        assert all(versions[n] <= v + 1 for n, v in acknowledged.items())
        rotations_lost = sum(1 for n, v in acknowledged.items() if versions[n] < v)
        print(f"failover: 40 sessions, 0 lost, {rotations_lost} of {len(acknowledged)} last refreshes not replicated")
        loaded = found[0]
        assert loaded is not None
        # A lease a storm worker held on this session when the primary died was replicated with it: like any
        # lease whose holder is gone, it lapses after its 5 s (a CI run met this once), then leases work.
        deadline = time.monotonic() + 7
        while not promoted.acquire_lease(loaded, "after", 5):
            assert time.monotonic() < deadline, "no lease could be taken on the promoted replica"
            time.sleep(0.1)
        promoted.update(loaded, make_session(loaded.session.user.id), "after")
        promoted.close()
        store.close()
    finally:
        primary.kill()
        replica.kill()


def test_sentinel_failover_through_redis_py(tmp_path: Path) -> None:
    """A real Sentinel (``redis-server --sentinel``) watching a primary and its replica; the store is built on
    ``Sentinel.master_for``, as docs/storage-redis.md shows. The primary is SIGKILLed: while no master is known the
    store's calls are transient outages, and once the Sentinel has promoted the replica the same store finds the new
    master by itself, with every session (replicated before the kill) and working leases and saves."""
    from redis.sentinel import Sentinel

    require_service("redis-server", shutil.which("redis-server") is not None, "install Redis (redis-server on PATH)")
    dirs = [tmp_path / name for name in ("primary", "replica", "sentinel")]
    for d in dirs:
        d.mkdir()
    primary = Server(dirs[0], "--appendonly", "no")
    primary.start()
    replica = Server(dirs[1], "--appendonly", "no", "--replicaof", "127.0.0.1", str(primary.port))
    sentinel_port = _free_port()
    conf = dirs[2] / "sentinel.conf"
    conf.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {dirs[2]}\n"
        f"sentinel monitor sessions 127.0.0.1 {primary.port} 1\n"
        "sentinel down-after-milliseconds sessions 500\n"
        "sentinel failover-timeout sessions 2000\n"
    )
    exe = shutil.which("redis-server")
    assert exe is not None
    sentinel_proc = subprocess.Popen(
        [exe, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        replica.start()
        sentinel = Sentinel([("127.0.0.1", sentinel_port)], socket_timeout=0.5)
        deadline = time.monotonic() + 15
        while True:  # the Sentinel knows the master and its replica
            try:
                if sentinel.discover_master("sessions")[1] == primary.port and sentinel.discover_slaves("sessions"):
                    break
            except redis.exceptions.RedisError:
                pass
            assert time.monotonic() < deadline, "the Sentinel did not see the primary and its replica"
            time.sleep(0.1)
        store = RedisSessionStore(sentinel.master_for("sessions", socket_timeout=0.5), key_prefix="sentinel")
        store.bind(CONFIG)
        browsers = _sign_in(store, 20)
        assert primary.admin().wait(1, 5000) == 1
        primary.kill()
        outages = 0
        deadline = time.monotonic() + 30
        while True:  # until the Sentinel has promoted the replica, calls are outages, never other errors
            try:
                loaded = store.load(browsers[0]).loaded
                break
            except SessionUnavailableError:
                outages += 1
                assert time.monotonic() < deadline, "no failover within 30 s"
                time.sleep(0.1)
        assert sentinel.discover_master("sessions")[1] == replica.port
        assert outages > 0  # the store met the failover
        assert _alive(store, browsers) == 20
        assert loaded is not None and store.acquire_lease(loaded, "after", 5)
        store.update(loaded, make_session(loaded.session.user.id), "after")
        assert store.load(browsers[0]).loaded is not None
        store.close()
    finally:
        sentinel_proc.kill()
        sentinel_proc.wait(10)
        primary.kill()
        replica.kill()
