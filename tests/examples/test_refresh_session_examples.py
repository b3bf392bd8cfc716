"""End-to-end tests of ``examples/refresh_session``: every example of the authkit-nextjs ``refreshSession`` page,
run over real HTTP against the WorkOS emulator.

Each test runs twice: on the Starlette app (``asgi_app``) served by uvicorn, and on the Flask app (``wsgi_app``)
served by werkzeug's threaded WSGI server, both on 127.0.0.1. A browser-like httpx client signs in through the
emulator (``login_hint``) and keeps the cookies. Test names carry the number of the example they cover (7: the
notes of the page). The last tests check that README.md shows the code these tests run, and that each app starts
on its own with ``python -m``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from werkzeug.serving import WSGIRequestHandler, make_server

from authkit_core.engine import AuthKit
from authkit_core.iron import unseal_session
from authkit_core.tokens import get_token_claims

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the examples live beside src/, not in the installed package
    sys.path.insert(0, str(ROOT))

from examples.refresh_session import add_example_world, asgi_app, wsgi_app  # noqa: E402

from conftest import PAGE  # noqa: E402

EXAMPLE_DIR = ROOT / "examples" / "refresh_session"
SESSION = "wos-session"
ALICE = "alice@example.com"
BOB = "bob@example.com"
ADMIN_PERMISSIONS = ["posts:read", "posts:write", "users:manage"]


# --- serving the two apps ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, timeout: float = 20, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"the app exited with {proc.returncode}:\n{output}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def serve_asgi(kit: AuthKit, port: int) -> Any:
    server = uvicorn.Server(
        uvicorn.Config(asgi_app.create_app(kit), host="127.0.0.1", port=port, log_level="critical", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return stop


def serve_wsgi(kit: AuthKit, port: int) -> Any:
    server = make_server("127.0.0.1", port, wsgi_app.create_app(kit), threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(10)

    return stop


@pytest.fixture(scope="module", params=["asgi", "wsgi"])
def served(request: pytest.FixtureRequest, workos_emulator_server: Any) -> Iterator[tuple[str, AuthKit]]:
    """An example app on a free port, with an engine whose calls to WorkOS are not retried (fast failures)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    kit = AuthKit(workos_emulator_server.config(redirect_uri=base + "/callback", max_retries=0))
    stop = (serve_asgi if request.param == "asgi" else serve_wsgi)(kit, port)
    wait_for(port)
    yield base, kit
    stop()
    kit.close()


class Site:
    def __init__(self, base_url: str, kit: AuthKit, emulator: Any) -> None:
        self.base_url, self.kit, self.emulator = base_url, kit, emulator

    def client(self) -> httpx.Client:
        # No keep-alive: uvicorn closes the connection after an app error (its 500 was sent), which would reset
        # the next request of a pooled connection; a browser retries there, httpx does not.
        limits = httpx.Limits(max_keepalive_connections=0)
        return httpx.Client(base_url=self.base_url, headers=PAGE, follow_redirects=False, timeout=10, limits=limits)

    def session_in(self, client: httpx.Client) -> Any:
        """The session sealed in the client's ``wos-session`` cookie."""
        return unseal_session(client.cookies[SESSION], self.kit.config.cookie_passwords)


@pytest.fixture
def site(served: tuple[str, AuthKit], workos_emulator: Any) -> Site:
    return Site(*served, workos_emulator)


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            out[name] = {"value": morsel.value, **{k: str(v) for k, v in morsel.items() if v}}
    return out


def is_sign_in_redirect(response: httpx.Response, site: Site) -> bool:
    location = response.headers.get("location", "")
    return location.startswith(site.emulator.base_url + "/user_management/authorize?")


def sign_in(client: httpx.Client, email: str = ALICE) -> None:
    """Sign in from ``/dashboard`` through the emulator, as a browser would."""
    first = client.get("/dashboard")
    assert first.status_code == 307, first.text
    authorize = first.headers["location"] + "&" + urlencode({"login_hint": email})
    answer = httpx.get(authorize, follow_redirects=False)
    assert answer.status_code in (302, 303, 307), answer.text
    callback = client.get(answer.headers["location"])
    assert callback.status_code == 307, callback.text
    assert callback.headers["location"] == "/dashboard"


def current(client: httpx.Client) -> dict[str, Any]:
    """The session the next request sees (``GET /``)."""
    response = client.get("/")
    assert response.status_code == 200
    return dict(response.json())


# --- 1. Basic session refresh -----------------------------------------------------------------------------------


def test_1_basic_refresh_signed_out_is_not_authenticated(site: Site) -> None:
    with site.client() as client:
        response = client.get("/refresh-user-data")
    assert response.status_code == 200
    assert response.json() == {"error": "Not authenticated"}
    assert site.emulator.grant_count("refresh_token") == 0


@pytest.mark.parametrize(("email", "permissions"), [(ALICE, ADMIN_PERMISSIONS), (BOB, ["posts:read"])])
def test_1_basic_refresh_returns_the_permissions(site: Site, email: str, permissions: list[str]) -> None:
    with site.client() as client:
        sign_in(client, email)
        response = client.get("/refresh-user-data")
    assert response.status_code == 200
    assert response.json() == {"permissions": permissions}
    assert site.emulator.grant_count("refresh_token") == 1


# --- 2. Switching organizations ----------------------------------------------------------------------------------


def test_2_switch_organization_returns_and_keeps_the_new_organization(site: Site) -> None:
    with site.client() as client:
        sign_in(client)
        assert current(client)["organization_id"] == "org_acme"
        response = client.post("/switch-organization", data={"organizationId": "org_globex"})
        assert response.status_code == 200
        assert response.json() == {"success": True, "organization_id": "org_globex"}
        assert SESSION in set_cookies(response)  # the cookie was rewritten ...
        after = current(client)  # ... so the next request sees the new organization
    assert after["organization_id"] == "org_globex"
    assert after["role"] == "member"
    assert after["permissions"] == ["posts:read"]


@pytest.mark.parametrize(
    ("email", "organization_id"),
    [
        (BOB, "org_globex"),  # not a member
        (ALICE, "org_nowhere"),  # no such organization
        (ALICE, "org_sso"),  # the organization requires SSO
    ],
)
def test_2_failed_switch_answers_the_error_and_keeps_the_session(site: Site, email: str, organization_id: str) -> None:
    add_example_world(site.emulator)
    with site.client() as client:
        sign_in(client, email)
        before = current(client)
        response = client.post("/switch-organization", data={"organizationId": organization_id})
        assert response.status_code == 200
        assert response.json() == {"error": "Failed to switch organization"}
        assert current(client) == before


# --- 3. Checking for permission updates -------------------------------------------------------------------------


def test_3_reports_exactly_the_permissions_added_to_the_role(site: Site) -> None:
    with site.client() as client:
        sign_in(client)
        unchanged = client.get("/check-permission-updates")
        assert unchanged.json() == {"has_new_permissions": False, "new_permissions": []}

        site.emulator.set_role_permissions("admin", [*ADMIN_PERMISSIONS, "billing:manage", "reports:export"])
        added = client.get("/check-permission-updates")
        assert added.status_code == 200
        assert added.json() == {"has_new_permissions": True, "new_permissions": ["billing:manage", "reports:export"]}
        assert current(client)["permissions"] == [*ADMIN_PERMISSIONS, "billing:manage", "reports:export"]

        # a removed permission is not "new"; only the one added alongside it is reported
        site.emulator.set_role_permissions("admin", ["posts:read", "audit:read"])
        mixed = client.get("/check-permission-updates")
        assert mixed.json() == {"has_new_permissions": True, "new_permissions": ["audit:read"]}

        again = client.get("/check-permission-updates")
        assert again.json() == {"has_new_permissions": False, "new_permissions": []}


def test_3_an_organization_role_override_counts_too(site: Site) -> None:
    with site.client() as client:
        sign_in(client, BOB)
        site.emulator.set_role_permissions("member", ["posts:read", "comments:write"], organization_id="org_acme")
        response = client.get("/check-permission-updates")
    assert response.json() == {"has_new_permissions": True, "new_permissions": ["comments:write"]}


# --- 4. Organization switcher form ------------------------------------------------------------------------------


def test_4_org_switch_form_redirects_to_the_dashboard_in_the_new_organization(site: Site) -> None:
    with site.client() as client:
        sign_in(client)
        form = client.get("/org-switch")
        assert form.status_code == 200
        assert 'name="organizationId"' in form.text
        response = client.post("/org-switch", data={"organizationId": "org_globex"})
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard"
        assert SESSION in set_cookies(response)
        dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    assert dashboard.json()["page"] == "dashboard"
    assert dashboard.json()["organization_id"] == "org_globex"


@pytest.mark.parametrize(
    ("organization_id", "page", "text"),
    [
        ("org_sso", "/auth/sso-required", "single sign-on"),
        ("org_mfa", "/auth/mfa-enrollment", "multi-factor"),
    ],
)
def test_4_org_switch_needing_sso_or_mfa_redirects_to_its_page(
    site: Site, organization_id: str, page: str, text: str
) -> None:
    add_example_world(site.emulator)  # alice is a member of org_sso and org_mfa
    with site.client() as client:
        sign_in(client)
        response = client.post("/org-switch", data={"organizationId": organization_id})
        assert response.status_code == 303
        assert response.headers["location"] == page
        assert text in client.get(page).text
        assert current(client)["organization_id"] == "org_acme"  # the refused switch kept the session


def test_4_org_switch_other_errors_propagate(site: Site) -> None:
    with site.client() as client:
        sign_in(client, BOB)
        response = client.post("/org-switch", data={"organizationId": "org_globex"})  # bob is not a member
        assert response.status_code == 500
        assert "location" not in response.headers
        assert current(client)["organization_id"] == "org_acme"


def test_4_org_switch_signed_out_goes_to_sign_in(site: Site) -> None:
    with site.client() as client:
        response = client.post("/org-switch", data={"organizationId": "org_globex"})
    assert response.status_code == 303
    assert is_sign_in_redirect(response, site)


# --- 5. Refreshing after a role change --------------------------------------------------------------------------


def test_5_role_change_through_the_workos_api_then_refresh(site: Site) -> None:
    emulator = site.emulator
    with site.client() as client:
        sign_in(client)
        assert current(client)["role"] == "admin"
        response = client.post("/users/user_alice/role", data={"role": "member"})
        assert response.status_code == 200, response.text
        assert response.json() == {"success": True, "new_role": "member"}
        after = current(client)
    assert after["role"] == "member"
    assert after["permissions"] == ["posts:read"]
    # the handler found the membership and changed it through the API, as the TypeScript original does
    (lookup,) = emulator.requests_to("/user_management/organization_memberships", method="GET")
    assert lookup.query["user_id"] == "user_alice"
    assert lookup.query["organization_id"] == "org_acme"
    (update,) = emulator.requests_to("/user_management/organization_memberships/om_alice_acme", method="PUT")
    assert update.json == {"role_slug": "member"}
    assert update.status == 200
    membership = httpx.get(
        emulator.base_url + "/user_management/organization_memberships/om_alice_acme",
        headers={"Authorization": f"Bearer {emulator.api_key}"},
    ).json()
    assert membership["role"] == {"slug": "member"}


def test_5_unknown_role_is_refused_and_nothing_changes(site: Site) -> None:
    with site.client() as client:
        sign_in(client)
        response = client.post("/users/user_alice/role", data={"role": "superuser"})
        assert response.status_code == 500  # the WorkOS API answered 422: the error propagates
        assert current(client)["role"] == "admin"
    assert site.emulator.grant_count("refresh_token") == 0


# --- 6. Error handling -----------------------------------------------------------------------------------------


def add_org_123(emulator: Any, outcome: str | None) -> None:
    emulator.add_organization("Org 123", organization_id="org_123")
    emulator.add_membership("user_alice", "org_123", "member")
    emulator.set_organization_outcome("org_123", outcome)


def test_6_sso_required_redirects_to_a_sign_in_into_the_organization(site: Site) -> None:
    add_org_123(site.emulator, "sso_required")
    with site.client() as client:
        sign_in(client)
        response = client.get("/refresh-org-123")
        assert response.status_code == 307
        assert is_sign_in_redirect(response, site)
        assert parse_qs(urlsplit(response.headers["location"]).query)["organization_id"] == ["org_123"]
        assert any(name.startswith("wos-auth-verifier") for name in set_cookies(response))
        assert current(client)["organization_id"] == "org_acme"


def test_6_mfa_enrollment_redirects_to_mfa_setup(site: Site) -> None:
    add_org_123(site.emulator, "mfa_enrollment")
    with site.client() as client:
        sign_in(client)
        response = client.get("/refresh-org-123")
        assert response.status_code == 307
        assert response.headers["location"] == "/auth/mfa-enrollment"
        assert current(client)["organization_id"] == "org_acme"


def test_6_transient_failure_is_reported_and_keeps_the_session(site: Site) -> None:
    add_org_123(site.emulator, None)
    with site.client() as client:
        sign_in(client)
        site.emulator.inject_fault("/user_management/authenticate", status=503, count=10)
        response = client.get("/refresh-org-123")
        site.emulator.clear_faults()
        assert response.status_code == 503
        assert response.json() == {"error": "server_error", "is_transient": True}
        assert site.emulator.grant_count("refresh_token") == 1  # max_retries=0: one attempt
        assert current(client)["organization_id"] == "org_acme"
        # once WorkOS is back, the same handler succeeds
        ok = client.get("/refresh-org-123")
        assert ok.status_code == 307
        assert ok.headers["location"] == "/dashboard"
        assert current(client)["organization_id"] == "org_123"


def test_6_seeded_example_world_requires_sso_for_org_123(site: Site) -> None:
    add_example_world(site.emulator)  # what `python -m examples.refresh_session.<app>` serves
    with site.client() as client:
        sign_in(client)
        response = client.get("/refresh-org-123")
    assert is_sign_in_redirect(response, site)


# --- 7. The notes of the page -----------------------------------------------------------------------------------


def test_7_refresh_writes_the_new_tokens_into_the_session_cookie(site: Site) -> None:
    with site.client() as client:
        sign_in(client)
        before = site.session_in(client)
        response = client.get("/refresh-user-data")
        assert response.status_code == 200
        assert SESSION in set_cookies(response)
        after = site.session_in(client)
        assert after.access_token != before.access_token
        assert after.refresh_token != before.refresh_token
        old, new = get_token_claims(before.access_token), get_token_claims(after.access_token)
        assert new["sid"] == old["sid"]
        assert new["jti"] != old["jti"]
        # the rotated refresh token reached the browser: the next refresh spends it and works
        assert client.get("/refresh-user-data").json() == {"permissions": ADMIN_PERMISSIONS}
        assert site.session_in(client).refresh_token != after.refresh_token
    refreshes = site.emulator.requests_to("/user_management/authenticate", method="POST")[-2:]
    assert [r.json["refresh_token"] for r in refreshes] == [before.refresh_token, after.refresh_token]


def test_7_switching_needs_membership_of_the_organization(site: Site) -> None:
    with site.client() as client:
        sign_in(client, BOB)
        refused = client.post("/switch-organization", data={"organizationId": "org_globex"})
        assert refused.json() == {"error": "Failed to switch organization"}
        site.emulator.add_membership("user_bob", "org_globex", "member")
        allowed = client.post("/switch-organization", data={"organizationId": "org_globex"})
        assert allowed.json() == {"success": True, "organization_id": "org_globex"}


def test_7_a_session_that_cannot_be_refreshed_raises(site: Site) -> None:
    with site.client() as client:
        sign_in(client)
        site.emulator.end_session(current(client)["session_id"])  # signed out elsewhere: the refresh token is dead
        response = client.get("/refresh-user-data")
        assert response.status_code == 500  # refresh_session raised; example 1 does not catch it
        assert set_cookies(response)[SESSION]["max-age"] == "0"  # and the ended session was cleared
        assert client.get("/refresh-user-data").json() == {"error": "Not authenticated"}


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/check-permission-updates", None),
        ("POST", "/switch-organization", {"organizationId": "org_globex"}),
        ("POST", "/org-switch", {"organizationId": "org_globex"}),
        ("POST", "/users/user_alice/role", {"role": "member"}),
    ],
)
def test_7_ensure_signed_in_never_returns_a_signed_out_result(
    site: Site, method: str, path: str, data: dict[str, str] | None
) -> None:
    with site.client() as client:
        response = client.request(method, path, data=data)
    # signed out, ensure_signed_in=True sends the browser to sign in (303 after a POST) instead of returning
    assert response.status_code == (307 if method == "GET" else 303)
    assert is_sign_in_redirect(response, site)
    assert site.emulator.grant_count() == 0
    assert not site.emulator.requests_to("/user_management/organization_memberships*")


# --- the README and the standalone runs -------------------------------------------------------------------------


def test_readme_shows_the_code_the_tests_run() -> None:
    readme = (EXAMPLE_DIR / "README.md").read_text(encoding="utf-8")
    sources = {
        "asgi": (EXAMPLE_DIR / "asgi_app.py").read_text(encoding="utf-8"),
        "wsgi": (EXAMPLE_DIR / "wsgi_app.py").read_text(encoding="utf-8"),
    }
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert len(blocks) == 12  # six examples, each for Starlette and for Flask
    for block in blocks:
        assert any(block in source for source in sources.values()), block
    for number in range(1, 8):  # the six examples and the notes, each with its TypeScript intent
        assert re.search(rf"^## {number}\. ", readme, flags=re.MULTILINE)
    assert len(re.findall(r"^\*\*TypeScript:\*\* ", readme, flags=re.MULTILINE)) == 7


def test_docs_page_shows_the_tested_examples() -> None:
    docs = (ROOT / "docs" / "refresh-session.md").read_text(encoding="utf-8")
    source = (EXAMPLE_DIR / "asgi_app.py").read_text(encoding="utf-8")
    examples = docs[docs.index("\n## Examples\n") :]
    blocks = re.findall(r"```python\n(.*?)```", examples, flags=re.DOTALL)
    assert len(blocks) == 6
    for block in blocks:
        assert block in source, block


@pytest.mark.parametrize("module", ["asgi_app", "wsgi_app"])
def test_each_app_runs_standalone_against_the_bundled_emulator(module: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKOS_")}
    env.update(PORT=str(port), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", f"examples.refresh_session.{module}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(port, proc=proc)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=PAGE, timeout=10) as client:
            assert client.get("/refresh-user-data").json() == {"error": "Not authenticated"}
            start = client.get("/dashboard", follow_redirects=False)
            assert start.status_code == 307
            authorize = start.headers["location"] + "&" + urlencode({"login_hint": ALICE})
            callback = httpx.get(authorize, follow_redirects=False).headers["location"]
            assert callback.startswith(f"http://127.0.0.1:{port}/callback?")
            client.get(callback, follow_redirects=False)
            assert client.get("/refresh-user-data").json() == {"permissions": ADMIN_PERMISSIONS}
            redirect = client.get("/refresh-org-123", follow_redirects=False)  # org_123 requires SSO there
            assert "organization_id=org_123" in redirect.headers["location"]
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
