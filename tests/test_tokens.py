"""Access-token verification, unverified decoding, claim mapping and the refresh rule (authkit_core.tokens)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws, jwt
from joserfc.jwk import KeySet, RSAKey

from authkit_core.errors import TokenError
from authkit_core.models import Impersonator, Session, User
from authkit_core.tokens import (
    MAX_TOKEN_LENGTH,
    decode_token_header,
    get_token_claims,
    is_expired,
    needs_refresh,
    parse_token,
    refresh_buffer,
    token_kid,
    user_info_from_session,
    verify_access_token,
)

NOW = 1_700_000_000
LEEWAY = 30
_PUBLIC_JWK = RSAKey.generate_key(2048, parameters={"kid": "k1"}).as_dict(private=False)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


@pytest.fixture(scope="module")
def other_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


@pytest.fixture(scope="module")
def key_set(signing_key: RSAKey) -> KeySet:
    return KeySet([RSAKey.import_key(signing_key.as_dict(private=False))])


def claims(**overrides: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "iss": "https://api.workos.com/user_management/client_1",
        "sub": "user_1",
        "sid": "session_1",
        "org_id": "org_1",
        "role": "admin",
        "roles": ["admin", "member"],
        "permissions": ["posts:read", "posts:write"],
        "entitlements": ["audit-logs"],
        "feature_flags": ["beta"],
        "iat": NOW,
        "exp": NOW + 300,
        "jti": "jti_1",
    }
    for name, value in overrides.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def sign(key: RSAKey, payload: dict[str, Any], **header: Any) -> str:
    return jwt.encode({"alg": "RS256", "kid": "k1", **header}, payload, key)


def verify(token: str, key_set: KeySet, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("leeway", LEEWAY)
    kwargs.setdefault("now", NOW)
    return verify_access_token(token, key_set, **kwargs)


def assert_code(token: str, key_set: KeySet, code: str, **kwargs: Any) -> TokenError:
    with pytest.raises(TokenError) as info:
        verify(token, key_set, **kwargs)
    assert info.value.code == code
    # the token (or any of its parts) never appears in the message
    for part in token.split("."):
        if len(part) > 8:
            assert part not in str(info.value)
    return info.value


# ---------------------------------------------------------------------------------------------- verification


def test_valid_token_returns_its_claims(signing_key: RSAKey, key_set: KeySet) -> None:
    token = sign(signing_key, claims())
    assert verify(token, key_set) == claims()


def test_parsed_token_can_be_verified(signing_key: RSAKey, key_set: KeySet) -> None:
    parsed = parse_token(sign(signing_key, claims()))
    assert parsed.kid == "k1"
    assert parse_token(parsed) is parsed
    assert verify_access_token(parsed, key_set, leeway=0, now=NOW)["sub"] == "user_1"


def test_alg_none_is_refused(key_set: KeySet) -> None:
    token = f"{b64json({'alg': 'none', 'kid': 'k1'})}.{b64json(claims())}."
    assert_code(token, key_set, "unsupported_algorithm")


def test_hs256_signed_with_the_public_key_is_refused(signing_key: RSAKey, key_set: KeySet) -> None:
    # the classic confusion attack: HMAC keyed with the RSA public key's PEM
    pem = signing_key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64json({'alg': 'HS256', 'kid': 'k1'})}.{b64json(claims())}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    assert_code(f"{signing_input}.{b64(mac)}", key_set, "unsupported_algorithm")


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "ES256", "HS512", "EdDSA", "rs256", "", None, 256])
def test_any_other_alg_is_refused_even_with_a_valid_rs256_signature(
    signing_key: RSAKey, key_set: KeySet, alg: Any
) -> None:
    valid = sign(signing_key, claims())
    _, payload, signature = valid.split(".")
    assert_code(f"{b64json({'alg': alg, 'kid': 'k1'})}.{payload}.{signature}", key_set, "unsupported_algorithm")


def test_signature_from_another_key_with_the_same_kid(other_key: RSAKey, key_set: KeySet) -> None:
    assert_code(sign(other_key, claims()), key_set, "invalid_signature")


def test_tampered_payload(signing_key: RSAKey, key_set: KeySet) -> None:
    header, _, signature = sign(signing_key, claims()).split(".")
    forged = f"{header}.{b64json(claims(sub='user_admin'))}.{signature}"
    assert_code(forged, key_set, "invalid_signature")


def test_truncated_signature(signing_key: RSAKey, key_set: KeySet) -> None:
    token = sign(signing_key, claims())
    assert_code(token[:-8], key_set, "invalid_signature")


def test_unknown_kid(signing_key: RSAKey, key_set: KeySet) -> None:
    assert_code(sign(signing_key, claims(), kid="k2"), key_set, "unknown_key")


def test_missing_kid_uses_the_only_key_but_not_one_of_several(
    signing_key: RSAKey, other_key: RSAKey, key_set: KeySet
) -> None:
    token = jwt.encode({"alg": "RS256"}, claims(), signing_key)
    assert verify(token, key_set)["sub"] == "user_1"
    two = KeySet([*key_set, RSAKey.import_key({**other_key.as_dict(private=False), "kid": "k9"})])
    assert_code(token, two, "unknown_key")


def test_key_for_another_use_is_not_used(signing_key: RSAKey) -> None:
    enc_only = KeySet([RSAKey.import_key({**signing_key.as_dict(private=False), "use": "enc"})])
    assert_code(sign(signing_key, claims()), enc_only, "unknown_key")


def test_crit_header_is_refused(signing_key: RSAKey, key_set: KeySet) -> None:
    # joserfc refuses to sign an unknown crit header, so build the JWS by hand with the RSA key
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = f"{b64json({'alg': 'RS256', 'kid': 'k1', 'crit': ['exp2'], 'exp2': 1})}.{b64json(claims())}"
    private = signing_key.private_key
    assert private is not None
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert_code(f"{signing_input}.{b64(signature)}", key_set, "invalid_token")


@pytest.mark.parametrize(
    ("exp_offset", "expired"),
    [(-LEEWAY - 1, True), (-LEEWAY, True), (-LEEWAY + 1, False), (0, False), (300, False)],
)
def test_expiry_and_leeway_boundaries(signing_key: RSAKey, key_set: KeySet, exp_offset: int, expired: bool) -> None:
    token = sign(signing_key, claims(iat=NOW - 600, exp=NOW + exp_offset))
    if expired:
        assert_code(token, key_set, "token_expired")
    else:
        assert verify(token, key_set)["exp"] == NOW + exp_offset


def test_zero_leeway_expires_at_exp(signing_key: RSAKey, key_set: KeySet) -> None:
    token = sign(signing_key, claims(iat=NOW - 600, exp=NOW))
    assert_code(token, key_set, "token_expired", leeway=0)
    assert verify(token, key_set, leeway=0, now=NOW - 1)["exp"] == NOW


@pytest.mark.parametrize("exp", [None, "9999999999", True, [NOW + 300], pytest.param(10**400, id="huge-int")])
def test_missing_or_non_numeric_exp(signing_key: RSAKey, key_set: KeySet, exp: Any) -> None:
    payload = claims()
    if exp is None:
        del payload["exp"]
    else:
        payload["exp"] = exp
    assert_code(sign(signing_key, payload), key_set, "invalid_token")


@pytest.mark.parametrize("claim", ["iat", "nbf"])
@pytest.mark.parametrize(("offset", "ok"), [(LEEWAY + 1, False), (LEEWAY, True), (0, True), (-100, True)])
def test_iat_and_nbf_not_in_the_future(signing_key: RSAKey, key_set: KeySet, claim: str, offset: int, ok: bool) -> None:
    token = sign(signing_key, claims(**{claim: NOW + offset}, exp=NOW + 600))
    if ok:
        assert verify(token, key_set)[claim] == NOW + offset
    else:
        assert_code(token, key_set, "token_not_yet_valid")


@pytest.mark.parametrize("nbf", ["soon", pytest.param(10**400, id="huge-int")])
def test_non_numeric_nbf(signing_key: RSAKey, key_set: KeySet, nbf: Any) -> None:
    assert_code(sign(signing_key, claims(nbf=nbf)), key_set, "invalid_token")


def test_signature_is_checked_before_expiry(other_key: RSAKey, key_set: KeySet) -> None:
    # a forged expired token must not be reported as merely expired
    assert_code(sign(other_key, claims(exp=NOW - 3600)), key_set, "invalid_signature")


def test_issuer(signing_key: RSAKey, key_set: KeySet) -> None:
    token = sign(signing_key, claims())
    expected = claims()["iss"]
    assert verify(token, key_set, issuer=expected)["iss"] == expected
    assert verify(token, key_set, issuer=None)["iss"] == expected
    assert_code(token, key_set, "invalid_issuer", issuer="https://evil.example")
    assert_code(sign(signing_key, claims(iss=None)), key_set, "invalid_issuer", issuer=expected)


def test_default_now_is_the_wall_clock(signing_key: RSAKey, key_set: KeySet) -> None:
    # NOW is in 2023, so with the real clock this token is long expired
    with pytest.raises(TokenError) as info:
        verify_access_token(sign(signing_key, claims()), key_set, leeway=LEEWAY)
    assert info.value.code == "token_expired"


# ------------------------------------------------------------------------------------------ garbage in

NOT_UTF8 = b"\xff\xfe"
GARBAGE = [
    "",
    "abc",
    "a.b",
    "a.b.c.d",
    "...",
    "!!.??.**",
    "é.é.é",
    f"{b64(b'not json')}.{b64json({})}.",
    f"{b64json([1, 2])}.{b64json({})}.",
    f"{b64json('alg')}.{b64json({})}.",
    f"{b64(NOT_UTF8)}.{b64json({})}.",
    f"{b64(b'[' * 5000 + b']' * 5000)}.{b64json({})}.",
    f"{b64json({'alg': 'RS256'})}.a.",
    f"{b64json({'alg': 'RS256'})}+.{b64json({})}.",
    "x" * (MAX_TOKEN_LENGTH + 1),
]


@pytest.mark.parametrize("token", GARBAGE)
def test_garbage_is_a_token_error(key_set: KeySet, token: str) -> None:
    with pytest.raises(TokenError):
        verify(token, key_set)
    with pytest.raises(TokenError) as info:
        get_token_claims(token)
    assert info.value.code == "invalid_token"


@pytest.mark.parametrize("payload", [b"not json", b"[1]", b'"x"', b"\xff"])
def test_signed_garbage_payload(signing_key: RSAKey, key_set: KeySet, payload: bytes) -> None:
    from joserfc import jws

    token = jws.serialize_compact({"alg": "RS256", "kid": "k1"}, payload, signing_key)
    assert_code(token, key_set, "invalid_token")
    with pytest.raises(TokenError):
        get_token_claims(token)


def test_non_string_token(key_set: KeySet) -> None:
    with pytest.raises(TokenError):
        verify_access_token(b"a.b.c", key_set, leeway=0)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_strings_only_raise_token_error(text: str) -> None:
    key_set = KeySet([RSAKey.import_key(_PUBLIC_JWK)])
    with pytest.raises(TokenError):
        verify_access_token(text, key_set, leeway=LEEWAY, now=NOW)


_segment = st.one_of(
    st.binary(max_size=64).map(b64),
    st.dictionaries(st.text(max_size=5), st.one_of(st.none(), st.integers(), st.text(max_size=8)), max_size=4).map(
        b64json
    ),
    st.sampled_from([b64json({"alg": "RS256", "kid": "k1"}), b64json({"alg": "none"}), ""]),
)


@settings(max_examples=300, deadline=None)
@given(_segment, _segment, _segment)
def test_structured_garbage_only_raises_token_error(header: str, payload: str, signature: str) -> None:
    key_set = KeySet([RSAKey.import_key(_PUBLIC_JWK)])
    token = f"{header}.{payload}.{signature}"
    with pytest.raises(TokenError):
        verify_access_token(token, key_set, leeway=LEEWAY, now=NOW)
    with contextlib.suppress(TokenError):
        assert isinstance(get_token_claims(token), dict)


# --------------------------------------------------------------------------------- unverified decoding


def test_unverified_decoding(other_key: RSAKey) -> None:
    token = sign(other_key, claims(), kid="key_abc")
    assert get_token_claims(token) == claims()
    assert decode_token_header(token) == {"alg": "RS256", "kid": "key_abc", "typ": "JWT"}
    assert token_kid(token) == "key_abc"
    assert token_kid(jwt.encode({"alg": "RS256"}, claims(), other_key)) is None
    assert token_kid(f"{b64json({'alg': 'RS256', 'kid': 7})}.{b64json({})}.") is None
    with pytest.raises(TokenError):
        token_kid("nope")
    with pytest.raises(TokenError):
        decode_token_header("nope")


# -------------------------------------------------------------------------------------- claim mapping


def make_session(user_id: str = "user_1", impersonator: Impersonator | None = None) -> Session:
    return Session(
        access_token="at",
        refresh_token="rt",
        user=User(id=user_id, email="alice@example.com"),
        impersonator=impersonator,
    )


def test_user_info_maps_claims() -> None:
    session = make_session()
    info = user_info_from_session(session, claims())
    assert info.user is session.user
    assert info.access_token == "at"
    assert info.session_id == "session_1"
    assert info.organization_id == "org_1"
    assert info.role == "admin"
    assert info.roles == ("admin", "member")
    assert info.permissions == ("posts:read", "posts:write")
    assert info.entitlements == ("audit-logs",)
    assert info.feature_flags == ("beta",)
    assert info.impersonator is None
    assert info.is_signed_in is True


def test_user_info_absent_claims_are_none() -> None:
    bare = {"sub": "user_1", "sid": "session_1", "exp": NOW}
    info = user_info_from_session(make_session(), bare)
    assert (info.organization_id, info.role, info.roles, info.permissions) == (None, None, None, None)
    assert (info.entitlements, info.feature_flags) == (None, None)


def test_user_info_ignores_ill_typed_claims() -> None:
    odd = claims(org_id=5, role=["admin"], permissions="posts:read", roles=["admin", 3, None])
    info = user_info_from_session(make_session(), odd)
    assert info.organization_id is None
    assert info.role is None
    assert info.permissions is None
    assert info.roles == ("admin",)


def test_user_info_subject_mismatch() -> None:
    with pytest.raises(TokenError) as info:
        user_info_from_session(make_session("user_2"), claims())
    assert info.value.code == "subject_mismatch"
    with pytest.raises(TokenError) as info:
        user_info_from_session(make_session(), claims(sub=None))
    assert info.value.code == "subject_mismatch"


def test_user_info_needs_sid() -> None:
    with pytest.raises(TokenError) as info:
        user_info_from_session(make_session(), claims(sid=None))
    assert info.value.code == "invalid_token"


def test_user_info_impersonator() -> None:
    stored = Impersonator(email="admin@example.com", reason="support")
    assert user_info_from_session(make_session(impersonator=stored), claims()).impersonator == stored
    from_act = user_info_from_session(make_session(), claims(act={"sub": "root@example.com"}))
    assert from_act.impersonator == Impersonator(email="root@example.com")
    # the stored one (with its reason) wins over the token's act
    both = user_info_from_session(make_session(impersonator=stored), claims(act={"sub": "root@example.com"}))
    assert both.impersonator == stored


# ------------------------------------------------------------------------------------- refresh decision


@pytest.mark.parametrize(
    ("lifetime", "configured", "expected"),
    [
        (300, None, 30),
        (299, None, 30),
        (301, None, 60),
        (3600, None, 60),
        (300, 0, 0),
        (3600, 0, 0),
        (300, 120, 120),
        (3600, 5, 5),
    ],
)
def test_refresh_buffer(lifetime: int, configured: int | None, expected: int) -> None:
    assert refresh_buffer({"iat": NOW, "exp": NOW + lifetime}, configured) == expected


def test_refresh_buffer_without_iat_is_the_default() -> None:
    assert refresh_buffer({"exp": NOW + 100}, None) == 60
    assert refresh_buffer({}, None) == 60


@pytest.mark.parametrize(
    ("exp_offset", "buffer", "expected"),
    [(61, 60, False), (60, 60, False), (59, 60, True), (0, 60, True), (-10, 60, True), (30, 30, False),
     (29, 30, True), (-100, 0, False), (5, 0, False)],
)  # fmt: skip
def test_needs_refresh_boundaries(exp_offset: int, buffer: int, expected: bool) -> None:
    assert needs_refresh({"exp": NOW + exp_offset}, now=NOW, buffer=buffer) is expected


def test_needs_refresh_without_exp() -> None:
    assert needs_refresh({}, now=NOW, buffer=60) is True
    assert needs_refresh({"exp": "later"}, now=NOW, buffer=60) is True
    assert needs_refresh({}, now=NOW, buffer=0) is False


@pytest.mark.parametrize(
    ("exp_offset", "leeway", "expected"),
    [(1, 0, False), (0, 0, True), (-1, 0, True), (-29, 30, False), (-30, 30, True)],
)
def test_is_expired_boundaries(exp_offset: int, leeway: int, expected: bool) -> None:
    assert is_expired({"exp": NOW + exp_offset}, now=NOW, leeway=leeway) is expected


def test_is_expired_without_exp() -> None:
    assert is_expired({}, now=NOW) is True
    assert is_expired({"exp": True}, now=NOW) is True
    assert is_expired({"exp": float("nan")}, now=NOW) is True


def sign_raw(key: RSAKey, payload_json: str) -> str:
    """A token whose payload is exactly ``payload_json`` (JSON numbers such as ``1e400`` that no encoder writes)."""
    return jws.serialize_compact({"alg": "RS256", "kid": "k1"}, payload_json.encode(), key)


@pytest.mark.parametrize(
    ("time_claims", "bad_exp"),
    [
        ('"exp": 1e400', True),  # parses as infinity: it would never expire
        ('"exp": -1e400', True),
        ('"exp": 1e300', True),  # finite, but not a time any token could carry
        ('"exp": 253402300800', True),  # the first second of year 10000
        (f'"exp": {NOW + 600}, "nbf": 1e400', False),
        (f'"exp": {NOW + 600}, "iat": -1e400', False),
        (f'"exp": {NOW + 600}, "iat": -5', False),
    ],
)
def test_time_claims_must_be_finite_and_plausible(
    signing_key: RSAKey, key_set: KeySet, time_claims: str, bad_exp: bool
) -> None:
    token = sign_raw(signing_key, '{"sub": "user_1", "sid": "session_1", ' + time_claims + "}")
    assert_code(token, key_set, "invalid_token")
    payload = get_token_claims(token)
    # an unusable exp never counts as "still valid" anywhere (expiry checks, proactive refresh)
    assert is_expired(payload, now=NOW) is bad_exp
    assert needs_refresh(payload, now=NOW, buffer=60) is bad_exp
