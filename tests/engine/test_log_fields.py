"""Log records carry the outcome as structured attributes (``authkit_event``, ``authkit_code``,
``authkit_transient``), so a JSON log formatter sees them; never a user id, email, token or handle. Against the
emulator, on every store: a tampered cookie, a refresh refused with ``invalid_grant``, a WorkOS outage, a refresh."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from authkit_core.engine import AuthKit

from .conftest import sign_in

AUTHENTICATE = "/user_management/authenticate"


def outcomes(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        {k: getattr(r, k) for k in ("authkit_event", "authkit_code", "authkit_transient") if hasattr(r, k)}
        for r in caplog.records
        if hasattr(r, "authkit_event")
    ]


def no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        if hasattr(record, "authkit_event"):
            values = [str(v) for v in (record.authkit_event, getattr(record, "authkit_code", ""))]
            assert not any("alice" in v or "user_" in v or "." in v for v in values)


def test_the_outcomes_as_attributes(kit: AuthKit, workos_emulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="authkit_session")
    workos_emulator.access_token_ttl = 20  # due: every request refreshes
    signed_in, jar = sign_in(kit)
    workos_emulator.access_token_ttl = 300
    tampered = {name: value[:-8] + "AAAAAAAA" for name, value in jar.items()}
    rejected = kit.authenticate(tampered)
    assert rejected.reason is not None
    assert {"authkit_event": "session_rejected", "authkit_code": rejected.reason} in outcomes(caplog)
    caplog.clear()
    workos_emulator.inject_fault(AUTHENTICATE, method="POST", status=503, count=100)
    kit.authenticate(jar)
    failed = [o for o in outcomes(caplog) if o["authkit_event"] == "refresh_failed"]
    assert failed and failed[0]["authkit_transient"] is True
    workos_emulator.clear_faults()
    caplog.clear()
    fresh_kit = AuthKit(kit.config, store=kit.store)  # no back-off memory: refreshes now
    result = fresh_kit.authenticate(jar)
    assert result.refreshed
    assert {"authkit_event": "refreshed"} in outcomes(caplog)
    caplog.clear()
    workos_emulator.end_session(signed_in.user_info.session_id)  # revoked at WorkOS: refresh -> invalid_grant
    ended = fresh_kit.refresh(result, jar)
    assert ended.error is not None and ended.error.code == "invalid_grant"
    assert {"authkit_event": "refresh_failed", "authkit_code": "invalid_grant", "authkit_transient": False} in outcomes(
        caplog
    )
    no_secrets(caplog)
    fresh_kit.close()
