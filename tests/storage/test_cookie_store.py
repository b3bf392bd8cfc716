"""``CookieSessionStore``: sealing into ``wos-session``, chunking of large sessions, and bad cookies.

Sessions are built directly with fake (unsigned) tokens: the store only seals and unseals them. One test goes
through ``AuthKit`` and the emulator with a user whose role has hundreds of permissions.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest

from authkit_core import AuthKitConfig, SessionError, UserInfo
from authkit_core.cookies import apply_set_cookies
from authkit_core.engine import AuthKit
from authkit_core.models import Session, User
from authkit_core.storage.cookie import BROWSER_COOKIE_LIMIT, MAX_CHUNKS, CookieSessionStore

CONFIG = AuthKitConfig(
    client_id="client_test",
    api_key="sk_test_key",
    redirect_uri="http://localhost:8000/callback",
    cookie_password="correct-horse-battery-staple-0123456789",
)
NAME = CONFIG.cookie_name


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_session(permissions: int = 0, metadata_bytes: int = 0) -> Session:
    """A session whose access token carries ``permissions`` permissions and whose user has about
    ``metadata_bytes`` of (incompressible) metadata."""
    claims = {
        "sub": "user_01",
        "sid": "session_01",
        "exp": 2_000_000_000,
        "permissions": [f"resource-{i:04d}:read-write" for i in range(permissions)],
    }
    token = ".".join(
        [_b64(json.dumps({"alg": "RS256", "kid": "k1"}).encode()), _b64(json.dumps(claims).encode()), _b64(b"sig")]
    )
    metadata = {"blob": secrets.token_hex(metadata_bytes // 2)} if metadata_bytes else {}
    user = User(id="user_01", email="user_01@example.com", metadata=metadata)
    return Session(access_token=token, refresh_token=f"rt_{secrets.token_urlsafe(24)}", user=user)


def bound(**kwargs: Any) -> CookieSessionStore:
    """A store bound to the test configuration."""
    store = CookieSessionStore(**kwargs)
    store.bind(CONFIG)
    return store


browser = apply_set_cookies


def chunk_names(count: int) -> list[str]:
    """``wos-session.0`` ... ``wos-session.<count-1>``."""
    return [f"{NAME}.{i}" for i in range(count)]


def test_small_session_is_one_cookie_and_round_trips() -> None:
    store = bound()
    session = make_session(permissions=5)
    loaded, cookies = store.create(session)
    assert [c.name for c in cookies] == [NAME]
    assert len(cookies[0].header_value().encode()) <= BROWSER_COOKIE_LIMIT
    result = store.load(browser({}, cookies))
    assert result.loaded is not None and result.loaded.session == session
    assert result.loaded.key == loaded.key


def test_session_with_hundreds_of_permissions_is_chunked_and_read_back() -> None:
    store = bound()
    session = make_session(permissions=400, metadata_bytes=2000)
    _, cookies = store.create(session)
    names = [c.name for c in cookies]
    assert len(names) >= 2
    assert names == chunk_names(len(names))  # numbered from 0, no plain cookie
    assert all(len(c.header_value().encode()) <= BROWSER_COOKIE_LIMIT for c in cookies)
    assert all("HttpOnly" in c.header_value() and c.max_age == CONFIG.cookie_max_age for c in cookies)
    result = store.load(browser({}, cookies))
    assert result.loaded is not None and result.loaded.session == session
    assert result.cookies == ()


def test_smaller_session_expires_stale_chunks() -> None:
    store = bound()
    big = make_session(permissions=400, metadata_bytes=2000)
    _, cookies = store.create(big)
    jar = browser({}, cookies)
    count = len(cookies)
    small = make_session(permissions=3)
    loaded = store.load(jar).loaded
    assert loaded is not None
    _, update = store.update(loaded, small)
    written = [c.name for c in update if not c.is_deletion]
    expired = sorted(c.name for c in update if c.is_deletion)
    assert written == [NAME]
    assert expired == chunk_names(count)
    jar = browser(jar, update)
    assert set(jar) == {NAME}
    again = store.load(jar).loaded
    assert again is not None and again.session == small


def test_fewer_chunks_expire_the_extra_ones() -> None:
    store = bound()
    _, cookies = store.create(make_session(permissions=600, metadata_bytes=4000))
    jar = browser({}, cookies)
    before = len(cookies)
    loaded = store.load(jar).loaded
    assert loaded is not None
    medium = make_session(permissions=200)
    _, update = store.update(loaded, medium)
    after = [c.name for c in update if not c.is_deletion]
    assert 2 <= len(after) < before
    assert sorted(c.name for c in update if c.is_deletion) == chunk_names(before)[len(after) :]
    jar = browser(jar, update)
    assert sorted(jar) == chunk_names(len(after))
    reread = store.load(jar).loaded
    assert reread is not None and reread.session == medium


def test_growing_into_chunks_expires_the_plain_cookie() -> None:
    """Otherwise the stale plain cookie, which is read first, would keep serving the old session."""
    store = bound()
    loaded, cookies = store.create(make_session(permissions=3))
    jar = browser({}, cookies)
    big = make_session(permissions=400, metadata_bytes=2000)
    _, update = store.update(loaded, big)
    assert [c.name for c in update if c.is_deletion] == [NAME]
    jar = browser(jar, update)
    assert NAME not in jar
    reread = store.load(jar).loaded
    assert reread is not None and reread.session == big


def test_chunking_off_refuses_a_large_session() -> None:
    store = bound(chunking=False)
    with pytest.raises(SessionError) as caught:
        store.create(make_session(permissions=400, metadata_bytes=2000))
    assert caught.value.code == "cookie_too_large"
    loaded, _ = store.create(make_session(permissions=3))
    with pytest.raises(SessionError) as on_update:
        store.update(loaded, make_session(permissions=400, metadata_bytes=2000))
    assert on_update.value.code == "cookie_too_large"


def test_more_than_max_chunks_is_refused() -> None:
    store = bound()
    with pytest.raises(SessionError) as caught:
        store.create(make_session(metadata_bytes=BROWSER_COOKIE_LIMIT * (MAX_CHUNKS + 1)))
    assert caught.value.code == "cookie_too_large"


def test_smaller_max_cookie_size_is_respected() -> None:
    store = bound(max_cookie_size=1500)
    _, cookies = store.create(make_session(permissions=60))
    assert len(cookies) >= 2
    assert all(len(c.header_value().encode()) <= 1500 for c in cookies)


@pytest.mark.parametrize("damage", ["reordered", "missing_middle", "missing_last", "truncated_first"])
def test_damaged_chunks_are_signed_out_not_an_exception(damage: str) -> None:
    store = bound()
    _, cookies = store.create(make_session(permissions=600, metadata_bytes=4000))
    assert len(cookies) >= 3
    jar = browser({}, cookies)
    if damage == "reordered":
        jar[f"{NAME}.0"], jar[f"{NAME}.1"] = jar[f"{NAME}.1"], jar[f"{NAME}.0"]
    elif damage == "missing_middle":
        del jar[f"{NAME}.1"]
    elif damage == "missing_last":
        del jar[f"{NAME}.{len(cookies) - 1}"]
    else:
        jar[f"{NAME}.0"] = jar[f"{NAME}.0"][:-10]
    result = store.load(jar)
    assert result.loaded is None
    assert result.reason is not None
    assert all(c.is_deletion for c in result.cookies)
    assert {c.name for c in result.cookies} == set(jar)  # every chunk the browser sent is expired


def test_delete_expires_every_chunk_present() -> None:
    store = bound()
    _, cookies = store.create(make_session(permissions=400, metadata_bytes=2000))
    jar = browser({}, cookies)
    loaded = store.load(jar).loaded
    cleared = store.delete(loaded, jar)
    assert all(c.is_deletion for c in cleared)
    assert {c.name for c in cleared} == set(jar) | {NAME}
    assert browser(jar, cleared) == {}


def test_garbage_and_foreign_cookies() -> None:
    store = bound()
    result = store.load({NAME: "garbage"})
    assert result.loaded is None and result.reason == "invalid_seal"
    assert [(c.name, c.is_deletion) for c in result.cookies] == [(NAME, True)]
    assert store.load({"other": "x", f"{NAME}.x": "y"}).loaded is None


def test_reload_is_the_request_session_and_the_lease_is_local() -> None:
    store = bound()
    loaded, _ = store.create(make_session())
    assert store.shared is False
    assert store.reload(loaded) is loaded
    assert store.acquire_lease(loaded, "a", 5) and store.acquire_lease(loaded, "b", 5)


def test_engine_signs_in_a_user_with_hundreds_of_permissions(workos_emulator: Any) -> None:
    from engine.conftest import sign_in

    permissions = [f"documents-{i:03d}:manage" for i in range(300)]
    workos_emulator.set_role_permissions("admin", permissions)
    kit = AuthKit(workos_emulator.config(), store=CookieSessionStore())
    signed_in, jar = sign_in(kit)
    written = [c for c in signed_in.cookies if not c.is_deletion]
    assert [c.name for c in written] == chunk_names(len(written)) and len(written) >= 2
    assert all(len(c.header_value().encode()) <= BROWSER_COOKIE_LIMIT for c in written)
    result = kit.authenticate(jar)
    assert isinstance(result.user_info, UserInfo)
    assert list(result.user_info.permissions or ()) == permissions
    kit.close()


ODD_NAMES = [
    f"{NAME}.¹",  # a superscript one: str.isdigit() says yes
    f"{NAME}.²³",
    f"{NAME}.٣",  # ARABIC-INDIC DIGIT THREE
    f"{NAME}.\uff11",  # FULLWIDTH DIGIT ONE
    f"{NAME}.01",  # a leading zero: we never write it
    f"{NAME}.00",
    f"{NAME}.+1",
    f"{NAME}.-1",
    f"{NAME}.1_0",
    f"{NAME}.{MAX_CHUNKS}",  # beyond the chunk limit
    f"{NAME}.999999999999999999999",
    f"{NAME}.",
    f"{NAME}..0",
    f"{NAME}x.0",
]


def test_only_ascii_chunk_indexes_below_the_limit_are_ours() -> None:
    from authkit_core.storage.cookie import chunk_names

    assert chunk_names(NAME) == (NAME, *(f"{NAME}.{i}" for i in range(MAX_CHUNKS)))
    store = bound()
    odd = dict.fromkeys(ODD_NAMES, "x")
    cleared = store.delete(None, {**odd, f"{NAME}.3": "y"})
    assert sorted(c.name for c in cleared) == sorted([NAME, f"{NAME}.3"])
    for cookie in cleared:
        cookie.header_value()  # every name we write is a legal cookie name
    assert [c.name for c in store.delete(None, odd)] == [NAME]


def test_odd_names_beside_a_session_are_never_read_nor_expired() -> None:
    store = bound()
    session = make_session()
    _, cookies = store.create(session)
    request = {**browser({}, cookies), **dict.fromkeys(ODD_NAMES, "junk")}
    loaded = store.load(request).loaded
    assert loaded is not None and loaded.session == session
    _, written = store.update(loaded, make_session())  # a refresh: expires only chunks of ours it no longer needs
    assert {c.name for c in written} == {NAME}
    for cookie in [*written, *store.delete(loaded, request)]:
        cookie.header_value()
    assert {c.name for c in store.delete(loaded, request)} == {NAME}
    garbage = store.load({NAME: "garbage", **dict.fromkeys(ODD_NAMES, "junk")})
    assert [c.name for c in garbage.cookies] == [NAME]


def test_five_hundred_junk_chunks_expire_at_most_the_chunk_limit() -> None:
    store = bound()
    junk = {f"{NAME}.{i}": "junk" for i in range(500)}
    cleared = store.delete(None, junk)
    assert sorted(c.name for c in cleared) == sorted([NAME, *chunk_names(MAX_CHUNKS)])
    result = store.load(junk)  # the first MAX_CHUNKS joined do not open
    assert result.loaded is None
    assert len(result.cookies) == MAX_CHUNKS
