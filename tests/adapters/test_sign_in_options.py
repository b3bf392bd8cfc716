"""The sign-in URL options and the ``on_success`` types, in process (no server): what is sent, what is refused."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from authkit_adapters import Response, SignInRefusedError, SignInSuccess
from authkit_adapters._success import success_outcome
from authkit_core import AuthKitConfig
from authkit_core.models import AuthenticationResponse, OAuthTokens
from authkit_core.workos_api import authorization_url, check_authorization_options

CONFIG = AuthKitConfig(
    client_id="client_test",
    api_key="sk_test",
    redirect_uri="http://127.0.0.1:8000/callback",
    cookie_password="options-test-cookie-password-0123456789abcdef",
)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_every_option_is_written() -> None:
    url = authorization_url(
        CONFIG,
        state="s",
        code_challenge="c",
        screen_hint="sign-up",
        organization_id="org_1",
        connection_id="conn_1",
        login_hint="a@b.c",
        prompt="login",
        max_age=0,
        domain_hint="b.c",
        provider="GoogleOAuth",
    )
    q = query(url)
    assert q["provider"] == "GoogleOAuth"
    assert q["max_age"] == "0"
    for name in ("screen_hint", "organization_id", "connection_id", "login_hint", "prompt", "domain_hint"):
        assert name in q


def test_provider_defaults_to_authkit_unless_a_connection_is_named() -> None:
    assert query(authorization_url(CONFIG, state="s", code_challenge="c"))["provider"] == "authkit"
    assert "provider" not in query(authorization_url(CONFIG, state="s", code_challenge="c", connection_id="conn_1"))
    q = query(authorization_url(CONFIG, state="s", code_challenge="c", connection_id="conn_1", provider="authkit"))
    assert q["provider"] == "authkit"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_age", -1),
        ("max_age", 1.5),
        ("max_age", True),
        ("max_age", "60"),
        ("screen_hint", "register"),
        ("prompt", ""),
        ("login_hint", "a@b.c\r\nX: y"),
        ("provider", 3),
        ("organization_id", ["org_1"]),
    ],
)
def test_wrong_types_are_refused(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=name):
        check_authorization_options({name: value})


def test_none_means_not_sent() -> None:
    check_authorization_options({"max_age": None, "prompt": None})
    assert "prompt" not in query(authorization_url(CONFIG, state="s", code_challenge="c", prompt=None))


def test_oauth_tokens_are_parsed_and_hidden() -> None:
    body = {
        "user": {"id": "user_1", "email": "a@b.c"},
        "access_token": "at",
        "refresh_token": "rt",
        "authentication_method": "GoogleOAuth",
        "oauth_tokens": {
            "provider": "GoogleOAuth",
            "access_token": "provider-at",
            "refresh_token": "provider-rt",
            "expires_at": 1700000000,
            "scopes": ["email", 3],
        },
    }
    response = AuthenticationResponse.from_api(body)
    assert response.oauth_tokens == OAuthTokens("GoogleOAuth", "provider-at", "provider-rt", 1700000000, ("email",))
    assert "provider-at" not in repr(response.oauth_tokens)
    assert AuthenticationResponse.from_api({**body, "oauth_tokens": None}).oauth_tokens is None
    assert AuthenticationResponse.from_api({**body, "oauth_tokens": {"provider": "x"}}).oauth_tokens is None


def test_success_outcome() -> None:
    assert success_outcome(None) is None
    assert success_outcome("/next") == "/next"
    answer = Response(200, [])
    assert success_outcome(answer) is answer
    with pytest.raises(SignInRefusedError) as info:
        success_outcome(42)
    assert isinstance(info.value.cause, TypeError)

    async def hook() -> None:
        return None

    with pytest.raises(SignInRefusedError):
        success_outcome(hook())  # closed, so no "never awaited" warning


def test_refusal_wraps_other_errors_without_their_text() -> None:
    own = SignInRefusedError("Not here.")
    assert SignInRefusedError.wrap(own) is own
    wrapped = SignInRefusedError.wrap(ValueError("secret"))
    assert wrapped.code == "sign_in_refused"
    assert wrapped.status == 403
    assert "secret" not in str(wrapped)
    assert isinstance(wrapped.cause, ValueError)


def test_sign_in_success_fields() -> None:
    assert set(SignInSuccess.__dataclass_fields__) == {
        "user",
        "organization_id",
        "auth_response",
        "return_pathname",
        "custom_state",
        "request_info",
    }
