"""Refresh coordination across OS processes sharing one server-side store (SQLite file, PostgreSQL, MariaDB, Redis).

Each "application process" is ``refresh_worker.py`` started with ``subprocess`` (see its docstring). The tests
prove the issue's promises against the emulator over real HTTP:

* many processes x many threads on one expiring session cause exactly one refresh grant, and every request gets
  the refreshed session;
* a lease left by a process killed while holding it expires, and the next request then refreshes;
* a process killed in the middle of its refresh grant, before or after WorkOS processed it, loses nothing: the
  successor spends the same token with the same ``Idempotency-Key`` (see ``docs/refresh-coordination.md``,
  "Failure matrix"), and the engine never turns it into an error page;
* a holder whose lease expired while its grant was slow cannot sign out the session its successor refreshed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy

from authkit_core import AuthKitConfig, UserInfo
from authkit_core.engine import AuthKit
from authkit_core.storage.base import SessionStore
from authkit_core.storage.redis import RedisSessionStore
from authkit_core.storage.sql import SQLSessionStore
from conftest import require_mariadb, require_postgres, require_redis

from .conftest import make_store, sign_in

WORKER = Path(__file__).with_name("refresh_worker.py")
AUTHENTICATE = "/user_management/authenticate"
REFRESH = "refresh_token"
PROCESSES = 4
THREADS = 16


Shared = tuple[SessionStore, dict[str, str]]


def store_url(kind: str, tmp_path: Path) -> str:
    """The URL ``make_store`` uses for ``kind`` (so the workers open the same database)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/sessions.sqlite3"
    if kind == "redis":
        return require_redis()
    return require_postgres() if kind == "postgres" else require_mariadb()


@pytest.fixture(params=["sqlite", "postgres", "mariadb", "redis"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    """A fresh store (its table or keys dropped afterwards) and what a worker needs to open the same one."""
    kind = str(request.param)
    store, cleanup = make_store(kind, tmp_path)
    where = {"url": store_url(kind, tmp_path)}
    if isinstance(store, RedisSessionStore):
        where["key_prefix"] = store.key_prefix
    else:
        assert isinstance(store, SQLSessionStore)
        where["table"] = store.table.name
    yield store, where
    cleanup()


def config_fields(config: AuthKitConfig) -> dict[str, Any]:
    """The configuration as JSON-able keyword arguments."""
    out = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    if not isinstance(out["cookie_password"], str):
        out["cookie_password"] = dict(out["cookie_password"])
    return out


def digest(token: str) -> str:
    """The worker's digest of a token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


class Worker:
    """One ``refresh_worker.py`` process: send it a spec, read its lines, kill it."""

    def __init__(self, spec: dict[str, Any], tmp_path: Path, index: int) -> None:
        self.stderr_path = tmp_path / f"worker-{index}.stderr"
        self._stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.send(json.dumps(spec))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put("")  # end of output

    def send(self, line: str) -> None:
        """Write one line to the worker's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, word: str, timeout: float = 90.0) -> str:
        """The rest of the next line, which must start with ``word``."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            line = "<no answer>"
        if not line.startswith(word):
            self.kill()
            pytest.fail(f"worker said {line!r}, expected {word!r}; stderr:\n{self.stderr_path.read_text()[-3000:]}")
        return line[len(word) :].strip()

    def result(self, timeout: float = 90.0) -> Any:
        """The JSON result line."""
        return json.loads(self.expect("result", timeout))

    def kill(self) -> None:
        """SIGKILL the process (no clean-up of any kind runs in it) and reap it."""
        self.proc.kill()
        self.proc.wait(timeout=30)

    def close(self) -> None:
        """Reap the process (killing it if it still runs) and close its pipes."""
        if self.proc.poll() is None:
            self.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        self._stderr.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], Worker]]:
    """Start workers; every one is reaped when the test ends."""
    started: list[Worker] = []

    def start(spec: dict[str, Any]) -> Worker:
        worker = Worker(spec, tmp_path, len(started))
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.close()


def leases(store: SessionStore, where: dict[str, str]) -> list[tuple[str | None, float | None]]:
    """``(lease_owner, lease_until)`` of every session, read through a separate connection."""
    url = where["url"]
    if isinstance(store, RedisSessionStore):
        client = redis.Redis.from_url(url, decode_responses=True)
        try:
            found = []
            for key in sorted(client.scan_iter(match=f"{{{store.key_prefix}:*}}:s", count=1000)):
                lease = key[: -len(":s")] + ":l"
                owner, ttl_ms = client.get(lease), client.pttl(lease)
                found.append((owner, None if owner is None else time.time() + ttl_ms / 1000))
            return found
        finally:
            client.close()
    assert isinstance(store, SQLSessionStore)
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.select(store.table.c.lease_owner, store.table.c.lease_until)).all()
    finally:
        engine.dispose()
    return [(row[0], row[1]) for row in rows]


def refresh_requests(emulator: Any) -> list[Any]:
    """The refresh grants the emulator received, in order."""
    return [r for r in emulator.requests if r.grant_type == REFRESH]


def test_processes_and_threads_share_one_refresh(
    shared: Shared, workos_emulator: Any, workers: Callable[[dict[str, Any]], Worker]
) -> None:
    store, where = shared
    config = workos_emulator.config()
    kit = AuthKit(config, store=store)
    workos_emulator.access_token_ttl = 20  # inside the 30 s refresh buffer
    signed_in, jar = sign_in(kit)
    workos_emulator.access_token_ttl = 300
    _, warm_jar = sign_in(kit, "bob@example.com")  # a valid session each worker loads once before the storm
    base = {"mode": "storm", "config": config_fields(config), **where}
    spec = {**base, "jar": jar, "warm_jar": warm_jar, "threads": THREADS}
    started = [workers(spec) for _ in range(PROCESSES)]
    for worker in started:
        worker.expect("ready")
    # The winner's grant takes 1.5 s, so every process that starts within that time meets its lease.
    workos_emulator.inject_fault(AUTHENTICATE, delay=1.5, count=1, method="POST")
    for worker in started:
        worker.send("go")
    reports = [worker.result() for worker in started]

    assert [r["failures"] for r in reports] == [[]] * PROCESSES
    results = [item for r in reports for item in r["results"]]
    assert len(results) == PROCESSES * THREADS
    assert workos_emulator.grant_count(REFRESH) == 1
    signed_out = [item for item in results if not item["signed_in"]]
    assert signed_out == []
    assert all(item["error"] is None and not item["expired_cookie"] for item in results)
    tokens = {item["access_token"] for item in results}
    assert len(tokens) == 1 and tokens != {digest(signed_in.user_info.access_token)}  # all got the new session
    assert sum(r["lease_denied"] for r in reports) >= 1  # the processes really met at the lease
    after = kit.authenticate(jar)
    assert isinstance(after.user_info, UserInfo) and not after.refreshed
    assert {digest(after.user_info.access_token)} == tokens
    assert leases(store, where) == [(None, None)] * 2
    kit.close()


def test_lease_of_killed_holder_expires_then_next_request_refreshes(
    shared: Shared, workos_emulator: Any, workers: Callable[[dict[str, Any]], Worker]
) -> None:
    store, where = shared
    config = workos_emulator.config()
    workos_emulator.access_token_ttl = 20
    signed_in, jar = sign_in(AuthKit(config, store=store))
    workos_emulator.access_token_ttl = 300
    spec = {"mode": "hold", "config": config_fields(config), **where}
    holder = workers({**spec, "jar": jar, "ttl": 2})
    holder.expect("leased")
    [(owner, until)] = leases(store, where)
    assert owner == "crashed-worker" and until is not None
    holder.kill()
    assert holder.proc.returncode == -9

    kit = AuthKit(config, store=store, lease_seconds=2, lease_wait_seconds=10)
    result = kit.authenticate(jar)
    assert isinstance(result.user_info, UserInfo), result.error
    assert result.refreshed and result.error is None
    assert result.user_info.access_token != signed_in.user_info.access_token
    grants = refresh_requests(workos_emulator)
    assert len(grants) == 1
    assert grants[0].time >= until - 0.05  # the refresh waited for the dead process's lease to expire
    assert leases(store, where) == [(None, None)]
    kit.close()


def test_killed_after_workos_rotated_the_token_loses_nothing(
    shared: Shared, workos_emulator: Any, workers: Callable[[dict[str, Any]], Worker]
) -> None:
    """The grant reached WorkOS and was answered, but the process died before saving: the stored refresh token is
    spent. The successor (after the lease expires) spends the same token with the same ``Idempotency-Key`` (it is
    derived from the token for server-side stores), so WorkOS replays the answer the dead process never saved:
    the session lives on with those tokens, and no error reaches the user."""
    store, where = shared
    config = workos_emulator.config()
    workos_emulator.access_token_ttl = 20
    _, jar = sign_in(AuthKit(config, store=store))
    workos_emulator.access_token_ttl = 300
    workos_emulator.inject_fault(AUTHENTICATE, delay=1.0, count=1, method="POST")
    spec = {"mode": "refresh", "config": config_fields(config), **where}
    child = workers({**spec, "jar": jar, "lease_seconds": 2})
    child.expect("ready")
    wait_for(lambda: workos_emulator.grant_count(REFRESH) == 1, 60, "the worker's refresh grant")
    child.kill()
    grant = refresh_requests(workos_emulator)[0]
    wait_for(lambda: grant.status is not None, 10, "the emulator to process the orphaned grant")
    assert grant.status == 200  # WorkOS rotated the token; the answer went to a dead socket

    kit = AuthKit(config, store=store, lease_seconds=2, lease_wait_seconds=10)
    result = kit.authenticate(jar)
    assert isinstance(result.user_info, UserInfo), result.error
    assert result.refreshed and result.error is None
    successor = refresh_requests(workos_emulator)[1]
    assert successor.replayed  # answered from the replay store: the orphan's rotation
    assert successor.headers["idempotency-key"] == grant.headers["idempotency-key"]
    again = kit.authenticate(jar)
    assert isinstance(again.user_info, UserInfo)
    assert again.user_info.access_token == result.user_info.access_token
    assert workos_emulator.grant_count(REFRESH) == 2
    kit.close()


def test_killed_before_workos_answered_loses_nothing(
    shared: Shared, workos_emulator: Any, workers: Callable[[dict[str, Any]], Worker]
) -> None:
    """The process died while its grant was still unprocessed at WorkOS: the successor's grant (after the lease
    expired) spends the token first, so the session lives on; the orphaned grant is refused later."""
    store, where = shared
    config = workos_emulator.config()
    workos_emulator.access_token_ttl = 20
    signed_in, jar = sign_in(AuthKit(config, store=store))
    workos_emulator.access_token_ttl = 300
    workos_emulator.inject_fault(AUTHENTICATE, delay=8.0, count=1, method="POST")
    spec = {"mode": "refresh", "config": config_fields(config), **where}
    child = workers({**spec, "jar": jar, "lease_seconds": 2})
    child.expect("ready")
    wait_for(lambda: workos_emulator.grant_count(REFRESH) == 1, 60, "the worker's refresh grant")
    child.kill()
    orphan = refresh_requests(workos_emulator)[0]

    kit = AuthKit(config, store=store, lease_seconds=2, lease_wait_seconds=10)
    result = kit.authenticate(jar)
    assert orphan.status is None, "the successor must run before the orphaned grant is processed"
    assert isinstance(result.user_info, UserInfo), result.error
    assert result.refreshed and result.user_info.access_token != signed_in.user_info.access_token
    wait_for(lambda: orphan.status is not None, 20, "the orphaned grant to be processed")
    # the same refresh token, hence the same Idempotency-Key: answered from the replay store with the
    # successor's tokens (a provider that ignores the key refuses it instead: the token is spent)
    assert orphan.status == 200 and orphan.replayed
    assert workos_emulator.grant_count(REFRESH) == 2
    later = kit.authenticate(jar)
    assert isinstance(later.user_info, UserInfo) and not later.refreshed
    kit.close()


def test_slow_holder_whose_lease_expired_does_not_end_the_refreshed_session(
    shared: Shared, workos_emulator: Any
) -> None:
    """A holder whose grant outlives its lease: a second process takes over and refreshes. The slow grant spends
    the same token with the same ``Idempotency-Key``, so it is answered from the replay store with the successor's
    tokens (a provider that ignores the key refuses it; the slow holder then re-reads the row and uses the
    successor's session): either way it never deletes the session. (Two engines in one process stand for two
    processes: each has its own single-flight.)"""
    store, _where = shared
    config = workos_emulator.config()
    slow = AuthKit(config, store=store, lease_seconds=0.5)
    other = AuthKit(config, store=store, lease_seconds=0.5, lease_wait_seconds=10)
    workos_emulator.access_token_ttl = 20
    _, jar = sign_in(slow)
    workos_emulator.access_token_ttl = 300
    workos_emulator.inject_fault(AUTHENTICATE, delay=3.0, count=1, method="POST")
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(slow.authenticate(jar)))
    thread.start()
    wait_for(lambda: workos_emulator.grant_count(REFRESH) == 1, 30, "the slow holder's grant")
    time.sleep(0.7)  # its 0.5 s lease has expired; its grant is still held by the emulator
    taken_over = other.authenticate(jar)
    assert isinstance(taken_over.user_info, UserInfo) and taken_over.refreshed
    thread.join(timeout=30)
    assert outcome, "the slow holder did not finish"
    late = outcome[0]
    slow_grant = refresh_requests(workos_emulator)[0]
    assert slow_grant.status == 200 and slow_grant.replayed  # the successor's answer, replayed
    assert isinstance(late.user_info, UserInfo), late.error
    assert late.user_info.access_token == taken_over.user_info.access_token
    assert not any(c.is_deletion for c in late.cookies)
    still = other.authenticate(jar)
    assert isinstance(still.user_info, UserInfo) and not still.refreshed
    slow.close()
    other.close()
