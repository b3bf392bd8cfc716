"""What the framework-helper tests share: the examples on ``sys.path``, a WSGI server in a thread, a browser-like
client, and the sign-in walk of :mod:`adapters.conftest`.

Every app is served on a real 127.0.0.1 port against the WorkOS emulator; a :class:`Served` knows its base URL
and the engine (whose redirect URI is that server's ``/callback``) to mount the app with.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

import httpx

from adapters.conftest import ALICE, authorize, query_of, set_cookies, sign_in
from adapters.test_asgi import Switch as ASGISwitch
from adapters.test_asgi import free_port, serve_uvicorn
from adapters.test_wsgi import QuietHandler
from adapters.test_wsgi import Switch as WSGISwitch
from authkit_core.engine import AuthKit

ROOT = Path(__file__).resolve().parents[2]
for entry in (ROOT, ROOT / "examples" / "django_app"):  # ``examples.*`` and the Django example's ``example_site``
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

BOB = "bob@example.com"
HTML = {"Accept": "text/html,application/xhtml+xml"}
JSON = {"Accept": "application/json"}

__all__ = [
    "ALICE",
    "BOB",
    "HTML",
    "JSON",
    "ASGISwitch",
    "Served",
    "WSGISwitch",
    "authorize",
    "free_port",
    "query_of",
    "serve_asgi",
    "serve_wsgi",
    "set_cookies",
    "sign_in",
]


@dataclass
class Served:
    """A running server: what it serves (``switch.app``), its base URL and an engine pointing at the emulator."""

    switch: Any
    base_url: str
    kit: AuthKit

    def browser(self) -> httpx.Client:
        """A client that navigates like a browser (``Accept: text/html``) and follows no redirect."""
        return httpx.Client(base_url=self.base_url, headers=HTML, follow_redirects=False, timeout=10)


@contextmanager
def serve_wsgi(emulator_server: Any) -> Iterator[Served]:
    """A wsgiref server in a thread, serving whatever WSGI app is put in ``switch.app``."""
    switch = WSGISwitch()
    httpd = make_server("127.0.0.1", 0, switch, handler_class=QuietHandler)
    base = f"http://127.0.0.1:{httpd.server_port}"
    kit = AuthKit(emulator_server.config(redirect_uri=base + "/callback"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(switch, base, kit)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
        kit.close()


@contextmanager
def serve_asgi(emulator_server: Any) -> Iterator[Served]:
    """uvicorn (asyncio) in a thread, serving whatever ASGI app is put in ``switch.app``."""
    switch = ASGISwitch()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    kit = AuthKit(emulator_server.config(redirect_uri=base + "/callback"))
    with serve_uvicorn(switch, port):
        yield Served(switch, base, kit)
