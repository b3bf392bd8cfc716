"""Storage faults, end to end: the session database fails under a running app (ASGI and WSGI, real servers).

The real database servers are never stopped (other suites use them): each SQL store reaches its database through a
:class:`~reliability.conftest.Gate`, a TCP relay the test can close (connections refused, live ones cut) and open
again, and whose connections the test can kill from the server side (``pg_terminate_backend``, MariaDB's
``KILL``). SQLite is locked by another connection holding ``BEGIN EXCLUSIVE`` past the 5 s busy timeout.

What must hold: an outage is transient (``storage_unavailable``): the request is served with a still-valid token or
signed out for that request, the cookie is never expired and nothing is deleted; the first request after the
database is back is signed in; and a refresh whose new tokens could not be saved is not lost (its grant is replayed
by ``Idempotency-Key`` at the next attempt). SIGKILL of a process during a refresh is covered by
``tests/engine/test_multiprocess.py`` (see ``docs/security.md``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy

from authkit_core.storage.sql import SQLSessionStore
from conftest import require_mariadb, require_postgres

from .conftest import (
    ALICE,
    AUTHENTICATE,
    BOB,
    SESSION,
    Gate,
    Site,
    authorize,
    count,
    expires_session,
    fresh_table,
    gated_url,
    sign_in,
    wait_until,
    whoami,
)


class Database:
    """A SQL store reached through a gate, and the server-side controls of its connections."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind
        self.url = url
        port = sqlalchemy.make_url(url).port
        assert port is not None
        self.gate = Gate(port)
        self.store = SQLSessionStore(gated_url(url, self.gate), table_name=fresh_table(), create_tables=True)

    def kill_connections(self) -> int:
        """Kill, from the server side, every connection the store holds; returns how many."""
        ports = set(self.gate.upstream_ports())
        if not ports:
            return 0
        admin = sqlalchemy.create_engine(self.url, isolation_level="AUTOCOMMIT")
        killed = 0
        try:
            with admin.connect() as conn:
                if self.kind == "postgres":
                    rows = conn.execute(sqlalchemy.text("SELECT pid, client_port FROM pg_stat_activity")).all()
                    for pid, port in rows:
                        if port in ports:
                            conn.execute(sqlalchemy.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                            killed += 1
                else:
                    rows = conn.execute(sqlalchemy.text("SELECT ID, HOST FROM information_schema.PROCESSLIST")).all()
                    for ident, host in rows:
                        port = host.rpartition(":")[2] if isinstance(host, str) else ""
                        if port.isdigit() and int(port) in ports:
                            conn.execute(sqlalchemy.text(f"KILL {int(ident)}"))
                            killed += 1
        finally:
            admin.dispose()
        return killed

    def close(self) -> None:
        """Drop the table and stop the gate."""
        self.gate.open()
        self.store.dispose()
        engine = sqlalchemy.create_engine(self.url)
        self.store.table.drop(engine, checkfirst=True)
        engine.dispose()
        self.gate.close()


@pytest.fixture(params=["postgres", "mariadb"])
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A gated SQL store on PostgreSQL or MariaDB."""
    kind = str(request.param)
    url = require_postgres() if kind == "postgres" else require_mariadb()
    db = Database(kind, url)
    yield db
    db.close()


def test_connections_killed_server_side(site: Site, database: Database) -> None:
    site.mount(site.kit(store=database.store))
    with site.client() as client:
        sign_in(client)
        assert whoami(client)[1]["email"] == ALICE
        assert database.kill_connections() >= 1
        count("faults")
        response, body = whoami(client)  # the dead pooled connection fails this one request, transiently
        assert not expires_session(response)
        assert body["email"] == ALICE or body["error"] == "storage_unavailable", body
        response, body = whoami(client)
        assert body["email"] == ALICE and body["error"] is None
        assert not expires_session(response)


def test_database_unreachable_then_restored(site: Site, database: Database) -> None:
    site.mount(site.kit(store=database.store))
    with site.client() as client, site.client() as newcomer:
        sign_in(client)
        assert whoami(client)[1]["email"] == ALICE
        database.gate.close()
        count("faults")
        for _ in range(3):
            response, body = whoami(client)
            assert body["email"] is None and body["error"] == "storage_unavailable"
            assert not expires_session(response)
        first = newcomer.get("/protected")
        callback = newcomer.get(authorize(first.headers["location"]))  # a sign-in during the outage
        assert callback.status_code == 500 and "storage_unavailable" in callback.text  # the error page
        assert "text/html" in callback.headers["content-type"]
        database.gate.open()
        _, body = whoami(client)
        assert body["email"] == ALICE and body["error"] is None
        sign_in(newcomer, BOB)
        assert whoami(newcomer)[1]["email"] == BOB


def test_database_lost_between_grant_and_save_loses_nothing(site: Site, database: Database) -> None:
    """WorkOS rotated the tokens, then the database went away before they were saved: the stored refresh token is
    spent. The next refresh spends it again with the same ``Idempotency-Key`` and gets the same answer."""
    site.emulator.access_token_ttl = 20  # every request refreshes; the token stays valid meanwhile
    site.mount(site.kit(store=database.store, lease_seconds=1.0, http_timeout_seconds=5))
    with site.client() as client:
        sign_in(client)
        start = len(site.emulator.requests)
        site.emulator.inject_fault(AUTHENTICATE, method="POST", delay=1.0)  # the real answer, a second late
        outcome: list[httpx.Response] = []
        thread = threading.Thread(target=lambda: outcome.append(client.get("/")))
        thread.start()
        wait_until(lambda: site.emulator.grant_count("refresh_token") >= 1, 10, "the refresh grant")
        database.gate.close()  # while WorkOS processes the grant
        thread.join(30)
        count("faults")
        response = outcome[0]
        assert response.status_code == 200 and not expires_session(response)
        assert response.json()["email"] == ALICE  # the still-valid token served this request
        assert response.json()["error"] == "storage_unavailable"
        grants = [r for r in site.emulator.requests[start:] if r.grant_type == "refresh_token"]
        assert [g.status for g in grants] == [200]  # rotated at WorkOS, not saved here
        database.gate.open()
        time.sleep(1.1)  # the lease the failed save could not release expires
        response, body = whoami(client)
        assert body["email"] == ALICE and body["error"] is None, body
        replay = [r for r in site.emulator.requests[start:] if r.grant_type == "refresh_token"][1]
        assert replay.replayed and replay.headers["idempotency-key"] == grants[0].headers["idempotency-key"]
        _, body = whoami(client)  # the saved tokens refresh in turn
        assert body["email"] == ALICE and body["error"] is None


def test_sqlite_locked_past_the_busy_timeout(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    store = SQLSessionStore(f"sqlite:///{path}", create_tables=True)
    site.emulator.access_token_ttl = 20  # every request refreshes, and the token stays valid
    site.mount(site.kit(store=store, lease_seconds=2.0))
    try:
        with site.client() as client:
            sign_in(client)
            assert whoami(client)[1]["email"] == ALICE
            locked, release = threading.Event(), threading.Event()

            def hold_lock() -> None:
                conn = sqlite3.connect(path, timeout=1, isolation_level=None)
                conn.execute("BEGIN EXCLUSIVE")
                locked.set()
                release.wait(30)
                conn.execute("ROLLBACK")
                conn.close()

            holder = threading.Thread(target=hold_lock)
            holder.start()
            assert locked.wait(10)
            count("faults")
            response, body = whoami(client)  # the lease UPDATE waits 5 s, then gives up
            assert body["email"] == ALICE and body["error"] == "storage_unavailable"
            assert not expires_session(response)
            release.set()
            holder.join(10)
            time.sleep(2.1)  # the lease of the failed attempt may still be held: it expires
            response, body = whoami(client)
            assert body["email"] == ALICE and body["error"] is None
            assert SESSION in response.headers.get("set-cookie", "")
    finally:
        store.dispose()


def test_connections_lost_and_restored_mid_load(site: Site, database: Database) -> None:
    """Eight sessions refresh every few seconds while the database connections are killed twice and the
    database is unreachable for a second: no request fails, no session is lost."""
    site.emulator.access_token_ttl = 6
    site.mount(site.kit(store=database.store, refresh_buffer_seconds=3, lease_seconds=2.0, lease_wait_seconds=3))
    clients = [site.client() for _ in range(8)]
    for index, client in enumerate(clients):
        sign_in(client, ALICE if index % 2 == 0 else BOB)
    stop = threading.Event()
    tally: Counter[str] = Counter()
    problems: list[str] = []
    lock = threading.Lock()

    def browse(client: httpx.Client, email: str) -> None:
        while not stop.is_set():
            try:
                response = client.get("/")
            except httpx.HTTPError as exc:
                with lock:
                    problems.append(f"transport: {exc!r}")
                continue
            body: dict[str, Any] = response.json() if response.status_code == 200 else {}
            with lock:
                tally["requests"] += 1
                if response.status_code != 200:
                    problems.append(f"status {response.status_code}")
                elif expires_session(response):
                    problems.append(f"session ended: {body.get('reason')}")
                elif body.get("email") == email:
                    tally["signed in"] += 1
                elif body.get("error") == "storage_unavailable":
                    tally["transient"] += 1
                else:
                    problems.append(f"unexpected: {body}")
            time.sleep(0.05)

    threads = [
        threading.Thread(target=browse, args=(client, ALICE if i % 2 == 0 else BOB), daemon=True)
        for i, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        database.kill_connections()
        time.sleep(2)
        database.gate.close()
        time.sleep(1)
        database.gate.open()
        time.sleep(2)
        database.gate.cut()
        time.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    count("faults", 3)
    assert not problems, problems[:10]
    assert tally["signed in"] > tally["transient"] > 0, tally
    for index, client in enumerate(clients):  # every session is still there
        email = ALICE if index % 2 == 0 else BOB
        wait_until(lambda c=client, e=email: c.get("/").json()["email"] == e, 10, "the session after the outage")
        client.close()
    count("sessions_kept", len(clients))
    assert site.emulator.grant_count("refresh_token") >= len(clients)
