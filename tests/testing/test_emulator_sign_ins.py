"""The emulator's sign-in options over real HTTP: the authorize log, the per-user AuthKit session (``prompt``,
``max_age``, ``auth_time``) and the identity providers (``provider``, ``connection_id``, ``oauth_tokens``)."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import httpx
import pytest
from tests.testing.test_emulator import authenticate, authorize_params, claims_of, client, shared_client, sign_in

from authkit_core.testing import Emulator

__all__ = ["client", "shared_client"]  # the fixtures, re-used

ALICE = "alice@example.com"


def authorize(client: httpx.Client, emu: Emulator, **extra: str) -> httpx.Response:
    return client.get("/user_management/authorize", params=authorize_params(emu, "v" * 43, **extra))


def test_every_authorize_request_is_recorded(client: httpx.Client, workos_emulator: Emulator) -> None:
    options = {"login_hint": ALICE, "domain_hint": "example.com", "prompt": "consent", "max_age": "600"}
    assert authorize(client, workos_emulator, **options).status_code == 302
    assert authorize(client, workos_emulator, provider="nope").status_code == 400  # refused, still recorded
    first, second = workos_emulator.authorize_requests
    assert {k: first[k] for k in options} == options
    assert first["state"] == "state-123"
    assert second["provider"] == "nope"
    workos_emulator.reset()
    assert workos_emulator.authorize_requests == []


def test_login_hint_reuses_the_authkit_session_and_its_auth_time(
    client: httpx.Client, workos_emulator: Emulator
) -> None:
    an_hour_ago = int(time.time()) - 3600
    workos_emulator.set_last_authentication(ALICE, an_hour_ago)
    first = sign_in(client, workos_emulator)
    assert claims_of(client, workos_emulator, first["access_token"])["auth_time"] == an_hour_ago
    workos_emulator.set_last_authentication(ALICE, None)  # no AuthKit session: the login_hint sign-in is fresh
    fresh = sign_in(client, workos_emulator)
    assert claims_of(client, workos_emulator, fresh["access_token"])["auth_time"] >= int(time.time()) - 5


@pytest.mark.parametrize("extra", [{"prompt": "login"}, {"max_age": "0"}, {"max_age": "300"}])
def test_prompt_login_and_max_age_show_the_page(
    client: httpx.Client, workos_emulator: Emulator, extra: dict[str, str]
) -> None:
    workos_emulator.set_last_authentication(ALICE, time.time() - 3600)
    page = authorize(client, workos_emulator, login_hint=ALICE, **extra)
    assert page.status_code == 200
    href = re.search(r'id="sign-in-user_alice" href="([^"]+)"', page.text)
    assert href is not None
    back = client.get(href.group(1).replace("&amp;", "&"))
    assert back.status_code == 302
    code = httpx.URL(back.headers["location"]).params["code"]
    body = authenticate(client, workos_emulator, grant_type="authorization_code", code=code, code_verifier="v" * 43)
    assert claims_of(client, workos_emulator, body.json()["access_token"])["auth_time"] >= int(time.time()) - 5


def test_recent_enough_max_age_goes_straight_back(client: httpx.Client, workos_emulator: Emulator) -> None:
    workos_emulator.set_last_authentication(ALICE, time.time() - 60)
    assert authorize(client, workos_emulator, login_hint=ALICE, max_age="300").status_code == 302


def test_max_age_must_be_whole_seconds(client: httpx.Client, workos_emulator: Emulator) -> None:
    r = authorize(client, workos_emulator, login_hint=ALICE, max_age="-1")
    assert r.status_code == 400
    assert "max_age" in r.json()["error_description"]


def test_logout_ends_the_authkit_session(client: httpx.Client, workos_emulator: Emulator) -> None:
    workos_emulator.set_last_authentication(ALICE, time.time() - 3600)
    session = sign_in(client, workos_emulator)
    sid = claims_of(client, workos_emulator, session["access_token"])["sid"]
    client.get("/user_management/sessions/logout", params={"session_id": sid})
    again = sign_in(client, workos_emulator)
    assert claims_of(client, workos_emulator, again["access_token"])["auth_time"] >= int(time.time()) - 5


@pytest.mark.parametrize("provider", ["GoogleOAuth", "MicrosoftOAuth", "GitHubOAuth", "AppleOAuth"])
def test_oauth_provider_sign_in_returns_provider_tokens(
    client: httpx.Client, workos_emulator: Emulator, provider: str
) -> None:
    body: dict[str, Any] = sign_in(client, workos_emulator, provider=provider)
    assert body["authentication_method"] == provider
    tokens = body["oauth_tokens"]
    assert tokens["provider"] == provider
    assert tokens["access_token"].startswith("emu_provider_at_")
    assert tokens["expires_at"] > time.time()
    assert tokens["scopes"]
    refreshed = authenticate(client, workos_emulator, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refreshed.json()["authentication_method"] == provider
    assert "oauth_tokens" not in refreshed.json()


def test_password_sign_in_has_no_provider_tokens(client: httpx.Client, workos_emulator: Emulator) -> None:
    body = sign_in(client, workos_emulator)
    assert body["authentication_method"] == "Password"
    assert "oauth_tokens" not in body


def test_connection_id_signs_in_with_sso_into_its_organization(client: httpx.Client, workos_emulator: Emulator) -> None:
    user = workos_emulator.add_user("erin@sso.example.com")
    workos_emulator.add_membership(user, "org_globex")
    workos_emulator.add_organization("SSO Two", organization_id="org_sso2", connection_ids=["conn_two"])
    workos_emulator.add_membership(user, "org_sso2")
    verifier = secrets.token_urlsafe(40)
    params = authorize_params(workos_emulator, verifier, login_hint="erin@sso.example.com", connection_id="conn_two")
    del params["provider"]
    r = client.get("/user_management/authorize", params=params)
    assert r.status_code == 302, r.text
    code = httpx.URL(r.headers["location"]).params["code"]
    body = authenticate(client, workos_emulator, grant_type="authorization_code", code=code, code_verifier=verifier)
    assert body.json()["authentication_method"] == "SSO"
    assert body.json()["organization_id"] == "org_sso2"
