"""``AuthKitWSGIMiddleware`` over real HTTP: a plain Flask app wrapped only by the middleware, served by wsgiref in
a thread, against the WorkOS emulator. The shared behaviour is in :class:`tests.adapters.conftest.Scenarios`;
here are the WSGI-only parts (a bare WSGI app whose exception reaches the middleware, streaming bodies) and the
in-process checks."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from flask import Flask, Response, jsonify, redirect, request

from authkit_adapters import NoRequestContextError
from authkit_adapters import wsgi as authkit
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

flask_app = Flask(__name__)


@flask_app.get("/")
def home() -> Any:
    return jsonify(user_json(authkit.with_auth()))


@flask_app.route("/protected", methods=["GET", "POST"])
def protected() -> Any:
    return jsonify(user_json(authkit.with_auth(ensure_signed_in=True)))


@flask_app.get("/protected-explicit")
def protected_explicit() -> Any:
    return jsonify(user_json(authkit.with_auth(ensure_signed_in=True, request=request)))


@flask_app.get("/refresh")
def refresh() -> Any:
    try:
        info = authkit.refresh_session(request.args.get("org"), ensure_signed_in=bool(request.args.get("ensure")))
    except (TokenRefreshError, BearerRequestError) as exc:
        return jsonify({"error": exc.code}), 409
    return jsonify(user_json(info))


@flask_app.get("/switch")
def switch() -> Any:
    return jsonify(
        user_json(authkit.switch_to_organization(request.args["org"], return_to=request.args.get("return_to")))
    )


@flask_app.get("/sign-in-url")
def sign_in_url() -> Any:
    return jsonify({"url": authkit.get_sign_in_url(**sign_in_options(request.args))})


@flask_app.get("/sign-up-url")
def sign_up_url() -> Any:
    return jsonify({"url": authkit.get_sign_up_url(**sign_in_options(request.args))})


@flask_app.get("/sensitive")
def sensitive() -> Any:
    """A sensitive action: it needs a sign-in at most ``SENSITIVE_MAX_AGE`` seconds old."""
    user = authkit.with_auth(ensure_signed_in=True)
    if not authkit.check_recent_auth(SENSITIVE_MAX_AGE):
        url = authkit.get_sign_in_url(max_age=SENSITIVE_MAX_AGE, login_hint=user.user.email, return_to=request.path)
        return redirect(url, 303)
    return jsonify({"sensitive": True, "auth_time": authkit.get_token_claims()["auth_time"]})


@flask_app.route("/sign-out", methods=["GET", "POST"])
def sign_out() -> Any:
    authkit.sign_out(return_to=request.args.get("return_to"))
    return "still here"


@flask_app.get("/claims")
def claims() -> Any:
    return jsonify(authkit.get_token_claims())


@flask_app.get("/recent")
def recent() -> Any:
    return jsonify({"recent": authkit.check_recent_auth(float(request.args["max_age"]))})


@flask_app.post("/save")
def save() -> Any:
    return jsonify(user_json(authkit.save_session(request.get_json())))


@flask_app.get("/api")
def api() -> Any:
    return jsonify({"key": authkit.validate_api_key()})


@flask_app.get("/cached")
def cached() -> Any:
    authkit.with_auth()
    return Response("c", headers={"Vary": "Accept-Encoding", "Cache-Control": "public, max-age=60"})


@flask_app.get("/public/page")
def public() -> Any:
    return "public"


@flask_app.get("/static")
def static_page() -> Any:
    return "static"


@flask_app.get("/stream")
def stream() -> Any:
    def chunks() -> Iterator[str]:
        yield "a"
        yield user_json(authkit.with_auth())["email"] or "nobody"

    return Response(chunks())


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The Flask app, plus ``/raw``: a bare WSGI handler whose exception reaches the middleware."""
    if environ["PATH_INFO"] == "/raw":
        authkit.with_auth(ensure_signed_in=True)
    return flask_app(environ, start_response)


class Switch:
    """The served WSGI app: whatever middleware the current test mounted."""

    app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.app(environ, start_response)  # type: ignore[no-any-return]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(workos_emulator_server: Any) -> Iterator[tuple[Switch, str, AuthKit]]:
    switch = Switch()
    httpd: WSGIServer = make_server("127.0.0.1", 0, switch, handler_class=QuietHandler)
    base = f"http://127.0.0.1:{httpd.server_port}"
    kit = AuthKit(workos_emulator_server.config(redirect_uri=base + "/callback"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield switch, base, kit
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)
    kit.close()


@pytest.fixture
def site(server: tuple[Switch, str, AuthKit], workos_emulator: Any) -> Site:
    return Site(server, workos_emulator, authkit.AuthKitWSGIMiddleware, app)


class TestFlask(Scenarios, BearerScenarios, AccessTokenScenarios, AuthRouteScenarios):
    """The shared scenarios, through Flask on wsgiref."""

    def test_streamed_body_sees_the_request(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            assert client.get("/stream").text == "anobody"
            sign_in(client)
            assert client.get("/stream").text == "a" + ALICE

    def test_async_on_success_is_refused_on_the_blocking_face(self, site: Site) -> None:
        """Nothing awaits a coroutine under WSGI: the sign-in is refused rather than half done."""

        async def on_success(success: Any) -> None:
            return None

        site.mount(on_success=on_success)
        with site.client() as client:
            first = client.get("/protected")
            response = client.get(authorize(first.headers["location"]))
            assert response.status_code == 403
            assert SESSION not in set_cookies(response)


def test_functions_outside_the_middleware_say_so() -> None:
    with pytest.raises(NoRequestContextError) as info:
        authkit.with_auth()
    assert info.value.code == "no_request_context"
    assert "AuthKitWSGIMiddleware" in str(info.value)
    with pytest.raises(NoRequestContextError):
        authkit.refresh_session()
    with pytest.raises(NoRequestContextError):
        authkit.sign_out(request={"REQUEST_METHOD": "GET"})
    with pytest.raises(NoRequestContextError):
        authkit.validate_api_key()
