"""The engine during a WorkOS outage (issue items 7 and 8, engine side).

The provider goes down through the engine's own HTTP client (a transport that refuses connections while
``down``), so nothing else changes; the circuit breaker runs on an injected clock, and pauses are recorded
instead of slept. Assertions count the calls that reached the provider and the pauses asked for, never time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from authkit_core import NoUserInfo, ProviderBackoffError, TokenRefreshError, UserInfo
from authkit_core.breaker import CircuitBreaker
from authkit_core.engine import AuthKit, AuthResult
from authkit_core.flow import Sleep
from authkit_core.models import AuthenticationResponse
from authkit_core.tokens import get_token_claims

from .conftest import apply_cookies, sign_in

AUTHENTICATE = "/user_management/authenticate"


class Outage(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The real transport, or "connection refused" while ``down``; counts the calls made while down."""

    def __init__(self) -> None:
        self.down = False
        self.refused: list[str] = []
        self._sync = httpx.HTTPTransport()
        self._async = httpx.AsyncHTTPTransport()

    def _refuse(self, request: httpx.Request) -> None:
        self.refused.append(request.url.path)
        raise httpx.ConnectError("connection refused", request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            self._refuse(request)
        return self._sync.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            self._refuse(request)
        return await self._async.handle_async_request(request)

    def calls(self, path: str = AUTHENTICATE) -> int:
        return sum(1 for p in self.refused if p == path)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every pause a flow asks for, recorded instead of slept."""
    asked: list[float] = []

    def record(self: Sleep, io: object) -> None:
        asked.append(self.seconds)

    async def arecord(self: Sleep, io: object) -> None:
        asked.append(self.seconds)

    monkeypatch.setattr(Sleep, "run_sync", record)
    monkeypatch.setattr(Sleep, "run_async", arecord)
    return asked


@pytest.fixture
def outage() -> Outage:
    return Outage()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _kit(workos_emulator: Any, outage: Outage, breaker: CircuitBreaker | bool, **config: Any) -> AuthKit:
    return AuthKit(
        workos_emulator.config(**config),
        http=httpx.Client(transport=outage),
        async_http=httpx.AsyncClient(transport=outage),
        breaker=breaker,
    )


@pytest.fixture
def kit(workos_emulator: Any, outage: Outage, clock: Clock) -> Iterator[AuthKit]:
    kit = _kit(workos_emulator, outage, CircuitBreaker(clock=clock, failure_threshold=3, open_seconds=30))
    yield kit
    kit.close()


def _signed_in(kit: AuthKit, workos_emulator: Any, ttl: int = 20) -> dict[str, str]:
    """A session whose access token is inside the refresh buffer (every request wants to refresh it); the JWKS
    is fetched while WorkOS is up."""
    workos_emulator.access_token_ttl = ttl
    _, jar = sign_in(kit)
    result = kit.authenticate(jar)
    assert isinstance(result.user_info, UserInfo)
    return apply_cookies(jar, result.cookies)


def test_valid_token_during_outage_costs_one_attempt_then_nothing(
    kit: AuthKit, workos_emulator: Any, outage: Outage, sleeps: list[float]
) -> None:
    jar = _signed_in(kit, workos_emulator)
    outage.down = True
    first = kit.authenticate(jar)
    assert isinstance(first.user_info, UserInfo)  # served with the still-valid token
    assert first.error is not None and first.error.code == "network_error"
    assert outage.calls() == 1 and sleeps == []  # one attempt, no retry, no pause
    for _ in range(5):
        again = kit.authenticate(jar)
        assert isinstance(again.user_info, UserInfo)
        assert isinstance(again.error, TokenRefreshError) and again.error.code == "provider_unavailable"
        assert isinstance(again.error.cause, ProviderBackoffError) and again.error.is_transient
        assert again.retry_after is not None and again.retry_after >= 1
        assert all(not c.is_deletion for c in again.cookies)
    assert outage.calls() == 1 and sleeps == []  # held back: WorkOS not asked again


def test_without_the_breaker_every_request_pays_the_retries(
    workos_emulator: Any, outage: Outage, sleeps: list[float]
) -> None:
    """Today's behaviour, kept with ``breaker=False`` (the benchmark's "before")."""
    kit = _kit(workos_emulator, outage, False, max_retries=3)
    jar = _signed_in(kit, workos_emulator)
    outage.down = True
    for _ in range(3):
        result = kit.authenticate(jar)
        assert isinstance(result.user_info, UserInfo) and result.error is not None
    assert outage.calls() == 12 and len(sleeps) == 9
    kit.close()


def test_expired_token_during_outage_keeps_the_session_and_says_when_to_retry(
    kit: AuthKit, workos_emulator: Any, outage: Outage, sleeps: list[float]
) -> None:
    _signed_in(kit, workos_emulator)
    jar = _expired_session(kit, workos_emulator)
    outage.down = True
    first = kit.authenticate(jar)
    assert isinstance(first.user_info, NoUserInfo) and first.loaded is not None
    assert first.error is not None and first.error.is_transient
    assert first.retry_after is not None and first.retry_after >= 5  # the session's back-off (or the circuit's)
    assert all(not c.is_deletion for c in first.cookies)
    attempts = outage.calls()
    again = kit.authenticate(jar)
    assert isinstance(again.user_info, NoUserInfo) and again.loaded is not None
    assert again.error is not None and again.error.code == "provider_unavailable"
    assert again.retry_after == first.retry_after
    assert outage.calls() == attempts  # held back
    assert all(not c.is_deletion for c in again.cookies)


def _expired_session(kit: AuthKit, workos_emulator: Any) -> dict[str, str]:
    """The cookie jar of a session whose access token expired two minutes ago (its refresh token is live)."""
    issued = workos_emulator.issue_session("user_alice")
    sid = get_token_claims(issued["access_token"])["sid"]
    issued["access_token"] = workos_emulator.mint_access_token(
        "user_alice", session_id=sid, organization_id="org_acme", expires_in=-120
    )
    saved = AuthResult(NoUserInfo())
    kit.save_session(saved, AuthenticationResponse.from_api(issued), {})
    return apply_cookies({}, saved.cookies)


def test_the_provider_circuit_opens_then_a_probe_closes_it(
    kit: AuthKit, workos_emulator: Any, outage: Outage, clock: Clock, sleeps: list[float]
) -> None:
    jars = [_signed_in(kit, workos_emulator) for _ in range(5)]
    outage.down = True
    for jar in jars[:3]:  # three sessions fail once each: the threshold
        kit.authenticate(jar)
    assert kit.breaker is not None and kit.breaker.state == "open"
    assert outage.calls() == 3
    held = kit.authenticate(jars[3])  # a session that never failed is held back too
    assert held.error is not None and held.error.code == "provider_unavailable" and held.retry_after == 30
    assert outage.calls() == 3
    outage.down = False
    clock.now += 30  # the window passes: half-open
    probe = kit.authenticate(jars[4])
    assert probe.refreshed and probe.error is None
    assert kit.breaker.state == "closed"
    clock.now += 60  # and the sessions backed off during the outage refresh again
    assert kit.authenticate(apply_cookies(jars[0], [])).refreshed


def test_async_face_is_held_back_alike(kit: AuthKit, workos_emulator: Any, outage: Outage, sleeps: list[float]) -> None:
    jar = _signed_in(kit, workos_emulator)

    async def main() -> list[str | None]:
        warm = await kit.authenticate_async(jar)  # the async face fetches its JWKS while WorkOS is up
        assert isinstance(warm.user_info, UserInfo)
        outage.down = True
        codes = []
        for _ in range(4):
            result = await kit.authenticate_async(apply_cookies(jar, warm.cookies))
            assert isinstance(result.user_info, UserInfo)
            codes.append(result.error.code if result.error else None)
        await kit.aclose()
        return codes

    assert anyio.run(main) == ["network_error"] + ["provider_unavailable"] * 3
    assert outage.calls() == 1 and sleeps == []


def test_validate_api_key_goes_through_the_engine_and_its_breaker(
    kit: AuthKit, workos_emulator: Any, outage: Outage, sleeps: list[float]
) -> None:
    assert kit.validate_api_key("sk_not_a_key") is None  # WorkOS answers: not a key
    outage.down = True
    for _ in range(3):  # three failures (no retry after the first: the provider's last call failed)
        with pytest.raises(TokenRefreshError.__mro__[1]) as caught:  # AuthKitError
            kit.validate_api_key("sk_not_a_key")
        assert caught.value.is_transient
    calls = len(outage.refused)
    with pytest.raises(ProviderBackoffError) as held:  # the circuit is open: refused without a call
        kit.validate_api_key("sk_not_a_key")
    assert held.value.retry_after == 30 and len(outage.refused) == calls
    assert anyio.run(_validate_async, kit) == "provider_unavailable"
    assert len(outage.refused) == calls


async def _validate_async(kit: AuthKit) -> str:
    try:
        await kit.validate_api_key_async("sk_not_a_key")
    except ProviderBackoffError as exc:
        return exc.code
    finally:
        await kit.aclose()
    return "answered"


def test_jwks_fetches_report_to_the_breaker(
    workos_emulator: Any, outage: Outage, clock: Clock, sleeps: list[float]
) -> None:
    """The JWKS cache keeps its own cooldown, but its fetches count as calls to WorkOS too."""
    breaker = CircuitBreaker(clock=clock, failure_threshold=3)
    kit = _kit(workos_emulator, outage, breaker, max_retries=0)
    _, jar = sign_in(kit)
    outage.down = True  # a cold engine: no signing keys yet, and WorkOS unreachable
    result = kit.authenticate(jar)
    assert result.error is not None and result.error.is_transient and result.loaded is not None
    assert outage.calls("/sso/jwks/" + kit.config.client_id) == 1 and breaker.consecutive_failures == 1
    kit.close()


def test_terminal_refusals_do_not_open_the_circuit(
    kit: AuthKit, workos_emulator: Any, outage: Outage, sleeps: list[float]
) -> None:
    for _ in range(4):
        jar = _signed_in(kit, workos_emulator)
        workos_emulator.inject_fault(AUTHENTICATE, status=400, body={"error": "invalid_grant"})
        ended = kit.authenticate(jar)
        assert ended.reason == "invalid_grant"
    assert kit.breaker is not None and kit.breaker.state == "closed"
    assert kit.breaker.consecutive_failures == 0
