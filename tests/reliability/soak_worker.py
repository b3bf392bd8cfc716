"""One application process of the soak test (``test_soak.py``): the suite's test app behind the middleware,
served on 127.0.0.1, on a PostgreSQL session store shared with the other workers.

Run as ``python soak_worker.py``; it reads one JSON line (``face``: ``asgi`` or ``wsgi``, ``config``: the
``AuthKitConfig`` fields, ``url``, ``table``), starts serving on a free port and prints ``ready <port>``. It serves
until its stdin closes. ``GET /_stats`` answers ``{"rss": bytes, "scanned": n, "leaks": [...]}``: its resident
memory, and what its own log scan (the suite's :class:`SecretLogScanner`, library loggers at DEBUG) found.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))

from authkit_core import AuthKitConfig  # noqa: E402
from authkit_core.engine import AuthKit  # noqa: E402
from authkit_core.storage.sql import SQLSessionStore  # noqa: E402
from conftest import SecretLogScanner  # noqa: E402
from reliability.conftest import Switch, serve_asgi, serve_wsgi  # noqa: E402

SCANNER = SecretLogScanner()


def rss_bytes() -> int:
    """This process's resident set size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def stats() -> bytes:
    """The ``/_stats`` body; also forgets the token-like runs the scanner keeps (they only matter in pytest)."""
    SCANNER.end([])
    return json.dumps({"rss": rss_bytes(), "scanned": SCANNER.scanned, "leaks": SCANNER.leaks[:20]}).encode()


class StatsASGI:
    """``/_stats``, else the middleware."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve one ASGI connection."""
        if scope["type"] == "http" and scope["path"] == "/_stats":
            body = stats()
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.inner(scope, receive, send)


class StatsWSGI:
    """``/_stats``, else the middleware."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Serve one WSGI request."""
        if environ.get("PATH_INFO") == "/_stats":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [stats()]
        return self.inner(environ, start_response)


def main() -> None:
    """Serve until stdin closes."""
    spec = json.loads(sys.stdin.readline())
    for name in ("authkit_session", "authkit_core", "authkit_adapters", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger().addHandler(SCANNER)
    store = SQLSessionStore(spec["url"], table_name=spec["table"])
    kit = AuthKit(AuthKitConfig(**spec["config"]), store=store, lease_seconds=5.0, lease_wait_seconds=5.0)
    switch = Switch()
    if spec["face"] == "asgi":
        from authkit_adapters.asgi import AuthKitMiddleware
        from reliability.conftest import asgi_app

        switch.app = StatsASGI(AuthKitMiddleware(asgi_app, authkit=kit))
        runner = serve_asgi
    else:
        from authkit_adapters.wsgi import AuthKitWSGIMiddleware
        from reliability.conftest import wsgi_app

        switch.app = StatsWSGI(AuthKitWSGIMiddleware(wsgi_app, authkit=kit))
        runner = serve_wsgi
    done = threading.Event()

    def forget() -> None:  # the scanner's token-like runs only matter inside pytest: keep its memory flat
        while not done.wait(2.0):
            SCANNER.end([])

    threading.Thread(target=forget, daemon=True).start()
    with runner(switch) as base_url:
        sys.stdout.write(f"ready {base_url.rsplit(':', 1)[1]}\n")
        sys.stdout.flush()
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
        done.wait()
    kit.close()
    store.dispose()


if __name__ == "__main__":
    main()
