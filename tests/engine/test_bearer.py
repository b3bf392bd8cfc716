"""``AuthKit.verify_bearer`` (the engine operation under ``accept_bearer``), sync and async, against the emulator:
a valid token signs in with the claims' ``UserInfo``; a refused one is signed out with the reason; the JWKS
unreachable is a transient error (the API answers 503), never a refusal; nothing is refreshed or written."""

from __future__ import annotations

import socket
import time
from typing import Any

import anyio
import pytest

from authkit_core import AuthKit, AuthKitConfig, UserInfo
from authkit_core.bearer import bearer_token, check_audience
from authkit_core.errors import TokenError

REFRESH = "refresh_token"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("face", ["sync", "asyncio", "trio"])
def test_verify_bearer_on_both_faces(workos_emulator: Any, face: str) -> None:
    kit = AuthKit(workos_emulator.config())
    token = workos_emulator.mint_access_token("user_alice", organization_id="org_acme")
    expired = workos_emulator.mint_access_token("user_alice", expires_in=-60)

    def run(value: str) -> Any:
        if face == "sync":
            return kit.verify_bearer(value)

        async def main() -> Any:
            return await kit.verify_bearer_async(value)

        return anyio.run(main, backend=face)

    good = run(token)
    assert isinstance(good.user_info, UserInfo) and good.bearer
    assert good.user_info.user.id == "user_alice" and good.user_info.organization_id == "org_acme"
    assert good.user_info.access_token == token and good.cookies == [] and not good.refreshed
    bad = run(expired)
    assert not isinstance(bad.user_info, UserInfo) and bad.reason == "token_expired" and bad.bearer
    assert run("").reason == "invalid_token"
    assert workos_emulator.grant_count(REFRESH) == 0
    kit.close()


def test_jwks_unreachable_is_transient_not_a_refusal(workos_emulator: Any) -> None:
    token = workos_emulator.mint_access_token("user_alice")
    config = workos_emulator.config(api_port=_closed_port(), http_timeout_seconds=1.0, max_retries=0)
    kit = AuthKit(config)
    result = kit.verify_bearer(token)
    assert not isinstance(result.user_info, UserInfo)
    assert result.error is not None and result.error.is_transient and result.reason is None
    kit.close()


def test_the_header_parse() -> None:
    assert bearer_token(None) is None and bearer_token("") is None
    assert bearer_token("Basic dTpw") is None
    assert bearer_token("Bearer abc.def-_~+/=") == "abc.def-_~+/="
    assert bearer_token("bearer  abc ") == "abc"
    for value in ("Bearer", "Bearer a b", "Bearer <x>", 'Bearer a"b', "Bearer é"):
        assert bearer_token(value) == ""


@pytest.mark.parametrize(
    ("claims", "ok"),
    [
        ({}, True),
        ({"client_id": "client_test"}, True),
        ({"aud": "client_test"}, True),
        ({"aud": ["other", "client_test"]}, True),
        ({"client_id": "client_other"}, False),
        ({"aud": "other"}, False),
        ({"aud": ["other"]}, False),
        ({"aud": 7}, False),
        ({"client_id": "client_test", "aud": "other"}, False),
    ],
)
def test_the_audience_check(claims: dict[str, Any], ok: bool) -> None:
    config = AuthKitConfig(
        client_id="client_test",
        api_key="sk_test",
        redirect_uri="http://127.0.0.1:8000/callback",
        cookie_password="bearer-test-cookie-password-0123456789abc",
    )
    if ok:
        check_audience(config, claims)
    else:
        with pytest.raises(TokenError) as raised:
            check_audience(config, claims)
        assert raised.value.code == "invalid_audience"


def test_a_remembered_token_is_forgotten_when_it_expires(workos_emulator: Any) -> None:
    """``peek_bearer`` (the middleware's warm path) answers a token verified a moment ago, and only until its
    ``exp``: then ``verify_bearer`` refuses it (``token_expired``)."""
    now = [time.time()]
    kit = AuthKit(workos_emulator.config(), clock=lambda: now[0])
    token = workos_emulator.mint_access_token("user_alice", expires_in=60)
    assert kit.peek_bearer(token) is None
    first = kit.verify_bearer(token)
    assert isinstance(first.user_info, UserInfo)
    warm = kit.peek_bearer(token)
    assert warm is not None and warm.bearer and warm.user_info is first.user_info
    now[0] += 61
    assert kit.peek_bearer(token) is None  # past exp: no longer answered from memory
    now[0] += kit.config.jwt_leeway_seconds  # and past the clock-skew leeway verification allows
    assert kit.verify_bearer(token).reason == "token_expired"
    refused = workos_emulator.mint_access_token("user_alice", expires_in=-5)
    kit.verify_bearer(refused)
    assert kit.peek_bearer(refused) is None  # refusals are never remembered
    kit.close()
