"""The apps the throughput benchmark serves with uvicorn and gunicorn, in their own processes.

Each pair is the same app bare and behind a session middleware:

* ``asgi_bare`` / ``wsgi_bare`` answer 200 ``ok`` from a constant (the strictest case: the server is nearly all
  the cost, so the middleware's share is as large as it can be); ``asgi_authkit()`` / ``wsgi_authkit()`` put them
  behind ``AuthKitMiddleware`` / ``AuthKitWSGIMiddleware``;
* ``starlette_bare()`` / ``starlette_authkit()`` and ``flask_bare()`` / ``flask_authkit()``: a one-route Starlette
  or Flask app answering ``ok`` (what the middleware is put in front of in practice);
* ``starlette_sessions()``: the same Starlette app behind Starlette's own ``SessionMiddleware`` (a signed cookie,
  no token verification) for reference: what a session layer of the field costs in the same setup;
* ``asgi_header_only()``, ``starlette_header_only()``, ``wsgi_header_only()`` and ``flask_header_only()``: each
  app behind a middleware that only adds two response headers, for reference: what wrapping ``send`` (or
  ``start_response``) alone costs under the server.

The factories read the ``AuthKitConfig`` keyword arguments (pointing at the benchmark's emulator) from the JSON in
``AUTHKIT_BENCH_CONFIG``; every AuthKit app uses the cookie store.
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
#: The secret of the reference ``SessionMiddleware`` and of the cookie the load generator sends it.
STARLETTE_SECRET = "benchmark-secret-benchmark-secret"


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


def asgi_header_only() -> Any:
    """The bare ASGI app behind a middleware that only adds the two cache headers (no session): the floor of any
    middleware that touches the response, for reference."""
    from .hotpath import header_only_middleware

    return header_only_middleware(bare_asgi)


def starlette_bare() -> Any:
    """A one-route Starlette app: ``GET /`` answers ``ok``."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", home)])


def starlette_header_only() -> Any:
    """:func:`starlette_bare` behind the header-only middleware (reference: the floor of a response-touching
    middleware on a framework app)."""
    from .hotpath import header_only_middleware

    return header_only_middleware(starlette_bare())


def starlette_authkit() -> Any:
    """:func:`starlette_bare` behind ``AuthKitMiddleware``."""
    from authkit_adapters.asgi import AuthKitMiddleware

    return AuthKitMiddleware(starlette_bare(), authkit=_kit())


def starlette_sessions() -> Any:
    """:func:`starlette_bare` behind Starlette's ``SessionMiddleware`` (reference; reads the ``session`` cookie
    the load generator sends, see :func:`starlette_session_cookie`)."""
    from starlette.middleware.sessions import SessionMiddleware

    return SessionMiddleware(starlette_bare(), secret_key=STARLETTE_SECRET)


def starlette_session_cookie() -> str:
    """A ``session=...`` cookie that :func:`starlette_sessions` accepts, carrying a user id and an access token
    as long as a WorkOS one (so both middleware read a cookie of the same size)."""
    import base64

    import itsdangerous

    data = {"user_id": "user_01", "access_token": "x" * 900, "refresh_token": "y" * 25}
    payload = base64.b64encode(json.dumps(data).encode())
    return "session=" + itsdangerous.TimestampSigner(STARLETTE_SECRET).sign(payload).decode()


def flask_bare() -> Any:
    """A one-route Flask app: ``GET /`` answers ``ok``."""
    from flask import Flask

    app = Flask("bench")
    app.add_url_rule("/", "home", lambda: "ok")
    return app


def wsgi_header_only() -> Any:
    """The bare WSGI app behind the header-only middleware (reference)."""
    from .hotpath import wsgi_header_only_middleware

    return wsgi_header_only_middleware(bare_wsgi)


def flask_header_only() -> Any:
    """:func:`flask_bare` behind the header-only middleware (reference)."""
    from .hotpath import wsgi_header_only_middleware

    return wsgi_header_only_middleware(flask_bare())


def flask_authkit() -> Any:
    """:func:`flask_bare` behind ``AuthKitWSGIMiddleware``."""
    from authkit_adapters.wsgi import AuthKitWSGIMiddleware

    return AuthKitWSGIMiddleware(flask_bare(), authkit=_kit())


async def _signed_in_reporter(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers ``1`` when the middleware found the request signed in, ``0`` when not (the load generator counts
    the zeros: a memory store evicting its sessions shows there)."""
    user = scope.get("user")
    body = b"1" if user is not None and user.is_authenticated else b"0"
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"1")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def users_bare() -> Any:
    """The reporter app alone (every request ``0``): the bare server of the many-users part."""
    return _signed_in_reporter


def users_authkit() -> Any:
    """The reporter app behind ``AuthKitMiddleware`` on the store ``AUTHKIT_BENCH_USERS`` names, with its N sessions
    signed in at start-up (the sign-in answers are read from a file the benchmark wrote); the cookie headers that
    carry them are written to a file for the load generator, one per line."""
    from authkit_adapters.asgi import AuthKitMiddleware
    from authkit_core.models import AuthenticationResponse, NoUserInfo
    from authkit_core.results import AuthResult
    from authkit_core.storage import MemorySessionStore, SessionStore, SQLSessionStore

    spec = json.loads(os.environ["AUTHKIT_BENCH_USERS"])
    with open(spec["responses"], encoding="utf-8") as handle:
        responses = json.load(handle)[: spec["sessions"]]
    store: SessionStore
    if spec["store"] == "memory":
        store = MemorySessionStore()
    elif spec["store"] == "sqlite":
        store = SQLSessionStore(f"sqlite:///{spec['database']}", create_tables=True)
    else:
        store = CookieSessionStore()
    kit = AuthKit(AuthKitConfig(**json.loads(os.environ["AUTHKIT_BENCH_CONFIG"])), store=store)
    lines = []
    for response in responses:
        result = AuthResult(NoUserInfo())
        kit.save_session(result, AuthenticationResponse.from_api(response), {})
        lines.append("; ".join(f"{c.name}={c.value}" for c in result.cookies if not c.is_deletion))
    with open(spec["cookies_out"] + ".part", "w", encoding="latin-1") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(spec["cookies_out"] + ".part", spec["cookies_out"])
    return AuthKitMiddleware(_signed_in_reporter, authkit=kit)
