"""``authkit_adapters.flask`` over real HTTP: the Flask example (``FlaskAuthKit``, ``current_user``, the
decorators), served by wsgiref in a thread against the WorkOS emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from authkit_adapters.flask import FlaskAuthKit, accept_bearer, current_user, login_required, permission_required
from authkit_adapters.wsgi import AuthKitWSGIMiddleware

from .conftest import ALICE, BOB, JSON, Served, authorize, query_of, serve_wsgi, set_cookies, sign_in


@pytest.fixture(scope="module")
def served(workos_emulator_server: Any) -> Iterator[Served]:
    with serve_wsgi(workos_emulator_server) as served:
        yield served


@pytest.fixture
def site(served: Served, workos_emulator: Any) -> Iterator[Served]:
    from examples.flask_app.app import create_app

    served.switch.app = create_app(authkit=served.kit)
    yield served
    served.switch.app = None


def test_extension_wraps_the_app(served: Served) -> None:
    app = Flask(__name__)
    app.config["AUTHKIT"] = {"authkit": served.kit, "middleware_auth": True, "unauthenticated_paths": ["/open"]}
    extension = FlaskAuthKit(sign_up_paths=["/join"])
    middleware = extension.init_app(app)
    assert app.wsgi_app is middleware
    assert app.extensions["authkit"] is middleware
    assert isinstance(middleware, AuthKitWSGIMiddleware)
    assert middleware.authkit is served.kit
    assert middleware.middleware_auth
    assert middleware.sign_up_paths == ("/join",)


def test_signed_out_navigation_redirects_to_sign_in_and_back(site: Served) -> None:
    with site.browser() as client:
        first = client.get("/account?x=1")
        assert first.status_code == 307
        location = first.headers["location"]
        assert query_of(location)["redirect_uri"] == [site.base_url + "/callback"]
        callback = client.get(authorize(location))
        assert callback.headers["location"] == "/account?x=1"
        account = client.get("/account")
        assert account.json() == {"email": ALICE, "role": "admin"}
        assert client.get("/editor").json() == {"editing_as": ALICE}
        assert client.get("/admin").json() == {"admin": True}


def test_form_post_navigation_is_a_303(site: Served) -> None:
    app = Flask(__name__)
    FlaskAuthKit(app, authkit=site.kit)

    @app.post("/submit")
    @login_required
    def submit() -> str:
        return "done"

    site.switch.app = app
    with site.browser() as client:
        response = client.post("/submit", headers={"Sec-Fetch-Mode": "navigate"})
        assert response.status_code == 303
        assert "/user_management/authorize?" in response.headers["location"]
        assert client.post("/submit", headers=JSON).status_code == 401


def test_signed_out_api_request_gets_401(site: Served) -> None:
    with site.browser() as client:
        for path in ("/account", "/editor", "/admin"):
            response = client.get(path, headers=JSON)
            assert response.status_code == 401
            assert "Sign-in required." in response.text
            assert "set-cookie" not in response.headers


def test_member_gets_403(site: Served) -> None:
    with site.browser() as client:
        sign_in(client, start="/account", email=BOB)
        assert client.get("/account").json() == {"email": BOB, "role": "member"}
        editor = client.get("/editor")
        assert editor.status_code == 403
        assert "posts:write" in editor.text
        admin = client.get("/admin")
        assert admin.status_code == 403
        assert "admin" in admin.text


def test_current_user_in_templates_and_sign_out(site: Served) -> None:
    with site.browser() as client:
        home = client.get("/")
        assert home.status_code == 200
        assert "Sign in" in home.text
        assert "/user_management/authorize?" in home.text
        sign_in(client, start="/account")
        assert f"Signed in as {ALICE}" in client.get("/").text
        out = client.get("/sign-out")
        assert out.status_code == 307
        assert "/user_management/sessions/logout?" in out.headers["location"]
        assert set_cookies(out)["wos-session"]["max-age"] == "0"
        assert "Sign in" in client.get("/").text


def test_custom_error_handlers_shape_the_answers(site: Served) -> None:
    app = Flask(__name__)
    FlaskAuthKit(app, authkit=site.kit)

    @app.errorhandler(401)
    def unauthorized(error: Any) -> Any:
        return {"error": "sign_in_required"}, 401

    @app.get("/me")
    @login_required
    def me() -> Any:
        return {"email": current_user.user.email}

    site.switch.app = app
    with site.browser() as client:
        assert client.get("/me", headers=JSON).json() == {"error": "sign_in_required"}
        sign_in(client, start="/me")
        assert client.get("/me", headers=JSON).json() == {"email": ALICE}


def test_current_user_outside_a_request() -> None:
    with pytest.raises(RuntimeError):
        current_user.is_signed_in  # noqa: B018


def test_accept_bearer_decorator(site: Served, workos_emulator: Any) -> None:
    app = Flask(__name__)
    FlaskAuthKit(app, authkit=site.kit)

    @app.get("/api/me")
    @accept_bearer
    @login_required
    def me() -> dict[str, Any]:
        return {"id": current_user.get_id(), "org": current_user.organization_id}

    @app.post("/api/posts")
    @accept_bearer
    @permission_required("posts:write")
    def write() -> tuple[dict[str, bool], int]:
        return {"created": True}, 201

    @app.get("/page")
    @login_required
    def page() -> str:
        return "page"

    site.switch.app = app
    token = workos_emulator.mint_access_token("user_alice", organization_id="org_acme")
    member = workos_emulator.mint_access_token("user_bob", organization_id="org_acme")
    expired = workos_emulator.mint_access_token("user_alice", expires_in=-60)

    def bearer(value: str) -> dict[str, str]:
        return {**JSON, "Authorization": f"Bearer {value}"}

    with site.browser() as client:
        assert client.get("/api/me", headers=bearer(token)).json() == {"id": "user_alice", "org": "org_acme"}
        assert client.post("/api/posts", headers=bearer(token)).status_code == 201
        assert client.post("/api/posts", headers=bearer(member)).status_code == 403
        refused = client.get("/api/me", headers=bearer(expired))
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        assert "set-cookie" not in refused.headers
        assert client.get("/api/me", headers=JSON).status_code == 401
        assert client.get("/page", headers=bearer(token)).status_code == 401  # not a bearer route
