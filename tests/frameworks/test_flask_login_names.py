"""``authkit_adapters.flask`` with Flask-Login's names: ``current_user.is_authenticated``, ``is_anonymous``,
``is_active``, ``get_id()``; ``login_required`` as a drop-in (``OPTIONS``, ``LOGIN_DISABLED``); the ready-made
blueprint. Driven by Flask's test client, signed in with the ``authkit_force_login`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, render_template_string
from flask.testing import FlaskClient

from authkit_adapters.flask import FlaskAuthKit, authkit_blueprint, current_user, login_required
from authkit_core.engine import AuthKit
from authkit_core.testing.pytest_plugin import AuthKitForceLogin

from .conftest import ALICE, HTML, JSON, query_of, serve_wsgi


@pytest.fixture
def kit(workos_emulator: Any) -> Iterator[AuthKit]:
    kit = AuthKit(workos_emulator.config(redirect_uri="http://localhost/callback"))
    yield kit
    kit.close()


class BufferedClient(FlaskClient):
    """Flask's test client, closing each response's body as a server does (the middleware's request context ends
    when the body is closed; an unclosed one would stay current in the test's thread)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


def make_app(kit: AuthKit) -> Flask:
    app = Flask(__name__)
    app.test_client_class = BufferedClient
    FlaskAuthKit(app, authkit=kit)
    app.register_blueprint(authkit_blueprint())

    @app.get("/me")
    def me() -> Any:
        return jsonify(
            authenticated=current_user.is_authenticated,
            anonymous=current_user.is_anonymous,
            active=current_user.is_active,
            id=current_user.get_id(),
        )

    @app.route("/private", methods=["GET", "OPTIONS"])
    @login_required
    def private() -> str:
        return render_template_string("hello {{ current_user.display_name }} {{ current_user.get_id() }}")

    return app


def test_current_user_has_flask_login_names(kit: AuthKit, authkit_force_login: AuthKitForceLogin) -> None:
    client = make_app(kit).test_client()
    assert client.get("/me").json == {"authenticated": False, "anonymous": True, "active": False, "id": None}
    info = authkit_force_login(client, kit, ALICE)
    assert client.get("/me").json == {"authenticated": True, "anonymous": False, "active": True, "id": "user_alice"}
    page = client.get("/private")
    assert page.status_code == 200
    assert page.text == f"hello {info.display_name} user_alice"
    assert "cookie" in page.headers["Vary"].lower()


def test_login_required_is_a_flask_login_drop_in(kit: AuthKit) -> None:
    app = make_app(kit)
    client = app.test_client()
    assert client.get("/private", headers=JSON).status_code == 401
    assert client.get("/private", headers=HTML).status_code == 307
    assert client.options("/private").status_code == 200  # OPTIONS is exempt, as in Flask-Login
    app.config["LOGIN_DISABLED"] = True
    assert client.get("/private", headers=JSON).status_code == 200


def test_blueprint_routes(kit: AuthKit, authkit_force_login: AuthKitForceLogin) -> None:
    client = make_app(kit).test_client()
    sign_in = client.get("/auth/sign-in?return_to=/private")
    assert sign_in.status_code == 307
    assert "/user_management/authorize?" in sign_in.headers["Location"]
    assert any(c.startswith("wos-auth-verifier") for c in sign_in.headers.getlist("Set-Cookie"))
    sign_up = client.get("/auth/sign-up")
    assert query_of(sign_up.headers["Location"])["screen_hint"] == ["sign-up"]
    assert client.get("/auth/sign-out").status_code == 405
    authkit_force_login(client, kit, ALICE)
    assert client.post("/auth/sign-out", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.get("/me").json["authenticated"] is True
    out = client.post("/auth/sign-out", headers={"Sec-Fetch-Site": "same-origin"})
    assert out.status_code == 303
    assert "/user_management/sessions/logout" in out.headers["Location"]
    assert client.get("/me").json["authenticated"] is False


def test_over_real_http(workos_emulator_server: Any, authkit_force_login: AuthKitForceLogin) -> None:
    """The same app served by wsgiref, an httpx client signed in with ``authkit_force_login``."""
    with serve_wsgi(workos_emulator_server) as served:
        served.switch.app = make_app(served.kit)
        with served.browser() as client:
            assert client.get("/private", headers=JSON).status_code == 401
            authkit_force_login(client, served.kit, ALICE)
            assert client.get("/me").json()["id"] == "user_alice"
            refused = client.post("/auth/sign-out", headers={"Origin": "https://evil.example"})
            assert refused.status_code == 403
            assert client.post("/auth/sign-out", headers={"Origin": served.base_url}).status_code == 303
            assert client.get("/me").json()["authenticated"] is False
