"""``make demo`` / ``python -m examples.demo``: serve the demo app and the bundled WorkOS emulator on 127.0.0.1.

It starts the emulator (seeded users: alice@example.com is admin of Acme and member of Globex), stores sessions in
SQLite (``.demo/sessions.sqlite3`` unless ``--database`` says otherwise: another SQLAlchemy URL, a Redis URL or
``cookie``), serves the app with uvicorn, prints its
URL and opens a browser (unless ``--no-browser``), then serves until Ctrl-C. No WorkOS account and no network are
needed. ``--port 0`` and ``--emulator-port 0`` take free ports (the printed URL tells which).
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import webbrowser
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import uvicorn
from sqlalchemy.engine import make_url

from authkit_core.engine import AuthKit
from authkit_core.storage.base import SessionStore
from authkit_core.storage.cookie import CookieSessionStore
from authkit_core.storage.sql import SQLSessionStore
from authkit_core.testing import Emulator, EmulatorServer

from .app import DemoSettings, create_app

__all__ = ["main"]

HOST = "127.0.0.1"
#: Where the default SQLite database lives (gitignored).
DEMO_DIR = Path(__file__).resolve().parents[2] / ".demo"


def _store(database: str | None) -> tuple[SessionStore, str, str]:
    """The session store for ``--database``, how the page footer names it, and how the terminal does."""
    if database == "cookie":
        return CookieSessionStore(), "the wos-session cookie", "the wos-session cookie (CookieSessionStore)"
    if database is not None and database.split("://", 1)[0] in ("redis", "rediss", "unix"):
        from authkit_core.storage.redis import RedisSessionStore

        shown = _hide_password(database)
        return RedisSessionStore(database, key_prefix="authkit-demo"), "Redis", f"{shown} (RedisSessionStore)"
    if database is None:
        DEMO_DIR.mkdir(exist_ok=True)
        database = f"sqlite:///{DEMO_DIR / 'sessions.sqlite3'}"
    url = make_url(database)
    store = SQLSessionStore(database, create_tables=True)
    if url.get_backend_name() == "sqlite":
        name = Path(url.database).name if url.database else "memory"
        return store, f"SQLite ({name})", f"SQLite {url.database or ':memory:'} (SQLSessionStore)"
    shown = url.render_as_string(hide_password=True)
    return store, f"{url.get_backend_name()} (SQLSessionStore)", f"{shown} (SQLSessionStore)"


def _hide_password(url: str) -> str:
    """``url`` with the password (if any) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    netloc = f"{user}***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"cannot listen on {HOST}:{port} ({exc.strerror}); try --port 0 for a free port") from exc
    sock.listen(128)
    return sock


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m examples.demo", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="the app's port on 127.0.0.1 (0: a free port)")
    parser.add_argument("--emulator-port", type=int, default=0, help="the emulator's port (default: a free port)")
    parser.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy URL of the session store, a Redis URL (redis://, rediss://) for RedisSessionStore, or "
        "'cookie' for cookie sessions (default: SQLite file .demo/sessions.sqlite3)",
    )
    parser.add_argument("--access-token-ttl", type=int, default=300, help="access token lifetime in seconds")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument(
        "--impersonate",
        metavar="EMAIL",
        help="make the next sign-in of this user an impersonation by admin@example.com (the page shows a banner)",
    )
    parser.add_argument("--debug", action="store_true", help="log the middleware's decisions")
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="record the engine's OpenTelemetry metrics and serve them at /metrics (Prometheus text)",
    )
    args = parser.parse_args(argv)

    sock = _bind(args.port)
    public_url = f"http://{HOST}:{sock.getsockname()[1]}"
    store, storage, storage_long = _store(args.database)
    emulator = Emulator(access_token_ttl=args.access_token_ttl)
    if args.impersonate:
        emulator.start_impersonation(args.impersonate, "admin@example.com", "Support ticket #1234")
    with EmulatorServer(emulator, host=HOST, port=args.emulator_port) as server:
        kit = AuthKit(server.config(redirect_uri=public_url + "/callback"), store=store)
        metrics = None
        if args.metrics:  # only then is OpenTelemetry imported
            from .metrics import DemoMetrics

            metrics = DemoMetrics(kit)
        settings = DemoSettings(
            api_base_url=server.base_url,
            api_key=emulator.api_key,
            public_url=public_url,
            storage=storage,
            metrics=metrics.render if metrics is not None else None,
        )
        app = create_app(kit, settings, debug=args.debug)
        config = uvicorn.Config(
            app, log_level="info" if args.debug else "warning", lifespan="on", timeout_graceful_shutdown=2
        )
        uvicorn_server = uvicorn.Server(config)
        print(f"WorkOS emulator: {server.base_url} (sign in as alice@example.com: Acme admin, Globex member)")
        print(f"session storage: {storage_long}")
        if metrics is not None:
            print(f"metrics: {public_url}/metrics (reload it after a refresh)")
        print(f"authkit-session demo: {public_url}/  (Ctrl-C to stop)", flush=True)
        if not args.no_browser:
            threading.Timer(0.5, webbrowser.open, args=(public_url + "/",)).start()
        try:
            uvicorn_server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn shut down cleanly, then re-raised Ctrl-C
            pass
        finally:
            kit.close()
            if isinstance(store, SQLSessionStore):
                store.dispose()
            elif hasattr(store, "close"):
                store.close()
            sock.close()
    print("demo stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
