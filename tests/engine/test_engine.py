"""The engine's behavioural suite, run against every store through the emulator over real HTTP."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest

from authkit_core import NoUserInfo, TokenRefreshError, UserInfo
from authkit_core.engine import AuthKit
from authkit_core.storage.base import SessionStore

from .conftest import apply_cookies, sign_in

REFRESH = "refresh_token"


def test_no_cookie_is_signed_out_and_writes_nothing(kit: AuthKit) -> None:
    result = kit.authenticate({})
    assert isinstance(result.user_info, NoUserInfo)
    assert result.cookies == []
    assert result.error is None


def test_sign_in_then_requests_are_signed_in_without_refresh(kit: AuthKit, workos_emulator: Any) -> None:
    signed_in, jar = sign_in(kit)
    info = signed_in.user_info
    assert isinstance(info, UserInfo)
    assert info.user.email == "alice@example.com"
    assert info.organization_id == "org_acme"
    assert info.role == "admin"
    assert info.permissions and len(info.permissions) > 0
    cookie = next(c for c in signed_in.cookies if not c.is_deletion)
    assert cookie.name == kit.config.cookie_name
    assert "HttpOnly" in cookie.header_value() and "SameSite=Lax" in cookie.header_value()
    for _ in range(3):
        again = kit.authenticate(jar)
        assert isinstance(again.user_info, UserInfo)
        assert again.user_info.session_id == info.session_id
        assert again.cookies == []
    assert workos_emulator.grant_count(REFRESH) == 0


def test_each_sign_in_gets_a_new_cookie(kit: AuthKit) -> None:
    _, first = sign_in(kit)
    _, second = sign_in(kit)
    assert first[kit.config.cookie_name] != second[kit.config.cookie_name]


def test_expiring_token_is_refreshed_once(kit: AuthKit, workos_emulator: Any, store_kind: str) -> None:
    workos_emulator.access_token_ttl = 20  # inside the 30 s buffer of short-lived tokens
    first, jar = sign_in(kit)
    workos_emulator.access_token_ttl = 300  # the refreshed token lives longer
    result = kit.authenticate(jar)
    assert result.refreshed
    assert isinstance(result.user_info, UserInfo)
    assert result.user_info.session_id == first.user_info.session_id
    assert result.user_info.access_token != first.user_info.access_token
    assert workos_emulator.grant_count(REFRESH) == 1
    if store_kind == "cookie":
        assert any(not c.is_deletion for c in result.cookies)  # the new tokens travel in the cookie
    else:  # server-side: the handle in the cookie does not change (it may be re-sent with a fresh Max-Age)
        from authkit_core.storage.handles import open_handle

        passwords = kit.config.cookie_passwords
        old_handle = open_handle(jar[kit.config.cookie_name], passwords)
        assert all(open_handle(c.value, passwords) == old_handle for c in result.cookies)
    jar = apply_cookies(jar, result.cookies)
    later = kit.authenticate(jar)
    assert isinstance(later.user_info, UserInfo) and not later.refreshed
    assert later.user_info.access_token == result.user_info.access_token


def test_expired_token_is_refreshed(config: Any, store: SessionStore, workos_emulator: Any) -> None:
    offset = [0.0]
    kit = AuthKit(config, store=store, clock=lambda: time.time() + offset[0])
    _, jar = sign_in(kit)
    offset[0] = 400  # the 300 s token is now expired (beyond the leeway)
    result = kit.authenticate(jar)
    assert result.refreshed and isinstance(result.user_info, UserInfo)
    assert workos_emulator.grant_count(REFRESH) == 1


def test_concurrent_threads_refresh_exactly_once(kit: AuthKit, workos_emulator: Any) -> None:
    workos_emulator.access_token_ttl = 20
    _, jar = sign_in(kit)
    workos_emulator.access_token_ttl = 300  # else the refreshed token needs refreshing too
    barrier = threading.Barrier(50)
    results: list[Any] = []
    errors: list[BaseException] = []

    def request() -> None:
        barrier.wait()
        try:
            results.append(kit.authenticate(jar))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 50
    assert all(isinstance(r.user_info, UserInfo) for r in results)
    assert {r.user_info.access_token for r in results} == {results[0].user_info.access_token}
    assert workos_emulator.grant_count(REFRESH) == 1


@pytest.mark.parametrize(
    ("anyio_backend", "tasks"), [("asyncio", 50), ("trio", 50), ("asyncio", 1000)], ids=["asyncio", "trio", "1000"]
)
def test_concurrent_tasks_refresh_exactly_once(
    kit: AuthKit, workos_emulator: Any, anyio_backend: str, tasks: int
) -> None:
    """Concurrent tasks on one session due for refresh, on every store (a storm of 1,000 too): one refresh grant,
    nobody signed out, no cookie deleted, everyone served the refreshed session."""
    workos_emulator.access_token_ttl = 20
    signed_in, jar = sign_in(kit)
    workos_emulator.access_token_ttl = 300  # else the refreshed token needs refreshing too
    results: list[Any] = []

    async def main() -> None:
        async def request() -> None:
            results.append(await kit.authenticate_async(jar))

        async with anyio.create_task_group() as tg:
            for _ in range(tasks):
                tg.start_soon(request)
        await kit.aclose()

    anyio.run(main, backend=anyio_backend)
    assert len(results) == tasks
    assert [(r.reason, r.error) for r in results if not isinstance(r.user_info, UserInfo)] == []
    tokens = {r.user_info.access_token for r in results}
    assert len(tokens) == 1 and tokens != {signed_in.user_info.access_token}
    assert not any(c.is_deletion for r in results for c in r.cookies)
    assert workos_emulator.grant_count(REFRESH) == 1


def test_old_cookie_after_refresh_still_works(kit: AuthKit, workos_emulator: Any) -> None:
    """A request that left the browser before the refreshed cookie arrived must not be signed out."""
    workos_emulator.access_token_ttl = 20
    _, jar = sign_in(kit)
    workos_emulator.access_token_ttl = 300
    first = kit.authenticate(jar)
    late = kit.authenticate(jar)  # the same, pre-refresh cookie
    assert isinstance(first.user_info, UserInfo) and isinstance(late.user_info, UserInfo)
    assert workos_emulator.grant_count(REFRESH) == 1


def test_terminal_refresh_failure_signs_out(config: Any, store: SessionStore, workos_emulator: Any) -> None:
    errors: list[tuple[TokenRefreshError, bool]] = []
    kit = AuthKit(config, store=store, on_session_refresh_error=lambda e, t: errors.append((e, t)))
    workos_emulator.access_token_ttl = 20
    signed_in, jar = sign_in(kit)
    workos_emulator.end_session(signed_in.user_info.session_id)  # revoked at WorkOS: refresh -> invalid_grant
    result = kit.authenticate(jar)
    assert isinstance(result.user_info, NoUserInfo)
    assert isinstance(result.error, TokenRefreshError)
    assert result.error.code == "invalid_grant" and not result.error.is_transient
    assert errors and errors[0][1] is False
    jar = apply_cookies(jar, result.cookies)
    assert kit.config.cookie_name not in jar  # the cookie was expired
    assert isinstance(kit.authenticate(jar).user_info, NoUserInfo)


def test_transient_failure_keeps_session_and_serves_valid_token(kit: AuthKit, workos_emulator: Any) -> None:
    workos_emulator.access_token_ttl = 20
    signed_in, jar = sign_in(kit)
    workos_emulator.inject_fault("/user_management/authenticate", status=503, count=10)
    result = kit.authenticate(jar)
    assert isinstance(result.user_info, UserInfo)  # the current token is still valid for 20 s
    assert result.user_info.access_token == signed_in.user_info.access_token
    assert isinstance(result.error, TokenRefreshError) and result.error.is_transient
    assert all(not c.is_deletion for c in result.cookies)
    workos_emulator.clear_faults()
    held = kit.authenticate(apply_cookies(jar, result.cookies))  # backed off: served at once, no new attempt
    assert not held.refreshed and held.error is not None and held.error.code == "provider_unavailable"
    _pass_backoff(kit)
    recovered = kit.authenticate(apply_cookies(jar, result.cookies))
    assert recovered.refreshed and isinstance(recovered.user_info, UserInfo)


def test_transient_failure_with_expired_token_keeps_cookie(
    config: Any, store: SessionStore, workos_emulator: Any
) -> None:
    offset = [0.0]
    kit = AuthKit(
        config.__class__(**{**_fields(config), "max_retries": 0}), store=store, clock=lambda: time.time() + offset[0]
    )
    _, jar = sign_in(kit)
    offset[0] = 400
    workos_emulator.inject_fault("/user_management/authenticate", status=502, count=5)
    result = kit.authenticate(jar)
    assert isinstance(result.user_info, NoUserInfo)
    assert result.error is not None and result.error.is_transient
    assert all(not c.is_deletion for c in result.cookies)
    assert result.retry_after == 5  # the session's first back-off
    workos_emulator.clear_faults()
    _pass_backoff(kit)
    assert isinstance(kit.authenticate(jar).user_info, UserInfo)


def test_tampered_cookie_is_signed_out_and_cleared(kit: AuthKit) -> None:
    _, jar = sign_in(kit)
    name = kit.config.cookie_name
    value = jar[name]
    tampered = {name: value[:-5] + ("A" if value[-5] != "A" else "B") + value[-4:]}
    result = kit.authenticate(tampered)
    assert isinstance(result.user_info, NoUserInfo)
    assert result.reason is not None
    assert any(c.name == name and c.is_deletion for c in result.cookies)
    assert isinstance(kit.authenticate({name: "garbage"}).user_info, NoUserInfo)


def test_explicit_refresh_switches_organization(kit: AuthKit, workos_emulator: Any) -> None:
    signed_in, jar = sign_in(kit)
    assert signed_in.user_info.organization_id == "org_acme"
    result = kit.authenticate(jar)
    result = kit.refresh(result, jar, organization_id="org_globex")
    assert result.error is None
    assert isinstance(result.user_info, UserInfo)
    assert result.user_info.organization_id == "org_globex"
    assert result.user_info.role == "member"
    jar = apply_cookies(jar, result.cookies)
    assert kit.authenticate(jar).user_info.organization_id == "org_globex"
    # a plain refresh keeps the current organization
    again = kit.refresh(kit.authenticate(jar), jar)
    assert again.user_info.organization_id == "org_globex"


def test_explicit_refresh_into_sso_org_reports_code(kit: AuthKit) -> None:
    _, jar = sign_in(kit)
    result = kit.refresh(kit.authenticate(jar), jar, organization_id="org_sso")
    assert isinstance(result.error, TokenRefreshError)
    assert "sso_required" in str(result.error)
    assert not result.error.is_transient
    # the refused switch does not end the session: it stays signed in to its current organization
    assert isinstance(result.user_info, UserInfo)
    assert all(not c.is_deletion for c in result.cookies)
    after = kit.authenticate(apply_cookies(jar, result.cookies))
    assert isinstance(after.user_info, UserInfo) and after.user_info.organization_id == "org_acme"


def test_explicit_refresh_into_foreign_org_keeps_session(kit: AuthKit) -> None:
    _, jar = sign_in(kit, "bob@example.com")
    result = kit.refresh(kit.authenticate(jar), jar, organization_id="org_globex")
    assert isinstance(result.error, TokenRefreshError) and not result.error.is_transient
    assert isinstance(kit.authenticate(apply_cookies(jar, result.cookies)).user_info, UserInfo)


def test_sign_out_returns_logout_url_and_clears(kit: AuthKit, store_kind: str) -> None:
    signed_in, jar = sign_in(kit)
    result = kit.authenticate(jar)
    url = kit.sign_out(result, jar, return_to="http://127.0.0.1:8000/")
    assert url is not None and f"session_id={signed_in.user_info.session_id}" in url
    assert isinstance(result.user_info, NoUserInfo)
    assert kit.config.cookie_name not in apply_cookies(jar, result.cookies)
    if store_kind != "cookie":  # server-side stores revoke: the copied cookie no longer works
        assert isinstance(kit.authenticate(jar).user_info, NoUserInfo)


def test_refresh_success_callback(config: Any, store: SessionStore, workos_emulator: Any) -> None:
    seen: list[UserInfo] = []
    kit = AuthKit(config, store=store, on_session_refresh_success=seen.append)
    workos_emulator.access_token_ttl = 20
    _, jar = sign_in(kit)
    kit.authenticate(jar)
    assert len(seen) == 1 and seen[0].user.email == "alice@example.com"


def test_token_for_another_user_is_rejected(config: Any, workos_emulator: Any) -> None:
    """Only the cookie store lets a client choose the token it presents, so this runs on it alone."""
    from authkit_core.iron import seal_session, unseal_session
    from authkit_core.storage.cookie import CookieSessionStore

    kit = AuthKit(config, store=CookieSessionStore())
    _, jar = sign_in(kit)
    name = kit.config.cookie_name
    session = unseal_session(jar[name], kit.config.cookie_passwords)
    bob_token = workos_emulator.mint_access_token("user_bob", session_id="session_x")
    forged = seal_session(
        session.__class__(bob_token, session.refresh_token, session.user), kit.config.cookie_passwords
    )
    result = kit.authenticate({name: forged})
    assert isinstance(result.user_info, NoUserInfo)
    assert result.reason == "subject_mismatch"
    assert any(c.name == name and c.is_deletion for c in result.cookies)


def _pass_backoff(kit: AuthKit) -> None:
    """Move the breaker's clock past any back-off (a transient failure holds the session back for a while)."""
    assert kit.breaker is not None
    now = kit.breaker.clock
    kit.breaker.clock = lambda: now() + 600


def _fields(config: Any) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def test_unknown_signing_key_refreshes_instead_of_signing_out(kit: AuthKit, workos_emulator: Any) -> None:
    """A key rotation that lands inside the JWKS refetch cooldown must not sign anyone out."""
    _, jar = sign_in(kit)
    assert isinstance(kit.authenticate(jar).user_info, UserInfo)  # JWKS fetched and cached
    workos_emulator.rotate_signing_key(retire_old=True)  # new tokens use a kid the cache has not seen
    workos_emulator.access_token_ttl = 20
    rotated = workos_emulator.issue_session("user_alice")
    from authkit_core.models import AuthenticationResponse

    fresh_result = kit.authenticate({})
    kit.save_session(fresh_result, AuthenticationResponse.from_api(rotated), {})
    jar = apply_cookies({}, fresh_result.cookies)
    workos_emulator.access_token_ttl = 300
    result = kit.authenticate(jar)
    assert isinstance(result.user_info, UserInfo)
    assert result.reason is None


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_concurrent_tasks_on_a_native_async_engine_refresh_exactly_once(
    db: str, config: Any, workos_emulator: Any, tmp_path: Any
) -> None:
    """50 asyncio tasks through SQLAlchemy's own async engine (aiosqlite, asyncpg), not a worker thread."""
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.ext.asyncio import create_async_engine

    from authkit_core.storage.sql import SQLSessionStore
    from conftest import require_postgres

    if db == "sqlite":
        url, async_url = f"sqlite:///{tmp_path}/s.db", f"sqlite+aiosqlite:///{tmp_path}/s.db"
    else:
        url = require_postgres()
        async_url = url.replace("+psycopg", "+asyncpg")
    table = f"authkit_test_{uuid.uuid4().hex[:10]}"
    aengine = create_async_engine(async_url)
    store = SQLSessionStore(url, table_name=table, async_engine=aengine, create_tables=True)
    kit = AuthKit(config, store=store)
    workos_emulator.access_token_ttl = 20
    _, jar = sign_in(kit)
    workos_emulator.access_token_ttl = 300
    results: list[Any] = []

    async def main() -> None:
        async def request() -> None:
            results.append(await kit.authenticate_async(jar))

        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(request)
        await kit.aclose()
        await aengine.dispose()

    try:
        anyio.run(main, backend="asyncio")
        assert len(results) == 50
        assert all(isinstance(r.user_info, UserInfo) for r in results)
        assert len({r.user_info.access_token for r in results}) == 1
        assert workos_emulator.grant_count(REFRESH) == 1
    finally:
        kit.close()
        store.dispose()
        raw = create_engine(url)
        store.table.drop(raw, checkfirst=True)
        raw.dispose()


def test_refresh_false_serves_without_refreshing(kit: AuthKit, workos_emulator: Any) -> None:
    """For responses that cannot carry cookies (websocket handshakes)."""
    workos_emulator.access_token_ttl = 20
    signed_in, jar = sign_in(kit)
    result = kit.authenticate(jar, refresh=False)
    assert isinstance(result.user_info, UserInfo) and not result.refreshed
    assert result.user_info.access_token == signed_in.user_info.access_token
    assert result.cookies == []
    assert workos_emulator.grant_count(REFRESH) == 0
