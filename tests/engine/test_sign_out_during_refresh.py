"""Sign-out and revocation while a refresh grant is in flight, through the engine, for every server-side store.

The engine's HTTP client goes through :class:`HeldTransport`: every request reaches the emulator over real HTTP,
but the answer to a refresh grant (already processed: the token is rotated) is held back until the test releases
it. Meanwhile the user signs out (a request served by another engine on the same store, as another worker would)
or ``revoke_user_sessions`` ends every session of the user. When the grant's answer arrives, the refreshing
request must end signed out (``session_not_found``, its cookie expired), and a copy of the cookie taken before
must stay signed out: the refresh's save must not bring the session back.

On the code before the fix, the memory store re-created the entry (the copied cookie worked again) and the SQL
store served the refreshing request signed in; an organization switch (a refresh grant too) was served signed in
with either store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest

from authkit_core import AuthKitConfig
from authkit_core.engine import AuthKit, AuthResult
from authkit_core.models import NoUserInfo, UserInfo
from authkit_core.storage.base import SessionStore

from .conftest import apply_cookies, make_store, sign_in
from .held import HeldTransport

SERVER_SIDE = ["memory", "sqlite", "postgres", "mariadb"]
REFRESH = "refresh_token"


@pytest.fixture(params=SERVER_SIDE)
def server_store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[SessionStore]:
    """Each server-side store, fresh."""
    store, cleanup = make_store(str(request.param), tmp_path)
    yield store
    cleanup()


def _end_session(how: str, store: SessionStore, other: AuthKit, jar: dict[str, str], user_id: str) -> None:
    """Sign the user out through another engine on the same store, or revoke every session of the user."""
    if how == "sign_out":
        current = other.authenticate(jar, refresh=False)
        assert current.loaded is not None
        other.sign_out(current, jar)
    else:
        assert store.revoke_user_sessions(user_id) == 1  # type: ignore[attr-defined]


async def _aend_session(how: str, store: SessionStore, other: AuthKit, jar: dict[str, str], user_id: str) -> None:
    if how == "sign_out":
        current = await other.authenticate_async(jar, refresh=False)
        assert current.loaded is not None
        await other.sign_out_async(current, jar)
    else:
        assert await store.arevoke_user_sessions(user_id) == 1  # type: ignore[attr-defined]


def _assert_refresh_ended_signed_out(result: AuthResult, config: AuthKitConfig) -> None:
    assert isinstance(result.user_info, NoUserInfo), "the refreshing request was served signed in"
    assert result.loaded is None
    assert result.error is not None and result.error.code == "session_not_found"
    assert not result.error.is_transient
    assert result.reason == "session_not_found"
    written = [c for c in result.cookies if c.name == config.cookie_name]
    assert written and all(c.is_deletion for c in written)


def _setup(
    config: AuthKitConfig, store: SessionStore, workos_emulator: Any, trigger: str
) -> tuple[HeldTransport, AuthKit, AuthKit, dict[str, str], str]:
    held = HeldTransport()
    kit = AuthKit(config, store=store, http=httpx.Client(transport=held), async_http=httpx.AsyncClient(transport=held))
    other = AuthKit(config, store=store)
    if trigger == "expiring":
        workos_emulator.access_token_ttl = 20  # inside the refresh buffer: the next request refreshes
    signed, jar = sign_in(kit)
    workos_emulator.access_token_ttl = 300
    assert isinstance(signed.user_info, UserInfo)
    return held, kit, other, jar, signed.user_info.user.id


@pytest.mark.parametrize("how", ["sign_out", "revoke"])
@pytest.mark.parametrize("trigger", ["expiring", "explicit"])
def test_session_ended_during_a_refresh_stays_ended_sync(
    config: AuthKitConfig, server_store: SessionStore, workos_emulator: Any, how: str, trigger: str
) -> None:
    held, kit, other, jar, user_id = _setup(config, server_store, workos_emulator, trigger)
    out: list[AuthResult] = []
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            if trigger == "expiring":
                out.append(kit.authenticate(jar))
            else:
                out.append(kit.refresh(kit.authenticate(jar), jar))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=refresh)
    thread.start()
    try:
        assert held.arrived.wait(15), "no refresh grant was sent"
        _end_session(how, server_store, other, jar, user_id)
    finally:
        held.release.set()
        thread.join(30)
    assert not errors, errors
    assert workos_emulator.grant_count(REFRESH) == 1  # WorkOS did rotate the token
    for cookies in (jar, apply_cookies(jar, out[0].cookies)):  # a copy taken before, and the refreshing browser
        again = kit.authenticate(cookies)
        assert isinstance(again.user_info, NoUserInfo), "the ended session came back"
        assert again.loaded is None
    _assert_refresh_ended_signed_out(out[0], config)
    assert workos_emulator.grant_count(REFRESH) == 1
    kit.close()
    other.close()


@pytest.mark.parametrize("how", ["sign_out", "revoke"])
@pytest.mark.parametrize("trigger", ["expiring", "explicit"])
def test_session_ended_during_a_refresh_stays_ended_async(
    config: AuthKitConfig, server_store: SessionStore, workos_emulator: Any, how: str, trigger: str
) -> None:
    held, kit, other, jar, user_id = _setup(config, server_store, workos_emulator, trigger)

    async def main() -> AuthResult:
        out: list[AuthResult] = []

        async def refresh() -> None:
            if trigger == "expiring":
                out.append(await kit.authenticate_async(jar))
            else:
                out.append(await kit.refresh_async(await kit.authenticate_async(jar), jar))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(refresh)
            assert await anyio.to_thread.run_sync(held.arrived.wait, 15), "no refresh grant was sent"
            try:
                await _aend_session(how, server_store, other, jar, user_id)
            finally:
                held.release.set()
        await kit.aclose()
        await other.aclose()
        return out[0]

    result = anyio.run(main)
    assert workos_emulator.grant_count(REFRESH) == 1
    for cookies in (jar, apply_cookies(jar, result.cookies)):
        again = other.authenticate(cookies)
        assert isinstance(again.user_info, NoUserInfo), "the ended session came back"
        assert again.loaded is None
    _assert_refresh_ended_signed_out(result, config)
    assert workos_emulator.grant_count(REFRESH) == 1
    kit.close()
    other.close()


def test_the_held_transport_holds_only_refresh_grants(config: AuthKitConfig, workos_emulator: Any) -> None:
    """The harness itself: sign-in is not held, a refresh grant is (after the emulator processed it), release
    lets it through, and then the refresh succeeds as usual."""
    store, cleanup = make_store("memory", None)
    held = HeldTransport()
    kit = AuthKit(config, store=store, http=httpx.Client(transport=held))
    _, jar = sign_in(kit)
    assert not held.arrived.is_set()
    out: list[AuthResult] = []
    runner = threading.Thread(target=lambda: out.append(kit.refresh(kit.authenticate(jar), jar)))
    runner.start()
    assert held.arrived.wait(15)
    assert runner.is_alive() and workos_emulator.grant_count(REFRESH) == 1
    held.release.set()
    runner.join(30)
    assert out and out[0].refreshed and isinstance(out[0].user_info, UserInfo)
    kit.close()
    cleanup()


@pytest.mark.parametrize("how", ["sign_out", "revoke"])
def test_session_ended_during_an_organization_switch_stays_ended(
    config: AuthKitConfig, server_store: SessionStore, workos_emulator: Any, how: str
) -> None:
    """An organization switch is a refresh grant too: ended meanwhile, the switching request ends signed out."""
    held, kit, other, jar, user_id = _setup(config, server_store, workos_emulator, "explicit")
    out: list[AuthResult] = []
    thread = threading.Thread(
        target=lambda: out.append(kit.refresh(kit.authenticate(jar), jar, organization_id="org_globex"))
    )
    thread.start()
    try:
        assert held.arrived.wait(15), "no refresh grant was sent"
        _end_session(how, server_store, other, jar, user_id)
    finally:
        held.release.set()
        thread.join(30)
    again = kit.authenticate(jar)
    assert isinstance(again.user_info, NoUserInfo), "the ended session came back"
    _assert_refresh_ended_signed_out(out[0], config)
    kit.close()
    other.close()
