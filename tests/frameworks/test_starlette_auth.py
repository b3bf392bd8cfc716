"""Starlette's own authentication API over the middleware alone: ``request.user``, ``request.auth`` and
``starlette.authentication.requires`` (filled in ``scope["user"]``/``scope["auth"]`` by ``AuthKitMiddleware``),
websockets too, an app's own ``AuthenticationMiddleware`` taking precedence, and the ready-made routes
(``authkit_mount``). Driven by Starlette's ``TestClient``, signed in with the ``authkit_force_login`` fixture.

Seed: alice is ``admin`` of ``org_acme`` (``posts:read``, ``posts:write``, ``users:manage``), bob a ``member``
(``posts:read``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser, requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from authkit_adapters.starlette import AuthKitMiddleware, authkit_mount
from authkit_core.engine import AuthKit
from authkit_core.testing.pytest_plugin import AuthKitForceLogin

from .conftest import ALICE, HTML, JSON, Served, query_of, serve_asgi

BASE = "http://testserver"


@pytest.fixture
def kit(workos_emulator: Any) -> Iterator[AuthKit]:
    kit = AuthKit(workos_emulator.config(redirect_uri=BASE + "/callback"))
    yield kit
    kit.close()


async def me(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse(
        {
            "authenticated": user.is_authenticated,
            "name": user.display_name,
            "id": user.identity,
            "scopes": request.auth.scopes,
            "org": user.organization_id,
        }
    )


async def who(request: Request) -> JSONResponse:
    return JSONResponse({"name": request.user.display_name, "scopes": request.auth.scopes})


@requires("authenticated", redirect=None)
async def private(request: Request) -> PlainTextResponse:
    return PlainTextResponse("private " + request.user.display_name)


@requires("posts:write")
async def write(request: Request) -> PlainTextResponse:
    return PlainTextResponse("written by " + request.user.identity)


async def plain(request: Request) -> PlainTextResponse:
    return PlainTextResponse("no session read")


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"authenticated": websocket.user.is_authenticated, "scopes": websocket.auth.scopes})
    await websocket.close()


ROUTES = [
    Route("/me", me),
    Route("/who", who),
    Route("/private", private),
    Route("/write", write),
    Route("/plain", plain),
    WebSocketRoute("/ws", socket),
    authkit_mount("/auth", sign_out_get=True),
]


def app(kit: AuthKit, *inner: Middleware) -> Starlette:
    return Starlette(routes=ROUTES, middleware=[Middleware(AuthKitMiddleware, authkit=kit), *inner])


def test_request_user_and_auth_signed_in(kit: AuthKit, authkit_force_login: AuthKitForceLogin) -> None:
    with TestClient(app(kit), base_url=BASE) as client:
        info = authkit_force_login(client, kit, ALICE)
        response = client.get("/me")
        assert response.status_code == 200
        body = response.json()
        assert body["authenticated"] is True
        assert body["id"] == info.user.id == "user_alice"
        assert body["name"] == info.display_name
        assert body["org"] == "org_acme"
        assert body["scopes"][0] == "authenticated"
        assert set(body["scopes"][1:]) == {"posts:read", "posts:write", "users:manage"}
        # reading request.user made the response session-dependent
        assert "cookie" in response.headers["vary"].lower()
        assert "no-store" in response.headers["cache-control"]
        assert client.get("/private").text.startswith("private ")
        assert client.get("/write").text == "written by user_alice"


def test_requires_refuses_missing_scopes(kit: AuthKit, authkit_force_login: AuthKitForceLogin) -> None:
    with TestClient(app(kit), base_url=BASE) as client:
        assert client.get("/private", headers=JSON).status_code == 403  # Starlette's requires answers 403
        assert client.get("/me").json() == {
            "authenticated": False,
            "name": "",
            "id": None,
            "scopes": [],
            "org": None,
        }
        authkit_force_login(client, kit, "bob@example.com")
        assert client.get("/private").status_code == 200
        assert client.get("/write").status_code == 403  # bob has posts:read only


def test_an_untouched_user_leaves_the_response_cacheable(kit: AuthKit) -> None:
    with TestClient(app(kit), base_url=BASE) as client:
        response = client.get("/plain")
        assert response.status_code == 200
        assert "vary" not in response.headers and "cache-control" not in response.headers


def test_websocket_scope_has_user_and_auth(kit: AuthKit, authkit_force_login: AuthKitForceLogin) -> None:
    with TestClient(app(kit), base_url=BASE) as client:
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_json() == {"authenticated": False, "scopes": []}
        authkit_force_login(client, kit, ALICE)
        with client.websocket_connect("/ws") as ws:
            answer = ws.receive_json()
            assert answer["authenticated"] is True and "posts:write" in answer["scopes"]


class Backend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser]:
        return AuthCredentials(["authenticated", "own"]), SimpleUser("own-backend")


def test_an_apps_own_authentication_middleware_wins(kit: AuthKit, authkit_force_login: AuthKitForceLogin) -> None:
    inner = Middleware(AuthenticationMiddleware, backend=Backend())
    with TestClient(app(kit, inner), base_url=BASE) as client:  # inner: replaces scope["user"] later
        authkit_force_login(client, kit, ALICE)
        assert client.get("/who").json()["name"] == "own-backend"
    outer = Starlette(routes=ROUTES, middleware=[inner, Middleware(AuthKitMiddleware, authkit=kit)])
    with TestClient(outer, base_url=BASE) as client:  # outer: set first, kept by AuthKitMiddleware
        authkit_force_login(client, kit, ALICE)
        assert client.get("/who").json()["scopes"] == ["authenticated", "own"]


def test_mounted_sign_in_sign_up_and_sign_out(kit: AuthKit, authkit_force_login: AuthKitForceLogin) -> None:
    with TestClient(app(kit), base_url=BASE, follow_redirects=False) as client:
        sign_in = client.get("/auth/sign-in?return_to=/me", headers=HTML)
        assert sign_in.status_code == 307
        assert "/user_management/authorize?" in sign_in.headers["location"]
        assert any(c.startswith("wos-auth-verifier") for c in sign_in.headers.get_list("set-cookie"))
        sign_up = client.get("/auth/sign-up?login_hint=new@example.com")
        assert query_of(sign_up.headers["location"])["screen_hint"] == ["sign-up"]
        assert query_of(sign_up.headers["location"])["login_hint"] == ["new@example.com"]

        authkit_force_login(client, kit, ALICE)
        refused = client.post("/auth/sign-out", headers={"Sec-Fetch-Site": "cross-site"})
        assert refused.status_code == 403
        assert client.get("/me").json()["authenticated"] is True  # session kept
        refused_get = client.get("/auth/sign-out")  # a GET with no site header counts as cross-site
        assert refused_get.status_code == 403
        out = client.post("/auth/sign-out?return_to=/me", headers={"Sec-Fetch-Site": "same-origin"})
        assert out.status_code == 303
        assert "/user_management/sessions/logout" in out.headers["location"]
        assert client.get("/me").json()["authenticated"] is False


def test_sign_in_return_to_is_checked(kit: AuthKit) -> None:
    with TestClient(app(kit), base_url=BASE, follow_redirects=False) as client:
        location = client.get("/auth/sign-in?return_to=https://evil.example/x").headers["location"]
        state = query_of(location)["state"][0]
        assert "evil.example" not in state


@pytest.fixture(scope="module")
def served(workos_emulator_server: Any) -> Iterator[Served]:
    with serve_asgi(workos_emulator_server) as served:
        yield served


def test_over_real_http(served: Served, workos_emulator: Any, authkit_force_login: AuthKitForceLogin) -> None:
    """The same app served by uvicorn, an httpx client signed in with ``authkit_force_login``."""
    served.switch.app = app(served.kit)
    try:
        with served.browser() as client:
            assert client.get("/private", headers=JSON).status_code == 403
            authkit_force_login(client, served.kit, "bob@example.com")
            assert client.get("/private").text.startswith("private ")
            assert client.get("/write").status_code == 403
            authkit_force_login(client, served.kit, ALICE)  # replaces bob's session cookie
            assert client.get("/write").text == "written by user_alice"
            out = client.post("/auth/sign-out", headers={"Origin": served.base_url})
            assert out.status_code == 303
            assert client.get("/me").json()["authenticated"] is False
    finally:
        served.switch.app = None
