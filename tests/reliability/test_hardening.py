"""The outside review's findings, attacked again over real HTTP (uvicorn and wsgiref, plus Werkzeug's dev server
where header injection is concerned): redirect targets, login CSRF by cookie tossing, sign-in state cookie
pile-up, the sign-out CSRF origin check and the redirect-URI host mismatch.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from werkzeug.serving import make_server as werkzeug_server

from authkit_core.signin import MAX_STATE_COOKIE_BYTES, MAX_STATE_COOKIES, VERIFIER_COOKIE_PREFIX
from authkit_core.storage import MemorySessionStore

from .conftest import (
    ALICE,
    BOB,
    SESSION,
    Site,
    Switch,
    authorize,
    count,
    expires_session,
    query_of,
    serve_asgi,
    serve_wsgi,
    set_cookies,
    sign_in,
    whoami,
)

EVIL = "https://evil.example/phish"
HOSTILE_RETURN_TO = [
    EVIL,
    "//evil.example",
    "/\\evil.example",
    "javascript:alert(1)",
    "/%2F%2Fevil.example",
    "/x\r\nSet-Cookie: injected=1",
    "/x%0d%0aSet-Cookie:%20injected=1",
    "http://127.0.0.1:1/elsewhere",
]


def _no_5xx(response: httpx.Response) -> httpx.Response:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    return response


# --- 1. redirect targets ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("return_to", HOSTILE_RETURN_TO)
def test_sign_out_return_to_never_leaves_the_site(site: Site, return_to: str) -> None:
    site.mount()
    with site.client() as client:
        signed_out = _no_5xx(client.get("/sign-out", params={"return_to": return_to}))
        assert signed_out.status_code == 307
        assert signed_out.headers["location"] == "/"
        assert "injected" not in str(signed_out.headers)
        sign_in(client)
        response = _no_5xx(client.get("/sign-out", params={"return_to": return_to}))
        location = response.headers["location"]
        assert location.startswith(site.emulator.base_url + "/user_management/sessions/logout?")
        # the value handed to WorkOS is checked too: hostile ones are left out (WorkOS's allow-list is the 2nd line)
        assert "return_to" not in query_of(location)
        assert "injected" not in str(response.headers)
        count("attacks")


def test_sign_out_return_to_on_the_site_or_an_allowed_origin(site: Site) -> None:
    site.mount(site.kit(allowed_redirect_origins=("https://docs.example.com",)))
    with site.client() as client:
        for return_to, location in [
            ("/bye?x=1", "/bye?x=1"),
            (site.base_url + "/bye", site.base_url + "/bye"),
            ("https://docs.example.com/after", "https://docs.example.com/after"),
            ("/ünïcode", "/%C3%BCn%C3%AFcode"),
        ]:
            assert client.get("/sign-out", params={"return_to": return_to}).headers["location"] == location
        sign_in(client)
        response = client.get("/sign-out", params={"return_to": "/bye"})
        assert query_of(response.headers["location"])["return_to"] == site.base_url + "/bye"


def test_non_ascii_return_paths_are_encoded_not_a_500(site: Site) -> None:
    site.mount()
    with site.client() as client:
        response = _no_5xx(client.get("/sign-out", params={"return_to": "/ünï路径?q=ü"}))
        assert response.headers["location"] == "/%C3%BCn%C3%AF%E8%B7%AF%E5%BE%84?q=%C3%BC"


def _raw_get(base_url: str, target: str) -> bytes:
    """One GET over a bare socket: the response bytes as the server wrote them (no client-side parsing)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        request = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode("latin-1"))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@contextmanager
def _serve_werkzeug(switch: Switch) -> Iterator[str]:
    server = werkzeug_server("127.0.0.1", 0, switch.wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.mark.parametrize("server", ["uvicorn", "wsgiref", "werkzeug"])
def test_no_header_injection_through_return_to(server: str, workos_emulator: Any) -> None:
    switch = Switch()
    runner = {"uvicorn": serve_asgi, "wsgiref": serve_wsgi, "werkzeug": _serve_werkzeug}[server]
    with runner(switch) as base_url:
        site = Site("asgi" if server == "uvicorn" else "wsgi", switch, base_url, workos_emulator)
        site.mount()
        for value in ["/x\r\nSet-Cookie: injected=1", "/x%0d%0aSet-Cookie:%20injected=1", "/é\nX-Injected: 1"]:
            raw = _raw_get(base_url, "/sign-out?" + urlencode({"return_to": value}))
            head = raw.split(b"\r\n\r\n", 1)[0]
            lines = head.split(b"\r\n")
            assert lines[0].split(b" ")[1] == b"307", raw[:300]
            assert not any(b"injected" in line.lower() for line in lines), head
            assert b"\r\nLocation: /\r\n" in head or b"\r\nlocation: /\r\n" in head
            count("attacks")
        for kit in site.kits:
            kit.close()


def test_hook_and_switch_redirects_go_through_the_same_check(site: Site) -> None:
    site.mount(on_error=lambda error, info: EVIL)
    with site.client() as client:
        response = client.get("/callback", params={"code": "c", "state": "forged"})
        assert response.status_code == 307 and response.headers["location"] == "/"


# --- 2. login CSRF by cookie tossing ------------------------------------------------------------------------------


def _session_value(client: httpx.Client) -> str:
    return next(c.value for c in client.cookies.jar if c.name == SESSION and c.value)


@pytest.mark.parametrize("store", ["cookie", "memory"])
def test_a_planted_session_cookie_beside_the_victims_signs_nobody_in(site: Site, store: str) -> None:
    site.mount(site.kit(store=MemorySessionStore() if store == "memory" else None))
    with site.client() as victim, site.client() as attacker:
        sign_in(victim, ALICE)
        sign_in(attacker, BOB)
        mine, theirs = _session_value(victim), _session_value(attacker)
        for header in (f"{SESSION}={theirs}; {SESSION}={mine}", f"{SESSION}={mine}; {SESSION}={theirs}"):
            with site.client() as browser:
                response = _no_5xx(browser.get("/", headers={"Cookie": header}))
                me = response.json()
                assert me["email"] is None, "an ambiguous session cookie must not sign anyone in"
                assert me["reason"] == "ambiguous_session_cookie"
                assert expires_session(response)
                protected = _no_5xx(browser.get("/protected", headers={"Cookie": header}))
                assert protected.status_code == 307  # to sign-in, not served as the attacker
                count("attacks")
        # the victim's own cookie alone still works: nothing server-side was ended by the ambiguity
        assert whoami(victim)[1]["email"] == ALICE


def test_ambiguous_cookies_are_expired_in_every_scope(site: Site) -> None:
    site.mount()
    with site.client() as client:
        sign_in(client)
        value = _session_value(client)
    port = urlsplit(site.base_url).port
    with site.client() as browser:
        response = browser.get(
            "/deep/page", headers={"Cookie": f"{SESSION}=stale; {SESSION}={value}", "Host": f"app.example.test:{port}"}
        )
        scopes = {
            (attrs.get("domain") or None, attrs.get("path"))
            for header in response.headers.get_list("set-cookie")
            if header.startswith(SESSION + "=;")
            for attrs in [dict(p.strip().partition("=")[::2] for p in header.lower().split(";")[1:])]
        }
        # host-only and both domains the browser could hold it under, on / and on the request's path
        assert {(None, "/"), ("app.example.test", "/"), ("example.test", "/"), ("example.test", "/deep")} <= scopes


def test_host_prefixed_cookies_defeat_a_planted_sign_in_state(site: Site) -> None:
    kit = site.kit(cookie_name="__Host-wos-session")
    site.mount(kit)
    with site.client() as attacker:
        start = attacker.get("/protected")
        state_cookie = next(n for n in set_cookies(start) if VERIFIER_COOKIE_PREFIX in n)
        assert state_cookie.startswith("__Host-" + VERIFIER_COOKIE_PREFIX)
        assert set_cookies(start)[state_cookie].get("secure") == "True"
        state = set_cookies(start)[state_cookie]["value"]
        callback = authorize(start.headers["location"], BOB)
    target = callback[len(site.base_url) :] if callback.startswith(site.base_url) else urlsplit(callback).path
    if not target.startswith("/callback?"):
        target = "/callback?" + urlsplit(callback).query
    # a sibling subdomain (or a plain-http page) can plant only an unprefixed cookie: the callback ignores it
    planted = state_cookie[len("__Host-") :]
    with site.client() as victim:
        refused = _no_5xx(victim.get(target, headers={"Cookie": f"{planted}={state}"}))
        assert refused.status_code == 400
        assert not any(n.startswith("__Host-wos-session") and a["value"] for n, a in set_cookies(refused).items())
        count("attacks")
    with site.client() as owner:  # the genuine browser, holding the __Host- cookie, signs in
        done = _no_5xx(owner.get(target, headers={"Cookie": f"{state_cookie}={state}"}))
        assert done.status_code == 307
        assert set_cookies(done)["__Host-wos-session"]["value"]


# --- 3. sign-in state cookies stay bounded ------------------------------------------------------------------------


def _state_cookies(client: httpx.Client) -> list[str]:
    return [c.name for c in client.cookies.jar if c.name.startswith(VERIFIER_COOKIE_PREFIX)]


def test_a_signed_out_page_viewed_often_keeps_a_handful_of_state_cookies(site: Site) -> None:
    site.mount()
    with site.client() as client:
        urls = [client.get("/sign-in-url", params={"return_to": f"/view/{i}"}).json()["url"] for i in range(20)]
        assert len(_state_cookies(client)) == MAX_STATE_COOKIES
        header = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
        assert len(header) < 4096  # was ~10 KB after 20 views: servers answer 431 past 8 KB
        # the latest sign-ins still complete, the oldest has expired
        for url, lands in ((urls[-1], "/view/19"), (urls[-MAX_STATE_COOKIES], f"/view/{20 - MAX_STATE_COOKIES}")):
            done = client.get(authorize(url))
            assert done.status_code == 307 and done.headers["location"] == lands
        assert client.get(authorize(urls[0])).status_code == 400
        count("attacks")


def test_sub_resources_and_fetches_get_401_not_a_state_cookie(site: Site) -> None:
    site.mount(middleware_auth=True)
    with site.client() as client:
        for headers in (
            {"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image", "Accept": "image/*"},
            {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Accept": "*/*"},
            {"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script", "Accept": "*/*"},
            {"Accept": "application/json"},
            {"Sec-Fetch-Mode": "navigate", "Sec-Purpose": "prefetch"},
        ):
            for i in range(4):
                response = client.get(f"/asset/{i}", headers=headers)
                assert response.status_code == 401, headers
                assert response.json()["error"] == "sign_in_required"
                assert not response.headers.get_list("set-cookie")
        assert _state_cookies(client) == []
        page = client.get("/page", headers={"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
        assert page.status_code == 307 and len(_state_cookies(client)) == 1
        # with_auth(ensure_signed_in=True) in the app follows the same rule
        assert client.get("/protected", headers={"Sec-Fetch-Mode": "cors"}).status_code == 401
        bare = httpx.get(site.base_url + "/protected", headers={"Accept": ""}, follow_redirects=False)
        assert bare.status_code == 307  # no Sec-Fetch-* and no Accept: an old client, redirected


def test_a_return_path_too_long_for_the_cookie_is_cut(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    site.mount()
    with site.client() as client, caplog.at_level(logging.WARNING, "authkit_session"):
        start = client.get("/protected?" + urlencode({"q": "x" * 6000}))
        assert start.status_code == 307
        header = next(h for h in start.headers.get_list("set-cookie") if VERIFIER_COOKIE_PREFIX in h)
        assert len(header.encode()) <= MAX_STATE_COOKIE_BYTES
        assert "too long for the state cookie" in caplog.text
        done = client.get(authorize(start.headers["location"]))
        assert done.status_code == 307 and done.headers["location"] == "/protected"


# --- 6. the sign-out CSRF check compares whole origins ------------------------------------------------------------


def test_sign_out_csrf_compares_scheme_and_port(site: Site) -> None:
    site.mount(csrf_protect_sign_out=True)
    port = urlsplit(site.base_url).port
    with site.client() as client:
        sign_in(client)
        for origin in (f"https://127.0.0.1:{port}", "http://127.0.0.1:1", "http://127.0.0.1", "null"):
            refused = client.post("/sign-out", headers={"Origin": origin})
            assert refused.status_code == 403, origin
            assert whoami(client)[1]["email"] == ALICE
            count("attacks")
        assert client.post("/sign-out", headers={"Origin": site.base_url}).status_code == 303


# --- 9. the redirect URI's host is not the one the browser uses ---------------------------------------------------


def test_redirect_uri_on_another_host_is_explained(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    port = urlsplit(site.base_url).port
    redirect_uri = f"http://localhost:{port}/callback"
    site.mount(site.kit(redirect_uri=redirect_uri))
    with site.client() as client, caplog.at_level(logging.WARNING, "authkit_session"):
        start = client.get("/protected")  # the user browses http://127.0.0.1:<port>
        assert start.status_code == 307
        assert f"started on http://127.0.0.1:{port}" in caplog.text
        assert f"http://localhost:{port}" in caplog.text
        callback = authorize(start.headers["location"])
        assert callback.startswith(redirect_uri)
        # the browser goes to localhost, where the state cookie set on 127.0.0.1 does not exist
        with site.client() as at_localhost:
            failed = at_localhost.get("/callback?" + urlsplit(callback).query, headers={"Host": f"localhost:{port}"})
        assert failed.status_code == 400
        assert "redirect_uri_mismatch" in failed.text
        assert f"http://127.0.0.1:{port}" in failed.text and f"http://localhost:{port}" in failed.text
        assert "WORKOS_REDIRECT_URI" in failed.text
        assert "redirect_uri_mismatch" in caplog.text
