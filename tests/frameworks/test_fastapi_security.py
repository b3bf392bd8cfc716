"""``authkit_adapters.fastapi``: the session as an OpenAPI security scheme (``app.openapi()``), the ``CurrentUser``
and ``OptionalUser`` aliases, ``AuthKitSecurity`` (another cookie name, the bearer scheme), ``authkit_router`` and
``request.user`` in a FastAPI endpoint. Driven by FastAPI's ``TestClient``, signed in with ``authkit_force_login``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from authkit_adapters.fastapi import (
    AuthKitSecurity,
    CurrentUser,
    OptionalUser,
    authkit_router,
    require_permission,
    require_role,
)
from authkit_adapters.starlette import AuthKitMiddleware
from authkit_core.engine import AuthKit
from authkit_core.models import UserInfo
from authkit_core.testing.pytest_plugin import AuthKitCookies, AuthKitForceLogin

from .conftest import ALICE, BOB, HTML, JSON, query_of

BASE = "http://testserver"
custom = AuthKitSecurity("my-session", bearer=True, scheme_name="MySession")
tokens = AuthKitSecurity(accept_bearer=True)


@pytest.fixture
def kit(workos_emulator: Any) -> Iterator[AuthKit]:
    kit = AuthKit(workos_emulator.config(redirect_uri=BASE + "/callback"))
    yield kit
    kit.close()


def make_app(kit: AuthKit) -> FastAPI:
    app = FastAPI()
    app.add_middleware(AuthKitMiddleware, authkit=kit)
    app.include_router(authkit_router())

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"email": user.user.email, "id": user.get_id()}

    @app.get("/maybe")
    async def maybe(user: OptionalUser) -> dict[str, Any]:
        return {"authenticated": user.is_authenticated}

    @app.get("/editor")
    async def editor(user: Annotated[UserInfo, Depends(require_permission("posts:write"))]) -> dict[str, str]:
        return {"editor": user.user.email}

    @app.get("/admin", dependencies=[Depends(require_role("admin"))])
    async def admin() -> dict[str, bool]:
        return {"admin": True}

    @app.get("/keys", dependencies=[Depends(custom.require_user)])
    async def keys() -> dict[str, bool]:
        return {"keys": True}

    @app.get("/api/me")
    async def api_me(user: Annotated[UserInfo, Depends(tokens.require_user)]) -> dict[str, Any]:
        return {"id": user.get_id(), "org": user.organization_id}

    @app.get("/api/maybe")
    async def api_maybe(user: Annotated[Any, Depends(tokens.optional_user)]) -> dict[str, Any]:
        return {"authenticated": user.is_authenticated}

    @app.get("/public")
    async def public(request: Request) -> dict[str, Any]:
        return {"name": request.user.display_name, "scopes": request.auth.scopes}

    return app


def test_openapi_lists_the_session_scheme(kit: AuthKit) -> None:
    schema = make_app(kit).openapi()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["AuthKitSession"]["type"] == "apiKey"
    assert schemes["AuthKitSession"]["in"] == "cookie"
    assert schemes["AuthKitBearer"] == {"type": "http", "scheme": "bearer", "description": "A WorkOS API key."}
    paths = schema["paths"]
    for path in ("/me", "/maybe", "/editor", "/admin"):
        assert paths[path]["get"]["security"] == [{"AuthKitSession": []}], path
    assert schemes["AuthKitSession"]["name"] == "wos-session" and schemes["MySession"]["name"] == "my-session"
    assert paths["/keys"]["get"]["security"] == [{"MySession": []}, {"AuthKitBearer": []}]
    assert "security" not in paths["/public"]["get"]
    assert {"/auth/sign-in", "/auth/sign-up", "/auth/sign-out"} <= set(paths)
    assert set(paths["/auth/sign-out"]) == {"post"}
    sign_in_query = [p["name"] for p in paths["/auth/sign-in"]["get"]["parameters"]]
    assert sign_in_query == ["return_to", "organization_id", "login_hint"]
    assert paths["/auth/sign-out"]["post"]["parameters"][0]["name"] == "return_to"


def test_dependencies_and_aliases(kit: AuthKit, authkit_force_login: AuthKitForceLogin) -> None:
    with TestClient(make_app(kit), base_url=BASE, follow_redirects=False) as client:
        assert client.get("/me", headers=JSON).status_code == 401
        assert client.get("/me", headers=HTML).status_code == 307
        assert client.get("/maybe").json() == {"authenticated": False}
        assert client.get("/public").json() == {"name": "", "scopes": []}
        authkit_force_login(client, kit, BOB)
        assert client.get("/me").json() == {"email": BOB, "id": "user_bob"}
        assert client.get("/maybe").json() == {"authenticated": True}
        assert client.get("/editor").status_code == 403
        assert client.get("/admin").status_code == 403
        assert client.get("/public").json()["scopes"] == ["authenticated", "posts:read"]


def test_cookies_fixture_with_an_organization(kit: AuthKit, authkit_cookies: AuthKitCookies) -> None:
    cookies = authkit_cookies(kit, "user_alice", organization_id="org_globex")
    assert set(cookies) == {kit.config.cookie_name}
    with TestClient(make_app(kit), base_url=BASE, cookies=cookies) as client:
        assert client.get("/me").json()["email"] == ALICE
        assert client.get("/admin").status_code == 403  # a member of globex


def test_router_sign_in_and_sign_out(kit: AuthKit, authkit_force_login: AuthKitForceLogin) -> None:
    with TestClient(make_app(kit), base_url=BASE, follow_redirects=False) as client:
        sign_in = client.get("/auth/sign-in?return_to=/me&organization_id=org_acme")
        assert sign_in.status_code == 307
        assert query_of(sign_in.headers["location"])["organization_id"] == ["org_acme"]
        sign_up = client.get("/auth/sign-up")
        assert query_of(sign_up.headers["location"])["screen_hint"] == ["sign-up"]
        assert client.get("/auth/sign-out").status_code == 405  # POST only by default
        authkit_force_login(client, kit, ALICE)
        assert client.post("/auth/sign-out", headers={"Origin": "https://evil.example"}).status_code == 403
        assert client.get("/me").status_code == 200
        out = client.post("/auth/sign-out", headers={"Origin": BASE})
        assert out.status_code == 303
        assert client.get("/me", headers=JSON).status_code == 401


def test_accept_bearer_per_route(kit: AuthKit, workos_emulator: Any) -> None:
    app = make_app(kit)
    schemes = app.openapi()["components"]["securitySchemes"]
    expected = {"type": "http", "scheme": "bearer", "description": "A WorkOS access token."}
    assert schemes["AuthKitAccessToken"] == expected
    assert {"AuthKitAccessToken": []} in app.openapi()["paths"]["/api/me"]["get"]["security"]
    token = workos_emulator.mint_access_token("user_alice", organization_id="org_acme")
    expired = workos_emulator.mint_access_token("user_alice", expires_in=-60)
    with TestClient(app, base_url=BASE) as client:
        bearer = {**JSON, "Authorization": f"Bearer {token}"}
        assert client.get("/api/me", headers=bearer).json() == {"id": "user_alice", "org": "org_acme"}
        assert client.get("/api/maybe", headers=bearer).json() == {"authenticated": True}
        refused = client.get("/api/me", headers={**JSON, "Authorization": f"Bearer {expired}"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        assert client.get("/api/me", headers=JSON).status_code == 401  # neither token nor session
        # another route of the same app does not accept the token (the middleware does not set accept_bearer)
        assert client.get("/me", headers=bearer).status_code == 401
