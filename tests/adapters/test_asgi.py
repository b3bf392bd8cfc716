"""``AuthKitMiddleware`` over real HTTP: a plain Starlette app wrapped only by the middleware, served by uvicorn
(asyncio) and by hypercorn (trio), against the WorkOS emulator. The shared behaviour is in
:class:`tests.adapters.conftest.Scenarios`; here are the ASGI-only parts (websockets, lifespan, a raw ASGI app
whose exception reaches the middleware) and the in-process checks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest
import trio
import uvicorn
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from authkit_adapters import NoRequestContextError
from authkit_adapters import asgi as authkit
from authkit_adapters import wsgi as authkit_sync
from authkit_core.engine import AuthKit
from authkit_core.errors import BearerRequestError, TokenRefreshError

from .access_token_scenarios import AccessTokenScenarios
from .bearer_scenarios import BearerScenarios
from .conftest import (
    ALICE,
    SENSITIVE_MAX_AGE,
    SESSION,
    Scenarios,
    Site,
    authorize,
    set_cookies,
    sign_in,
    sign_in_options,
    user_json,
)
from .route_scenarios import AuthRouteScenarios


async def home(request: Request) -> Response:
    return JSONResponse(user_json(await authkit.with_auth()))


async def protected(request: Request) -> Response:
    return JSONResponse(user_json(await authkit.with_auth(ensure_signed_in=True)))


async def protected_explicit(request: Request) -> Response:
    return JSONResponse(user_json(await authkit.with_auth(ensure_signed_in=True, request=request)))


def sync_home(request: Request) -> Response:
    # a sync endpoint runs in a worker thread: the blocking functions see the request too
    return JSONResponse(user_json(authkit_sync.with_auth()))


async def refresh(request: Request) -> Response:
    try:
        info = await authkit.refresh_session(
            request.query_params.get("org"), ensure_signed_in=bool(request.query_params.get("ensure"))
        )
    except (TokenRefreshError, BearerRequestError) as exc:
        return JSONResponse({"error": exc.code}, status_code=409)
    return JSONResponse(user_json(info))


async def switch(request: Request) -> Response:
    info = await authkit.switch_to_organization(
        request.query_params["org"], return_to=request.query_params.get("return_to")
    )
    return JSONResponse(user_json(info))


async def sign_in_url(request: Request) -> Response:
    return JSONResponse({"url": await authkit.get_sign_in_url(**sign_in_options(request.query_params))})


async def sign_up_url(request: Request) -> Response:
    return JSONResponse({"url": await authkit.get_sign_up_url(**sign_in_options(request.query_params))})


async def sensitive(request: Request) -> Response:
    """A sensitive action: it needs a sign-in at most ``SENSITIVE_MAX_AGE`` seconds old."""
    user = await authkit.with_auth(ensure_signed_in=True)
    if not await authkit.check_recent_auth(SENSITIVE_MAX_AGE):
        url = await authkit.get_sign_in_url(
            max_age=SENSITIVE_MAX_AGE, login_hint=user.user.email, return_to=request.url.path
        )
        return RedirectResponse(url, status_code=303)
    return JSONResponse({"sensitive": True, "auth_time": (await authkit.get_token_claims())["auth_time"]})


async def sign_out(request: Request) -> Response:
    await authkit.sign_out(return_to=request.query_params.get("return_to"))
    return PlainTextResponse("still here")


async def claims(request: Request) -> Response:
    return JSONResponse(await authkit.get_token_claims())


async def recent(request: Request) -> Response:
    return JSONResponse({"recent": await authkit.check_recent_auth(float(request.query_params["max_age"]))})


async def save(request: Request) -> Response:
    return JSONResponse(user_json(await authkit.save_session(await request.json())))


async def api(request: Request) -> Response:
    return JSONResponse({"key": await authkit.validate_api_key()})


async def cached(request: Request) -> Response:
    await authkit.with_auth()
    return PlainTextResponse("c", headers={"Vary": "Accept-Encoding", "Cache-Control": "public, max-age=60"})


async def text(request: Request) -> Response:
    return PlainTextResponse(request.url.path.strip("/").split("/")[0])


async def ws(websocket: WebSocket) -> None:
    info = await authkit.with_auth()
    await websocket.accept()
    await websocket.send_json(user_json(info))
    # Let the client close first: a server-side close racing the client's trips hypercorn's trio worker into
    # two concurrent socket sends (BusyResourceError), which has nothing to do with the middleware.
    await websocket.receive()


starlette_app = Starlette(
    routes=[
        Route("/", home),
        Route("/protected", protected, methods=["GET", "POST"]),
        Route("/protected-explicit", protected_explicit),
        Route("/sync", sync_home),
        Route("/refresh", refresh),
        Route("/switch", switch),
        Route("/sign-in-url", sign_in_url),
        Route("/sign-up-url", sign_up_url),
        Route("/sign-out", sign_out, methods=["GET", "POST"]),
        Route("/claims", claims),
        Route("/recent", recent),
        Route("/sensitive", sensitive),
        Route("/save", save, methods=["POST"]),
        Route("/api", api),
        Route("/cached", cached),
        Route("/public/page", text),
        Route("/static", text),
        WebSocketRoute("/ws", ws),
    ]
)


async def app(scope: Any, receive: Any, send: Any) -> None:
    """The Starlette app, plus ``/raw``: a bare ASGI handler whose exception reaches the middleware."""
    if scope["type"] == "http" and scope["path"] == "/raw":
        await authkit.with_auth(ensure_signed_in=True)
    await starlette_app(scope, receive, send)


class Switch:
    """The served ASGI app: whatever middleware the current test mounted (lifespan answered here)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        await self.app(scope, receive, send)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("the server did not start")


@contextmanager
def serve_uvicorn(switch: Switch, port: int) -> Iterator[None]:
    server = uvicorn.Server(
        uvicorn.Config(switch, host="127.0.0.1", port=port, log_level="warning", ws="wsproto", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(port)
    yield
    server.should_exit = True
    thread.join(10)


@contextmanager
def serve_hypercorn_trio(switch: Switch, port: int) -> Iterator[None]:
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    stop: dict[str, Any] = {}

    async def main() -> None:
        stop["token"] = trio.lowlevel.current_trio_token()
        stop["event"] = trio.Event()
        await hypercorn_serve(switch, config, shutdown_trigger=stop["event"].wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    wait_for(port)
    yield
    trio.from_thread.run_sync(stop["event"].set, trio_token=stop["token"])
    thread.join(10)


@pytest.fixture(scope="module", params=["uvicorn-asyncio", "hypercorn-trio"])
def server(request: pytest.FixtureRequest, workos_emulator_server: Any) -> Iterator[tuple[Switch, str, AuthKit]]:
    switch = Switch()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    kit = AuthKit(workos_emulator_server.config(redirect_uri=base + "/callback"))
    runner = serve_uvicorn if request.param == "uvicorn-asyncio" else serve_hypercorn_trio
    with runner(switch, port):
        yield switch, base, kit


@pytest.fixture
def site(server: tuple[Switch, str, AuthKit], workos_emulator: Any) -> Site:
    return Site(server, workos_emulator, authkit.AuthKitMiddleware, app)


class TestStarlette(Scenarios, BearerScenarios, AccessTokenScenarios, AuthRouteScenarios):
    """The shared scenarios, under asyncio (uvicorn) and trio (hypercorn)."""

    def test_sync_endpoint_uses_the_blocking_functions(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            assert client.get("/sync").json()["email"] is None
            sign_in(client)
            assert client.get("/sync").json()["email"] == ALICE

    def test_async_on_success_is_awaited(self, site: Site) -> None:
        seen: list[str] = []

        async def on_success(success: Any) -> str:
            await anyio.sleep(0.001)  # under asyncio (uvicorn) and trio (hypercorn) alike
            seen.append(success.user.id)
            return "/welcome"

        site.mount(on_success=on_success)
        with site.client() as client:
            callback = sign_in(client)
            assert callback.headers["location"] == "/welcome"
            assert client.get("/").json()["email"] == ALICE
        assert seen == ["user_alice"]

    def test_async_on_success_refusal(self, site: Site) -> None:
        from authkit_adapters import SignInRefusedError

        async def on_success(success: Any) -> None:
            await anyio.sleep(0.001)
            raise SignInRefusedError("Not today.")

        site.mount(on_success=on_success)
        with site.client() as client:
            first = client.get("/protected")
            response = client.get(authorize(first.headers["location"]))
            assert response.status_code == 403
            assert "Not today." in response.text
            assert SESSION not in set_cookies(response)

    def test_websocket_handshake_sees_the_session(self, site: Site) -> None:
        site.mount()
        ws_url = site.base_url.replace("http://", "ws://") + "/ws"
        with ws_connect(ws_url) as conn:
            assert '"email":null' in str(conn.recv()).replace(" ", "")
        with site.client() as client:
            sign_in(client)
            cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        with ws_connect(ws_url, additional_headers={"Cookie": cookie}) as conn:
            assert ALICE in str(conn.recv())
            assert "set-cookie" not in {k.lower() for k in conn.response.headers}

    def test_websocket_handshake_never_refreshes(self, site: Site) -> None:
        """A handshake cannot carry Set-Cookie, so refreshing there would strand the rotated refresh token."""
        site.mount()
        site.emulator.access_token_ttl = 20  # inside the refresh buffer
        with site.client() as client:
            sign_in(client)
            cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
            site.emulator.access_token_ttl = 300
            ws_url = site.base_url.replace("http://", "ws://") + "/ws"
            with ws_connect(ws_url, additional_headers={"Cookie": cookie}) as conn:
                assert ALICE in str(conn.recv())
            assert site.emulator.grant_count("refresh_token") == 0
            # the next HTTP request refreshes as usual, and the session lives on
            assert ALICE in client.get("/").text
            assert site.emulator.grant_count("refresh_token") == 1

    def test_websocket_refused_without_session_under_middleware_auth(self, site: Site) -> None:
        site.mount(middleware_auth=True)
        ws_url = site.base_url.replace("http://", "ws://") + "/ws"
        with pytest.raises(InvalidStatus) as info, ws_connect(ws_url):
            pass
        assert info.value.response.status_code == 403


# --- in-process: lifespan and use outside the middleware -----------------------------------------------------


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_lifespan_passes_through_untouched(backend: str, workos_emulator: Any) -> None:
    seen: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        message = await receive()
        seen.append(message)
        await send({"type": "lifespan.startup.complete"})

    middleware = authkit.AuthKitMiddleware(inner, authkit=AuthKit(workos_emulator.config()))
    sent: list[Any] = []
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}

    async def receive() -> Any:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        sent.append(message)

    async def main() -> None:
        await middleware(scope, receive, send)

    anyio.run(main, backend=backend)
    assert seen[0] is scope
    assert list(scope) == ["type", "asgi", "state"]
    assert seen[1] == {"type": "lifespan.startup"}
    assert sent == [{"type": "lifespan.startup.complete"}]
    assert workos_emulator.requests == []  # nothing asked of WorkOS


def test_functions_outside_the_middleware_say_so() -> None:
    async def main() -> None:
        with pytest.raises(NoRequestContextError) as info:
            await authkit.with_auth()
        assert info.value.code == "no_request_context"
        assert "AuthKitMiddleware" in str(info.value)
        with pytest.raises(NoRequestContextError):
            await authkit.refresh_session()
        with pytest.raises(NoRequestContextError):
            await authkit.sign_out(request={"type": "http"})

    anyio.run(main)
