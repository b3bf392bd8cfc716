"""The apps the throughput benchmark serves with uvicorn and gunicorn, in their own processes.

``asgi_bare`` / ``wsgi_bare`` answer 200 ``ok``; ``asgi_authkit()`` / ``wsgi_authkit()`` (factories) put the same
app behind ``AuthKitMiddleware`` / ``AuthKitWSGIMiddleware`` with the cookie store, configured from the JSON in
``AUTHKIT_BENCH_CONFIG`` (``AuthKitConfig`` keyword arguments, pointing at the benchmark's emulator).
"""

from __future__ import annotations

import json
import os
from typing import Any

from authkit_core.config import AuthKitConfig
from authkit_core.engine import AuthKit
from authkit_core.storage.cookie import CookieSessionStore

from .hotpath import bare_asgi, bare_wsgi

asgi_bare = bare_asgi
wsgi_bare = bare_wsgi


def _kit() -> AuthKit:
    return AuthKit(AuthKitConfig(**json.loads(os.environ["AUTHKIT_BENCH_CONFIG"])), store=CookieSessionStore())


def asgi_authkit() -> Any:
    """The bare ASGI app behind ``AuthKitMiddleware`` (uvicorn ``--factory``)."""
    from authkit_adapters.asgi import AuthKitMiddleware

    return AuthKitMiddleware(bare_asgi, authkit=_kit())


def wsgi_authkit() -> Any:
    """The bare WSGI app behind ``AuthKitWSGIMiddleware`` (gunicorn ``'benchmarks.apps:wsgi_authkit()'``)."""
    from authkit_adapters.wsgi import AuthKitWSGIMiddleware

    return AuthKitWSGIMiddleware(bare_wsgi, authkit=_kit())
