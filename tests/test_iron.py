"""Tests of iron ``Fe26.2`` sealing (:mod:`authkit_core.iron`).

The known-answer vectors below were sealed once by iron-session 8.0.4 under node 20 (the interop tests redo this
live); they let these tests check byte compatibility without node.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import string
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authkit_core.errors import ConfigurationError, SealError
from authkit_core.iron import (
    MAC_PREFIX,
    TIMESTAMP_SKEW_SECONDS,
    _derive_key,
    _js_stringify,
    seal,
    seal_session,
    unseal,
    unseal_session,
)
from authkit_core.models import Impersonator, Session, User

PASSWORD = "interop-password-0123456789abcdefghij"
OLD = "old-password-0123456789abcdefghijklmnop"
NEW = "new-password-0123456789abcdefghijklmnop"
NOW = 1_700_000_000.0

# --- known-answer vectors sealed by iron-session 8.0.4 ---------------------------------------------------------

NODE_SESSION_PAYLOAD: dict[str, Any] = {
    "accessToken": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzAxIn0.c2ln",
    "refreshToken": "rt_01HZX",
    "user": {
        "object": "user",
        "id": "user_01HZX",
        "email": "ada@example.com",
        "emailVerified": True,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "profilePictureUrl": None,
        "lastSignInAt": "2024-05-01T10:00:00.000Z",
        "externalId": None,
        "metadata": {},
        "locale": None,
        "createdAt": "2024-01-01T00:00:00.000Z",
        "updatedAt": "2024-05-01T10:00:00.000Z",
    },
    "authenticationMethod": "Password",
}
# sealData(NODE_SESSION_PAYLOAD, {password: PASSWORD, ttl: 0})
NODE_SESSION_SEAL = (
    "Fe26.2*1*65103b0fb073c569580f8c6ed86da0da5773a152b7bab6f0c40804cd83774660*piaEKtjrV_gK-YQfNpouTg*"
    "uYw8k0Ep_bjLDluWtcxZ24LdG4XBfJZu7SoWRjw8FUU-P0g5lQKmewq3ehOSpHb4WoLF6d75vIHtyUltwImBCiwKz0IFNBHMvxL_WU5xbGRW"
    "iRgZNHwDZ4h9G726tFtpYj4kBnOsBcnOHB_uGjT0b7X3LIvcAY4O8pCK3Od52oDp_4jYZDaIVQ-F6Jv5HNyjT65aXb1kXRsK5YsfoajLRYAL"
    "qvl_wgJK40Tc_7kMVpl_tz8rOC0KEXS-e66Xb_uVYlEFUpOMS9tBqGouant05A_WUJnd_YTPzop05el1iLaF2ogOccUAmspJ571wccLm9sdo"
    "UkUwjuvqXg2Ig6WJpOErlVyWJAKG0UKjyUXM7gwXghs6hUxXqiHTjcgfhxK4zq51Fvvnh71pG3J86Lu3HEKM3FSrLLYj7l5p2eFyjjWVHziS"
    "nXBySGX5Ah1WmkUC1rrFZzDve-Y-PfkMihE-ElkacAWBPHLzd2Mw3UGoRexz9Wgd-mv5D1aTrNQAlPHQ5HpUGXsmmS-q-IEodphv3YA289Am"
    "qbY_Cga5bXiAK8HlFbQQyDQoS_Juh-fFCHf2AmjXQrfneJ71g9XkhcUEYrwUW9BCqI_YLDA8z64R-is**"
    "357d35f67172f2e1bbba7047ba28dae39853cf091732dcecb0816e7e39d916bb*YL4p381mnD1eikFyMyYwTgl9dLTwBQxmeku0MeTu_NM~2"
)

NODE_MAP_PAYLOAD: dict[str, Any] = {
    "greeting": "héllo wörld ✓ 😀",
    "n": [1, 2.5, -3, None, True, False],
    "nested": {"empty": {}, "list": []},
}
# sealData(NODE_MAP_PAYLOAD, {password: {1: OLD, 2: NEW}, ttl: 0}) -- sealed with id 2
NODE_MAP_SEAL = (
    "Fe26.2*2*072f898f98092e01742ee0ea892729304b9120bccf1c84056818d2d74978d72d*RSMwhAMwaZ0R1MEcMUV-wQ*"
    "jaIyzLV0aLpDdcOPzpH2APKy9zCs6icuIADGFGsYfFtj4ADhxK0wfk2TxZomIG0c9x2CN9oQ_1uDFgFw9M4n4je72t2qmaXPcLN9ZPhD0bVk"
    "oK2NUTjkMJTly5NrLaV9LNeTQfv2Ro1fMcJz9u0AKA**44b8e0eee0c04194862458386436f62ba0c3d5318fc8b41465e97b07520740c6*"
    "iMteOP5Cqn5iRUhgSiRwHaWAOhYxaYXFlkMa-B2Frpw~2"
)

NODE_TTL_PAYLOAD = {"nonce": "abc", "codeVerifier": "xyz", "returnPathname": "/dashboard"}
NODE_TTL_EXPIRY_MS = 1795727533727
# sealData(NODE_TTL_PAYLOAD, {password: PASSWORD, ttl: 600})
NODE_TTL_SEAL = (
    "Fe26.2*1*84a294e2d258bc85baf974a980996b9dbb6f1a317139d24198edc4362d718783*lPxj5a71zQJ1U2T0hQ_J_Q*"
    "pjZEPJWh5JO3J8NKuSzwjf0AaMW7jlBv4z14dZ-LDBKuWhAZDuumTg1dsr6mwF7vP0qjJx2KcwGGfUsZJeuFek5TUkXsGPl-_dL8gP_AVTc*"
    "1795727533727*0dcc1697071ec0830a41a611f32dd7af81300596953493a567e625b957240388*"
    "8Ur_-LWn0d-0BwF9nh0KvxUhhiQ_xt8vk0P83vPSycc~2"
)
NODE_TTL_SEALED_AT = (NODE_TTL_EXPIRY_MS - 600_000) / 1000


def make_session(**overrides: Any) -> Session:
    """A typical authkit-nextjs session (about 1.5 KB sealed)."""
    user = User(
        id="user_01HXYZABCDEFGHJKMNPQRSTVWX",
        email="ada.lovelace@example.com",
        email_verified=True,
        first_name="Ada",
        last_name="Lovelace",
        profile_picture_url="https://workoscdn.com/images/v1/abcdefghijklmnopqrstuvwxyz",
        last_sign_in_at="2024-05-01T10:00:00.000Z",
        metadata={"plan": "pro"},
        created_at="2024-01-01T00:00:00.000Z",
        updated_at="2024-05-01T10:00:00.000Z",
    )
    values: dict[str, Any] = {
        "access_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6InNzb19vaWRjX2tleV9wYWlyXzAxIn0." + "A" * 600 + ".sig" * 60,
        "refresh_token": "rt_" + "B" * 30,
        "user": user,
        "authentication_method": "Password",
    }
    values.update(overrides)
    return Session(**values)


def fields(sealed: str) -> list[str]:
    """The eight ``*`` fields of a seal without its ``~2`` suffix."""
    body, _, _ = sealed.partition("~")
    return body.split("*")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(
    plaintext: bytes | None = None,
    *,
    password: str = PASSWORD,
    password_id: str = "1",
    iv_b64: str | None = None,
    ciphertext_b64: str | None = None,
    expiration: str = "",
    pad: bool = True,
    suffix: str = "~2",
) -> str:
    """A seal with a valid MAC over whatever fields are given, built independently of the module under test."""
    enc_salt, mac_salt = os.urandom(32).hex(), os.urandom(32).hex()
    iv = os.urandom(16)
    if ciphertext_b64 is None:
        assert plaintext is not None
        key = hashlib.pbkdf2_hmac("sha1", password.encode(), enc_salt.encode(), 1, 32)
        if pad:
            n = 16 - len(plaintext) % 16
            plaintext += bytes([n]) * n
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        ciphertext_b64 = b64url(encryptor.update(plaintext) + encryptor.finalize())
    if iv_b64 is None:
        iv_b64 = b64url(iv)
    base = f"Fe26.2*{password_id}*{enc_salt}*{iv_b64}*{ciphertext_b64}*{expiration}"
    mac_key = hashlib.pbkdf2_hmac("sha1", password.encode(), mac_salt.encode(), 1, 32)
    digest = hmac.new(mac_key, base.encode(), hashlib.sha256).digest()
    return f"{base}*{mac_salt}*{b64url(digest)}{suffix}"


def seal_code(sealed: str, passwords: Any = PASSWORD, now: float | None = None) -> str:
    """The ``SealError`` code unsealing ``sealed`` raises."""
    with pytest.raises(SealError) as info:
        unseal(sealed, passwords, now=now)
    return info.value.code


# --- known answers -------------------------------------------------------------------------------------------


def test_opens_a_session_sealed_by_iron_session() -> None:
    assert unseal(NODE_SESSION_SEAL, PASSWORD) == NODE_SESSION_PAYLOAD
    assert unseal(NODE_SESSION_SEAL, {"1": PASSWORD}) == NODE_SESSION_PAYLOAD
    session = unseal_session(NODE_SESSION_SEAL, PASSWORD)
    assert session.access_token == NODE_SESSION_PAYLOAD["accessToken"]
    assert session.refresh_token == "rt_01HZX"
    assert session.user.id == "user_01HZX"
    assert session.user.first_name == "Ada"
    assert session.user.email_verified is True
    assert session.authentication_method == "Password"
    assert session.to_json() == NODE_SESSION_PAYLOAD


def test_opens_a_password_map_seal_by_iron_session() -> None:
    assert fields(NODE_MAP_SEAL)[1] == "2"
    assert unseal(NODE_MAP_SEAL, {"1": OLD, "2": NEW}) == NODE_MAP_PAYLOAD
    assert unseal(NODE_MAP_SEAL, {"2": NEW}) == NODE_MAP_PAYLOAD
    assert seal_code(NODE_MAP_SEAL, {"1": OLD}) == "unknown_password"
    # A single password is id 1, as in iron-session.
    assert seal_code(NODE_MAP_SEAL, NEW) == "unknown_password"
    assert seal_code(NODE_MAP_SEAL, {"2": OLD}) == "bad_mac"


def test_node_seal_with_ttl_expires_after_the_skew() -> None:
    assert fields(NODE_TTL_SEAL)[5] == str(NODE_TTL_EXPIRY_MS)
    assert unseal(NODE_TTL_SEAL, PASSWORD, now=NODE_TTL_SEALED_AT) == NODE_TTL_PAYLOAD
    last_open = (NODE_TTL_EXPIRY_MS + 60_000 - 1 + 0.5) / 1000
    first_closed = (NODE_TTL_EXPIRY_MS + 60_000 + 0.5) / 1000
    assert unseal(NODE_TTL_SEAL, PASSWORD, now=last_open) == NODE_TTL_PAYLOAD
    assert seal_code(NODE_TTL_SEAL, PASSWORD, now=first_closed) == "expired_seal"


def test_wrong_password_is_bad_mac() -> None:
    assert seal_code(NODE_SESSION_SEAL, "another-password-0123456789abcdefghij") == "bad_mac"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1.0, "b": 1e16, "c": 1e21, "d": 1.5e21}, '{"a":1,"b":10000000000000000,"c":1e+21,"d":1.5e+21}'),
        ([1e-7, 1e-5, 0.0001, -0.0, 2.0**60], "[1e-7,0.00001,0.0001,0,1152921504606847000]"),
        ([123.456, 1.5e-10, 5e-324, 0.1, -2.5], "[123.456,1.5e-10,5e-324,0.1,-2.5]"),
        ([float("nan"), float("inf"), float("-inf")], "[null,null,null]"),
        (
            {"s": "é ✓ 😀 \u2028 \x7f", "c": '\n\t\x00\x1f"\\'},
            '{"s":"é ✓ 😀 \u2028 \x7f","c":"\\n\\t\\u0000\\u001f\\"\\\\"}',
        ),
        (["\ud83d\ude00", "\ud800", "a\udfffb"], '["😀","\\ud800","a\\udfffb"]'),
        ({"t": (1, 2), "n": None, "b": [True, False]}, '{"t":[1,2],"n":null,"b":[true,false]}'),
        ({1: "x", None: "y", 2.5: "z", False: "f"}, '{"1":"x","null":"y","2.5":"z","false":"f"}'),
        ({"big": 2**64, "neg": -(2**70)}, '{"big":18446744073709551616,"neg":-1180591620717411303424}'),
    ],
)
def test_json_is_written_like_javascript(value: Any, expected: str) -> None:
    # These are node's JSON.stringify answers for the same values.
    assert _js_stringify(value) == expected


def test_non_json_data_is_refused() -> None:
    with pytest.raises(TypeError):
        seal({"a": object()}, PASSWORD)
    with pytest.raises(TypeError):
        seal({"a": {1, 2}}, PASSWORD)
    with pytest.raises(TypeError):
        seal({("a",): 1}, PASSWORD)


# --- format and round trips ------------------------------------------------------------------------------------


def test_seal_format_matches_iron_session() -> None:
    sealed = seal({"a": 1}, PASSWORD)
    assert sealed.endswith("~2")
    parts = fields(sealed)
    assert len(parts) == 8
    prefix, password_id, enc_salt, iv, ciphertext, expiration, mac_salt, mac = parts
    assert prefix == MAC_PREFIX == "Fe26.2"
    assert password_id == "1"
    assert all(len(s) == 64 and set(s) <= set(string.hexdigits.lower()) for s in (enc_salt, mac_salt))
    assert enc_salt != mac_salt
    assert len(base64.urlsafe_b64decode(iv + "==")) == 16
    assert len(base64.urlsafe_b64decode(ciphertext + "==")) == 16
    assert expiration == ""
    assert len(base64.urlsafe_b64decode(mac + "=")) == 32
    assert "=" not in sealed
    assert seal({"a": 1}, PASSWORD) != sealed  # fresh salts and IV every time


def test_plaintext_and_mac_are_what_iron_computes() -> None:
    data = {"x": "é", "n": 1.0}
    sealed = seal(data, PASSWORD)
    _, _, enc_salt, iv, ciphertext, _, mac_salt, mac = fields(sealed)
    key = hashlib.pbkdf2_hmac("sha1", PASSWORD.encode(), enc_salt.encode(), 1, 32)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(base64.urlsafe_b64decode(iv + "=="))).decryptor()
    padded = decryptor.update(base64.urlsafe_b64decode(ciphertext + "==")) + decryptor.finalize()
    assert padded[: -padded[-1]] == '{"x":"é","n":1}'.encode()
    mac_key = hashlib.pbkdf2_hmac("sha1", PASSWORD.encode(), mac_salt.encode(), 1, 32)
    base = sealed.rsplit("*", 2)[0]
    assert b64url(hmac.new(mac_key, base.encode(), hashlib.sha256).digest()) == mac


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1, 2, {"c": None}]},
        [],
        {},
        "just a string",
        42,
        -1.5,
        True,
        None,
        {"unicode": "日本語 ✓ 😀", "controls": "\x00\n\t"},
        {"big": "x" * 100_000},
    ],
)
def test_round_trip(value: Any) -> None:
    assert unseal(seal(value, PASSWORD), PASSWORD) == value


def test_session_round_trip() -> None:
    session = make_session(impersonator=Impersonator(email="admin@example.com", reason="support"))
    sealed = seal_session(session, PASSWORD)
    assert unseal_session(sealed, PASSWORD) == session
    assert unseal(sealed, PASSWORD) == session.to_json()


def test_unseal_session_refuses_a_payload_that_is_not_a_session() -> None:
    for payload in ({"a": 1}, [], None, {"accessToken": "a", "refreshToken": "r", "user": {"id": 1}}):
        with pytest.raises(SealError) as info:
            unseal_session(seal(payload, PASSWORD), PASSWORD)
        assert info.value.code == "invalid_seal"


# --- password maps ---------------------------------------------------------------------------------------------


def test_password_map_seals_with_the_highest_numeric_id() -> None:
    passwords = {"9": OLD, "10": NEW, "2": PASSWORD}
    sealed = seal({"a": 1}, passwords)
    assert fields(sealed)[1] == "10"
    assert unseal(sealed, {"10": NEW}) == {"a": 1}
    assert seal_code(sealed, {"9": OLD, "2": PASSWORD}) == "unknown_password"


def test_rotation_opens_any_listed_password() -> None:
    old_seal = seal({"v": "old"}, OLD)
    new_seal = seal({"v": "new"}, {"1": OLD, "2": NEW})
    rotated = {"1": OLD, "2": NEW}
    assert unseal(old_seal, rotated) == {"v": "old"}
    assert unseal(new_seal, rotated) == {"v": "new"}
    assert seal_code(old_seal, {"2": NEW}) == "unknown_password"


def test_seal_without_password_id_needs_the_default_id() -> None:
    sealed = forge(b'{"a":1}', password_id="")
    assert unseal(sealed, {"default": PASSWORD}) == {"a": 1}
    assert seal_code(sealed, PASSWORD) == "unknown_password"


@pytest.mark.parametrize(
    "passwords",
    [
        "short",
        {},
        {"1": "short"},
        {"old": OLD},
        {"1": OLD, "two": NEW},
        {"02": NEW},
        {"-1": NEW},
        {"1" + "0" * 20: NEW},
        "😀" * 15,  # 30 UTF-16 code units
    ],
)
def test_unusable_sealing_passwords_are_configuration_errors(passwords: Any) -> None:
    with pytest.raises(ConfigurationError):
        seal({"a": 1}, passwords)


def test_password_length_counts_utf16_units_like_javascript() -> None:
    password = "😀" * 16  # 16 code points, 32 UTF-16 code units
    assert unseal(seal({"a": 1}, password), password) == {"a": 1}


def test_unusable_opening_passwords_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        unseal(NODE_SESSION_SEAL, "short")
    with pytest.raises(ConfigurationError):
        unseal(NODE_SESSION_SEAL, {})


def test_negative_ttl_is_refused() -> None:
    with pytest.raises(ValueError, match="ttl"):
        seal({}, PASSWORD, ttl=-1)


# --- expiry ----------------------------------------------------------------------------------------------------


def test_ttl_sets_the_expiry_in_milliseconds() -> None:
    sealed = seal({"a": 1}, PASSWORD, ttl=10, now=NOW)
    assert fields(sealed)[5] == str(int(NOW * 1000) + 10_000)


def test_expiry_allows_sixty_seconds_of_skew() -> None:
    sealed = seal({"a": 1}, PASSWORD, ttl=10, now=NOW)
    expiry = NOW + 10
    assert TIMESTAMP_SKEW_SECONDS == 60
    assert unseal(sealed, PASSWORD, now=NOW) == {"a": 1}
    assert unseal(sealed, PASSWORD, now=expiry + 30) == {"a": 1}
    assert unseal(sealed, PASSWORD, now=expiry + 59.9995) == {"a": 1}  # 1 ms before the boundary
    assert seal_code(sealed, PASSWORD, now=expiry + 60) == "expired_seal"  # expiry <= now - 60 s
    assert seal_code(sealed, PASSWORD, now=expiry + 3600) == "expired_seal"


def test_ttl_zero_never_expires() -> None:
    sealed = seal({"a": 1}, PASSWORD, ttl=0, now=NOW)
    assert unseal(sealed, PASSWORD, now=NOW + 10 * 365 * 86400) == {"a": 1}


def test_expiry_is_checked_against_the_real_clock_by_default() -> None:
    assert unseal(seal({"a": 1}, PASSWORD, ttl=60), PASSWORD) == {"a": 1}
    assert seal_code(seal({"a": 1}, PASSWORD, ttl=1, now=NOW), PASSWORD) == "expired_seal"


def test_a_huge_authenticated_expiry_is_far_future() -> None:
    assert unseal(forge(b'{"a":1}', expiration="9" * 5000), PASSWORD) == {"a": 1}
    assert seal_code(forge(b'{"a":1}', expiration="0" * 30 + "1"), PASSWORD, now=NOW) == "expired_seal"
    assert seal_code(forge(b'{"a":1}', expiration="0" * 5000), PASSWORD, now=NOW) == "expired_seal"


# --- tampering -------------------------------------------------------------------------------------------------


def _replace_field(sealed: str, index: int, value: str) -> str:
    parts = fields(sealed)
    parts[index] = value
    return "*".join(parts) + "~2"


def _flip(text: str) -> str:
    """``text`` with its first character changed to another character of the same alphabet."""
    first = text[0]
    return ("B" if first == "A" else "A") + text[1:] if not first.isdigit() else str((int(first) + 1) % 10) + text[1:]


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, "invalid_seal"),  # prefix
        (1, "unknown_password"),  # password id
        (2, "bad_mac"),  # encryption salt
        (3, "bad_mac"),  # IV
        (4, "bad_mac"),  # ciphertext
        (6, "bad_mac"),  # HMAC salt
        (7, "bad_mac"),  # HMAC
    ],
)
def test_tampering_with_any_field_is_detected(index: int, expected: str) -> None:
    sealed = seal({"admin": False}, PASSWORD, ttl=3600, now=NOW)
    tampered = _replace_field(sealed, index, _flip(fields(sealed)[index]))
    assert seal_code(tampered, PASSWORD, now=NOW) == expected


def test_tampering_with_the_expiry_is_detected() -> None:
    sealed = seal({"a": 1}, PASSWORD, ttl=10, now=NOW)
    expiry = fields(sealed)[5]
    assert seal_code(_replace_field(sealed, 5, str(int(expiry) + 10**9)), PASSWORD, now=NOW) == "bad_mac"
    assert seal_code(_replace_field(sealed, 5, ""), PASSWORD, now=NOW) == "bad_mac"
    assert seal_code(_replace_field(sealed, 5, "soon"), PASSWORD, now=NOW) == "invalid_seal"
    # Extending an expired seal does not revive it.
    assert seal_code(_replace_field(sealed, 5, str(int(expiry) + 10**9)), PASSWORD, now=NOW + 3600) == "bad_mac"
    unlimited = seal({"a": 1}, PASSWORD)
    assert seal_code(_replace_field(unlimited, 5, "1"), PASSWORD) == "bad_mac"


def test_tampering_with_every_character_is_detected() -> None:
    sealed = seal({"a": 1}, PASSWORD)
    body = sealed[:-2]
    for i, char in enumerate(body):
        if char == "*":
            continue
        replacement = "0" if char != "0" else "1"
        tampered = body[:i] + replacement + body[i + 1 :] + "~2"
        assert seal_code(tampered, PASSWORD) in {"bad_mac", "invalid_seal", "unknown_password"}


def test_password_id_is_bound_by_the_mac() -> None:
    sealed = seal({"a": 1}, {"1": PASSWORD, "2": NEW})
    moved = _replace_field(sealed, 1, "1")
    assert seal_code(moved, {"1": NEW, "2": NEW}) == "bad_mac"


@pytest.mark.parametrize(
    "sealed",
    [
        "",
        "~2",
        "garbage",
        "Fe26.2",
        "Fe26.2*1*a*b*c**d",
        "Fe26.2*1*a*b*c**d*e*f~2",
        "Fe26.1*1*a*b*c**d*e~2",
        "fe26.2*1*a*b*c**d*e~2",
        "Fe26.2*1*ä*b*c**d*e~2",
        "Fe26.2*1***c**d*e~2",
        "\x00" * 10,
        "*" * 7,
        "*" * 1_000_000,
    ],
)
def test_malformed_seals_are_invalid(sealed: str) -> None:
    assert seal_code(sealed, PASSWORD) == "invalid_seal"


def test_non_string_input_is_invalid() -> None:
    for value in (None, b"Fe26.2", 12):
        with pytest.raises(SealError) as info:
            unseal(value, PASSWORD)  # type: ignore[arg-type]
        assert info.value.code == "invalid_seal"


@pytest.mark.parametrize(
    "sealed",
    [
        forge(iv_b64="not base64!", ciphertext_b64=b64url(b"\x00" * 16)),
        forge(iv_b64="AAAAA", ciphertext_b64=b64url(b"\x00" * 16)),
        forge(iv_b64=b64url(b"\x00" * 8), ciphertext_b64=b64url(b"\x00" * 16)),
        forge(ciphertext_b64=""),
        forge(ciphertext_b64=b64url(b"\x00" * 15)),
        forge(ciphertext_b64="AA=A"),
        forge(b"{}" + b"\x05" * 14, pad=False),  # bad padding
        forge(b"{}" + b"\x00" * 14, pad=False),  # zero padding
        forge(b"{}" + b"\x11" * 14, pad=False),  # padding longer than a block
        forge(b'"\xff\xfe"'),  # not UTF-8
        forge(b"{not json"),
        forge(b"NaN"),
        forge(b'{"a": Infinity}'),
        forge(b"[" * 100_000 + b"]" * 100_000),  # nesting deeper than the recursion limit
        forge(b'"\x01"'),  # JSON strings may not hold control characters
    ],
)
def test_authentic_but_broken_contents_are_invalid(sealed: str) -> None:
    assert seal_code(sealed, PASSWORD) == "invalid_seal"


def test_empty_plaintext_opens_as_null_like_iron() -> None:
    assert unseal(forge(b""), PASSWORD) is None


# --- format versions -------------------------------------------------------------------------------------------


def test_seal_without_version_suffix_opens_to_its_data() -> None:
    assert unseal(NODE_SESSION_SEAL.removesuffix("~2"), PASSWORD) == NODE_SESSION_PAYLOAD
    assert unseal(forge(b'{"a":1}', suffix=""), PASSWORD) == {"a": 1}


def test_version_1_seal_opens_to_its_persistent_data() -> None:
    sealed = forge(b'{"persistent":{"user":"u"},"flash":{}}', suffix="~1")
    assert unseal(sealed, PASSWORD) == {"user": "u"}
    assert unseal(forge(b'{"a":1}', suffix="~1"), PASSWORD) == {}
    assert unseal(forge(b'{"a":1}', suffix="~2~junk"), PASSWORD) == {"a": 1}  # JS split + parseInt
    assert unseal(forge(b'{"a":1}', suffix="~2x"), PASSWORD) == {"a": 1}


# --- errors and caching ----------------------------------------------------------------------------------------


def test_error_messages_hold_no_secret_or_seal() -> None:
    sealed = seal({"a": 1}, PASSWORD, ttl=1, now=NOW)
    samples = [
        sealed,
        sealed[:-5] + "AAAAA",
        _replace_field(sealed, 1, "7"),
        forge(b"{broken"),
        "Fe26.2*x*y",
    ]
    for sample in samples:
        with pytest.raises(SealError) as info:
            unseal(sample, PASSWORD)
        text = str(info.value)
        assert PASSWORD not in text
        for part in fields(sample):
            assert len(part) < 5 or part == MAC_PREFIX or part not in text
        assert info.value.__cause__ is None
        assert info.value.__context__ is None or info.value.__suppress_context__


def test_a_broken_payload_is_not_kept_as_the_error_context() -> None:
    # A JSON or UTF-8 decode error holds the decrypted text; it must not travel with the SealError.
    for plaintext in (b'{"accessToken": "secret-token"', b'"\xff secret-token"'):
        with pytest.raises(SealError) as info:
            unseal(forge(plaintext), PASSWORD)
        assert info.value.__context__ is None
        assert info.value.__cause__ is None


def test_unseal_keys_are_remembered_per_seal_and_sealing_adds_none() -> None:
    from authkit_core.iron import _unseal_keys

    before = len(_unseal_keys)
    sealed = seal({"a": 1}, PASSWORD)
    assert len(_unseal_keys) == before  # fresh salts: nothing worth remembering
    _, _, enc_salt, _, _, _, mac_salt, _ = sealed.split("*")
    assert _unseal_keys.get(("mac", PASSWORD, mac_salt)) is None
    unseal(sealed, PASSWORD)
    assert _unseal_keys.get(("mac", PASSWORD, mac_salt)) is not None
    assert _unseal_keys.get(("aes", PASSWORD, enc_salt)) is not None
    assert unseal(sealed, PASSWORD) == {"a": 1}  # answered with the remembered keys
    # The derived key is what PBKDF2-HMAC-SHA1 over the salt text gives.
    salt = fields(sealed)[2]
    assert _derive_key(PASSWORD, salt) == hashlib.pbkdf2_hmac("sha1", PASSWORD.encode(), salt.encode(), 1, 32)


# --- properties ------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)


@given(json_values)
@settings(max_examples=200, deadline=None)
def test_round_trip_over_arbitrary_json(value: Any) -> None:
    # Numbers compare as JavaScript sees them: an integral float such as 6.083747207389025e16 is written as the
    # integer 60837472073890250 (as JSON.stringify does) and Python reads that back as an int.
    assert as_js(unseal(seal(value, PASSWORD), PASSWORD)) == as_js(value)
    assert as_js(json.loads(_js_stringify(value))) == as_js(value)


def as_js(value: Any) -> Any:
    """``value`` with every number as a float, the only number type JavaScript has."""
    if isinstance(value, dict):
        return {k: as_js(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_js(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


seal_alphabet = st.sampled_from("Fe26.*~0123456789abcdefABCDEF-_=+/ \x00é\ud800")


@given(st.text() | st.text(alphabet=seal_alphabet))
@settings(max_examples=300, deadline=None)
def test_unseal_of_arbitrary_text_only_raises_seal_error(text: str) -> None:
    with pytest.raises(SealError):
        unseal(text, PASSWORD)


@given(
    st.lists(st.text(alphabet=seal_alphabet, max_size=70), min_size=8, max_size=8), st.sampled_from(["", "~2", "~1"])
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_unseal_of_seal_shaped_text_only_raises_seal_error(parts: list[str], suffix: str) -> None:
    parts[0] = "Fe26.2"
    parts[1] = "1"
    with pytest.raises(SealError):
        unseal("*".join(parts) + suffix, PASSWORD)


@given(st.binary(max_size=200))
@settings(max_examples=200, deadline=None)
def test_authentic_arbitrary_plaintext_opens_or_raises_seal_error(plaintext: bytes) -> None:
    code = "opened"
    try:
        unseal(forge(plaintext), PASSWORD)
    except SealError as error:
        code = error.code
    assert code in {"opened", "invalid_seal"}
