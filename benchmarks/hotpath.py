"""Hot path: one request carrying a valid session, measured in-process (no network), with its comparisons.

Measured in the same run, interleaved:

* the engine alone, ``AuthKit.authenticate(cookies)``, per backend (warm caches), plus the cookie backend with
  nothing cached (``CookieSessionStore(cache_size=0)`` and the JWKS verified-token cache off, same cookie);
* the ASGI app called directly with a prepared scope/receive/send, bare and behind ``AuthKitMiddleware``, per
  backend (the difference is what the library adds), and behind a middleware that only adds the two cache
  headers (``asgi.header_only``: the floor of any middleware that touches the response); SQL stores twice under
  ASGI: with their async driver (``asgi.sqlite``) and with only a sync engine, run in a worker thread
  (``asgi.sqlite.thread``); likewise WSGI with a prepared environ and ``AuthKitWSGIMiddleware`` (each only when
  that middleware exists);
* the floor pipeline with raw ``cryptography``: RSA-2048 PKCS#1 v1.5 verify of a JWT-sized message, AES-GCM
  decrypt of a ~1.5 KB payload and ``json.loads`` (and the two crypto calls alone);
* the official ``workos`` Python SDK: ``load_sealed_session(...).authenticate()`` on a cookie sealed by the SDK's
  own helper, JWKS from the emulator, called directly and inside the same bare ASGI app;
* authkit-nextjs's stack in node (iron-session ``unsealData`` + jose ``jwtVerify`` with a local JWKS), timed
  inside node with ``process.hrtime`` (``benchmarks/node/hotpath.mjs``), when node and its packages exist.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from authkit_core.iron import seal_session
from authkit_core.models import AuthenticationResponse, UserInfo
from authkit_core.signin import NO_STORE_CACHE_CONTROL

from .common import Lab, ainterleaved, cookie_header, interleaved, summarize

NODE_DIR = Path(__file__).with_name("node")
SQL_BACKENDS = ("sqlite", "postgres", "mariadb")


# --- apps ------------------------------------------------------------------------------------------------------

BODY = b"ok"
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
}
_BODY = {"type": "http.response.body", "body": BODY, "more_body": False}


async def bare_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The app without the middleware: 200 ``ok``."""
    await send(_START)
    await send(_BODY)


def bare_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The WSGI app without the middleware: 200 ``ok``."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [BODY]


_CACHE_HEADERS = [(b"vary", b"Cookie"), (b"cache-control", NO_STORE_CACHE_CONTROL.encode())]


def header_only_middleware(app: Any) -> Any:
    """The least any response-touching ASGI middleware does: wrap ``send`` and add the two cache headers AuthKit
    adds (no session, no cookie read). A floor for the shell's own cost."""

    async def middleware(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *_CACHE_HEADERS]}
            await send(message)

        await app(scope, receive, wrapped)

    return middleware


def wsgi_header_only_middleware(app: Any) -> Any:
    """The WSGI twin of :func:`header_only_middleware`: wrap ``start_response`` and add the two cache headers."""
    headers = [(name.decode(), value.decode()) for name, value in _CACHE_HEADERS]

    def middleware(environ: dict[str, Any], start_response: Any) -> Any:
        def wrapped(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*response_headers, *headers], exc_info)

        return app(environ, wrapped)

    return middleware


def asgi_middleware() -> Any:
    """``AuthKitMiddleware`` when ``src/authkit_adapters/asgi.py`` has it, else ``None``."""
    try:
        return importlib.import_module("authkit_adapters.asgi").AuthKitMiddleware
    except (ImportError, AttributeError):
        return None


def wsgi_middleware() -> Any:
    """``AuthKitWSGIMiddleware`` when ``src/authkit_adapters/wsgi.py`` has it, else ``None``."""
    try:
        return importlib.import_module("authkit_adapters.wsgi").AuthKitWSGIMiddleware
    except (ImportError, AttributeError):
        return None


def asgi_scope(cookie: str, authorization: str | None = None) -> dict[str, Any]:
    """A GET / scope carrying ``cookie`` (and an ``Authorization`` header when given)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    if authorization is not None:
        scope["headers"] = [*scope["headers"], (b"authorization", authorization.encode())]
    return scope


def wsgi_environ(cookie: str, authorization: str | None = None) -> dict[str, Any]:
    """A GET / environ carrying ``cookie`` (and an ``Authorization`` header when given)."""
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "bench",
        "HTTP_COOKIE": cookie,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    return environ


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
    return lambda data: None


def asgi_call(app: Any, cookie: str, authorization: str | None = None) -> Callable[[], Any]:
    """A zero-argument coroutine function: one request through ``app``."""
    scope = asgi_scope(cookie, authorization)

    async def call() -> None:
        await app(dict(scope), _receive, _send)

    return call


def wsgi_call(app: Any, cookie: str, authorization: str | None = None) -> Callable[[], None]:
    """A zero-argument function: one request through the WSGI ``app``, body consumed and closed."""
    environ = wsgi_environ(cookie, authorization)

    def call() -> None:
        body = app(dict(environ), _start_response)
        try:
            for _ in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return call


async def asgi_status(app: Any, cookie: str, authorization: str | None = None) -> int:
    """The status ``app`` answers (sanity check before timing)."""
    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(asgi_scope(cookie, authorization), _receive, send)
    return status[0]


# --- the floor pipeline ---------------------------------------------------------------------------------------


def floor_cases(token: str, payload: bytes) -> dict[str, Callable[[], object]]:
    """Raw ``cryptography``: RS256 verify of a token-sized message + AES-GCM decrypt + ``json.loads``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key()
    message = token.rsplit(".", 1)[0].encode()
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    nonce = os.urandom(12)
    sealed = aead.encrypt(nonce, payload, None)
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

    def crypto() -> object:
        public.verify(signature, message, pkcs1, sha256)
        return aead.decrypt(nonce, sealed, None)

    def pipeline() -> object:
        public.verify(signature, message, pkcs1, sha256)
        return json.loads(aead.decrypt(nonce, sealed, None))

    return {"floor.pipeline": pipeline, "floor.crypto": crypto}


# --- the official workos SDK -----------------------------------------------------------------------------------


def sdk_setup(lab: Lab, response: dict[str, Any]) -> tuple[Callable[[], Any], str, str, Any] | None:
    """``(authenticate, sealed, cookie_password, client)`` for the workos SDK, or ``None`` without it."""
    try:
        from cryptography.fernet import Fernet
        from workos import WorkOSClient
        from workos.session import seal_session_from_auth_response
    except ImportError:
        return None
    client = WorkOSClient(api_key=lab.emulator.api_key, client_id=lab.emulator.client_id, base_url=lab.base_url + "/")
    password = Fernet.generate_key().decode()
    sealed = seal_session_from_auth_response(
        access_token=response["access_token"],
        refresh_token=response["refresh_token"],
        user=response["user"],
        cookie_password=password,
    )
    users = client.user_management

    def authenticate() -> Any:
        return users.load_sealed_session(session_data=sealed, cookie_password=password).authenticate()

    return authenticate, sealed, password, client


def sdk_asgi(client: Any, password: str) -> Any:
    """The bare ASGI app behind a minimal middleware doing what the SDK's docs do per request."""
    from authkit_core.cookies import parse_cookie_header

    users = client.user_management

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        cookies = parse_cookie_header([v.decode("latin-1") for k, v in scope["headers"] if k == b"cookie"])
        result = users.load_sealed_session(
            session_data=cookies.get("wos-session", ""), cookie_password=password
        ).authenticate()
        scope["user"] = result
        await bare_asgi(scope, receive, send)

    return app


# --- node: authkit-nextjs's stack --------------------------------------------------------------------------------


def node_available() -> bool:
    """Whether node and the pinned packages under benchmarks/node are installed."""
    return shutil.which("node") is not None and (NODE_DIR / "node_modules" / "jose").is_dir()


def run_node(sealed: str, password: str, jwks: dict[str, Any], iterations: int) -> dict[str, Any]:
    """Time iron-session unsealData + jose jwtVerify inside node; summary in microseconds."""
    request = {"sealed": sealed, "password": password, "jwks": jwks, "iterations": iterations}
    proc = subprocess.run(
        ["node", str(NODE_DIR / "hotpath.mjs")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = json.loads(proc.stdout)
    return {**summarize(out["samples_ns"]), "node": out["node"], "ok": out["ok"]}


# --- the benchmark -------------------------------------------------------------------------------------------------


def run(lab: Lab, *, rounds: int, per_round: int, node_iterations: int) -> dict[str, Any]:
    """Measure everything above; figures in microseconds."""
    notes: list[str] = []
    response = lab.auth_response()
    backends = lab.backends()
    warm = {name: lab.backend(name, tag="_hot") for name in backends}
    cold = lab.backend("cookie", cold=True, tag="_hot_cold")
    cookies = {name: lab.sign_in(b.kit, response) for name, b in warm.items()}
    cookies["cookie.cold"] = lab.sign_in(cold.kit, response)
    kits = {name: b.kit for name, b in warm.items()} | {"cookie.cold": cold.kit}
    for name, kit in kits.items():
        if not isinstance(kit.authenticate(cookies[name]).user_info, UserInfo):
            raise RuntimeError(f"the {name} session does not authenticate")

    sync_cases: dict[str, Callable[[], object]] = {}
    for name, kit in kits.items():
        sync_cases[f"engine.{name}"] = lambda kit=kit, c=cookies[name]: kit.authenticate(c)
    # a repeated bearer access token (accept_bearer), on the cookie store's engine: no cookie at all
    token = response["access_token"]
    bearer = "Bearer " + token
    bearer_kit = kits["cookie"]
    if not isinstance(bearer_kit.verify_bearer(token).user_info, UserInfo):
        raise RuntimeError("the bearer token does not authenticate")
    sync_cases["engine.bearer"] = lambda: bearer_kit.verify_bearer(token)
    session_json = json.dumps(AuthenticationResponse.from_api(response).to_session().to_json()).encode()
    sync_cases.update(floor_cases(response["access_token"], session_json))
    sdk = sdk_setup(lab, response)
    if sdk is not None:
        sdk_authenticate = sdk[0]
        if not sdk_authenticate().authenticated:
            raise RuntimeError("the workos SDK does not authenticate its own sealed session")
        sync_cases["sdk.authenticate"] = sdk_authenticate
    else:
        notes.append("workos SDK not installed: SDK comparison skipped")

    wsgi_mw = wsgi_middleware()
    if wsgi_mw is not None:
        sync_cases["wsgi.bare"] = wsgi_call(bare_wsgi, cookie_header(cookies["cookie"]))
        for name, kit in kits.items():
            sync_cases[f"wsgi.{name}"] = wsgi_call(wsgi_mw(bare_wsgi, authkit=kit), cookie_header(cookies[name]))
        sync_cases["wsgi.bearer"] = wsgi_call(wsgi_mw(bare_wsgi, authkit=bearer_kit, accept_bearer=True), "", bearer)
    else:
        notes.append("AuthKitWSGIMiddleware not available yet: WSGI figures pending")

    sync_samples = interleaved(sync_cases, rounds=rounds, per_round=per_round)

    asgi_mw = asgi_middleware()

    threaded: dict[str, Any] = {}

    async def asgi_group() -> dict[str, list[int]]:
        header = cookie_header(cookies["cookie"])
        cases: dict[str, Callable[[], Any]] = {
            "asgi.bare": asgi_call(bare_asgi, header),
            "asgi.header_only": asgi_call(header_only_middleware(bare_asgi), header),
        }
        if asgi_mw is not None:
            for name, kit in kits.items():
                app = asgi_mw(bare_asgi, authkit=kit)
                if await asgi_status(app, cookie_header(cookies[name])) != 200:
                    raise RuntimeError(f"the ASGI app behind the middleware ({name}) does not answer 200")
                if not isinstance((await kit.authenticate_async(cookies[name])).user_info, UserInfo):
                    raise RuntimeError(f"the {name} session does not authenticate (async)")
                cases[f"asgi.{name}"] = asgi_call(app, cookie_header(cookies[name]))
            app = asgi_mw(bare_asgi, authkit=bearer_kit, accept_bearer=True)
            if await asgi_status(app, "", bearer) != 200:
                raise RuntimeError("the ASGI app behind the middleware does not accept the bearer token")
            cases["asgi.bearer"] = asgi_call(app, "", bearer)
            for name in [n for n in backends if n in SQL_BACKENDS]:
                # the same store with only a sync engine, which the async face runs in a worker thread
                kit = lab.backend(name, tag="_hot_thread", async_engine=False).kit
                threaded[name] = kit
                header = cookie_header(lab.sign_in(kit, response))
                app = asgi_mw(bare_asgi, authkit=kit)
                if await asgi_status(app, header) != 200:
                    raise RuntimeError(f"the ASGI app behind the middleware ({name}, thread) does not answer 200")
                cases[f"asgi.{name}.thread"] = asgi_call(app, header)
        if sdk is not None:
            header = cookie_header({"wos-session": sdk[1]})
            cases["asgi.sdk"] = asgi_call(sdk_asgi(sdk[3], sdk[2]), header)
        samples = await ainterleaved(cases, rounds=rounds, per_round=per_round)
        for kit in [*kits.values(), *threaded.values()]:
            await kit.aclose()
        await lab.dispose_async_engines()
        return samples

    if asgi_mw is None:
        notes.append("AuthKitMiddleware not available yet: ASGI middleware figures pending")
    async_samples = asyncio.run(asgi_group())

    figures = {name: summarize(s) for name, s in {**sync_samples, **async_samples}.items()}
    for prefix in ("asgi", "wsgi"):
        bare = figures.get(f"{prefix}.bare")
        if bare is None:
            continue
        for name in [*kits, *(f"{n}.thread" for n in threaded), "sdk", "header_only", "bearer"]:
            case = figures.get(f"{prefix}.{name}")
            if case is not None:
                case["added_median"] = case["median"] - bare["median"]
                case["added_p95"] = case["p95"] - bare["p95"]
                case["added_p99"] = case["p99"] - bare["p99"]

    if node_iterations and node_available():
        cookie_password = lab.config().cookie_password
        assert isinstance(cookie_password, str)
        sealed = seal_session(AuthenticationResponse.from_api(response).to_session(), cookie_password)
        try:
            figures["node.authkit_nextjs"] = run_node(sealed, cookie_password, lab.emulator.jwks(), node_iterations)
        except (subprocess.SubprocessError, OSError, ValueError) as exc:
            notes.append(f"node comparison failed: {exc}")
    elif node_iterations:
        notes.append("node or benchmarks/node/node_modules missing (cd benchmarks/node && npm ci): node skipped")
    return {"figures": figures, "notes": notes, "backends": backends}
