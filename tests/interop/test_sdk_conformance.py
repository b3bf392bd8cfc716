"""The emulator speaks WorkOS well enough for the official SDKs: the ``workos`` PyPI SDK (10.x) and, through a
node script, ``@workos-inc/node`` 8.13.0. Every response must parse in the SDK without error."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from workos import WorkOSClient
from workos._errors import BadRequestError, MfaEnrollmentError, SsoRequiredError
from workos.organization_membership._resource import RoleSingle
from workos.pkce import PKCE
from workos.session import AuthenticateWithSessionCookieSuccessResponse, seal_session_from_auth_response

from authkit_core.testing import Emulator
from conftest import NODE_DIR, require_node

REDIRECT = "http://127.0.0.1:8000/callback"


@pytest.fixture
def sdk(workos_emulator: Emulator) -> WorkOSClient:
    assert workos_emulator.base_url is not None
    return WorkOSClient(
        api_key=workos_emulator.api_key,
        client_id=workos_emulator.client_id,
        base_url=workos_emulator.base_url + "/",
        max_retries=0,
    )


def sdk_sign_in(sdk: WorkOSClient, email: str) -> Any:
    pkce = PKCE()
    verifier = pkce.generate_code_verifier()
    url = sdk.user_management.get_authorization_url(
        provider="authkit",
        redirect_uri=REDIRECT,
        state="s1",
        code_challenge=pkce.generate_code_challenge(verifier),
        code_challenge_method="S256",
        login_hint=email,
    )
    assert url.startswith(sdk.base_url + "user_management/authorize?")
    r = httpx.get(url)
    assert r.status_code == 302, r.text
    code = httpx.URL(r.headers["location"]).params["code"]
    return sdk.user_management.authenticate_with_code(code=code, code_verifier=verifier)


def test_python_sdk_code_refresh_reuse_and_logout(sdk: WorkOSClient, workos_emulator: Emulator) -> None:
    auth = sdk_sign_in(sdk, "alice@example.com")
    assert auth.user.id == "user_alice"
    assert auth.user.email == "alice@example.com"
    assert auth.organization_id == "org_acme"
    assert auth.authentication_method is not None
    assert auth.authentication_method.value == "Password"

    switched = sdk.user_management.authenticate_with_refresh_token(
        refresh_token=auth.refresh_token, organization_id="org_globex"
    )
    assert switched.organization_id == "org_globex"
    assert switched.refresh_token != auth.refresh_token

    with pytest.raises(BadRequestError) as excinfo:
        sdk.user_management.authenticate_with_refresh_token(refresh_token=auth.refresh_token)
    assert excinfo.value.error == "invalid_grant"

    sid = workos_emulator.sessions()[0]["id"]
    logout = sdk.user_management.get_logout_url(session_id=sid, return_to="http://127.0.0.1:8000/bye")
    r = httpx.get(logout)
    assert r.status_code == 302
    assert r.headers["location"] == "http://127.0.0.1:8000/bye"
    with pytest.raises(BadRequestError):
        sdk.user_management.authenticate_with_refresh_token(refresh_token=switched.refresh_token)


def test_python_sdk_authentication_errors(sdk: WorkOSClient, workos_emulator: Emulator) -> None:
    session = workos_emulator.issue_session("user_alice")
    workos_emulator.set_user_outcome("user_alice", "mfa_enrollment")
    with pytest.raises(MfaEnrollmentError) as mfa:
        sdk.user_management.authenticate_with_refresh_token(refresh_token=session["refresh_token"])
    assert mfa.value.pending_authentication_token
    assert mfa.value.user is not None
    assert mfa.value.user["id"] == "user_alice"
    workos_emulator.set_user_outcome("user_alice", None)
    with pytest.raises(SsoRequiredError) as sso:
        sdk_sign_in(sdk, "carol@sso.example.com")
    assert sso.value.email == "carol@sso.example.com"
    assert sso.value.connection_ids == ["conn_sso"]


def test_python_sdk_sealed_session_against_jwks(sdk: WorkOSClient, workos_emulator: Emulator) -> None:
    auth = sdk_sign_in(sdk, "alice@example.com")
    password = Fernet.generate_key().decode()
    sealed = seal_session_from_auth_response(
        access_token=auth.access_token,
        refresh_token=auth.refresh_token,
        user=auth.user.to_dict(),
        cookie_password=password,
    )
    session = sdk.user_management.load_sealed_session(session_data=sealed, cookie_password=password)
    result = session.authenticate()
    assert isinstance(result, AuthenticateWithSessionCookieSuccessResponse), result
    assert result.session_id == workos_emulator.sessions()[0]["id"]
    assert result.organization_id == "org_acme"
    assert result.role == "admin"
    assert result.permissions == ["posts:read", "posts:write", "users:manage"]
    assert result.feature_flags == ["new-dashboard"]
    refreshed = session.refresh(organization_id="org_globex")
    assert refreshed.authenticated, refreshed
    assert getattr(refreshed, "organization_id", None) == "org_globex"
    assert getattr(refreshed, "session_id", None) == result.session_id


def test_python_sdk_management_endpoints(sdk: WorkOSClient, workos_emulator: Emulator) -> None:
    jwks = sdk.user_management.get_jwks(workos_emulator.client_id)
    assert jwks.keys[0].kid == workos_emulator.current_kid
    valid = sdk.api_keys.create_validation(value="sk_org_acme_test")
    assert valid.api_key is not None
    assert valid.api_key.id == "key_acme"
    assert sdk.api_keys.create_validation(value="sk_unknown").api_key is None
    page = sdk.organization_membership.list_organization_memberships(user_id="user_alice")
    memberships = list(page.data)
    assert [m.organization_id for m in memberships] == ["org_acme", "org_globex"]
    updated = sdk.organization_membership.update_organization_membership(
        memberships[0].id, role=RoleSingle(role_slug="member")
    )
    assert updated.role.slug == "member"
    assert sdk.organization_membership.get_organization_membership(memberships[0].id).role.slug == "member"
    session = workos_emulator.issue_session("user_alice")
    sdk.user_management.revoke_session(session_id=workos_emulator.sessions()[0]["id"])
    with pytest.raises(BadRequestError):
        sdk.user_management.authenticate_with_refresh_token(refresh_token=session["refresh_token"])


def test_python_sdk_reads_organizations_and_paginated_memberships(sdk: WorkOSClient, workos_emulator: Emulator) -> None:
    """The official SDK as the client of the emulator's organization endpoints: its auto-paging iterator follows
    ``list_metadata.after`` page by page (``limit=1``), and it parses ``GET /organizations/{id}``; our client reads
    the same endpoints alike."""
    from authkit_core.workos_client import WorkOSClient as OurClient

    for i in range(3):
        org = workos_emulator.add_organization(f"Org {i}", organization_id=f"org_sdk_{i}")
        workos_emulator.add_membership("user_alice", org, "member")
    page = sdk.organization_membership.list_organization_memberships(user_id="user_alice", limit=1)
    assert len(page.data) == 1 and page.list_metadata.after == page.data[0].id
    theirs = [m.organization_id for m in page.auto_paging_iter()]
    assert theirs == ["org_acme", "org_globex", "org_sdk_0", "org_sdk_1", "org_sdk_2"]
    with OurClient(workos_emulator.config()) as ours:
        assert [m.organization_id for m in ours.list_organization_memberships("user_alice", limit=2)] == theirs
        mine = ours.get_organization("org_globex")
    organization = sdk.organizations.get_organization("org_globex")
    assert (organization.id, organization.name) == (mine.id, mine.name) == ("org_globex", "Globex")
    assert organization.created_at is not None and organization.domains == []


@pytest.mark.node
def test_node_sdk_conformance(workos_emulator: Emulator) -> None:
    node = require_node()
    assert workos_emulator.base_url is not None
    port = httpx.URL(workos_emulator.base_url).port
    env = {
        "EMULATOR_PORT": str(port),
        "EMULATOR_CLIENT_ID": workos_emulator.client_id,
        "EMULATOR_API_KEY": workos_emulator.api_key,
        "PATH": "/usr/bin:/bin",
    }
    script = Path(__file__).parent / "node" / "workos_conformance.mjs"
    proc = subprocess.run(
        [node, str(script)], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["authorizationUrl"].startswith(f"http://127.0.0.1:{port}/user_management/authorize?")
    assert result["code"]["user"]["id"] == "user_alice"
    assert result["code"]["user"]["emailVerified"] is True
    assert result["code"]["organizationId"] == "org_acme"
    assert result["code"]["sealed"] is True
    assert result["refresh"]["organizationId"] == "org_acme"
    assert result["refresh"]["rotated"] is True
    assert result["reuse"]["name"] == "OauthException"
    assert result["reuse"]["error"] == "invalid_grant"
    assert result["reuse"]["status"] == 400
    assert result["cookie"]["authenticated"] is True
    assert result["cookie"]["sessionId"] == result["sessionId"]
    assert result["cookie"]["role"] == "admin"
    assert result["cookieRefresh"]["authenticated"] is True
    assert result["cookieRefresh"]["organizationId"] == "org_globex"
    assert result["ssoRefresh"] == {"authenticated": False, "reason": "sso_required"}
    assert result["logout"]["status"] == 302
    assert result["logout"]["location"] == "http://127.0.0.1:8000/bye"
    assert result["afterLogout"]["error"] == "invalid_grant"
    assert workos_emulator.grant_count("authorization_code") == 1
