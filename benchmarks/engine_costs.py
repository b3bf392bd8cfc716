"""What the session engine costs per store: a plain script (not a test) that prints a Markdown table.

For each backend (cookie, memory, SQLite file, PostgreSQL, MariaDB; a database that is not reachable is skipped)
it measures, against the local WorkOS emulator over real HTTP on 127.0.0.1:

* **load**: ``AuthKit.authenticate`` of a valid session that needs no refresh (load, unseal/decrypt, verify the
  access token against the cached JWKS); median and 95th percentile over ``--loads`` calls;
* **refresh**: ``AuthKit.authenticate`` of a session inside the refresh window (load, verify, single-flight,
  lease, reload, grant, save), minus the same refresh grant sent as a bare ``httpx`` call on a kept-alive client
  (the emulator's own time plus the HTTP round trip); medians over ``--refreshes`` rounds;
* **cookie**: the ``Set-Cookie`` bytes written at sign-in for a user whose role has 50 permissions.

Run: ``.venv/bin/python benchmarks/engine_costs.py [--loads 500] [--refreshes 40]``. Database URLs come from
``AUTHKIT_TEST_POSTGRES_URL`` / ``AUTHKIT_TEST_MARIADB_URL`` (defaults: the local test databases).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import sqlalchemy

from authkit_core import UserInfo
from authkit_core.config import AuthKitConfig
from authkit_core.engine import AuthKit
from authkit_core.models import AuthenticationResponse
from authkit_core.storage.base import SessionStore
from authkit_core.storage.cookie import CookieSessionStore
from authkit_core.storage.memory import MemorySessionStore
from authkit_core.storage.sql import SQLSessionStore
from authkit_core.testing.emulator import Emulator
from authkit_core.testing.server import EmulatorServer
from authkit_core.workos_api import authenticate_with_refresh_token_request

POSTGRES_URL = os.environ.get("AUTHKIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("AUTHKIT_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
PERMISSIONS = [f"resource-{i:02d}:read-write" for i in range(50)]


@dataclass
class Row:
    """One backend's figures."""

    backend: str
    load_median_us: float
    load_p95_us: float
    refresh_median_ms: float
    grant_median_ms: float
    cookie_bytes: int
    cookies: int

    @property
    def overhead_ms(self) -> float:
        """The refresh's cost beyond the grant itself."""
        return self.refresh_median_ms - self.grant_median_ms


def port_open(host: str, port: int) -> bool:
    """Whether something listens on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def make_store(kind: str, tmpdir: str) -> tuple[SessionStore, Callable[[], None]] | None:
    """A fresh store and its clean-up, or ``None`` when its database is not reachable."""
    if kind == "cookie":
        return CookieSessionStore(), lambda: None
    if kind == "memory":
        return MemorySessionStore(), lambda: None
    if kind == "sqlite":
        url = f"sqlite:///{tmpdir}/bench.sqlite3"
    elif kind == "postgres":
        url = POSTGRES_URL
        if not port_open("127.0.0.1", 5432):
            return None
    else:
        url = MARIADB_URL
        if not port_open("127.0.0.1", 3306):
            return None
    store = SQLSessionStore(url, table_name=f"authkit_bench_{uuid.uuid4().hex[:10]}", create_tables=True)

    def cleanup() -> None:
        store.dispose()
        raw = sqlalchemy.create_engine(url)
        store.table.drop(raw, checkfirst=True)
        raw.dispose()

    return store, cleanup


def new_session(kit: AuthKit, emu: Emulator, ttl: int) -> tuple[dict[str, str], int, int]:
    """Store a fresh session for alice (tokens living ``ttl`` s); the jar, Set-Cookie bytes and cookie count."""
    emu.access_token_ttl = ttl
    response = AuthenticationResponse.from_api(emu.issue_session("user_alice", organization_id="org_acme"))
    emu.access_token_ttl = 300
    result = kit.authenticate({})
    kit.save_session(result, response, {})
    written = [c for c in result.cookies if not c.is_deletion]
    jar = {c.name: c.value for c in written}
    return jar, sum(len(c.header_value().encode()) for c in written), len(written)


def median_us(samples: list[float]) -> float:
    """Median of seconds, in microseconds."""
    return statistics.median(samples) * 1e6


def measure(kind: str, store: SessionStore, config: AuthKitConfig, emu: Emulator, loads: int, rounds: int) -> Row:
    """All figures for one backend."""
    kit = AuthKit(config, store=store)
    jar, cookie_bytes, cookies = new_session(kit, emu, 300)
    for _ in range(20):  # warm up: JWKS cached, connections pooled
        assert isinstance(kit.authenticate(jar).user_info, UserInfo)
    load: list[float] = []
    for _ in range(loads):
        start = time.perf_counter()
        result = kit.authenticate(jar)
        load.append(time.perf_counter() - start)
        assert not result.refreshed
    refresh: list[float] = []
    grant: list[float] = []
    with httpx.Client(timeout=config.http_timeout_seconds) as client:
        for _ in range(rounds):
            jar, _, _ = new_session(kit, emu, 20)
            start = time.perf_counter()
            result = kit.authenticate(jar)
            refresh.append(time.perf_counter() - start)
            assert result.refreshed and isinstance(result.user_info, UserInfo)
            bare = emu.issue_session("user_alice", organization_id="org_acme")
            request = authenticate_with_refresh_token_request(config, bare["refresh_token"], "org_acme")
            start = time.perf_counter()
            response = client.send(request)
            grant.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
            emu.reset_log()
    kit.close()
    load.sort()
    return Row(
        backend=kind,
        load_median_us=median_us(load),
        load_p95_us=load[int(len(load) * 0.95)] * 1e6,
        refresh_median_ms=statistics.median(refresh) * 1e3,
        grant_median_ms=statistics.median(grant) * 1e3,
        cookie_bytes=cookie_bytes,
        cookies=cookies,
    )


def table(rows: list[Row]) -> str:
    """The Markdown table."""
    lines = [
        "| backend | load median (µs) | load p95 (µs) | refresh total (ms) | bare grant (ms) | refresh overhead (ms) "
        "| Set-Cookie bytes, 50 permissions |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        cookie = f"{r.cookie_bytes} ({r.cookies} cookies)" if r.cookies > 1 else str(r.cookie_bytes)
        lines.append(
            f"| {r.backend} | {r.load_median_us:.0f} | {r.load_p95_us:.0f} | {r.refresh_median_ms:.2f} "
            f"| {r.grant_median_ms:.2f} | {r.overhead_ms:.2f} | {cookie} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Measure every reachable backend and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=500, help="authenticate calls per backend (default 500)")
    parser.add_argument("--refreshes", type=int, default=40, help="refresh rounds per backend (default 40)")
    parser.add_argument("--backends", default="cookie,memory,sqlite,postgres,mariadb")
    args = parser.parse_args()
    emu = Emulator()
    emu.set_role_permissions("admin", PERMISSIONS)
    rows: list[Row] = []
    skipped: list[str] = []
    with EmulatorServer(emu) as server, tempfile.TemporaryDirectory() as tmpdir:
        config = server.config()
        for kind in args.backends.split(","):
            made = make_store(kind, tmpdir)
            if made is None:
                skipped.append(kind)
                continue
            store, cleanup = made
            try:
                rows.append(measure(kind, store, config, emu, args.loads, args.refreshes))
            finally:
                cleanup()
    print(table(rows))
    if skipped:
        print(f"\nskipped (database not reachable): {', '.join(skipped)}")


if __name__ == "__main__":
    main()
