from __future__ import annotations

import pytest

from authkit_core import AuthKitConfig, ConfigurationError

PASSWORD = "p" * 32
ENV = {
    "WORKOS_CLIENT_ID": "client_123",
    "WORKOS_API_KEY": "sk_test_abc",
    "WORKOS_REDIRECT_URI": "http://localhost:8000/callback",
    "WORKOS_COOKIE_PASSWORD": PASSWORD,
}


def test_from_env_defaults_match_authkit_nextjs() -> None:
    config = AuthKitConfig.from_env(ENV)
    assert config.cookie_name == "wos-session"
    assert config.cookie_max_age == 400 * 24 * 3600
    assert config.cookie_samesite == "lax"
    assert config.api_base_url == "https://api.workos.com"
    assert config.cookie_secure is False
    assert config.cookie_passwords == {"1": PASSWORD}


def test_from_env_reads_every_variable() -> None:
    env = {
        **ENV,
        "WORKOS_REDIRECT_URI": "https://app.example/cb",
        "WORKOS_COOKIE_NAME": "sess",
        "WORKOS_COOKIE_MAX_AGE": "3600",
        "WORKOS_COOKIE_DOMAIN": "example.com",
        "WORKOS_COOKIE_SAMESITE": "Strict",
        "WORKOS_API_HOSTNAME": "127.0.0.1",
        "WORKOS_API_HTTPS": "false",
        "WORKOS_API_PORT": "8123",
    }
    config = AuthKitConfig.from_env(env)
    assert (config.cookie_name, config.cookie_max_age, config.cookie_domain) == ("sess", 3600, "example.com")
    assert config.cookie_samesite == "strict"
    assert config.api_base_url == "http://127.0.0.1:8123"
    assert config.cookie_secure is True


def test_next_public_redirect_uri_is_accepted() -> None:
    env = {k: v for k, v in ENV.items() if k != "WORKOS_REDIRECT_URI"}
    env["NEXT_PUBLIC_WORKOS_REDIRECT_URI"] = "http://localhost:3000/callback"
    assert AuthKitConfig.from_env(env).redirect_uri == "http://localhost:3000/callback"


def test_samesite_none_is_always_secure() -> None:
    assert AuthKitConfig.from_env({**ENV, "WORKOS_COOKIE_SAMESITE": "none"}).cookie_secure is True


@pytest.mark.parametrize("missing", sorted(ENV))
def test_missing_variable_is_named(missing: str) -> None:
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigurationError) as info:
        AuthKitConfig.from_env(env)
    assert info.value.variable == missing
    assert missing in str(info.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WORKOS_COOKIE_PASSWORD", "short"),
        ("WORKOS_COOKIE_SAMESITE", "sideways"),
        ("WORKOS_COOKIE_MAX_AGE", "forever"),
        ("WORKOS_API_HTTPS", "maybe"),
        ("WORKOS_API_PORT", "99999"),
        ("WORKOS_REDIRECT_URI", "/callback"),
    ],
)
def test_invalid_variable_is_named(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        AuthKitConfig.from_env({**ENV, variable: value})
    assert info.value.variable == variable
    assert info.value.code == "configuration_error"


def test_overrides_win_and_can_replace_missing_variables() -> None:
    env = {k: v for k, v in ENV.items() if k != "WORKOS_API_KEY"}
    config = AuthKitConfig.from_env(env, api_key="sk_override", max_retries=0)
    assert config.api_key == "sk_override"
    assert config.max_retries == 0


def test_password_map_for_rotation() -> None:
    config = AuthKitConfig(
        client_id="c", api_key="k", redirect_uri="http://x/cb", cookie_password={"1": "a" * 32, "2": "b" * 32}
    )
    assert dict(config.cookie_passwords) == {"1": "a" * 32, "2": "b" * 32}
    with pytest.raises(ConfigurationError):
        AuthKitConfig(client_id="c", api_key="k", redirect_uri="http://x/cb", cookie_password={"1": "short"})


def test_secrets_not_in_repr() -> None:
    text = repr(AuthKitConfig.from_env(ENV))
    assert "sk_test_abc" not in text
    assert PASSWORD not in text


@pytest.mark.parametrize("bad_id", ["old", "02", "1.5", ""])
def test_password_map_ids_must_be_whole_numbers(bad_id: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        AuthKitConfig(client_id="c", api_key="k", redirect_uri="http://x/cb", cookie_password={bad_id: "a" * 32})
    assert info.value.variable == "WORKOS_COOKIE_PASSWORD"
