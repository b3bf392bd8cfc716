"""What the reliability and security suite shares: real servers, a browser-like client, a TCP gate, the figures.

Every test here goes through the middleware over real HTTP on 127.0.0.1: a bare ASGI app served by uvicorn and
a bare WSGI app served by a threaded ``wsgiref`` server, each wrapped only by the authkit-session middleware, in
front of the WorkOS emulator. The app's routes:

- ``GET /``: ``with_auth()`` as JSON, plus the engine's ``error`` code and ``reason`` for this request;
- ``GET|POST /protected``: ``with_auth(ensure_signed_in=True)``;
- ``GET /sign-in-url?return_to=``: ``get_sign_in_url`` as JSON;
- ``GET|POST /sign-out?return_to=``: ``sign_out()``, then a page the redirect must replace;
- ``POST /save``: ``save_session`` with the JSON body (an ``/authenticate`` answer);
- ``GET /refresh``: ``refresh_session()`` (a ``TokenRefreshError`` answers 409 with its code).

:class:`Gate` is a TCP relay that can be closed and reopened: "connection refused" and "connection lost" for the
provider or a database, without touching the real servers (other suites use them).

The suite counts what it does (faults injected, attacks tried, fuzz examples run, sessions lost) in
:data:`FIGURES`; the totals are printed at the end of the run (and written as JSON to
``$AUTHKIT_RELIABILITY_FIGURES`` when set) for ``docs/security.md``.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from http.cookies import SimpleCookie
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
import sqlalchemy
import uvicorn

from authkit_adapters import _core
from authkit_adapters import asgi as authkit_asgi
from authkit_adapters import wsgi as authkit_wsgi
from authkit_core.breaker import CircuitBreaker
from authkit_core.engine import AuthKit
from authkit_core.errors import TokenRefreshError
from authkit_core.models import NoUserInfo, UserInfo
from authkit_core.storage.base import SessionStore
from conftest import PAGE

SESSION = "wos-session"
ALICE = "alice@example.com"
BOB = "bob@example.com"
AUTHENTICATE = "/user_management/authenticate"
JWKS = "/sso/jwks/*"

#: What the suite did, by kind; see the module documentation.
FIGURES: Counter[str] = Counter()


def count(kind: str, n: int = 1) -> None:
    """Add ``n`` to the figure ``kind`` (``faults``, ``attacks``, ``fuzz_examples``, ``sessions_lost`` ...)."""
    FIGURES[kind] += n


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures (and write them to ``$AUTHKIT_RELIABILITY_FIGURES``)."""
    if not FIGURES:
        return
    terminalreporter.write_sep("-", "reliability and security figures")
    for kind, n in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{kind}: {n}")
    target = os.environ.get("AUTHKIT_RELIABILITY_FIGURES")
    if target:
        with open(target, "w") as out:
            json.dump(dict(FIGURES), out, indent=2, sort_keys=True)


# --- the app, on both faces --------------------------------------------------------------------------------------


def user_json(info: UserInfo | NoUserInfo) -> dict[str, Any]:
    """The parts of the user the tests look at, plus this request's engine error and reason."""
    auth = _core.current_context().auth
    return {
        "email": info.user.email if info.user else None,
        "user": info.user.id if info.user else None,
        "sid": info.session_id,
        "org": info.organization_id,
        "error": auth.error.code if auth.error is not None else None,
        "reason": auth.reason,
    }


def _query(query_string: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(query_string, keep_blank_values=True).items()}


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI test app (routes in the module documentation)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    path, query = scope["path"], _query(scope.get("query_string", b"").decode("latin-1"))
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status, payload = 200, None
    if path == "/protected":
        payload = user_json(await authkit_asgi.with_auth(ensure_signed_in=True))
    elif path == "/sign-in-url":
        payload = {"url": await authkit_asgi.get_sign_in_url(return_to=query.get("return_to"))}
    elif path == "/sign-out":
        await authkit_asgi.sign_out(return_to=query.get("return_to"))
        payload = {"still": "here"}
    elif path == "/save":
        payload = user_json(await authkit_asgi.save_session(json.loads(body)))
    elif path == "/refresh":
        try:
            payload = user_json(await authkit_asgi.refresh_session())
        except TokenRefreshError as exc:
            status, payload = 409, {"error": exc.code}
    else:
        payload = user_json(await authkit_asgi.with_auth())
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The WSGI test app (the same routes)."""
    path, query = environ.get("PATH_INFO", "/"), _query(environ.get("QUERY_STRING", ""))
    status, payload = "200 OK", None
    if path == "/protected":
        payload = user_json(authkit_wsgi.with_auth(ensure_signed_in=True))
    elif path == "/sign-in-url":
        payload = {"url": authkit_wsgi.get_sign_in_url(return_to=query.get("return_to"))}
    elif path == "/sign-out":
        authkit_wsgi.sign_out(return_to=query.get("return_to"))
        payload = {"still": "here"}
    elif path == "/save":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = user_json(authkit_wsgi.save_session(json.loads(environ["wsgi.input"].read(length))))
    elif path == "/refresh":
        try:
            payload = user_json(authkit_wsgi.refresh_session())
        except TokenRefreshError as exc:
            status, payload = "409 Conflict", {"error": exc.code}
    else:
        payload = user_json(authkit_wsgi.with_auth())
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class Switch:
    """The served app: whatever middleware the current test mounted (ASGI or WSGI, as the server speaks)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def asgi(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI entry point."""
        if scope["type"] == "lifespan":
            await asgi_app(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """The WSGI entry point."""
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


@contextmanager
def serve_asgi(switch: Switch) -> Iterator[str]:
    """uvicorn (asyncio) serving ``switch`` on a free port; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(switch.asgi, host="127.0.0.1", port=port, log_level="warning", interface="asgi3")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@contextmanager
def serve_wsgi(switch: Switch) -> Iterator[str]:
    """A threaded ``wsgiref`` server for ``switch`` on a free port; yields the base URL."""
    httpd = make_server("127.0.0.1", 0, switch.wsgi, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


class ManualClock:
    """A monotonic clock that moves only when told: the circuit breaker's, so back-offs pass without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


class Site:
    """A served app of one face: mount a middleware around the test app, open clients.

    Its engines' circuit breakers run on :attr:`breaker_clock` (a :class:`ManualClock`): a session backed off
    after a transient failure stays backed off until the test calls :meth:`pass_backoff`."""

    def __init__(self, face: str, switch: Switch, base_url: str, emulator: Any) -> None:
        self.face = face
        self.switch = switch
        self.base_url = base_url
        self.emulator = emulator
        self.kits: list[AuthKit] = []
        self.breaker_clock = ManualClock()

    def pass_backoff(self, seconds: float = 600.0) -> None:
        """Let every back-off and open circuit window pass (the breakers' clock jumps ``seconds`` ahead)."""
        self.breaker_clock.advance(seconds)

    def kit(
        self,
        *,
        store: SessionStore | None = None,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = 30.0,
        lease_wait_seconds: float = 10.0,
        breaker: CircuitBreaker | bool | None = None,
        **overrides: Any,
    ) -> AuthKit:
        """A fresh engine against the emulator, with quick retries unless ``overrides`` (configuration fields)
        say otherwise, and a default circuit breaker on :attr:`breaker_clock` unless ``breaker`` is given
        (``False``: none)."""
        settings: dict[str, Any] = {"redirect_uri": self.base_url + "/callback", "max_retries": 1}
        settings.update(overrides)
        kit = AuthKit(
            self.emulator.config(**settings),
            store=store,
            clock=clock,
            lease_seconds=lease_seconds,
            lease_wait_seconds=lease_wait_seconds,
            breaker=CircuitBreaker(clock=self.breaker_clock) if breaker is None else breaker,
        )
        self.kits.append(kit)
        return kit

    def mount(self, kit: AuthKit | None = None, **options: Any) -> AuthKit:
        """Serve the test app behind a fresh middleware on ``kit`` (a fresh default engine when ``None``)."""
        kit = kit if kit is not None else self.kit()
        if self.face == "asgi":
            self.switch.app = authkit_asgi.AuthKitMiddleware(asgi_app, authkit=kit, **options)
        else:
            self.switch.app = authkit_wsgi.AuthKitWSGIMiddleware(wsgi_app, authkit=kit, **options)
        return kit

    def client(self, **kwargs: Any) -> httpx.Client:
        """A browser-like client (cookie jar, no redirects followed)."""
        kwargs.setdefault("headers", PAGE)
        return httpx.Client(base_url=self.base_url, follow_redirects=False, timeout=30, **kwargs)


@pytest.fixture(scope="module", params=["asgi", "wsgi"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, Switch, str]]:
    """The test app served on a real socket, once per module and face."""
    switch = Switch()
    runner = serve_asgi if request.param == "asgi" else serve_wsgi
    with runner(switch) as base_url:
        yield str(request.param), switch, base_url


@pytest.fixture
def site(served: tuple[str, Switch, str], workos_emulator: Any) -> Iterator[Site]:
    """This test's site (both faces, through ``served``); its engines are closed afterwards."""
    face, switch, base_url = served
    site = Site(face, switch, base_url, workos_emulator)
    yield site
    for kit in site.kits:
        kit.close()


# --- the browser ----------------------------------------------------------------------------------------------


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    """``{name: {"value": ..., attribute: value}}`` of every ``Set-Cookie``."""
    out: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            out[name] = {"value": morsel.value, **{k: str(v) for k, v in morsel.items() if v}}
    return out


def expires_session(response: httpx.Response) -> bool:
    """Whether the response expires the session cookie (or one of its chunks)."""
    return any(
        (name == SESSION or name.startswith(SESSION + ".")) and attrs.get("max-age") == "0"
        for name, attrs in set_cookies(response).items()
    )


def authorize(location: str, email: str = ALICE) -> str:
    """Sign in at the emulator (``login_hint``): the callback URL it sends the browser to."""
    sep = "&" if "?" in location else "?"
    answer = httpx.get(location + sep + urlencode({"login_hint": email}), follow_redirects=False)
    assert answer.status_code in (302, 303, 307), answer.text
    return answer.headers["location"]


def sign_in(client: httpx.Client, email: str = ALICE, start: str = "/protected") -> httpx.Response:
    """Walk a whole sign-in from a protected page; returns the callback's response."""
    first = client.get(start)
    assert first.status_code == 307, first.text
    callback = client.get(authorize(first.headers["location"], email))
    assert callback.status_code == 307, callback.text
    return callback


def query_of(url: str) -> dict[str, str]:
    """The query of ``url`` (first value of each name)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def whoami(client: httpx.Client, path: str = "/") -> tuple[httpx.Response, dict[str, Any]]:
    """``GET /``: the response (never a 5xx) and its JSON."""
    response = client.get(path)
    assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
    return response, response.json()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# --- a TCP gate: refuse, cut and restore connections -----------------------------------------------------------


class Gate:
    """A TCP relay ``127.0.0.1:port`` -> ``127.0.0.1:target`` that can be closed (connections refused, live ones
    cut) and opened again on the same port. ``upstream_ports()`` are the local ports of its connections to the
    target (how a database lists them: ``client_port`` in PostgreSQL, ``Host`` in MariaDB's process list)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.open()

    def open(self) -> None:
        """Accept connections again."""
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Refuse new connections and cut the live ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._thread is not None:
            self._thread.join(5)
        self.cut()

    def cut(self) -> None:
        """Cut every live connection (both sides), keep accepting new ones."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def upstream_ports(self) -> list[int]:
        """The local ports of the live connections to the target."""
        with self._lock:
            ports = []
            for _, upstream in self._pairs:
                with suppress(OSError):
                    ports.append(int(upstream.getsockname()[1]))
            return ports

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._pairs = [p for p in self._pairs if src not in p]

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def gated_url(url: str, gate: Gate) -> str:
    """``url`` (a SQLAlchemy URL on 127.0.0.1) going through ``gate`` instead."""
    parsed = sqlalchemy.make_url(url)
    return parsed.set(port=gate.port).render_as_string(hide_password=False)


def fresh_table() -> str:
    """A table name no other test uses."""
    return f"authkit_rel_{uuid.uuid4().hex[:10]}"
