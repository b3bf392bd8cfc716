"""Cookie header parsing and Set-Cookie rendering."""

from __future__ import annotations

import pytest

from authkit_core import AuthKitConfig
from authkit_core.cookies import apply_set_cookies, expired_cookie, parse_cookie_header, session_cookie

CONFIG = AuthKitConfig(
    client_id="c", api_key="k", redirect_uri="https://app.example/callback", cookie_password="p" * 32
)


def test_parse_first_of_a_repeated_name_wins_and_bad_pairs_are_ignored() -> None:
    header = 'a=1; junk; =nope; wos-session=first; b="quoted"; wos-session=second'
    assert parse_cookie_header(header) == {"a": "1", "wos-session": "first", "b": "quoted"}
    assert parse_cookie_header(["a=1", "a=2; c=3"]) == {"a": "1", "c": "3"}
    assert parse_cookie_header(None) == {}


def test_bytes_are_read_as_latin1() -> None:
    assert parse_cookie_header(b"a=1; b=\xe9t\xe9") == {"a": "1", "b": "\xe9t\xe9"}


def test_remembered_parses_never_mix_values_that_share_their_sample() -> None:
    # The memo is keyed on every 16th character: these differ only between samples, so they share a key.
    first = "wos-session=" + "A" * 40 + "; theme=dark"
    second = "wos-session=" + "A" * 21 + "B" + "A" * 18 + "; theme=dark"
    assert first[::16] == second[::16] and first != second
    for _ in range(3):  # alternate, so each lookup meets the other's entry
        assert parse_cookie_header(first)["wos-session"] == "A" * 40
        assert parse_cookie_header(second)["wos-session"] == "A" * 21 + "B" + "A" * 18
        assert parse_cookie_header(first.encode())["wos-session"] == "A" * 40
        assert parse_cookie_header(second.encode())["wos-session"] == "A" * 21 + "B" + "A" * 18


def test_a_remembered_parse_is_read_only() -> None:
    cookies = parse_cookie_header("a=1")
    with pytest.raises(TypeError):
        cookies["a"] = "2"  # type: ignore[index]
    assert parse_cookie_header("a=1") == {"a": "1"}


def test_session_cookie_attributes() -> None:
    text = session_cookie(CONFIG, "wos-session", "v").header_value()
    for part in ("wos-session=v", "Path=/", "HttpOnly", "SameSite=Lax", "Secure", "Max-Age=34560000"):
        assert part in text
    gone = expired_cookie(CONFIG, "wos-session")
    assert gone.is_deletion and "Max-Age=0" in gone.header_value()


def test_apply_set_cookies_plays_the_browser() -> None:
    jar = apply_set_cookies({"a": "1", "b": "2"}, [session_cookie(CONFIG, "a", "9"), expired_cookie(CONFIG, "b")])
    assert jar == {"a": "9"}
