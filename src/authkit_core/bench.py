"""``authkit-bench`` (or ``python -m authkit_core.bench``): what a refresh and a request cost on *your* store and
provider, measured by the library itself.

It builds an :class:`~authkit_core.engine.AuthKit` on the store the URL names (``cookie``, ``memory``, a SQLAlchemy
URL such as ``sqlite:///sessions.db`` or ``postgresql+psycopg://...``, or ``redis://...``), signs one test user in,
then times a bounded number of refreshes (``--refreshes``) and of authentications of that session
(``--requests``). Each refresh is split into the provider's share (the time WorkOS, or the emulator, took to answer
the refresh grant, timed at the HTTP transport) and the library's share (everything else: the store's lease and
save, sealing, verification). It prints p50/p95/p99 as a table, or JSON with ``--json``; a progress bar goes to
stderr when it is a terminal.

The provider is the bundled emulator (started in this process; needs ``authkit-session[testing]``) unless
``--workos`` is given: then the ``WORKOS_*`` variables configure a real WorkOS environment, ``--refresh-token``
(or ``AUTHKIT_BENCH_REFRESH_TOKEN``) is a test user's refresh token, and ``--not-production`` must confirm that
the environment is a staging one: every refresh rotates that user's tokens (never point it at a production user).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx

from .config import AuthKitConfig
from .engine import AuthKit, AuthResult
from .models import AuthenticationResponse, NoUserInfo, UserInfo
from .storage.base import SessionStore
from .workos_api import authenticate_with_refresh_token_flow

__all__ = ["drop_store", "main", "make_store", "measure", "safe_url"]


class _TimedTransport(httpx.BaseTransport):
    """An ``httpx`` transport that adds the time spent in each refresh grant to :attr:`provider_seconds`."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.provider_seconds = 0.0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = self._inner.handle_request(request)
            response.read()
            return response
        finally:
            if request.url.path.endswith("/user_management/authenticate"):
                self.provider_seconds += time.perf_counter() - started

    def close(self) -> None:
        self._inner.close()


def make_store(url: str) -> SessionStore:
    """The session store a URL names: ``cookie``, ``memory``, ``redis://``/``rediss://``, or a SQLAlchemy URL."""
    from .storage import CookieSessionStore, MemorySessionStore

    if url == "cookie":
        return CookieSessionStore()
    if url == "memory":
        return MemorySessionStore()
    if url.startswith(("redis://", "rediss://")):
        from .storage.redis import RedisSessionStore

        return RedisSessionStore(url, key_prefix=f"authkit-bench-{os.getpid()}")
    from .storage.sql import SQLSessionStore

    return SQLSessionStore(url, table_name=f"authkit_bench_{os.getpid()}", create_tables=True)


def drop_store(store: SessionStore) -> None:
    """Remove what the run stored (its SQL table, its Redis keys) and close the store's connections."""
    from .storage.sql import SQLSessionStore

    if isinstance(store, SQLSessionStore):
        engine = store._sync_engine()
        store.table.drop(engine, checkfirst=True)
        store.dispose()
        return
    prefix = getattr(store, "key_prefix", None)
    client = getattr(getattr(store, "_sync", None), "client", None)
    if prefix is not None and client is not None:
        for pattern in (f"{{{prefix}:*", f"{prefix}:*"):
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
    close = getattr(store, "close", None)
    if close is not None:
        close()


def safe_url(url: str) -> str:
    """``url`` without its password (for the report)."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 (milliseconds) of ``samples`` (seconds)."""
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return {"p50": statistics.median(ordered) * 1000, "p95": pct(0.95), "p99": pct(0.99), "n": len(ordered)}


class _Progress:
    """A one-line progress bar on ``stream`` (only when it is a terminal)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.shown = stream.isatty()

    def step(self) -> None:
        self.done += 1
        if self.shown and (self.done % max(1, self.total // 50) == 0 or self.done == self.total):
            filled = 30 * self.done // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()


def measure(
    kit: AuthKit,
    transport: _TimedTransport,
    result: AuthResult,
    cookies: dict[str, str],
    *,
    refreshes: int,
    requests: int,
    progress: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Time ``refreshes`` refreshes and ``requests`` authentications of the signed-in session ``result``."""
    totals: list[float] = []
    provider: list[float] = []
    for _ in range(refreshes):
        transport.provider_seconds = 0.0
        started = time.perf_counter()
        result = kit.refresh(result, cookies)
        totals.append(time.perf_counter() - started)
        provider.append(transport.provider_seconds)
        if result.error is not None or not isinstance(result.user_info, UserInfo):
            raise SystemExit(f"a refresh failed: {result.error.code if result.error else result.reason}")
        for cookie in result.cookies:
            if cookie.is_deletion:
                cookies.pop(cookie.name, None)
            else:
                cookies[cookie.name] = cookie.value
        progress()
    served: list[float] = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = kit.authenticate(cookies)
        served.append(time.perf_counter() - started)
        if not isinstance(answer.user_info, UserInfo):
            raise SystemExit(f"an authentication failed: {answer.reason}")
        progress()
    library = [t - p for t, p in zip(totals, provider, strict=True)]
    return {
        "refresh_total": _percentiles(totals),
        "refresh_provider": _percentiles(provider),
        "refresh_library": _percentiles(library),
        "authenticate": _percentiles(served),
    }


def _sign_in_emulator(kit: AuthKit, server: Any) -> tuple[AuthResult, dict[str, str]]:
    response = AuthenticationResponse.from_api(server.emulator.issue_session("user_alice"))
    result = AuthResult(NoUserInfo())
    kit.save_session(result, response, {})
    return result, {c.name: c.value for c in result.cookies if not c.is_deletion}


def _sign_in_workos(kit: AuthKit, refresh_token: str) -> tuple[AuthResult, dict[str, str]]:
    from .flow import run_sync

    response = run_sync(authenticate_with_refresh_token_flow(kit.config, refresh_token), kit._sio())
    result = AuthResult(NoUserInfo())
    kit.save_session(result, response, {})
    return result, {c.name: c.value for c in result.cookies if not c.is_deletion}


def _table(figures: dict[str, Any], header: str) -> str:
    rows = [
        ("refresh, end to end", "refresh_total"),
        ("  the provider's share", "refresh_provider"),
        ("  the library's share", "refresh_library"),
        ("a request (authenticate)", "authenticate"),
    ]
    lines = [header, "", f"{'':28} {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}"]
    for label, key in rows:
        f = figures[key]
        lines.append(f"{label:28} {f['n']:>6} {f['p50']:>9.3f} {f['p95']:>9.3f} {f['p99']:>9.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; see the module's docstring."""
    parser = argparse.ArgumentParser(prog="authkit-bench", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--store", default="cookie", help="cookie, memory, a SQLAlchemy URL or redis://... (cookie)")
    parser.add_argument("--refreshes", type=int, default=200, help="refreshes to time (default 200)")
    parser.add_argument("--requests", type=int, default=2000, help="authentications to time (default 2000)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--workos", action="store_true", help="a real WorkOS environment from WORKOS_* variables")
    parser.add_argument("--refresh-token", default=os.environ.get("AUTHKIT_BENCH_REFRESH_TOKEN"))
    parser.add_argument("--not-production", action="store_true", help="confirm --workos is a staging environment")
    args = parser.parse_args(argv)
    if not 1 <= args.refreshes <= 100_000 or not 1 <= args.requests <= 1_000_000:
        parser.error("--refreshes takes 1-100000 and --requests 1-1000000")
    if args.workos and not (args.not_production and args.refresh_token):
        parser.error(
            "--workos rotates a real user's tokens: pass --not-production to confirm a staging environment, and a "
            "test user's --refresh-token (or AUTHKIT_BENCH_REFRESH_TOKEN)"
        )
    transport = _TimedTransport()
    store = make_store(args.store)
    progress = _Progress(args.refreshes + args.requests, sys.stderr)
    server: Any = None
    try:
        if args.workos:
            config = AuthKitConfig.from_env()
            provider = f"WorkOS at {config.api_hostname}"
        else:
            from .testing import EmulatorServer

            server = EmulatorServer().start()
            config = server.config()
            provider = f"the bundled emulator at {server.base_url}"
        kit = AuthKit(config, store=store, http=httpx.Client(transport=transport))
        result, cookies = _sign_in_workos(kit, args.refresh_token) if args.workos else _sign_in_emulator(kit, server)
        figures = measure(
            kit, transport, result, cookies, refreshes=args.refreshes, requests=args.requests, progress=progress.step
        )
        kit.close()
    finally:
        if server is not None:
            server.stop()
        drop_store(store)
    where = {"store": safe_url(args.store), "provider": provider}
    if args.json:
        print(json.dumps({**where, **figures}, indent=2))
    else:
        print(_table(figures, f"authkit-bench: store {where['store']}, provider {provider}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
