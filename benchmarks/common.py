"""Shared plumbing for the benchmark suite: statistics, interleaved timing loops, and the lab.

The lab is one local WorkOS emulator served on 127.0.0.1 plus helpers that build an :class:`AuthKit` per session
store (cookie, memory, SQLite, PostgreSQL) and sign a user in to it. Every figure is a distribution of per-call
samples (median, p95, p99); cases compared with each other are measured *interleaved* (round-robin blocks of
iterations) in the same process and run, so machine noise hits them alike and their ratios hold.
"""

from __future__ import annotations

import contextlib
import gc
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from authkit_core.config import AuthKitConfig
from authkit_core.engine import AuthKit, AuthResult
from authkit_core.models import AuthenticationResponse, NoUserInfo
from authkit_core.storage.cookie import CookieSessionStore
from authkit_core.storage.memory import MemorySessionStore
from authkit_core.testing import Emulator, EmulatorServer
from authkit_core.tokens import get_token_claims

POSTGRES_URL = os.environ.get("AUTHKIT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("AUTHKIT_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("AUTHKIT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
USER = "user_alice"
BACKENDS = ("cookie", "memory", "sqlite", "postgres", "mariadb", "redis")
#: The backends that need a database server, and where it is.
SERVERS = {"postgres": POSTGRES_URL, "mariadb": MARIADB_URL, "redis": REDIS_URL}


# --- statistics ----------------------------------------------------------------------------------------------


def summarize(samples_ns: list[int] | list[float], unit: float = 1000.0) -> dict[str, Any]:
    """Median, p95, p99, mean, min and count of ``samples_ns``, in microseconds by default (``unit`` ns)."""
    if not samples_ns:
        return {"n": 0}
    ordered = sorted(samples_ns)
    n = len(ordered)

    def pct(p: float) -> float:
        return ordered[min(n - 1, round(p / 100 * (n - 1)))] / unit

    return {
        "n": n,
        "median": statistics.median(ordered) / unit,
        "p95": pct(95),
        "p99": pct(99),
        "mean": statistics.fmean(ordered) / unit,
        "min": ordered[0] / unit,
    }


def interleaved(cases: Mapping[str, Callable[[], object]], *, rounds: int, per_round: int) -> dict[str, list[int]]:
    """Time each call of every case (ns); cases run round-robin in blocks of ``per_round`` for ``rounds``."""
    samples: dict[str, list[int]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up: caches, connections, imports
        for _ in range(3):
            fn()
    gc.collect()
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, fn in cases.items():
            out = samples[name]
            for _ in range(per_round):
                start = clock()
                fn()
                out.append(clock() - start)
    return samples


async def ainterleaved(
    cases: Mapping[str, Callable[[], Awaitable[object]]], *, rounds: int, per_round: int
) -> dict[str, list[int]]:
    """:func:`interleaved` for coroutine functions, awaited in the running event loop."""
    samples: dict[str, list[int]] = {name: [] for name in cases}
    for fn in cases.values():
        for _ in range(3):
            await fn()
    gc.collect()
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, fn in cases.items():
            out = samples[name]
            for _ in range(per_round):
                start = clock()
                await fn()
                out.append(clock() - start)
    return samples


# --- the lab ---------------------------------------------------------------------------------------------------


def server_available(url: str) -> bool:
    """Whether the database at ``url`` answers (PostgreSQL, MariaDB or Redis)."""
    if url.startswith(("redis://", "rediss://")):
        try:
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
            client.ping()
            client.close()
        except Exception:
            return False
        return True
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
        engine.dispose()
    except Exception:
        return False
    return True


@dataclass
class Backend:
    """One AuthKit engine on one store, and how to clean it up."""

    name: str
    kit: AuthKit
    cleanup: Callable[[], None] = field(default=lambda: None)


class Lab:
    """A served emulator plus per-backend engines (use as a context manager)."""

    def __init__(self) -> None:
        self.emulator = Emulator()
        self.server = EmulatorServer(self.emulator)
        self.tmp = tempfile.TemporaryDirectory(prefix="authkit-bench-")
        self.table = f"bench_sessions_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.servers = {name: server_available(url) for name, url in SERVERS.items()}
        self._backends: list[Backend] = []
        self._async_engines: list[Any] = []

    def __enter__(self) -> Lab:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for backend in self._backends:
            with contextlib.suppress(Exception):
                backend.kit.close()
            with contextlib.suppress(Exception):
                backend.cleanup()
        self.server.stop()
        self.tmp.cleanup()

    @property
    def base_url(self) -> str:
        """The emulator's ``http://127.0.0.1:PORT``."""
        return self.server.base_url

    def config(self, **overrides: Any) -> AuthKitConfig:
        """An ``AuthKitConfig`` pointing at the emulator."""
        return self.server.config(**overrides)

    @property
    def have_postgres(self) -> bool:
        """Whether PostgreSQL answers."""
        return self.servers["postgres"]

    def backends(self, names: tuple[str, ...] = BACKENDS) -> list[str]:
        """The backend names that can run here (PostgreSQL and MariaDB only when reachable)."""
        return [n for n in names if self.servers.get(n, True)]

    def store(
        self, name: str, *, cache_size: int = 1024, tag: str = "", async_engine: bool = True
    ) -> tuple[Any, Callable[[], None]]:
        """A fresh session store of kind ``name`` and its cleanup. SQL stores get a sync and an async engine (the
        async driver under asyncio), or with ``async_engine=False`` only the sync one (in a worker thread under
        asyncio)."""
        if name == "cookie":
            return CookieSessionStore(cache_size=cache_size), lambda: None
        if name == "memory":
            return MemorySessionStore(), lambda: None
        if name == "redis":
            return self._redis_store(tag)
        from sqlalchemy import create_engine
        from sqlalchemy.ext.asyncio import create_async_engine

        from authkit_core.storage.sql import SQLSessionStore

        # as a tuned app would pass them (the store's own engines get the same): no ROLLBACK per checkin
        options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT", "skip_autocommit_rollback": True}
        if name == "sqlite":
            path = os.path.join(self.tmp.name, f"sessions{tag}.sqlite3")
            engine = create_engine(f"sqlite:///{path}", **options)
            aengine = create_async_engine(f"sqlite+aiosqlite:///{path}", **options)
            table = "authkit_sessions"
        elif name in SERVERS:
            url = SERVERS[name]
            engine = create_engine(url, pool_size=5, max_overflow=10, **options)
            aurl = url.replace("+psycopg", "+asyncpg").replace("+pymysql", "+aiomysql")
            aengine = create_async_engine(aurl, pool_size=5, max_overflow=10, **options)
            table = self.table + tag
        else:
            raise ValueError(name)
        if async_engine:
            store = SQLSessionStore(engine, table_name=table, async_engine=aengine, create_tables=True)
            self._async_engines.append(aengine)
        else:
            store = SQLSessionStore(engine, table_name=table, create_tables=True)

        def cleanup() -> None:
            from sqlalchemy import text

            if name in SERVERS:
                with engine.connect() as conn:
                    conn.execute(text(f"DROP TABLE IF EXISTS {engine.dialect.identifier_preparer.quote(table)}"))
            engine.dispose()
            if name == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(OSError):
                        os.remove(path + suffix)

        return store, cleanup

    def _redis_store(self, tag: str) -> tuple[Any, Callable[[], None]]:
        """A ``RedisSessionStore`` under a key prefix of its own; the cleanup deletes every key under it."""
        import redis

        from authkit_core.storage.redis import RedisSessionStore

        prefix = f"{self.table}{tag}"
        store = RedisSessionStore(REDIS_URL, key_prefix=prefix)

        def cleanup() -> None:
            store.close()
            client = redis.Redis.from_url(REDIS_URL)
            for pattern in (f"{{{prefix}:*", f"{prefix}:*"):
                batch = []
                for key in client.scan_iter(match=pattern, count=10_000):
                    batch.append(key)
                    if len(batch) >= 10_000:
                        client.unlink(*batch)
                        batch = []
                if batch:
                    client.unlink(*batch)
            client.close()

        return store, cleanup

    def backend(
        self,
        name: str,
        *,
        cold: bool = False,
        tag: str = "",
        http: Any = None,
        async_engine: bool = True,
        **config: Any,
    ) -> Backend:
        """An engine on a fresh ``name`` store. ``cold``: the cookie store's unseal cache and the JWKS
        engine's result caches are off (``cache_results=False``), so every request unseals and verifies."""
        store, cleanup = self.store(name, cache_size=0 if cold else 1024, tag=tag, async_engine=async_engine)
        kit = AuthKit(self.config(**config), store=store, http=http, cache_results=not cold)
        backend = Backend(name, kit, cleanup)
        self._backends.append(backend)
        return backend

    async def dispose_async_engines(self) -> None:
        """Close the async engines' pooled connections (call at the end of each event loop that used them)."""
        for aengine in self._async_engines:
            with contextlib.suppress(Exception):
                await aengine.dispose()

    def auth_response(self, *, expires_in: int | None = None) -> dict[str, Any]:
        """A fresh ``/authenticate``-shaped response for alice; ``expires_in`` re-mints its access token."""
        response = self.emulator.issue_session(USER)
        if expires_in is not None:
            claims = get_token_claims(response["access_token"])
            response["access_token"] = self.emulator.mint_access_token(
                USER, session_id=claims["sid"], organization_id=response["organization_id"], expires_in=expires_in
            )
        return response

    def sign_in(self, kit: AuthKit, response: dict[str, Any] | None = None) -> dict[str, str]:
        """Store a fresh session in ``kit``'s store; the request cookies that carry it."""
        result = AuthResult(NoUserInfo())
        kit.save_session(result, AuthenticationResponse.from_api(response or self.auth_response()), {})
        return {c.name: c.value for c in result.cookies if not c.is_deletion}


def cookie_header(cookies: Mapping[str, str]) -> str:
    """A ``Cookie`` header value."""
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


@contextlib.contextmanager
def timer() -> Iterator[Callable[[], float]]:
    """``with timer() as elapsed: ...; elapsed()`` in seconds."""
    start = time.perf_counter()
    yield lambda: time.perf_counter() - start
