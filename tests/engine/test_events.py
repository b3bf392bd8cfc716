"""The event channel's subscribers and their error policies, against the emulator: the refresh callbacks are
subscribers (awaited on the async face, logged when they raise), a subscriber may ask for its errors to propagate,
and a coroutine subscriber on the sync face is refused loudly rather than left un-awaited."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from authkit_core import UserInfo
from authkit_core.engine import AuthKit
from authkit_core.errors import TokenRefreshError
from authkit_core.events import Event, RefreshFailed, SessionRefreshed
from authkit_core.storage.memory import MemorySessionStore

from .conftest import sign_in


def due(kit: AuthKit, emulator: Any) -> tuple[Any, dict[str, str]]:
    emulator.access_token_ttl = 20  # inside the refresh buffer: the next request refreshes
    try:
        return sign_in(kit)
    finally:
        emulator.access_token_ttl = 300


def test_async_refresh_callbacks_are_awaited_on_the_async_face(workos_emulator: Any) -> None:
    seen: list[str] = []

    async def on_success(info: UserInfo) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(info.user.email)

    kit = AuthKit(workos_emulator.config(), store=MemorySessionStore(), on_session_refresh_success=on_success)
    _, jar = due(kit, workos_emulator)

    async def request() -> None:
        result = await kit.authenticate_async(jar)
        assert result.refreshed
        await kit.aclose()

    anyio.run(request)
    assert seen == ["alice@example.com"]


def test_a_raising_callback_is_logged_and_the_request_goes_on(
    workos_emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def on_success(info: UserInfo) -> None:
        raise RuntimeError("callback bug")

    kit = AuthKit(workos_emulator.config(), on_session_refresh_success=on_success)
    _, jar = due(kit, workos_emulator)
    with caplog.at_level(logging.ERROR, logger="authkit_session"):
        result = kit.authenticate(jar)
    assert result.refreshed and isinstance(result.user_info, UserInfo)
    assert any("subscriber failed on session_refreshed" in r.getMessage() for r in caplog.records)


def test_the_error_callback_gets_the_error_and_a_raise_subscriber_propagates(workos_emulator: Any) -> None:
    errors: list[tuple[TokenRefreshError, bool]] = []
    kit = AuthKit(workos_emulator.config(), breaker=False, on_session_refresh_error=lambda e, t: errors.append((e, t)))
    events: list[Event] = []
    kit.events.subscribe(events.append)
    signed_in, jar = due(kit, workos_emulator)
    workos_emulator.end_session(signed_in.user_info.session_id)  # invalid_grant
    kit.authenticate(jar)
    assert [(e.code, t) for e, t in errors] == [("invalid_grant", False)]
    failed = [e for e in events if isinstance(e, RefreshFailed)]
    assert failed[0].error is errors[0][0] and "alice" not in repr(failed[0])  # in process only, never printed

    class Stop(Exception):
        pass

    def strict(event: Event) -> None:
        if isinstance(event, SessionRefreshed):
            raise Stop

    other = AuthKit(workos_emulator.config())
    other.events.subscribe(strict, errors="raise")
    _, jar = due(other, workos_emulator)
    with pytest.raises(Stop):
        other.authenticate(jar)
    with pytest.raises(ValueError, match="errors must be"):
        other.events.subscribe(strict, errors="ignore")  # type: ignore[arg-type]


def test_a_coroutine_subscriber_on_the_sync_face_is_refused_loudly(
    workos_emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Event] = []

    async def subscriber(event: Event) -> None:
        seen.append(event)  # never runs: the coroutine is closed unawaited

    kit = AuthKit(workos_emulator.config())
    kit.events.subscribe(subscriber)
    _, jar = due(kit, workos_emulator)
    with caplog.at_level(logging.ERROR, logger="authkit_session"):
        assert kit.authenticate(jar).refreshed
    assert seen == []
    assert any("coroutine subscriber was called on the sync face" in (r.exc_text or "") for r in caplog.records)
