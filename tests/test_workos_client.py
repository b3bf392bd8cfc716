"""The sync and async WorkOS clients over real HTTP against the local WorkOS emulator.

Every scenario runs three times: the blocking :class:`WorkOSClient`, and :class:`AsyncWorkOSClient` under asyncio
and under trio. Faults (503s, 429s, timeouts, dropped connections, HTML pages, malformed JSON) are injected in the
emulator, and its request log shows what really went over the wire.
"""

from __future__ import annotations

import base64
import inspect
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from authkit_core import pkce
from authkit_core import workos_api as api
from authkit_core.config import AuthKitConfig
from authkit_core.errors import (
    AuthenticationError,
    InvalidResponseError,
    OAuthError,
    ProviderUnavailableError,
    RateLimitError,
    WorkOSAPIError,
)
from authkit_core.models import AuthenticationResponse
from authkit_core.workos_client import AsyncWorkOSClient, WorkOSClient

AUTHENTICATE = api.AUTHENTICATE_PATH

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sync", "asyncio", "trio"])
def kind(request: pytest.FixtureRequest) -> str:
    """Which shell: the blocking client (run from an asyncio test) or the async one under asyncio or trio."""
    return str(request.param)


@pytest.fixture
def anyio_backend(kind: str) -> str:
    return "asyncio" if kind == "sync" else kind


class Shell:
    """Calls either client the same way, so each scenario is written once."""

    def __init__(self, client: WorkOSClient | AsyncWorkOSClient) -> None:
        self.client = client

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.client, method)(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result


@asynccontextmanager
async def open_shell(kind: str, config: AuthKitConfig) -> AsyncIterator[Shell]:
    if kind == "sync":
        with WorkOSClient(config) as sync_client:
            yield Shell(sync_client)
    else:
        async with AsyncWorkOSClient(config) as async_client:
            yield Shell(async_client)


def sign_in_code(shell: Shell, email: str, verifier: str, *, organization_id: str | None = None) -> str:
    """Follow the authorize URL the client builds (as a browser would) and read the code off the redirect."""
    url = shell.client.get_authorization_url(
        state=pkce.generate_state(),
        code_challenge=pkce.code_challenge(verifier),
        login_hint=email,
        organization_id=organization_id,
    )
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code in (302, 303, 307), response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == shell.client.config.redirect_uri
    (code,) = parse_qs(location.query)["code"]
    return code


async def sign_in(shell: Shell, email: str = "alice@example.com") -> AuthenticationResponse:
    verifier = pkce.generate_code_verifier()
    code = sign_in_code(shell, email, verifier)
    result = await shell("authenticate_with_code", code, code_verifier=verifier)
    assert isinstance(result, AuthenticationResponse)
    return result


def claims(access_token: str) -> dict[str, Any]:
    payload = access_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def authenticate_requests(emulator: Any) -> list[Any]:
    return [r for r in emulator.requests if r.path == AUTHENTICATE and r.method == "POST"]


# ------------------------------------------------------------------------------------------------- happy paths


async def test_code_exchange(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        result = await sign_in(shell)
    assert result.user.id == "user_alice"
    assert result.user.email == "alice@example.com"
    assert result.access_token
    assert result.refresh_token
    assert claims(result.access_token)["sub"] == "user_alice"
    assert workos_emulator.grant_count("authorization_code") == 1
    (sent,) = authenticate_requests(workos_emulator)
    assert sent.json["grant_type"] == "authorization_code"
    assert sent.json["client_id"] == workos_emulator.client_id
    assert sent.json["client_secret"] == workos_emulator.api_key
    assert set(sent.json) == {"grant_type", "client_id", "client_secret", "code", "code_verifier"}
    assert sent.headers["authorization"] == f"Bearer {workos_emulator.api_key}"
    assert sent.headers["user-agent"].startswith("authkit-session/")
    assert sent.headers["idempotency-key"]


async def test_code_cannot_be_used_twice_or_with_the_wrong_verifier(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        verifier = pkce.generate_code_verifier()
        code = sign_in_code(shell, "bob@example.com", verifier)
        with pytest.raises(OAuthError) as wrong:
            await shell("authenticate_with_code", code, code_verifier=pkce.generate_code_verifier())
        assert wrong.value.code == "invalid_grant"
        code = sign_in_code(shell, "bob@example.com", verifier)
        first = await shell("authenticate_with_code", code, code_verifier=verifier)
        assert first.user.id == "user_bob"
        with pytest.raises(OAuthError) as reused:
            await shell("authenticate_with_code", code, code_verifier=verifier)
    assert reused.value.code == "invalid_grant"
    assert reused.value.status == 400
    assert code not in str(reused.value)


async def test_refresh_rotates_and_reuse_is_invalid_grant(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        session = await sign_in(shell)
        refreshed = await shell("authenticate_with_refresh_token", session.refresh_token)
        assert refreshed.user.id == "user_alice"
        assert refreshed.refresh_token != session.refresh_token
        assert refreshed.access_token != session.access_token
        with pytest.raises(OAuthError) as reused:
            await shell("authenticate_with_refresh_token", session.refresh_token)
        assert reused.value.code == "invalid_grant"
        assert not reused.value.is_transient
        assert session.refresh_token not in str(reused.value)
        again = await shell("authenticate_with_refresh_token", refreshed.refresh_token)
    assert again.user.id == "user_alice"
    assert workos_emulator.grant_count("refresh_token") == 3


async def test_organization_switch(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        session = await sign_in(shell)
        switched = await shell("authenticate_with_refresh_token", session.refresh_token, "org_globex")
    assert switched.organization_id == "org_globex"
    assert claims(switched.access_token)["org_id"] == "org_globex"
    assert authenticate_requests(workos_emulator)[-1].json["organization_id"] == "org_globex"


@pytest.mark.parametrize("code", ["sso_required", "mfa_enrollment"])
async def test_organization_outcome_is_an_authentication_error(kind: str, workos_emulator: Any, code: str) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        session = await sign_in(shell)
        workos_emulator.set_organization_outcome("org_globex", code)
        with pytest.raises(AuthenticationError) as caught:
            await shell("authenticate_with_refresh_token", session.refresh_token, "org_globex")
    assert caught.value.code == code
    assert code in str(caught.value)
    assert not caught.value.is_transient
    assert workos_emulator.grant_count("refresh_token") == 1  # not retried


@pytest.mark.parametrize(
    ("email", "code"), [("carol@sso.example.com", "sso_required"), ("dave@mfa.example.com", "mfa_enrollment")]
)
async def test_sign_in_into_an_organization_that_requires_more(
    kind: str, workos_emulator: Any, email: str, code: str
) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        verifier = pkce.generate_code_verifier()
        auth_code = sign_in_code(shell, email, verifier)
        with pytest.raises(AuthenticationError) as caught:
            await shell("authenticate_with_code", auth_code, code_verifier=verifier)
    assert caught.value.code == code
    assert caught.value.status is not None
    assert 400 <= caught.value.status < 500


async def test_fetch_jwks(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        jwks = await shell("fetch_jwks")
        assert shell.client.jwks_url == f"{workos_emulator.base_url}/sso/jwks/{workos_emulator.client_id}"
    assert jwks == workos_emulator.jwks()
    assert jwks["keys"]
    (sent,) = [r for r in workos_emulator.requests if r.path.startswith("/sso/jwks/")]
    assert "authorization" not in sent.headers


async def test_validate_api_key(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        valid = await shell("validate_api_key", "sk_org_acme_test")
        invalid = await shell("validate_api_key", "sk_not_a_key")
    assert valid is not None
    assert valid["id"] == "key_acme"
    assert invalid is None


# ------------------------------------------------------------------------------------------------------ faults


async def test_503_twice_then_success_with_one_idempotency_key(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        session = await sign_in(shell)
        workos_emulator.reset_log()
        workos_emulator.inject_fault(AUTHENTICATE, status=503, count=2)
        started = time.monotonic()
        refreshed = await shell("authenticate_with_refresh_token", session.refresh_token)
        elapsed = time.monotonic() - started
    assert refreshed.user.id == "user_alice"
    assert workos_emulator.grant_count("refresh_token") == 3
    attempts = authenticate_requests(workos_emulator)
    assert [r.status for r in attempts] == [503, 503, 200]
    assert len({r.headers["idempotency-key"] for r in attempts}) == 1
    assert all(r.json == attempts[0].json for r in attempts)
    assert elapsed >= 0.25 + 0.5  # backed off (the least jittered pauses of attempts 1 and 2)


async def test_503_beyond_max_retries(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config(max_retries=1)) as shell:
        workos_emulator.inject_fault(
            "/sso/jwks/*", status=503, body={"message": "down"}, headers={"X-Request-ID": "req_down"}, count=5
        )
        with pytest.raises(ProviderUnavailableError) as caught:
            await shell("fetch_jwks")
    assert caught.value.code == "server_error"
    assert caught.value.status == 503
    assert caught.value.request_id == "req_down"
    assert len([r for r in workos_emulator.requests if r.path.startswith("/sso/jwks/")]) == 2


async def test_429_with_retry_after_is_waited_out(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        workos_emulator.inject_fault("/sso/jwks/*", status=429, headers={"Retry-After": "1"}, count=1)
        started = time.monotonic()
        jwks = await shell("fetch_jwks")
        elapsed = time.monotonic() - started
    assert jwks["keys"]
    assert elapsed >= 1.0
    assert [r.status for r in workos_emulator.requests if r.path.startswith("/sso/jwks/")] == [429, 200]


async def test_429_with_long_retry_after_raises_at_once(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        session = await sign_in(shell)
        workos_emulator.reset_log()
        workos_emulator.inject_fault(
            AUTHENTICATE, status=429, body={"message": "Too many"}, headers={"Retry-After": "120"}, count=5
        )
        with pytest.raises(RateLimitError) as caught:
            await shell("authenticate_with_refresh_token", session.refresh_token)
    assert caught.value.retry_after == 120.0
    assert caught.value.is_transient
    assert workos_emulator.grant_count("refresh_token") == 1


async def test_timeout_then_success(kind: str, workos_emulator: Any) -> None:
    config = workos_emulator.config(http_timeout_seconds=0.3)
    async with open_shell(kind, config) as shell:
        workos_emulator.inject_fault("/sso/jwks/*", delay=1.5, count=1)
        jwks = await shell("fetch_jwks")
    assert jwks["keys"]
    assert len([r for r in workos_emulator.requests if r.path.startswith("/sso/jwks/")]) >= 2


async def test_timeouts_exhaust_retries(kind: str, workos_emulator: Any) -> None:
    config = workos_emulator.config(http_timeout_seconds=0.3, max_retries=1)
    async with open_shell(kind, config) as shell:
        workos_emulator.inject_fault("/sso/jwks/*", delay=1.5, count=5)
        started = time.monotonic()
        with pytest.raises(ProviderUnavailableError) as caught:
            await shell("fetch_jwks")
        elapsed = time.monotonic() - started
    assert caught.value.code == "timeout"
    assert caught.value.is_transient
    assert elapsed < 1.5  # two 0.3 s attempts and one back-off, not the emulator's delay


async def test_dropped_connection_is_retried(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        session = await sign_in(shell)
        workos_emulator.reset_log()
        workos_emulator.inject_fault(AUTHENTICATE, drop_connection=True, count=1)
        refreshed = await shell("authenticate_with_refresh_token", session.refresh_token)
    assert refreshed.user.id == "user_alice"
    attempts = authenticate_requests(workos_emulator)
    assert len(attempts) == 2
    assert len({r.headers["idempotency-key"] for r in attempts}) == 1


async def test_dropped_connections_exhaust_retries(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config(max_retries=1)) as shell:
        workos_emulator.inject_fault("/sso/jwks/*", drop_connection=True, count=5)
        with pytest.raises(ProviderUnavailableError) as caught:
            await shell("fetch_jwks")
    assert caught.value.code == "network_error"
    assert caught.value.status is None


async def test_html_502_page(kind: str, workos_emulator: Any) -> None:
    page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>cloud proxy</body></html>"
    async with open_shell(kind, workos_emulator.config(max_retries=1)) as shell:
        workos_emulator.inject_fault(
            "/sso/jwks/*", status=502, raw_body=page, headers={"Content-Type": "text/html"}, count=5
        )
        with pytest.raises(ProviderUnavailableError) as caught:
            await shell("fetch_jwks")
    assert caught.value.status == 502
    assert caught.value.code == "server_error"
    assert "text/html" in str(caught.value)
    assert "cloud proxy" not in str(caught.value)


async def test_html_404_page_is_transient_and_not_retried(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        workos_emulator.inject_fault(
            "/sso/jwks/*", status=404, raw_body="<html>Not Found</html>", headers={"Content-Type": "text/html"}
        )
        with pytest.raises(WorkOSAPIError) as caught:
            await shell("fetch_jwks")
    assert type(caught.value) is InvalidResponseError
    assert caught.value.code == "http_404"
    assert caught.value.is_transient
    assert len([r for r in workos_emulator.requests if r.path.startswith("/sso/jwks/")]) == 1


async def test_malformed_200_json(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        session = await sign_in(shell)
        workos_emulator.reset_log()
        workos_emulator.inject_fault(AUTHENTICATE, status=200, raw_body='{"access_token": "at", "refresh_')
        with pytest.raises(InvalidResponseError) as caught:
            await shell("authenticate_with_refresh_token", session.refresh_token)
    assert caught.value.status == 200
    assert caught.value.is_transient
    assert workos_emulator.grant_count("refresh_token") == 1  # a 200 is never retried


async def test_200_missing_fields(kind: str, workos_emulator: Any) -> None:
    async with open_shell(kind, workos_emulator.config()) as shell:
        session = await sign_in(shell)
        workos_emulator.inject_fault(AUTHENTICATE, status=200, body={"user": {"id": "user_alice"}})
        with pytest.raises(InvalidResponseError) as caught:
            await shell("authenticate_with_refresh_token", session.refresh_token)
    assert caught.value.code == "invalid_response"


# ---------------------------------------------------------------------------------------- shells, no emulator


def offline_config(**overrides: Any) -> AuthKitConfig:
    settings: dict[str, Any] = {
        "client_id": "client_offline",
        "api_key": "sk_offline",
        "redirect_uri": "https://app.example/callback",
        "cookie_password": "p" * 32,
        **overrides,
    }
    return AuthKitConfig(**settings)


def jwks_handler(request: httpx.Request) -> httpx.Response:
    assert request.url.path == "/sso/jwks/client_offline"
    return httpx.Response(200, json={"keys": []})


async def test_owned_http_client_is_made_and_closed(kind: str) -> None:
    config = offline_config(http_timeout_seconds=2.5)
    if kind == "sync":
        with WorkOSClient(config) as sync_client:
            assert sync_client.http.timeout == httpx.Timeout(2.5)
        assert sync_client.http.is_closed
    else:
        async with AsyncWorkOSClient(config) as async_client:
            assert async_client.http.timeout == httpx.Timeout(2.5)
        assert async_client.http.is_closed


async def test_given_http_client_is_used_and_left_open(kind: str) -> None:
    transport = httpx.MockTransport(jwks_handler)
    if kind == "sync":
        with httpx.Client(transport=transport) as http:
            with WorkOSClient(offline_config(), http=http) as sync_client:
                assert sync_client.fetch_jwks() == {"keys": []}
            assert not http.is_closed
    else:
        async with httpx.AsyncClient(transport=transport) as ahttp:
            async with AsyncWorkOSClient(offline_config(), http=ahttp) as async_client:
                assert await async_client.fetch_jwks() == {"keys": []}
            assert not ahttp.is_closed


async def test_urls_need_no_io(kind: str) -> None:
    config = offline_config()
    async with open_shell(kind, config) as shell:
        client = shell.client
        url = client.get_authorization_url(state="s", code_challenge="c", screen_hint="sign-in")
        assert url == api.authorization_url(config, state="s", code_challenge="c", screen_hint="sign-in")
        assert client.get_logout_url("session_1", "https://app.example/") == api.logout_url(
            config, "session_1", "https://app.example/"
        )
        assert client.jwks_url == "https://api.workos.com/sso/jwks/client_offline"
        bad_hint: dict[str, Any] = {"screen_hint": "register"}
        misspelt: dict[str, Any] = {"login_hnt": "a@b"}
        with pytest.raises(ValueError, match="screen_hint"):
            client.get_authorization_url(state="s", code_challenge="c", **bad_hint)
        with pytest.raises(TypeError, match="login_hnt"):
            client.get_authorization_url(state="s", code_challenge="c", **misspelt)
