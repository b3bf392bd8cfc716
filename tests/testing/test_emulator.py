"""The local WorkOS emulator, driven over real HTTP (httpx against the uvicorn server of the pytest plugin)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet

from authkit_core.testing import Emulator, EmulatorServer, Seed

REDIRECT = "http://127.0.0.1:8000/callback"
USER_FIELDS = {
    "object",
    "id",
    "email",
    "email_verified",
    "first_name",
    "last_name",
    "profile_picture_url",
    "last_sign_in_at",
    "external_id",
    "metadata",
    "locale",
    "created_at",
    "updated_at",
}


@pytest.fixture(scope="module")
def shared_client(workos_emulator_server: EmulatorServer) -> Iterator[httpx.Client]:
    # creating an httpx.Client costs ~0.1-0.3 s (TLS context), so the module shares one
    with httpx.Client(base_url=workos_emulator_server.base_url, timeout=5) as c:
        yield c


@pytest.fixture
def client(shared_client: httpx.Client, workos_emulator: Emulator) -> httpx.Client:
    return shared_client


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def authorize_params(emu: Emulator, verifier: str, **extra: str) -> dict[str, str]:
    return {
        "client_id": emu.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "provider": "authkit",
        "state": "state-123",
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
        **extra,
    }


def get_code(client: httpx.Client, emu: Emulator, email: str, verifier: str, **extra: str) -> str:
    r = client.get("/user_management/authorize", params=authorize_params(emu, verifier, login_hint=email, **extra))
    assert r.status_code == 302, r.text
    location = httpx.URL(r.headers["location"])
    assert location.params["state"] == "state-123"
    return location.params["code"]


def authenticate(client: httpx.Client, emu: Emulator, **body: Any) -> httpx.Response:
    return client.post(
        "/user_management/authenticate", json={"client_id": emu.client_id, "client_secret": emu.api_key, **body}
    )


def sign_in(client: httpx.Client, emu: Emulator, email: str = "alice@example.com", **extra: str) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(40)
    code = get_code(client, emu, email, verifier, **extra)
    r = authenticate(client, emu, grant_type="authorization_code", code=code, code_verifier=verifier)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def refresh(client: httpx.Client, emu: Emulator, token: str, **extra: Any) -> httpx.Response:
    return authenticate(client, emu, grant_type="refresh_token", refresh_token=token, **extra)


def claims_of(client: httpx.Client, emu: Emulator, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(client.get(f"/sso/jwks/{emu.client_id}").json())
    decoded = jwt.decode(token, keys, algorithms=["RS256"])
    return dict(decoded.claims)


def header_of(token: str) -> dict[str, Any]:
    head = token.split(".")[0]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return result


# ---------------------------------------------------------------------------------------------- sign-in


def test_code_flow_returns_full_user_and_signed_token(client: httpx.Client, workos_emulator: Emulator) -> None:
    data = sign_in(client, workos_emulator)
    assert set(data["user"]) >= USER_FIELDS
    assert data["user"]["object"] == "user"
    assert data["user"]["id"] == "user_alice"
    assert data["user"]["last_sign_in_at"] is not None
    assert data["organization_id"] == "org_acme"
    assert data["authentication_method"] == "Password"
    claims = claims_of(client, workos_emulator, data["access_token"])
    assert claims["sub"] == "user_alice"
    assert claims["org_id"] == "org_acme"
    assert claims["role"] == "admin"
    assert claims["roles"] == ["admin"]
    assert claims["permissions"] == ["posts:read", "posts:write", "users:manage"]
    assert claims["entitlements"] == ["audit-logs", "sso"]
    assert claims["feature_flags"] == ["new-dashboard"]
    assert claims["iss"] == f"{workos_emulator.base_url}/user_management/{workos_emulator.client_id}"
    assert isinstance(claims["sid"], str)
    assert claims["sid"].startswith("session_")
    assert isinstance(claims["auth_time"], int)
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"]
    assert "act" not in claims
    assert header_of(data["access_token"])["kid"] == workos_emulator.current_kid


def test_user_without_membership_has_no_organization(client: httpx.Client, workos_emulator: Emulator) -> None:
    data = sign_in(client, workos_emulator, "nora@example.com")
    assert data["organization_id"] is None
    claims = claims_of(client, workos_emulator, data["access_token"])
    assert "org_id" not in claims
    assert "permissions" not in claims


def test_authorize_with_organization_id_signs_into_it(client: httpx.Client, workos_emulator: Emulator) -> None:
    data = sign_in(client, workos_emulator, organization_id="org_globex")
    assert data["organization_id"] == "org_globex"
    assert claims_of(client, workos_emulator, data["access_token"])["role"] == "member"


def test_login_hint_is_case_insensitive_and_redirect_keeps_query(
    client: httpx.Client, workos_emulator: Emulator
) -> None:
    params = authorize_params(workos_emulator, "v" * 43, login_hint="Bob@Example.com")
    params["redirect_uri"] = "http://127.0.0.1:8000/callback?next=%2Fhome"
    workos_emulator.register_redirect_uri(params["redirect_uri"])  # the query counts when matching
    r = client.get("/user_management/authorize", params=params)
    assert r.status_code == 302
    location = httpx.URL(r.headers["location"])
    assert location.params["next"] == "/home"
    assert location.params["code"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_id": None}, "invalid_request"),
        ({"client_id": "client_other"}, "invalid_client"),
        ({"redirect_uri": "/callback"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"provider": None}, "invalid_request"),
        ({"screen_hint": "nope"}, "invalid_request"),
        ({"organization_id": "org_missing"}, "invalid_request"),
    ],
)
def test_authorize_rejects_bad_parameters(
    client: httpx.Client, workos_emulator: Emulator, change: dict[str, str | None], error: str
) -> None:
    params: dict[str, str | None] = {**authorize_params(workos_emulator, "v" * 43), **change}
    r = client.get("/user_management/authorize", params={k: v for k, v in params.items() if v is not None})
    assert r.status_code == 400
    assert r.json()["error"] == error
    assert r.json()["error_description"]


def test_sign_in_page_lists_users_and_links_complete_the_flow(client: httpx.Client, workos_emulator: Emulator) -> None:
    verifier = secrets.token_urlsafe(40)
    r = client.get("/user_management/authorize", params=authorize_params(workos_emulator, verifier))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    for email in ("alice@example.com", "bob@example.com", "nora@example.com"):
        assert f'data-user-email="{email}"' in page
    # follow Bob's link as a browser would
    start = page.index('id="sign-in-user_bob"')
    href_start = page.index('href="', start) + len('href="')
    href = page[href_start : page.index('"', href_start)].replace("&amp;", "&")
    r = client.get(href)
    assert r.status_code == 302
    code = httpx.URL(r.headers["location"]).params["code"]
    r = authenticate(client, workos_emulator, grant_type="authorization_code", code=code, code_verifier=verifier)
    assert r.status_code == 200
    assert r.json()["user"]["email"] == "bob@example.com"


def test_sign_in_page_escapes_html(client: httpx.Client, workos_emulator: Emulator) -> None:
    workos_emulator.add_user("x@example.com", user_id="user_x", first_name="<script>alert(1)</script>")
    r = client.get("/user_management/authorize", params=authorize_params(workos_emulator, "v" * 43, state='"><b>'))
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;" in r.text
    assert '"><b>' not in r.text


def test_unknown_login_hint_shows_the_page(client: httpx.Client, workos_emulator: Emulator) -> None:
    params = authorize_params(workos_emulator, "v" * 43, login_hint="nobody@example.com", screen_hint="sign-up")
    r = client.get("/user_management/authorize", params=params)
    assert r.status_code == 200
    assert 'data-screen-hint="sign-up"' in r.text


# ------------------------------------------------------------------------------------------------- code


def test_pkce_verifier_must_match(client: httpx.Client, workos_emulator: Emulator) -> None:
    verifier = secrets.token_urlsafe(40)
    code = get_code(client, workos_emulator, "alice@example.com", verifier)
    wrong = authenticate(client, workos_emulator, grant_type="authorization_code", code=code, code_verifier="x" * 43)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    missing = authenticate(client, workos_emulator, grant_type="authorization_code", code=code)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_grant"
    ok = authenticate(client, workos_emulator, grant_type="authorization_code", code=code, code_verifier=verifier)
    assert ok.status_code == 200


def test_code_is_single_use(client: httpx.Client, workos_emulator: Emulator) -> None:
    verifier = secrets.token_urlsafe(40)
    code = get_code(client, workos_emulator, "alice@example.com", verifier)
    body = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    assert authenticate(client, workos_emulator, **body).status_code == 200
    again = authenticate(client, workos_emulator, **body)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    unknown = authenticate(client, workos_emulator, **{**body, "code": "nope"})
    assert unknown.json()["error"] == "invalid_grant"


def test_client_credentials_are_checked(client: httpx.Client, workos_emulator: Emulator) -> None:
    data = workos_emulator.issue_session("user_alice")
    for body in (
        {"client_id": workos_emulator.client_id, "client_secret": "sk_wrong"},
        {"client_id": "client_other", "client_secret": workos_emulator.api_key},
        {"client_id": workos_emulator.client_id},
    ):
        r = client.post(
            "/user_management/authenticate",
            json={**body, "grant_type": "refresh_token", "refresh_token": data["refresh_token"]},
        )
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_client"
    # the Authorization header alone is enough, and a form-encoded body is accepted
    r = client.post(
        "/user_management/authenticate",
        data={
            "client_id": workos_emulator.client_id,
            "grant_type": "refresh_token",
            "refresh_token": data["refresh_token"],
        },
        headers={"Authorization": f"Bearer {workos_emulator.api_key}"},
    )
    assert r.status_code == 200, r.text


def test_bad_requests_on_authenticate(client: httpx.Client, workos_emulator: Emulator) -> None:
    assert authenticate(client, workos_emulator, grant_type="password").json()["error"] == "unsupported_grant_type"
    assert authenticate(client, workos_emulator).json()["error"] == "invalid_request"
    r = client.post("/user_management/authenticate", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


# ---------------------------------------------------------------------------------------------- refresh


def test_refresh_rotates_strictly_and_keeps_session(client: httpx.Client, workos_emulator: Emulator) -> None:
    first = sign_in(client, workos_emulator)
    sid = claims_of(client, workos_emulator, first["access_token"])["sid"]
    second = refresh(client, workos_emulator, first["refresh_token"])
    assert second.status_code == 200
    new = second.json()
    assert new["refresh_token"] != first["refresh_token"]
    assert set(new["user"]) >= USER_FIELDS
    assert claims_of(client, workos_emulator, new["access_token"])["sid"] == sid
    reuse = refresh(client, workos_emulator, first["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    assert reuse.json()["error_description"]
    third = refresh(client, workos_emulator, new["refresh_token"])
    assert third.status_code == 200
    assert claims_of(client, workos_emulator, third.json()["access_token"])["sid"] == sid


def test_switch_organization(client: httpx.Client, workos_emulator: Emulator) -> None:
    data = sign_in(client, workos_emulator)
    r = refresh(client, workos_emulator, data["refresh_token"], organization_id="org_globex")
    assert r.status_code == 200
    assert r.json()["organization_id"] == "org_globex"
    claims = claims_of(client, workos_emulator, r.json()["access_token"])
    assert (claims["org_id"], claims["role"], claims["permissions"]) == ("org_globex", "member", ["posts:read"])
    assert claims["entitlements"] == ["basic"]
    # a plain refresh stays in the new organization
    again = refresh(client, workos_emulator, r.json()["refresh_token"])
    assert again.json()["organization_id"] == "org_globex"


def test_switch_to_organization_without_membership_fails_and_keeps_token(
    client: httpx.Client, workos_emulator: Emulator
) -> None:
    data = sign_in(client, workos_emulator, "bob@example.com")
    r = refresh(client, workos_emulator, data["refresh_token"], organization_id="org_globex")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert "member" in r.json()["error_description"]
    missing = refresh(client, workos_emulator, data["refresh_token"], organization_id="org_nope")
    assert missing.status_code == 400
    assert refresh(client, workos_emulator, data["refresh_token"]).status_code == 200


def test_state_edits_show_at_next_refresh(client: httpx.Client, workos_emulator: Emulator) -> None:
    data = sign_in(client, workos_emulator)
    workos_emulator.set_membership_role("user_alice", "org_acme", "member")
    workos_emulator.set_role_permissions("member", ["posts:read", "comments:write"])
    workos_emulator.set_organization_entitlements("org_acme", ["e1"])
    workos_emulator.set_organization_feature_flags("org_acme", ["f1", "f2"])
    claims = claims_of(
        client, workos_emulator, refresh(client, workos_emulator, data["refresh_token"]).json()["access_token"]
    )
    assert claims["role"] == "member"
    assert claims["permissions"] == ["posts:read", "comments:write"]
    assert claims["entitlements"] == ["e1"]
    assert claims["feature_flags"] == ["f1", "f2"]


def test_organization_role_override_and_new_membership(client: httpx.Client, workos_emulator: Emulator) -> None:
    org = workos_emulator.add_organization("Initech", organization_id="org_initech", roles={"member": ["tps:file"]})
    workos_emulator.add_membership("user_bob", org, "member")
    data = workos_emulator.issue_session("user_bob")
    r = refresh(client, workos_emulator, data["refresh_token"], organization_id=org)
    assert claims_of(client, workos_emulator, r.json()["access_token"])["permissions"] == ["tps:file"]
    workos_emulator.remove_membership("user_bob", org)
    assert refresh(client, workos_emulator, r.json()["refresh_token"]).json()["error"] == "invalid_grant"


# --------------------------------------------------------------------------------------------- outcomes


def test_user_outcome_mfa_enrollment_on_code_and_refresh(client: httpx.Client, workos_emulator: Emulator) -> None:
    session = workos_emulator.issue_session("user_alice")
    workos_emulator.set_user_outcome("alice@example.com", "mfa_enrollment")
    verifier = secrets.token_urlsafe(40)
    code = get_code(client, workos_emulator, "alice@example.com", verifier)
    r = authenticate(client, workos_emulator, grant_type="authorization_code", code=code, code_verifier=verifier)
    assert r.status_code == 403
    body = r.json()
    assert body["code"] == "mfa_enrollment"
    assert body["message"]
    assert body["user"]["id"] == "user_alice"
    assert body["pending_authentication_token"]
    r = refresh(client, workos_emulator, session["refresh_token"])
    assert r.status_code == 403
    assert r.json()["error"] == "mfa_enrollment"
    workos_emulator.set_user_outcome("user_alice", None)
    assert refresh(client, workos_emulator, session["refresh_token"]).status_code == 200


def test_organization_outcome_on_switch(client: httpx.Client, workos_emulator: Emulator) -> None:
    session = workos_emulator.issue_session("user_alice")
    workos_emulator.set_organization_outcome("org_globex", "sso_required")
    r = refresh(client, workos_emulator, session["refresh_token"], organization_id="org_globex")
    assert r.status_code == 403
    body = r.json()
    assert body["code"] == "sso_required"
    assert body["email"] == "alice@example.com"
    assert body["connection_ids"]
    assert body["pending_authentication_token"]
    # the current organization is unaffected
    assert refresh(client, workos_emulator, session["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    ("email", "code"), [("carol@sso.example.com", "sso_required"), ("dave@mfa.example.com", "mfa_enrollment")]
)
def test_seeded_organization_requirements(
    client: httpx.Client, workos_emulator: Emulator, email: str, code: str
) -> None:
    verifier = secrets.token_urlsafe(40)
    auth_code = get_code(client, workos_emulator, email, verifier)
    r = authenticate(client, workos_emulator, grant_type="authorization_code", code=auth_code, code_verifier=verifier)
    assert r.status_code == 403
    assert r.json()["code"] == code


def test_organization_selection_and_email_verification_bodies(client: httpx.Client, workos_emulator: Emulator) -> None:
    session = workos_emulator.issue_session("user_alice")
    workos_emulator.set_user_outcome("user_alice", "organization_selection_required")
    body = refresh(client, workos_emulator, session["refresh_token"]).json()
    assert body["code"] == "organization_selection_required"
    assert body["organizations"] == [{"id": "org_acme", "name": "Acme Corp"}, {"id": "org_globex", "name": "Globex"}]
    workos_emulator.set_user_outcome("user_alice", "email_verification_required")
    body = refresh(client, workos_emulator, session["refresh_token"]).json()
    assert body["code"] == "email_verification_required"
    assert body["email_verification_id"].startswith("email_verification_")
    assert body["email"] == "alice@example.com"


# ----------------------------------------------------------------------------------------------- faults


def test_fault_status_count_and_recovery(client: httpx.Client, workos_emulator: Emulator) -> None:
    session = workos_emulator.issue_session("user_alice")
    workos_emulator.inject_fault("/user_management/authenticate", status=503, count=2)
    assert refresh(client, workos_emulator, session["refresh_token"]).status_code == 503
    assert refresh(client, workos_emulator, session["refresh_token"]).status_code == 503
    # the faulted calls did not consume the token
    assert refresh(client, workos_emulator, session["refresh_token"]).status_code == 200
    assert workos_emulator.grant_count("refresh_token") == 3
    assert [r.faulted for r in workos_emulator.requests] == [True, True, False]


def test_fault_body_headers_method_and_wildcard(client: httpx.Client, workos_emulator: Emulator) -> None:
    workos_emulator.inject_fault(
        "/sso/jwks/*", status=429, body={"message": "slow down"}, headers={"Retry-After": "7"}, method="GET"
    )
    r = client.get(f"/sso/jwks/{workos_emulator.client_id}")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7"
    assert r.json() == {"message": "slow down"}
    assert client.get(f"/sso/jwks/{workos_emulator.client_id}").status_code == 200
    workos_emulator.inject_fault("/sso/jwks/*", status=429)
    assert client.get(f"/sso/jwks/{workos_emulator.client_id}").headers["retry-after"] == "1"
    workos_emulator.inject_fault("/api_keys/validations", method="GET")
    r = client.post(
        "/api_keys/validations", json={"value": "x"}, headers={"Authorization": f"Bearer {workos_emulator.api_key}"}
    )
    assert r.status_code == 200  # a GET-only fault does not touch a POST
    workos_emulator.clear_faults()
    assert client.get("/api_keys/validations").status_code == 405


def test_fault_raw_body(client: httpx.Client, workos_emulator: Emulator) -> None:
    workos_emulator.inject_fault("/user_management/authenticate", status=502, raw_body="<html>Bad gateway</html>")
    r = refresh(client, workos_emulator, "whatever")
    assert r.status_code == 502
    assert r.text == "<html>Bad gateway</html>"
    workos_emulator.inject_fault("/user_management/authenticate", status=200, raw_body=b'{"access_token": ')
    r = refresh(client, workos_emulator, "whatever")
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()


def test_fault_drop_connection(client: httpx.Client, workos_emulator: Emulator) -> None:
    workos_emulator.inject_fault("/user_management/authenticate", drop_connection=True)
    with pytest.raises(httpx.RemoteProtocolError):
        refresh(client, workos_emulator, "whatever")
    assert workos_emulator.requests[-1].status is None
    assert workos_emulator.requests[-1].faulted
    assert refresh(client, workos_emulator, "whatever").status_code == 400


def test_delay_only_delays_the_real_answer_without_blocking(client: httpx.Client, workos_emulator: Emulator) -> None:
    session = workos_emulator.issue_session("user_alice")
    workos_emulator.inject_fault("/user_management/authenticate", delay=0.6)
    results: dict[str, Any] = {}

    def slow() -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=5) as other:
            start = time.monotonic()
            results["response"] = refresh(other, workos_emulator, session["refresh_token"])
            results["elapsed"] = time.monotonic() - start

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.1)
    start = time.monotonic()
    assert client.get(f"/sso/jwks/{workos_emulator.client_id}").status_code == 200
    assert time.monotonic() - start < 0.3  # the server loop was not blocked by the delay
    thread.join()
    assert results["elapsed"] >= 0.55
    assert results["response"].status_code == 200
    assert results["response"].json()["refresh_token"]


def test_delay_with_status(client: httpx.Client, workos_emulator: Emulator) -> None:
    workos_emulator.inject_fault("/sso/jwks/*", status=500, delay=0.3)
    start = time.monotonic()
    r = client.get(f"/sso/jwks/{workos_emulator.client_id}")
    assert time.monotonic() - start >= 0.28
    assert r.status_code == 500
    assert r.json()["message"] == "Internal Server Error"


def test_timeout_against_delay(client: httpx.Client, workos_emulator: Emulator) -> None:
    workos_emulator.inject_fault("/sso/jwks/*", delay=1.0)
    with pytest.raises(httpx.ReadTimeout):
        client.get(f"/sso/jwks/{workos_emulator.client_id}", timeout=0.2)


# ------------------------------------------------------------------------------------------ request log


def test_request_log(client: httpx.Client, workos_emulator: Emulator) -> None:
    session = workos_emulator.issue_session("user_alice")
    refresh(client, workos_emulator, session["refresh_token"])
    client.get(f"/sso/jwks/{workos_emulator.client_id}", params={"a": "1"}, headers={"X-Test": "yes"})
    log = workos_emulator.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("POST", "/user_management/authenticate", 200),
        ("GET", f"/sso/jwks/{workos_emulator.client_id}", 200),
    ]
    assert log[0].json is not None
    assert log[0].json["grant_type"] == "refresh_token"
    assert log[0].grant_type == "refresh_token"
    assert log[1].query == {"a": "1"}
    assert log[1].headers["x-test"] == "yes"
    assert log[0].time <= log[1].time
    assert workos_emulator.grant_count() == 1
    assert workos_emulator.grant_count("authorization_code") == 0
    assert len(workos_emulator.requests_to("/sso/jwks/*")) == 1
    assert len(workos_emulator.requests_to("/user_management/authenticate", method="GET")) == 0
    workos_emulator.reset_log()
    assert workos_emulator.requests == []


# ------------------------------------------------------------------------------------------------- keys


def test_jwks_and_key_rotation(client: httpx.Client, workos_emulator: Emulator) -> None:
    old_kid = workos_emulator.current_kid
    keys = client.get(f"/sso/jwks/{workos_emulator.client_id}").json()["keys"]
    assert [k["kid"] for k in keys] == [old_kid]
    assert {"kty", "kid", "alg", "use", "n", "e"} <= set(keys[0])
    assert "d" not in keys[0]
    assert (keys[0]["alg"], keys[0]["use"]) == ("RS256", "sig")
    assert client.get("/sso/jwks/client_other").status_code == 404

    old_token = workos_emulator.mint_access_token("user_alice")
    new_kid = workos_emulator.rotate_signing_key()
    assert new_kid != old_kid
    kids = [k["kid"] for k in client.get(f"/sso/jwks/{workos_emulator.client_id}").json()["keys"]]
    assert set(kids) == {old_kid, new_kid}
    fresh = workos_emulator.issue_session("user_alice")["access_token"]
    assert header_of(fresh)["kid"] == new_kid
    assert claims_of(client, workos_emulator, old_token)["sub"] == "user_alice"

    workos_emulator.rotate_signing_key(retire_old=True)
    kids = [k["kid"] for k in client.get(f"/sso/jwks/{workos_emulator.client_id}").json()["keys"]]
    assert kids == [workos_emulator.current_kid]
    with pytest.raises(InvalidKeyIdError):
        claims_of(client, workos_emulator, old_token)
    # a retired key can still sign, for "unknown kid" tests
    assert header_of(workos_emulator.mint_access_token("user_alice", kid=old_kid))["kid"] == old_kid


def test_mint_access_token_claims(client: httpx.Client, workos_emulator: Emulator) -> None:
    token = workos_emulator.mint_access_token(
        "user_alice",
        session_id="session_x",
        organization_id="org_acme",
        expires_in=60,
        issued_at=int(time.time()) - 10,
        custom="yes",
        jti=None,
    )
    claims = claims_of(client, workos_emulator, token)
    assert claims["sid"] == "session_x"
    assert claims["exp"] - claims["iat"] == 60
    assert claims["role"] == "admin"
    assert claims["custom"] == "yes"
    assert "jti" not in claims


def test_access_token_ttl_is_settable(client: httpx.Client, workos_emulator: Emulator) -> None:
    workos_emulator.access_token_ttl = 42
    claims = claims_of(client, workos_emulator, sign_in(client, workos_emulator)["access_token"])
    assert claims["exp"] - claims["iat"] == 42
    workos_emulator.reset()
    assert workos_emulator.access_token_ttl == 300


# ---------------------------------------------------------------------------------------------- idempotency


def test_idempotency_key_replays_first_response(client: httpx.Client, workos_emulator: Emulator) -> None:
    session = workos_emulator.issue_session("user_alice")
    body = {
        "client_id": workos_emulator.client_id,
        "client_secret": workos_emulator.api_key,
        "grant_type": "refresh_token",
        "refresh_token": session["refresh_token"],
    }
    headers = {"Idempotency-Key": "retry-1"}
    first = client.post("/user_management/authenticate", json=body, headers=headers)
    second = client.post("/user_management/authenticate", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert workos_emulator.requests[-1].replayed
    assert workos_emulator.grant_count("refresh_token") == 2
    # the replayed refresh token is the live one: it works exactly once more
    assert refresh(client, workos_emulator, second.json()["refresh_token"]).status_code == 200
    # a different key is a new grant: the old token is dead
    other = client.post("/user_management/authenticate", json=body, headers={"Idempotency-Key": "retry-2"})
    assert other.status_code == 400
    assert other.json()["error"] == "invalid_grant"


def test_idempotency_does_not_store_server_errors(client: httpx.Client, workos_emulator: Emulator) -> None:
    session = workos_emulator.issue_session("user_alice")
    workos_emulator.inject_fault("/user_management/authenticate", status=500)
    body = {
        "client_id": workos_emulator.client_id,
        "client_secret": workos_emulator.api_key,
        "grant_type": "refresh_token",
        "refresh_token": session["refresh_token"],
    }
    headers = {"Idempotency-Key": "k"}
    assert client.post("/user_management/authenticate", json=body, headers=headers).status_code == 500
    assert client.post("/user_management/authenticate", json=body, headers=headers).status_code == 200


# ------------------------------------------------------------------------------------------ other routes


def test_logout_ends_session(client: httpx.Client, workos_emulator: Emulator) -> None:
    data = sign_in(client, workos_emulator)
    sid = claims_of(client, workos_emulator, data["access_token"])["sid"]
    r = client.get(
        "/user_management/sessions/logout", params={"session_id": sid, "return_to": "http://127.0.0.1:8000/bye"}
    )
    assert r.status_code == 302
    assert r.headers["location"] == "http://127.0.0.1:8000/bye"
    assert refresh(client, workos_emulator, data["refresh_token"]).json()["error"] == "invalid_grant"
    assert workos_emulator.sessions()[0]["active"] is False
    page = client.get("/user_management/sessions/logout", params={"session_id": sid})
    assert page.status_code == 200
    assert "Signed out" in page.text
    assert client.get("/user_management/sessions/logout").status_code == 422


def test_revoke_session(client: httpx.Client, workos_emulator: Emulator) -> None:
    data = workos_emulator.issue_session("user_bob")
    sid = workos_emulator.sessions()[0]["id"]
    auth = {"Authorization": f"Bearer {workos_emulator.api_key}"}
    assert client.post("/user_management/sessions/revoke", json={"session_id": sid}).status_code == 401
    assert client.post("/user_management/sessions/revoke", json={"session_id": sid}, headers=auth).status_code == 200
    assert refresh(client, workos_emulator, data["refresh_token"]).status_code == 400


def test_api_key_validation(client: httpx.Client, workos_emulator: Emulator) -> None:
    auth = {"Authorization": f"Bearer {workos_emulator.api_key}"}
    r = client.post("/api_keys/validations", json={"value": "sk_org_acme_test"}, headers=auth)
    assert r.status_code == 200
    key = r.json()["api_key"]
    assert key["object"] == "api_key"
    assert key["id"] == "key_acme"
    assert key["owner"] == {"type": "organization", "id": "org_acme"}
    assert key["permissions"] == ["posts:read"]
    assert "sk_org_acme_test" not in json.dumps(key)
    assert client.post("/api_keys/validations", json={"value": "sk_nope"}, headers=auth).json() == {"api_key": None}
    assert client.post("/api_keys/validations", json={"value": "sk_org_acme_test"}).status_code == 401


def test_membership_endpoints(client: httpx.Client, workos_emulator: Emulator) -> None:
    auth = {"Authorization": f"Bearer {workos_emulator.api_key}"}
    base = "/user_management/organization_memberships"
    assert client.get(base, params={"user_id": "user_alice"}).status_code == 401
    listing = client.get(base, params={"user_id": "user_alice"}, headers=auth).json()
    assert [m["organization_id"] for m in listing["data"]] == ["org_acme", "org_globex"]
    assert listing["list_metadata"] == {"before": None, "after": None}
    one = client.get(base, params={"user_id": "user_alice", "organization_id": "org_acme"}, headers=auth).json()
    assert len(one["data"]) == 1
    membership = one["data"][0]
    assert membership["object"] == "organization_membership"
    assert membership["role"] == {"slug": "admin"}
    assert membership["status"] == "active"
    assert membership["organization_name"] == "Acme Corp"
    assert client.get(f"{base}/{membership['id']}", headers=auth).json()["id"] == membership["id"]
    assert client.get(f"{base}/om_missing", headers=auth).status_code == 404

    session = workos_emulator.issue_session("user_alice")
    r = client.put(f"{base}/{membership['id']}", json={"role_slug": "viewer"}, headers=auth)
    assert r.status_code == 200
    assert r.json()["role"] == {"slug": "viewer"}
    claims = claims_of(
        client, workos_emulator, refresh(client, workos_emulator, session["refresh_token"]).json()["access_token"]
    )
    assert (claims["role"], claims["permissions"]) == ("viewer", [])
    assert client.put(f"{base}/{membership['id']}", json={"role_slug": "ghost"}, headers=auth).status_code == 422


def test_unknown_route(client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404


def test_issue_session_with_impersonator(client: httpx.Client, workos_emulator: Emulator) -> None:
    data = workos_emulator.issue_session(
        "bob@example.com", impersonator={"email": "admin@example.com", "reason": "support"}
    )
    assert data["organization_id"] == "org_acme"
    assert set(data["user"]) >= USER_FIELDS
    assert claims_of(client, workos_emulator, data["access_token"])["act"] == {"sub": "admin@example.com"}
    r = refresh(client, workos_emulator, data["refresh_token"]).json()
    assert r["impersonator"] == {"email": "admin@example.com", "reason": "support"}
    with pytest.raises(ValueError, match="not a member"):
        workos_emulator.issue_session("user_bob", organization_id="org_globex")


def test_reset_restores_seed(client: httpx.Client, workos_emulator: Emulator) -> None:
    session = workos_emulator.issue_session("user_alice")
    workos_emulator.set_membership_role("user_alice", "org_acme", "viewer")
    workos_emulator.inject_fault("/sso/jwks/*", status=500)
    workos_emulator.reset()
    assert workos_emulator.requests == []
    assert refresh(client, workos_emulator, session["refresh_token"]).status_code == 400
    assert client.get(f"/sso/jwks/{workos_emulator.client_id}").status_code == 200
    assert (
        claims_of(client, workos_emulator, workos_emulator.issue_session("user_alice")["access_token"])["role"]
        == "admin"
    )


def test_config_points_at_server(workos_emulator_server: EmulatorServer, workos_emulator: Emulator) -> None:
    config = workos_emulator.config(cookie_name="other")
    assert config.api_base_url == workos_emulator_server.base_url
    assert config.client_id == workos_emulator.client_id
    assert config.cookie_name == "other"
    assert workos_emulator_server.config().api_port == workos_emulator_server.port


# ------------------------------------------------------------------------------------- registered URIs


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmulatorServer]:
    """An emulator of this module's own: registrations made by other tests (they survive ``reset()``) cannot make
    a URI these tests expect refused look registered. Each test uses its own URIs."""
    with EmulatorServer(Emulator()) as server:
        yield server


@pytest.fixture
def own(own_server: EmulatorServer) -> Iterator[tuple[Emulator, httpx.Client]]:
    own_server.emulator.reset()
    with httpx.Client(base_url=own_server.base_url, timeout=5) as c:
        yield own_server.emulator, c


def authorize_to(c: httpx.Client, emu: Emulator, redirect_uri: str | None) -> httpx.Response:
    params = authorize_params(emu, "v" * 43, login_hint="alice@example.com")
    if redirect_uri is None:
        del params["redirect_uri"]
    else:
        params["redirect_uri"] = redirect_uri
    return c.get("/user_management/authorize", params=params)


def logout_to(c: httpx.Client, emu: Emulator, return_to: str | None) -> httpx.Response:
    emu.issue_session("user_bob")
    sid = emu.sessions()[-1]["id"]
    params = {"session_id": sid} if return_to is None else {"session_id": sid, "return_to": return_to}
    r = c.get("/user_management/sessions/logout", params=params)
    assert emu.sessions()[-1]["active"] is False  # the session ends whatever the answer
    return r


@pytest.mark.parametrize(
    ("uri", "hint"),
    [
        ("http://127.0.0.1:8001/callback", "only by its port (8001 instead of 8000)"),
        ("http://localhost:8000/callback", "only by its host (localhost instead of 127.0.0.1)"),
        ("http://127.0.0.1:8000/auth/callback", "has the host and port of http://127.0.0.1:8000/callback"),
        ("https://127.0.0.1:8000/callback", None),
        ("http://127.0.0.1:8000/callback/", "has the host and port"),
    ],
)
def test_unregistered_redirect_uri_is_refused_with_a_clear_page(
    own: tuple[Emulator, httpx.Client], uri: str, hint: str | None
) -> None:
    emu, c = own
    r = authorize_to(c, emu, uri)
    assert r.status_code == 400
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html")
    assert 'data-error="invalid_redirect_uri"' in r.text
    assert f"The redirect_uri {uri} is not registered for client {emu.client_id}." in r.text
    assert "Registered redirect URIs: http://127.0.0.1:8000/callback<" in r.text
    assert "the redirect_uris list of the seed JSON" in r.text and "emulator.register_redirect_uri(uri)" in r.text
    assert "emulator.config(redirect_uri=...)" in r.text
    if hint is not None:
        assert hint in r.text
    # the sign-in page's link step refuses it too, and no code was issued
    complete = c.get(
        "/user_management/authorize/complete",
        params={**authorize_params(emu, "v" * 43), "redirect_uri": uri, "user_id": "user_alice"},
    )
    assert complete.status_code == 400
    assert emu.grant_count() == 0


def test_registered_redirect_uri_is_accepted_after_normalising(own: tuple[Emulator, httpx.Client]) -> None:
    emu, c = own
    assert authorize_to(c, emu, "http://localhost:5173/auth/callback").status_code == 400
    emu.register_redirect_uri("http://localhost:5173/auth/callback")
    emu.register_redirect_uri("http://localhost:5173/auth/callback")  # twice is harmless
    assert emu.redirect_uris.count("http://localhost:5173/auth/callback") == 1
    for uri in ("http://localhost:5173/auth/callback", "HTTP://LocalHost:5173/auth/callback"):
        r = authorize_to(c, emu, uri)
        assert r.status_code == 302, r.text
        assert r.headers["location"].lower().startswith(uri.lower() + "?code=")
    emu.register_redirect_uri("https://app.example:443")  # default port dropped, empty path read as "/"
    assert "https://app.example/" in emu.redirect_uris
    assert authorize_to(c, emu, "https://app.example/").status_code == 302
    assert authorize_to(c, emu, "https://app.example:8443/").status_code == 400


def test_missing_redirect_uri_uses_the_first_registered(own: tuple[Emulator, httpx.Client]) -> None:
    emu, c = own
    r = authorize_to(c, emu, None)
    assert r.status_code == 302
    assert r.headers["location"].startswith("http://127.0.0.1:8000/callback?code=")
    empty = Emulator({"redirect_uris": []})
    assert empty.redirect_uris == []
    with EmulatorServer(empty) as server, httpx.Client(base_url=server.base_url) as other:
        missing = authorize_to(other, empty, None)
        assert missing.status_code == 400
        assert missing.json()["error"] == "invalid_request"
        refused = authorize_to(other, empty, REDIRECT)
        assert refused.status_code == 400
        assert "No redirect URIs are registered." in refused.text


def test_config_registers_its_redirect_uri_and_site(own: tuple[Emulator, httpx.Client]) -> None:
    emu, c = own
    config = emu.config(redirect_uri="http://127.0.0.1:5555/callback")
    assert config.redirect_uri == "http://127.0.0.1:5555/callback"
    assert "http://127.0.0.1:5555/callback" in emu.redirect_uris
    assert "http://127.0.0.1:5555/*" in emu.logout_uris
    assert authorize_to(c, emu, "http://127.0.0.1:5555/callback").status_code == 302
    assert authorize_to(c, emu, "http://127.0.0.1:5556/callback").status_code == 400  # a wrong port still fails
    assert authorize_to(c, emu, "http://localhost:5555/callback").status_code == 400  # and a wrong host
    r = logout_to(c, emu, "http://127.0.0.1:5555/?notice=signed-out")
    assert (r.status_code, r.headers["location"]) == (302, "http://127.0.0.1:5555/?notice=signed-out")
    assert logout_to(c, emu, "http://127.0.0.1:5556/").status_code == 400
    emu.reset()  # registrations are configuration: kept, like the signing keys
    assert authorize_to(c, emu, "http://127.0.0.1:5555/callback").status_code == 302


def test_logout_redirects_only_to_registered_return_to(own: tuple[Emulator, httpx.Client]) -> None:
    emu, c = own
    # the default seed allows every page of http://127.0.0.1:8000 and has no default logout URI
    assert emu.logout_uris[0] == "http://127.0.0.1:8000/*"
    assert emu.default_logout_uri is None
    r = logout_to(c, emu, "http://127.0.0.1:8000/bye?x=1")
    assert (r.status_code, r.headers["location"]) == (302, "http://127.0.0.1:8000/bye?x=1")
    page = logout_to(c, emu, None)
    assert (page.status_code, "Signed out" in page.text) == (200, True)

    for unregistered in ("http://localhost:8000/", "http://127.0.0.1:8001/", "https://evil.example/"):
        refused = logout_to(c, emu, unregistered)
        assert refused.status_code == 400
        assert "location" not in refused.headers
        assert 'data-error="invalid_return_to"' in refused.text
        assert f"the return_to URL {unregistered} is not registered as a logout URI" in refused.text
        assert "Registered logout URIs: http://127.0.0.1:8000/*" in refused.text
        assert "emulator.register_logout_uri(uri)" in refused.text
    # tricks that must not pass the prefix rule
    assert logout_to(c, emu, "http://127.0.0.1:8000@evil.example/").status_code == 400
    assert logout_to(c, emu, "http://127.0.0.1:80001/").status_code == 400

    # an exact logout URI (no *) matches only itself, and the first one becomes the default
    emu.register_logout_uri("https://shop.example/signed-out")
    assert emu.default_logout_uri == "https://shop.example/signed-out"
    assert logout_to(c, emu, "https://shop.example/signed-out").headers["location"] == "https://shop.example/signed-out"
    fallback = logout_to(c, emu, "https://shop.example/signed-out/more")
    assert (fallback.status_code, fallback.headers["location"]) == (302, "https://shop.example/signed-out")
    no_return = logout_to(c, emu, None)
    assert (no_return.status_code, no_return.headers["location"]) == (302, "https://shop.example/signed-out")


def test_invalid_uris_are_not_registered() -> None:
    emu = Emulator()
    for uri in ("/callback", "ftp://x.example/cb", "http://x.example/cb#top", "http://x.example/*", "http://u@x/cb"):
        with pytest.raises(ValueError, match="invalid redirect URI"):
            emu.register_redirect_uri(uri)
    for uri in ("/", "http://x.example*", "http://x.example/a*b", "http://x.example/**", "http://u:p@x.example/"):
        with pytest.raises(ValueError, match="invalid logout URI"):
            emu.register_logout_uri(uri)
    assert emu.redirect_uris == ["http://127.0.0.1:8000/callback"]
    with pytest.raises(ValueError, match="seed key 'redirect_uris'"):
        Emulator({"redirect_uris": ["localhost:8000/callback"]})
    with pytest.raises(ValueError, match="seed key 'logout_uris'"):
        Emulator({"logout_uris": ["http://127.0.0.1:8000*"]})
    with pytest.raises(TypeError, match="list of URI strings"):
        Seed.from_dict({"redirect_uris": "http://127.0.0.1:8000/callback"})


def test_seed_uris_round_trip() -> None:
    assert Seed().redirect_uris == ["http://127.0.0.1:8000/callback"]
    assert Seed.from_dict({}).logout_uris == ["http://127.0.0.1:8000/*"]
    assert Seed.default().to_dict()["redirect_uris"] == ["http://127.0.0.1:8000/callback"]
    seed = Seed(
        redirect_uris=["http://localhost:3000/callback", "https://app.example/auth/callback"],
        logout_uris=["https://app.example/", "http://localhost:3000/*"],
    )
    loaded = Seed.from_dict(json.loads(json.dumps(seed.to_dict())))
    assert loaded == seed
    emu = Emulator(loaded)
    assert emu.redirect_uris == ["http://localhost:3000/callback", "https://app.example/auth/callback"]
    assert emu.logout_uris == ["https://app.example/", "http://localhost:3000/*"]
    assert emu.default_logout_uri == "https://app.example/"


# ------------------------------------------------------------------------------------------ seed and CLI


def test_seed_file_round_trip_and_own_server(tmp_path: Path) -> None:
    seed = Seed.default()
    seed.users[0].first_name = "Alicia"
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed.to_dict()))
    loaded = Seed.from_file(path)
    assert loaded == seed
    with pytest.raises(TypeError):
        Seed.from_dict({"userz": []})
    start = time.monotonic()
    with EmulatorServer(Emulator(loaded, client_id="client_x", api_key="sk_x")) as server:
        assert time.monotonic() - start < 0.5
        with httpx.Client(base_url=server.base_url) as c:
            assert server.emulator.issue_session("user_alice")["user"]["first_name"] == "Alicia"
            assert c.get("/sso/jwks/client_x").status_code == 200


def test_cli_serves_seed(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"users": [{"id": "user_z", "email": "z@example.com"}]}))
    with socket.socket() as probe:  # borrow a free port number
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "authkit_core.testing",
            "--port",
            str(port),
            "--seed",
            str(path),
            "--access-token-ttl",
            "90",
            "--redirect-uri",
            "http://localhost:3000/callback",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                r = httpx.get(
                    f"{base}/user_management/authorize",
                    params={
                        "client_id": "client_emulator",
                        "redirect_uri": REDIRECT,
                        "response_type": "code",
                        "provider": "authkit",
                        "login_hint": "z@example.com",
                    },
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.05)
        assert r.status_code == 302
        code = httpx.URL(r.headers["location"]).params["code"]
        token = httpx.post(
            f"{base}/user_management/authenticate",
            json={
                "client_id": "client_emulator",
                "client_secret": "sk_test_emulator",
                "grant_type": "authorization_code",
                "code": code,
            },
        ).json()
        assert token["user"]["email"] == "z@example.com"
        payload = token["access_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["exp"] - claims["iat"] == 90
        assert claims["iss"] == f"{base}/user_management/client_emulator"
        params = {
            "client_id": "client_emulator",
            "response_type": "code",
            "provider": "authkit",
            "login_hint": "z@example.com",
        }
        for uri, status in (("http://localhost:3000/callback", 302), ("http://localhost:3001/callback", 400)):
            assert httpx.get(
                f"{base}/user_management/authorize", params={**params, "redirect_uri": uri}
            ).status_code == (status)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
