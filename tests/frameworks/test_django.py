"""``authkit_adapters.django`` over real HTTP: the Django example site (``AuthKitMiddleware`` in ``MIDDLEWARE``,
``request.auth``, the decorators on sync and async views), served by wsgiref (WSGI) and by uvicorn (ASGI)
against the WorkOS emulator."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import ALICE, BOB, JSON, Served, authorize, query_of, serve_asgi, serve_wsgi, set_cookies, sign_in

# the example site plus contrib.auth, the admin, DRF and a database: see django_settings.py
os.environ["DJANGO_SETTINGS_MODULE"] = "frameworks.django_settings"

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

from authkit_core.signin import NO_STORE_CACHE_CONTROL  # noqa: E402

SESSION = "wos-session"


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def served(request: pytest.FixtureRequest, workos_emulator_server: Any) -> Iterator[Served]:
    serve = serve_wsgi if request.param == "wsgi" else serve_asgi
    before = settings.AUTHKIT
    with serve(workos_emulator_server) as served:
        settings.AUTHKIT = {"authkit": served.kit}
        # the example's own entry point (example_site.wsgi or example_site.asgi), built with these settings
        served.entry = importlib.reload(importlib.import_module(f"example_site.{request.param}")).application  # type: ignore[attr-defined]
        served.kind = request.param  # type: ignore[attr-defined]
        yield served
    settings.AUTHKIT = before


@pytest.fixture
def site(served: Served, workos_emulator: Any) -> Iterator[Served]:
    served.switch.app = served.entry  # type: ignore[attr-defined]
    yield served
    served.switch.app = None


def mount_with_settings(site: Served, **options: Any) -> None:
    """Serve the example site through a new handler whose middleware reads ``settings.AUTHKIT = options``."""
    before = settings.AUTHKIT
    settings.AUTHKIT = {"authkit": site.kit, **options}
    try:
        site.switch.app = WSGIHandler() if site.kind == "wsgi" else ASGIHandler()  # type: ignore[attr-defined]
    finally:
        settings.AUTHKIT = before


@pytest.mark.parametrize("path", ["/account", "/account-async"])
def test_signed_out_navigation_redirects_to_sign_in_and_back(site: Served, path: str) -> None:
    with site.browser() as client:
        first = client.get(path + "?tab=2")
        assert first.status_code == 307
        location = first.headers["location"]
        assert "/user_management/authorize?" in location
        assert query_of(location)["redirect_uri"] == [site.base_url + "/callback"]
        # the callback is answered by the middleware: example_site.urls has no route for it
        callback = client.get(authorize(location))
        assert callback.status_code == 307
        assert callback.headers["location"] == path + "?tab=2"
        assert set_cookies(callback)[SESSION]["value"].startswith("Fe26.2*")
        page = client.get(path)
        assert page.status_code == 200
        assert page.json()["email"] == ALICE
        assert page.json()["role"] == "admin"
        assert page.headers["cache-control"] == NO_STORE_CACHE_CONTROL


def test_sync_and_async_views_after_sign_in(site: Served) -> None:
    with site.browser() as client:
        sign_in(client, start="/account")
        assert client.get("/account").json() == {"email": ALICE, "role": "admin", "org": "org_acme"}
        assert client.get("/account-async").json()["async"] is True
        assert client.get("/editor").json() == {"editing_as": ALICE}
        assert client.get("/admin-async").json() == {"admin": True, "async": True}
        assert client.get("/profile").json()["email"] == ALICE


def test_signed_out_api_requests_get_401(site: Served) -> None:
    with site.browser() as client:
        for path in ("/account", "/account-async", "/editor", "/admin-async"):
            response = client.get(path, headers=JSON)
            assert response.status_code == 401, path
            assert response.text == "Sign-in required."
            assert "set-cookie" not in response.headers


def test_member_gets_403_in_sync_and_async_views(site: Served) -> None:
    with site.browser() as client:
        sign_in(client, start="/account-async", email=BOB)
        assert client.get("/account-async").json()["email"] == BOB
        assert client.get("/editor").status_code == 403
        assert client.get("/admin-async").status_code == 403


def test_exception_in_a_view_becomes_the_redirect_without_an_error_log(
    site: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="django"), site.browser() as client:
        response = client.get("/profile")
        assert response.status_code == 307
        assert "/user_management/authorize?" in response.headers["location"]
        refresh = client.get("/refresh-async")  # an async view: raised inside await asgi.refresh_session(...)
        assert refresh.status_code == 307
    assert not [r for r in caplog.records if r.name.startswith("django")]


def test_refresh_in_an_async_view_writes_the_cookie(site: Served) -> None:
    with site.browser() as client:
        sign_in(client, start="/account")
        before = client.cookies[SESSION]
        response = client.get("/refresh-async", params={"org": "org_globex"})
        assert response.json() == {"email": ALICE, "role": "member", "org": "org_globex"}
        assert set_cookies(response)[SESSION]["value"] != before
        assert client.get("/account").json()["org"] == "org_globex"


def test_request_auth_is_lazy(site: Served) -> None:
    with site.browser() as client:
        home = client.get("/")
        assert home.json()["email"] is None
        assert home.headers["cache-control"] == NO_STORE_CACHE_CONTROL  # the page read the session
        missing = client.get("/nope")
        assert missing.status_code == 404
        assert missing.headers.get("cache-control") != NO_STORE_CACHE_CONTROL  # this one never did
        assert "cookie" not in missing.headers.get("vary", "").lower()
        assert client.get("/me").json() == {"user": "AnonymousUser", "is_authenticated": False, "posts:write": False}
        sign_in(client, start="/account")
        assert client.get("/").json()["email"] == ALICE
        assert client.get("/me").json() == {"user": ALICE, "is_authenticated": True, "posts:write": True}


def test_sign_out(site: Served) -> None:
    with site.browser() as client:
        sign_in(client, start="/account")
        out = client.get("/sign-out")
        assert out.status_code == 307
        assert "/user_management/sessions/logout?" in out.headers["location"]
        assert set_cookies(out)[SESSION]["max-age"] == "0"
        assert client.get("/").json()["email"] is None


def test_callback_failure_page(site: Served) -> None:
    with site.browser() as client:
        response = client.get("/callback?code=abc")
    assert response.status_code == 400
    assert "missing_state" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_options_come_from_settings(site: Served) -> None:
    mount_with_settings(site, middleware_auth=True, unauthenticated_paths=["/"])
    with site.browser() as client:
        assert client.get("/").status_code == 200
        assert client.get("/nope", headers=JSON).status_code == 401  # not a page navigation: no sign-in redirect
        assert client.get("/nope").status_code == 307
        sign_in(client, start="/account")
        assert client.get("/account").json()["email"] == ALICE


def test_the_middleware_endpoints_on_django(site: Served, workos_emulator: Any) -> None:
    """The endpoint table serves Django too, with no Django code of its own: the ready-made routes, the
    access-token endpoints, and accept_bearer from settings.AUTHKIT."""
    mount_with_settings(site, auth_routes=True, access_token_endpoints=True, accept_bearer=True)
    same_origin = {**JSON, "Sec-Fetch-Site": "same-origin"}
    with site.browser() as client:
        first = client.get("/auth/sign-in", params={"return_to": "/account"})
        assert first.status_code == 307
        assert client.get(authorize(first.headers["location"])).headers["location"] == "/account"
        token = client.post("/auth/access-token", headers=same_origin)
        assert token.status_code == 200 and token.headers["cache-control"] == NO_STORE_CACHE_CONTROL
        access = token.json()["access_token"]
        assert client.post("/auth/user", headers=same_origin).json()["user"]["email"] == ALICE
        with site.browser() as api:  # the token alone, no cookie
            assert api.get("/account", headers=_bearer(access)).status_code == 200
        assert client.post("/auth/sign-out", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 303
        assert client.post("/auth/access-token", headers=same_origin).status_code == 401


# --- bearer access tokens: the accept_bearer decorator and Django REST Framework ------------------------------------


def _bearer(token: str) -> dict[str, str]:
    return {**JSON, "Authorization": f"Bearer {token}"}


def test_accept_bearer_decorator_on_sync_and_async_views(site: Served, workos_emulator: Any) -> None:
    token = workos_emulator.mint_access_token("user_alice", organization_id="org_acme")
    expired = workos_emulator.mint_access_token("user_alice", expires_in=-60)
    with site.browser() as client:
        assert client.get("/dj/bearer", headers=_bearer(token)).json() == {"id": "user_alice", "org": "org_acme"}
        assert client.get("/dj/bearer-async", headers=_bearer(token)).json() == {"id": "user_alice", "async": True}
        for path in ("/dj/bearer", "/dj/bearer-async"):
            refused = client.get(path, headers=_bearer(expired))
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
            assert client.get(path, headers=JSON).status_code == 401  # no token, no session: signed out
        assert "set-cookie" not in client.get("/dj/bearer", headers=_bearer(token)).headers


def test_drf_accepts_a_bearer_token_without_csrf(site: Served, workos_emulator: Any) -> None:
    token = workos_emulator.mint_access_token("user_alice", organization_id="org_acme")
    with site.browser() as client:
        got = client.get("/api/posts", headers=_bearer(token))
        assert got.status_code == 200, got.text
        assert got.json() == {"user": "", "auth": "UserInfo", "org": "org_acme"}  # a token carries no email
        assert client.post("/api/posts", headers=_bearer(token)).status_code == 201  # no cookie: no CSRF check
        refused = client.get("/api/posts", headers=_bearer(token[:-4] + "AAAA"))
        assert refused.status_code == 401
        challenge = 'Bearer error="invalid_token", error_description="invalid_signature"'
        assert refused.headers["www-authenticate"] == challenge
        member = workos_emulator.mint_access_token("user_bob", organization_id="org_acme")
        assert client.get("/api/posts", headers=_bearer(member)).status_code == 403  # a member cannot write
