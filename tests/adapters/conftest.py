"""What the ASGI and WSGI middleware tests share: a browser-like client, the sign-in walk through the emulator,
and :class:`Scenarios`, the behaviour both middleware must show.

Each test module serves a plain app of its framework (Starlette, Flask) on a real server, wrapped only by the
middleware, with the same routes:

- ``GET /`` and ``GET /cached``: ``with_auth()`` as JSON (``/cached`` sets its own ``Vary``/``Cache-Control``);
- ``GET|POST /protected``: ``with_auth(ensure_signed_in=True)``; ``/protected-explicit`` passes ``request=``;
- ``GET /refresh?org=&ensure=``: ``refresh_session`` (a ``TokenRefreshError`` answers 409 with its code);
- ``GET /switch?org=&return_to=``: ``switch_to_organization`` (errors not caught: the app's 500 must become the
  middleware's redirect);
- ``GET /sign-in-url?return_to=``, ``GET /sign-up-url``: the URLs as JSON;
- ``GET|POST /sign-out?return_to=``: ``sign_out()`` then a page that the redirect must replace;
- ``GET /claims``, ``GET /recent?max_age=``, ``POST /save`` (JSON body: an ``/authenticate`` answer),
  ``GET /api`` (``validate_api_key``), ``GET /public/page`` and ``GET /static`` (no session calls);
- ``/raw``: a bare handler in front of the framework calling ``with_auth(ensure_signed_in=True)``.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from authkit_core.engine import AuthKit
from authkit_core.errors import ConfigurationError
from authkit_core.signin import NO_STORE_CACHE_CONTROL, VERIFIER_COOKIE_PREFIX
from conftest import PAGE

ALICE = "alice@example.com"
SESSION = "wos-session"


class Site:
    """A served app. ``switch.app`` is what the server runs; ``mount(**options)`` puts there the test ``app``
    wrapped in a fresh ``middleware`` with those options."""

    def __init__(self, server: tuple[Any, str, AuthKit], emulator: Any, middleware: Any, app: Any) -> None:
        self.switch, self.base_url, self.kit = server
        self.emulator = emulator
        self.middleware = middleware
        self.app = app

    def mount(self, **options: Any) -> Any:
        self.switch.app = self.middleware(self.app, authkit=self.kit, **options)
        return self.switch.app

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=PAGE, follow_redirects=False, timeout=10)


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    """``{name: {"value": ..., attribute: value}}`` of every ``Set-Cookie``."""
    out: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            out[name] = {"value": morsel.value, **{k: str(v) for k, v in morsel.items() if v}}
    return out


def verifier_cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    return {k: v for k, v in set_cookies(response).items() if k.startswith(VERIFIER_COOKIE_PREFIX)}


def assert_no_store(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == NO_STORE_CACHE_CONTROL
    assert "cookie" in [v.strip().lower() for v in response.headers.get("vary", "").split(",")]


def authorize(location: str, email: str = ALICE) -> str:
    """Sign in at the emulator (``login_hint``): the callback URL it sends the browser to."""
    sep = "&" if "?" in location else "?"
    answer = httpx.get(location + sep + urlencode({"login_hint": email}), follow_redirects=False)
    assert answer.status_code in (302, 303, 307), answer.text
    return answer.headers["location"]


def sign_in(client: httpx.Client, start: str = "/protected", email: str = ALICE) -> httpx.Response:
    """Walk a whole sign-in from a protected page; returns the callback's response."""
    first = client.get(start)
    assert first.status_code == 307, first.text
    callback = client.get(authorize(first.headers["location"], email))
    assert callback.status_code == 307, callback.text
    return callback


def sign_in_callback(client: httpx.Client, email: str = ALICE) -> httpx.Response:
    """Walk a sign-in from ``/protected`` up to the callback's response, whatever its status."""
    first = client.get("/protected")
    assert first.status_code == 307, first.text
    return client.get(authorize(first.headers["location"], email))


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


HOSTILE_RETURN_PATHS = [
    "//evil.example",
    "https:evil",
    "/\\evil",
    "%2F%2Fevil",
    "/%5C%5Cevil",
    "https://evil.example/x",
]


class Scenarios:
    """Tests every middleware passes; a module subclasses this and provides the ``site`` fixture."""

    def test_signed_out_request_depends_on_session(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            response = client.get("/")
        assert response.status_code == 200
        assert response.json()["email"] is None
        assert "set-cookie" not in response.headers
        assert_no_store(response)

    def test_untouched_response_keeps_its_headers(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            response = client.get("/static")
        assert response.text == "static"
        assert "set-cookie" not in response.headers
        assert "vary" not in response.headers
        assert response.headers.get("cache-control") != NO_STORE_CACHE_CONTROL

    def test_full_sign_in_from_a_deep_ensure_signed_in(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            first = client.get("/protected?tab=2&x=y")
            # the handler raised deep inside a plain app: the client still sees a redirect, never a 500
            assert first.status_code == 307, first.text
            location = first.headers["location"]
            assert location.startswith(site.emulator.base_url + "/user_management/authorize?")
            assert_no_store(first)
            ((name, cookie),) = verifier_cookies(first).items()
            assert query_of(location)["state"] == [cookie["value"]]
            assert cookie["max-age"] == "600"
            assert cookie["path"] == "/"
            assert cookie["samesite"] == "Lax"
            assert "httponly" in cookie
            assert "secure" not in cookie  # the redirect URI is http
            assert query_of(location)["redirect_uri"] == [site.base_url + "/callback"]

            callback = client.get(authorize(location))
            assert callback.status_code == 307
            assert callback.headers["location"] == "/protected?tab=2&x=y"
            assert_no_store(callback)
            cookies = set_cookies(callback)
            assert cookies[name]["max-age"] == "0"  # the state cookie is spent
            session = cookies[SESSION]
            assert session["value"].startswith("Fe26.2*")
            assert session["path"] == "/"
            assert session["samesite"] == "Lax"
            assert "httponly" in session
            assert session["max-age"] == str(site.kit.config.cookie_max_age)

            page = client.get("/protected?tab=2&x=y")
            assert page.status_code == 200
            assert page.json()["email"] == ALICE
            assert page.json()["org"] == "org_acme"
            assert_no_store(page)
            assert client.get("/protected-explicit").json()["email"] == ALICE

    def test_exception_reaching_the_middleware_becomes_the_redirect(self, site: Site) -> None:
        site.mount()  # ``/raw`` is a bare handler, with no framework to turn the exception into a page
        with site.client() as client:
            response = client.get("/raw?a=1")
            post = client.post("/raw")
        assert response.status_code == 307
        assert "/user_management/authorize?" in response.headers["location"]
        assert post.status_code == 303

    def test_ensure_signed_in_on_post_is_303(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            response = client.post("/protected")
        assert response.status_code == 303
        assert "/user_management/authorize?" in response.headers["location"]

    def test_explicit_request_argument(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            response = client.get("/protected-explicit")
        assert response.status_code == 307

    # --- the callback ----------------------------------------------------------------------------------------

    def test_callback_without_state(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            response = client.get("/callback?code=abc")
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/html")
        assert "Sign-in failed" in response.text
        assert "missing_state" in response.text
        assert "abc" not in response.text
        assert_no_store(response)

    def test_callback_with_mismatched_state(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            first = client.get("/protected")
            ((name, _),) = verifier_cookies(first).items()
            callback_url = authorize(first.headers["location"])
            client.cookies.clear()
            client.cookies.set(name, "Fe26.2*another-state")
            response = client.get(callback_url)
            assert response.status_code == 400
            assert "state_mismatch" in response.text
            assert set_cookies(response)[name]["max-age"] == "0"
            assert SESSION not in set_cookies(response)
            assert client.get("/").json()["email"] is None

    def test_callback_without_verifier_cookie(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            first = client.get("/protected")
            callback_url = authorize(first.headers["location"])
            client.cookies.clear()
            response = client.get(callback_url)
        assert response.status_code == 400
        assert "missing_verifier_cookie" in response.text
        code = query_of(callback_url)["code"][0]
        assert code not in response.text
        assert site.emulator.grant_count("authorization_code") == 0  # the code was never sent

    def test_replayed_code(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            first = client.get("/protected")
            ((name, cookie),) = verifier_cookies(first).items()
            callback_url = authorize(first.headers["location"])
            assert client.get(callback_url).status_code == 307
            client.cookies.set(name, cookie["value"])  # an attacker who kept the state cookie
            replay = client.get(callback_url)
            assert replay.status_code == 400
            assert "invalid_grant" in replay.text
            assert set_cookies(replay)[name]["max-age"] == "0"
            assert SESSION not in set_cookies(replay)
            assert client.get("/").json()["email"] == ALICE  # the first sign-in still stands

    @pytest.mark.parametrize("hostile", HOSTILE_RETURN_PATHS)
    def test_hostile_return_paths_are_neutralised(self, site: Site, hostile: str) -> None:
        site.mount()
        with site.client() as client:
            url = client.get("/sign-in-url", params={"return_to": hostile}).json()["url"]
            callback = client.get(authorize(url))
        assert callback.status_code == 307
        assert callback.headers["location"] == "/"

    def test_hostile_request_path_does_not_become_an_open_redirect(self, site: Site) -> None:
        site.mount(middleware_auth=True)
        with site.client() as client:
            first = client.get(site.base_url + "//evil.example/x")
            assert first.status_code == 307
            callback = client.get(authorize(first.headers["location"]))
        # "/" (uvicorn, hypercorn) or "/evil.example/x" (wsgiref folds the leading slashes): a path on this site
        location = callback.headers["location"]
        assert location in ("/", "/evil.example/x")

    def test_on_error_hook_redirects(self, site: Site) -> None:
        seen: list[tuple[str, str]] = []

        def hook(error: Exception, info: Any) -> str:
            seen.append((getattr(error, "code", ""), info.path))
            return "/sign-in-failed"

        site.mount(on_error=hook)
        with site.client() as client:
            first = client.get("/protected")
            ((name, _),) = verifier_cookies(first).items()
            callback_url = authorize(first.headers["location"])
            client.cookies.clear()
            client.cookies.set(name, "tampered")
            response = client.get(callback_url)
        assert response.status_code == 307
        assert response.headers["location"] == "/sign-in-failed"
        assert set_cookies(response)[name]["max-age"] == "0"
        assert seen == [("state_mismatch", "/callback")]

    def test_on_error_hook_response(self, site: Site) -> None:
        from authkit_adapters import Response

        site.mount(on_error=lambda error, info: Response(418, [("Content-Type", "text/plain")], b"nope"))
        with site.client() as client:
            first = client.get("/protected")
            ((name, _),) = verifier_cookies(first).items()
            client.cookies.clear()
            response = client.get(authorize(first.headers["location"]))
        assert response.status_code == 418
        assert response.text == "nope"
        assert set_cookies(response)[name]["max-age"] == "0"
        assert_no_store(response)

    def test_on_error_hook_returning_none_keeps_the_error_page(self, site: Site) -> None:
        calls: list[str] = []
        site.mount(on_error=lambda error, info: calls.append(info.path))
        with site.client() as client:
            response = client.get("/callback?code=x&state=y")
        assert response.status_code == 400
        assert "missing_verifier_cookie" in response.text
        assert calls == ["/callback"]

    def test_transient_exchange_failure_is_a_500_page(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            first = client.get("/protected")
            callback_url = authorize(first.headers["location"])
            site.emulator.inject_fault("/user_management/authenticate", status=503, count=10)
            response = client.get(callback_url)
        assert response.status_code == 500
        assert "server_error" in response.text

    # --- middleware_auth, sign-up paths ------------------------------------------------------------------

    def test_middleware_auth_with_globs(self, site: Site) -> None:
        site.mount(middleware_auth=True, unauthenticated_paths=["/public/*", "/static"])
        with site.client() as client:
            assert client.get("/public/page").text == "public"
            assert client.get("/static").text == "static"
            home = client.get("/")
            assert home.status_code == 307
            assert "screen_hint=sign-up" not in home.headers["location"]
            assert verifier_cookies(home)
            assert_no_store(home)
            assert client.post("/").status_code == 303
            assert client.get("/callback").status_code == 400  # the callback is always reachable
            sign_in(client, start="/")
            assert client.get("/").json()["email"] == ALICE

    def test_sign_up_paths(self, site: Site) -> None:
        site.mount(middleware_auth=True, sign_up_paths=["/join*"])
        with site.client() as client:
            join = client.get("/join/team")
            assert query_of(join.headers["location"])["screen_hint"] == ["sign-up"]
            assert "screen_hint" not in query_of(client.get("/other").headers["location"])

    def test_middleware_auth_with_path_patterns(self, site: Site) -> None:
        # authkit-nextjs's path-to-regexp patterns; the paths below answer as authkit-nextjs 4.3 answers them
        site.mount(
            middleware_auth=True,
            unauthenticated_paths=["/blog/:path*", "/docs/:slug", "/api/(.*)"],
            sign_up_paths=["/join/:rest*"],
        )
        public = ["/blog", "/blog/", "/blog/2024/hello", "/docs/intro", "/docs/intro/", "/docs/caf%C3%A9", "/api/"]
        public += ["/api/v1/users", "/api/a%2Fb"]
        # "/docs/a%2Fb" is the path /docs/a/b the app routes on: two segments, so not /docs/:slug
        protected = ["/", "/blogs", "/Blog/x", "/docs", "/docs/a/b", "/docs/a%2Fb", "/api", "/apix/y", "/dashboard"]
        with site.client() as client:
            for path in public:  # the app answers (404, or Starlette's redirect of "/api/" to "/api")
                answer = client.get(path)
                assert "redirect_uri" not in query_of(answer.headers.get("location", "")), path
                assert not verifier_cookies(answer), path
            for path in protected:
                answer = client.get(path)
                assert answer.status_code == 307, path
                assert "redirect_uri" in query_of(answer.headers["location"]), path
                assert "screen_hint=sign-up" not in answer.headers["location"], path
            for path in ["/join", "/join/", "/join/team", "/join/team/42"]:
                answer = client.get(path)
                assert answer.status_code == 307, path
                assert query_of(answer.headers["location"])["screen_hint"] == ["sign-up"], path
            for path in ["/joined", "/Join/team"]:
                assert "screen_hint" not in query_of(client.get(path).headers["location"]), path
            sign_in(client, start="/docs/a/b")
            assert client.get("/docs/a/b").status_code == 404  # signed in: the app answers

    def test_path_patterns_are_checked_at_start_up(self, site: Site) -> None:
        for option, pattern in [
            ("unauthenticated_paths", "/docs/:"),
            ("unauthenticated_paths", "/api/(.*"),
            ("sign_up_paths", "/join/(a(b))"),
            ("sign_up_paths", "https://example.com/join/:rest*"),
        ]:
            with pytest.raises(ConfigurationError, match=re.escape(repr(pattern))) as raised:
                site.mount(middleware_auth=True, **{option: [pattern]})
            assert raised.value.variable == option

    def test_sign_in_and_sign_up_urls_set_the_state_cookie(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            response = client.get("/sign-in-url", params={"return_to": "/after"})
            url = response.json()["url"]
            ((_, cookie),) = verifier_cookies(response).items()
            assert query_of(url)["state"] == [cookie["value"]]
            assert query_of(url)["screen_hint"] == ["sign-in"]
            callback = client.get(authorize(url))
            assert callback.headers["location"] == "/after"
            up = client.get("/sign-up-url")
            assert query_of(up.json()["url"])["screen_hint"] == ["sign-up"]
            assert len(verifier_cookies(up)) == 1

    def test_redirect_uri_option_moves_the_callback(self, site: Site) -> None:
        site.emulator.register_redirect_uri(site.base_url + "/auth/done")  # the emulator accepts registered URIs only
        site.mount(redirect_uri=site.base_url + "/auth/done")
        with site.client() as client:
            first = client.get("/protected")
            assert query_of(first.headers["location"])["redirect_uri"] == [site.base_url + "/auth/done"]
            callback = client.get(authorize(first.headers["location"]))
            assert urlsplit(str(callback.request.url)).path == "/auth/done"
            assert callback.status_code == 307
            assert client.get("/").json()["email"] == ALICE

    # --- the request-scoped functions -------------------------------------------------------------------------

    def test_refresh_is_written_back(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            sign_in(client)
            before = client.cookies[SESSION]
            first = client.get("/refresh")
            assert first.status_code == 200
            assert first.json()["email"] == ALICE
            assert set_cookies(first)[SESSION]["value"] != before
            assert_no_store(first)
            # the rotated refresh token reached the browser: a second refresh works
            assert client.get("/refresh").status_code == 200
            assert site.emulator.grant_count("refresh_token") == 2

    def test_proactive_refresh_is_written_back(self, site: Site) -> None:
        site.mount()
        site.emulator.access_token_ttl = 20  # inside the 30 s buffer: every request refreshes
        with site.client() as client:
            sign_in(client)
            for _ in range(3):
                response = client.get("/")
                assert response.json()["email"] == ALICE
                assert SESSION in set_cookies(response)
            assert site.emulator.grant_count("refresh_token") == 3

    def test_refresh_into_another_organization(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            sign_in(client)
            response = client.get("/refresh", params={"org": "org_globex"})
            assert response.json()["org"] == "org_globex"
            assert response.json()["role"] == "member"
            assert client.get("/").json()["org"] == "org_globex"

    def test_refresh_failure_raises_and_ends_the_session(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            sign_in(client)
            site.emulator.end_session(client.get("/").json()["sid"])
            response = client.get("/refresh")
            assert response.status_code == 409
            assert response.json()["error"] == "invalid_grant"
            assert set_cookies(response)[SESSION]["max-age"] == "0"

    def test_refresh_signed_out(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            assert client.get("/refresh").json()["email"] is None
            ensure = client.get("/refresh", params={"ensure": "1"})
            assert ensure.status_code == 307
            assert "/user_management/authorize?" in ensure.headers["location"]

    def test_switch_to_organization(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            sign_in(client)
            response = client.get("/switch", params={"org": "org_globex"})
            assert response.status_code == 200
            assert response.json()["org"] == "org_globex"
            back = client.get("/switch", params={"org": "org_acme", "return_to": "/dashboard"})
            assert back.status_code == 307
            assert back.headers["location"] == "/dashboard"
            assert SESSION in set_cookies(back)
            assert client.get("/").json()["org"] == "org_acme"

    @pytest.mark.parametrize("org", ["org_sso", "org_mfa"])
    def test_switch_needing_sso_or_mfa_redirects_to_sign_in(self, site: Site, org: str) -> None:
        site.mount()
        with site.client() as client:
            sign_in(client)
            response = client.get("/switch", params={"org": org})
            assert response.status_code == 307, response.text
            query = query_of(response.headers["location"])
            assert query["organization_id"] == [org]
            assert verifier_cookies(response)
            assert client.get("/").json()["org"] == "org_acme"  # the session is unchanged

    def test_switch_follows_authkit_redirect_url(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            sign_in(client)
            body = {"code": "mfa_enrollment", "message": "MFA", "authkit_redirect_url": "https://auth.example/mfa"}
            site.emulator.inject_fault("/user_management/authenticate", status=403, body=body)
            response = client.get("/switch", params={"org": "org_globex"})
        assert response.status_code == 307
        assert response.headers["location"] == "https://auth.example/mfa"

    def test_sign_out(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            sign_in(client)
            sid = client.get("/").json()["sid"]
            response = client.get("/sign-out", params={"return_to": "/bye"})
            assert response.status_code == 307
            assert "still here" not in response.text
            location = response.headers["location"]
            assert location.startswith(site.emulator.base_url + "/user_management/sessions/logout?")
            assert query_of(location)["session_id"] == [sid]
            # a path is put on the app's origin (the redirect URI's) for WorkOS, which wants an absolute URL
            assert query_of(location)["return_to"] == [site.base_url + "/bye"]
            assert set_cookies(response)[SESSION]["max-age"] == "0"
            assert_no_store(response)
            assert client.get("/").json()["email"] is None
            signed_out = client.post("/sign-out")
            assert signed_out.status_code == 303
            assert signed_out.headers["location"] == "/"

    def test_token_claims_and_recent_auth(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            assert client.get("/claims").json() == {}
            assert client.get("/recent", params={"max_age": 3600}).json() == {"recent": False}
            sign_in(client)
            claims = client.get("/claims").json()
            assert claims["sub"] == "user_alice"
            assert claims["org_id"] == "org_acme"
            assert client.get("/recent", params={"max_age": 3600}).json() == {"recent": True}

    def test_old_sign_in_is_not_recent(self, site: Site) -> None:
        site.mount()
        emu = site.emulator
        issued = emu.issue_session("user_bob")
        issued["access_token"] = emu.mint_access_token(
            "user_bob", session_id="session_old", organization_id="org_acme", auth_time=int(time.time()) - 7200
        )
        with site.client() as client:
            saved = client.post("/save", json=issued)
            assert saved.status_code == 200
            assert saved.json()["email"] == "bob@example.com"
            assert SESSION in set_cookies(saved)
            assert client.get("/recent", params={"max_age": 3600}).json() == {"recent": False}
            assert client.get("/recent", params={"max_age": 10000}).json() == {"recent": True}

    def test_save_session_replaces_the_session(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            sign_in(client)
            saved = client.post("/save", json=site.emulator.issue_session("user_bob"))
            assert saved.json()["email"] == "bob@example.com"
            assert client.get("/").json()["email"] == "bob@example.com"

    def test_validate_api_key(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            good = client.get("/api", headers={"Authorization": "Bearer sk_org_acme_test"})
            assert good.json()["key"]["id"] == "key_acme"
            assert client.get("/api", headers={"Authorization": "Bearer sk_nope"}).json() == {"key": None}
            assert client.get("/api").json() == {"key": None}

    def test_cache_headers_merge_with_the_apps(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            response = client.get("/cached")
        assert response.headers["vary"] == "Accept-Encoding, Cookie"
        assert response.headers["cache-control"] == NO_STORE_CACHE_CONTROL

    def test_debug_logging_never_logs_secrets(self, site: Site, caplog: pytest.LogCaptureFixture) -> None:
        site.mount(debug=True)
        with caplog.at_level(logging.INFO, logger="authkit_session"), site.client() as client:
            first = client.get("/protected")
            callback_url = authorize(first.headers["location"])
            client.get(callback_url)
            client.get("/sign-out")
        messages = [r.getMessage() for r in caplog.records if r.name == "authkit_session"]
        assert any("sign-in required" in m for m in messages)
        assert any("sign-in completed" in m for m in messages)
        text = "\n".join(messages)
        secrets = [query_of(callback_url)["code"][0], query_of(callback_url)["state"][0][:40], "Fe26.2"]
        assert not any(s in text for s in secrets)

    # --- on_success -------------------------------------------------------------------------------------------

    def test_on_success_receives_the_sign_in(self, site: Site) -> None:
        seen: list[Any] = []
        site.mount(on_success=seen.append)
        with site.client() as client:
            url = client.get(
                "/sign-in-url", params={"state": "cart-42", "return_to": "/after", "organization_id": "org_globex"}
            ).json()["url"]
            callback = client.get(authorize(url))
            assert callback.status_code == 307
            assert callback.headers["location"] == "/after"
            assert SESSION in set_cookies(callback)
            assert client.get("/").json()["org"] == "org_globex"
        (success,) = seen
        assert success.user.email == ALICE
        assert success.organization_id == "org_globex"
        assert success.custom_state == "cart-42"
        assert success.return_pathname == "/after"
        assert success.authentication_method == "Password"
        assert success.impersonator is None
        assert success.oauth_tokens is None
        assert success.access_token and success.refresh_token
        assert success.auth_response.user == success.user
        assert success.claims["org_id"] == "org_globex"
        assert success.request_info.path == "/callback"
        assert success.access_token not in repr(success)
        assert success.refresh_token not in repr(success)

    def test_on_success_creates_a_local_user_row(self, site: Site) -> None:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute("CREATE TABLE users (workos_id TEXT PRIMARY KEY, email TEXT, sign_ins INTEGER)")
        lock = threading.Lock()

        def on_success(success: Any) -> None:
            with lock, db:
                db.execute(
                    "INSERT INTO users VALUES (?, ?, 1) ON CONFLICT (workos_id) DO UPDATE SET "
                    "email = excluded.email, sign_ins = sign_ins + 1",
                    (success.user.id, success.user.email),
                )

        site.mount(on_success=on_success)
        with site.client() as client:
            sign_in(client)
            client.cookies.clear()  # another browser: the second sign-in updates the row
            sign_in(client)
        assert db.execute("SELECT workos_id, email, sign_ins FROM users").fetchall() == [("user_alice", ALICE, 2)]

    def test_on_success_stores_provider_tokens(self, site: Site) -> None:
        stored: dict[str, Any] = {}

        def on_success(success: Any) -> None:
            if success.oauth_tokens is not None:
                stored[success.user.id] = success.oauth_tokens

        site.mount(on_success=on_success)
        with site.client() as client:
            url = client.get("/sign-in-url", params={"provider": "GoogleOAuth"}).json()["url"]
            assert query_of(url)["provider"] == ["GoogleOAuth"]
            assert client.get(authorize(url)).status_code == 307
            assert client.get("/").json()["email"] == ALICE
        tokens = stored["user_alice"]
        assert tokens.provider == "GoogleOAuth"
        assert tokens.access_token.startswith("emu_provider_at_")
        assert tokens.refresh_token.startswith("emu_provider_rt_")
        assert tokens.expires_at > time.time()
        assert "email" in tokens.scopes
        assert tokens.access_token not in repr(tokens)

    def test_on_success_redirects_to_onboarding(self, site: Site) -> None:
        site.mount(on_success=lambda success: None if success.custom_state == "returning" else "/onboarding?step=1")
        with site.client() as client:
            callback = sign_in(client)
            assert callback.headers["location"] == "/onboarding?step=1"
            assert SESSION in set_cookies(callback)
            assert client.get("/").json()["email"] == ALICE
            url = client.get("/sign-in-url", params={"state": "returning", "return_to": "/home"}).json()["url"]
            assert client.get(authorize(url)).headers["location"] == "/home"

    @pytest.mark.parametrize("hostile", ["https://evil.example/x", "//evil.example", "javascript:alert(1)"])
    def test_on_success_hostile_target_becomes_root(self, site: Site, hostile: str) -> None:
        site.mount(on_success=lambda success: hostile)
        with site.client() as client:
            callback = sign_in(client)
        assert callback.headers["location"] == "/"
        assert SESSION in set_cookies(callback)

    def test_on_success_response_carries_the_session(self, site: Site) -> None:
        from authkit_adapters import Response

        site.mount(on_success=lambda success: Response(200, [("Content-Type", "text/plain")], b"welcome"))
        with site.client() as client:
            first = client.get("/protected")
            ((name, _),) = verifier_cookies(first).items()
            response = client.get(authorize(first.headers["location"]))
            assert response.status_code == 200
            assert response.text == "welcome"
            cookies = set_cookies(response)
            assert SESSION in cookies
            assert cookies[name]["max-age"] == "0"
            assert_no_store(response)
            assert client.get("/").json()["email"] == ALICE

    def test_on_success_refusal_stores_nothing(self, site: Site) -> None:
        from authkit_adapters import SignInRefusedError

        def on_success(success: Any) -> None:
            raise SignInRefusedError("Only example.org accounts may sign in here.")

        site.mount(on_success=on_success)
        with site.client() as client:
            first = client.get("/protected")
            ((name, _),) = verifier_cookies(first).items()
            response = client.get(authorize(first.headers["location"]))
            assert response.status_code == 403
            assert "Only example.org accounts may sign in here." in response.text
            assert "sign_in_refused" in response.text
            cookies = set_cookies(response)
            assert SESSION not in cookies
            assert cookies[name]["max-age"] == "0"
            assert_no_store(response)
            assert client.get("/").json()["email"] is None

    def test_on_success_exception_goes_to_on_error(self, site: Site) -> None:
        errors: list[Exception] = []

        def on_success(success: Any) -> None:
            raise RuntimeError("database down: " + success.access_token)

        def on_error(error: Exception, info: Any) -> str:
            errors.append(error)
            return "/sign-in-refused"

        site.mount(on_success=on_success, on_error=on_error)
        with site.client() as client:
            response = sign_in_callback(client)
            assert response.status_code == 307
            assert response.headers["location"] == "/sign-in-refused"
            assert SESSION not in set_cookies(response)
            assert client.get("/").json()["email"] is None
        (error,) = errors
        assert getattr(error, "code", None) == "sign_in_refused"
        assert isinstance(getattr(error, "cause", None), RuntimeError)

    def test_on_success_exception_without_on_error_is_a_403_page(self, site: Site) -> None:
        def on_success(success: Any) -> None:
            raise KeyError("secret detail")

        site.mount(on_success=on_success)
        with site.client() as client:
            response = sign_in_callback(client)
        assert response.status_code == 403
        assert "This sign-in was refused." in response.text
        assert "secret detail" not in response.text
        assert SESSION not in set_cookies(response)

    def test_on_success_failing_store_leaves_no_session(self, site: Site) -> None:
        """Stored and redirected, or neither: a hook that returns a target while the store then fails still
        leaves the browser signed out, on the error page."""
        calls: list[str] = []
        site.mount(on_success=lambda success: calls.append(success.user.id) or "/onboarding")
        original = site.kit.store.create

        def failing(*args: Any) -> Any:
            from authkit_core.errors import SessionUnavailableError

            raise SessionUnavailableError("store down")

        site.kit.store.create = failing  # type: ignore[method-assign]
        site.kit.store.acreate = failing  # type: ignore[method-assign]
        try:
            with site.client() as client:
                response = sign_in_callback(client)
        finally:
            del site.kit.store.create, site.kit.store.acreate
        assert site.kit.store.create == original
        assert calls == ["user_alice"]
        assert response.status_code == 500
        assert "storage_unavailable" in response.text
        assert SESSION not in set_cookies(response)

    # --- sign-in URL options -----------------------------------------------------------------------------------

    def test_every_sign_in_option_reaches_the_emulator(self, site: Site) -> None:
        site.mount()
        emu = site.emulator
        options = {
            "login_hint": "nobody@example.com",
            "organization_id": "org_acme",
            "domain_hint": "example.com",
            "prompt": "consent",
            "max_age": "600",
            "state": "mine",
            "return_to": "/after",
        }
        with site.client() as client:
            url = client.get("/sign-in-url", params=options).json()["url"]
            page = httpx.get(url)
            assert page.status_code == 200  # no such user: the sign-in page
            received = emu.authorize_requests[-1]
            for name in ("login_hint", "organization_id", "domain_hint", "prompt", "max_age"):
                assert received[name] == options[name], name
            assert received["provider"] == "authkit"
            assert received["screen_hint"] == "sign-in"
            assert "mine" not in received["state"] and "return_to" not in received  # both sealed in the state

            url = client.get("/sign-in-url", params={"connection_id": "conn_sso"}).json()["url"]
            httpx.get(url + "&login_hint=carol%40sso.example.com")
            received = emu.authorize_requests[-1]
            assert received["connection_id"] == "conn_sso"
            assert "provider" not in received

            url = client.get("/sign-in-url", params={"provider": "GitHubOAuth", "screen_hint": "sign-up"}).json()["url"]
            httpx.get(url)
            assert emu.authorize_requests[-1]["provider"] == "GitHubOAuth"
            assert emu.authorize_requests[-1]["screen_hint"] == "sign-up"

            url = client.get("/sign-up-url", params={"screen_hint": "sign-in", "login_hint": ALICE}).json()["url"]
            httpx.get(url)
            assert emu.authorize_requests[-1]["screen_hint"] == "sign-up"  # get_sign_up_url always signs up
            assert emu.authorize_requests[-1]["login_hint"] == ALICE
        assert len(emu.authorize_requests) == 4

    def test_sign_in_options_default_every_sign_in(self, site: Site) -> None:
        site.mount(sign_in_options={"domain_hint": "example.com", "organization_id": "org_globex", "prompt": None})
        with site.client() as client:
            redirect = query_of(client.get("/protected").headers["location"])
            assert redirect["domain_hint"] == ["example.com"]
            assert redirect["organization_id"] == ["org_globex"]
            assert "prompt" not in redirect
            url = client.get("/sign-in-url", params={"organization_id": "org_acme"}).json()["url"]
            assert query_of(url)["organization_id"] == ["org_acme"]  # the call's own option wins
            assert query_of(url)["domain_hint"] == ["example.com"]
            callback = client.get(authorize(client.get("/protected").headers["location"]))
            assert callback.status_code == 307
            assert client.get("/").json()["org"] == "org_globex"

    @pytest.mark.parametrize("options", [{"return_to": "/x"}, {"max_age": -1}, {"provider": ""}])
    def test_sign_in_options_are_checked_at_start_up(self, site: Site, options: dict[str, Any]) -> None:
        with pytest.raises(ConfigurationError) as raised:
            site.mount(sign_in_options=options)
        assert raised.value.variable == "sign_in_options"

    def test_prompt_login_and_max_age_zero_make_the_user_sign_in_again(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            sign_in(client)
            for extra in ({"prompt": "login"}, {"max_age": "0"}):
                url = client.get("/sign-in-url", params={"login_hint": ALICE, **extra}).json()["url"]
                page = httpx.get(url)
                assert page.status_code == 200, extra  # the sign-in page: the user must choose again
                assert 'id="sign-in-user_alice"' in page.text
            url = client.get("/sign-in-url", params={"login_hint": ALICE, "max_age": "3600"}).json()["url"]
            assert httpx.get(url).status_code == 302  # a sign-in a moment ago is recent enough

    def test_check_recent_auth_with_max_age_forces_a_fresh_sign_in(self, site: Site) -> None:
        site.mount()
        emu = site.emulator
        an_hour_ago = int(time.time()) - 3600
        emu.set_last_authentication(ALICE, an_hour_ago)  # alice's AuthKit session: she authenticated an hour ago
        with site.client() as client:
            sign_in(client)  # the AuthKit session is reused: auth_time stays an hour ago
            assert client.get("/claims").json()["auth_time"] == an_hour_ago
            stale = client.get("/sensitive")
            assert stale.status_code == 303
            location = stale.headers["location"]
            assert query_of(location)["max_age"] == [str(SENSITIVE_MAX_AGE)]
            assert len(verifier_cookies(stale)) == 1
            page = httpx.get(location)
            assert page.status_code == 200  # too old for max_age: alice must sign in again
            href = re.search(r'id="sign-in-user_alice" href="([^"]+)"', page.text)
            assert href is not None
            back = httpx.get(emu.base_url + href.group(1).replace("&amp;", "&"))
            assert back.status_code == 302
            callback = client.get(back.headers["location"])
            assert callback.headers["location"] == "/sensitive"
            fresh = client.get("/sensitive")
            assert fresh.status_code == 200
            assert fresh.json()["auth_time"] >= int(time.time()) - 5
        assert emu.authorize_requests[-1]["max_age"] == str(SENSITIVE_MAX_AGE)


#: The ``get_sign_in_url`` options the test apps' ``/sign-in-url`` and ``/sign-up-url`` read from their query.
SIGN_IN_OPTION_NAMES = (
    "return_to",
    "state",
    "organization_id",
    "login_hint",
    "domain_hint",
    "connection_id",
    "provider",
    "prompt",
    "max_age",
    "screen_hint",
)
#: How recent a sign-in ``/sensitive`` requires, in seconds.
SENSITIVE_MAX_AGE = 300


def user_json(info: Any) -> dict[str, Any]:
    """What the test apps of every face answer about the request's user (``UserInfo`` or ``NoUserInfo``)."""
    return {
        "email": info.user.email if info.user else None,
        "id": info.user.id if info.user else None,
        "org": info.organization_id,
        "permissions": list(info.permissions or ()),
        "sid": info.session_id,
        "role": info.role,
    }


def sign_in_options(query: Any) -> dict[str, Any]:
    """The sign-in options in a request's query (``max_age`` as an int)."""
    out: dict[str, Any] = {name: query[name] for name in SIGN_IN_OPTION_NAMES if name in query}
    if "max_age" in out:
        out["max_age"] = int(out["max_age"])
    return out
