"""The JWKS cache (authkit_core.jwks): the pure state's decisions, both shells, and the real emulator over HTTP."""

from __future__ import annotations

import random
import string
import threading
import time
from typing import Any

import anyio
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from authkit_core.config import AuthKitConfig
from authkit_core.errors import InvalidResponseError, ProviderUnavailableError, TokenError
from authkit_core.jwks import AsyncJWKSCache, JWKSCache, JWKSState, JWKSUnavailableError, parse_jwks
from authkit_core.testing import Emulator

TTL, STALE, COOLDOWN = 300.0, 3600.0, 30.0


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ---------------------------------------------------------------------------------------------- helpers


class Keys:
    """A few RSA keys generated once for the module, by kid."""

    def __init__(self) -> None:
        self.private = {kid: RSAKey.generate_key(2048, parameters={"kid": kid}) for kid in ("k1", "k2", "k3")}

    def jwk(self, kid: str, **extra: Any) -> dict[str, Any]:
        return {**self.private[kid].as_dict(private=False), "kid": kid, "use": "sig", "alg": "RS256", **extra}

    def jwks(self, *kids: str) -> dict[str, Any]:
        return {"keys": [self.jwk(kid) for kid in kids]}

    def token(self, kid: str, *, now: float, sign_with: str | None = None, **claims: Any) -> str:
        payload = {"sub": "user_1", "sid": "session_1", "iat": int(now), "exp": int(now) + 600, **claims}
        return jwt.encode({"alg": "RS256", "kid": kid}, payload, self.private[sign_with or kid])


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeJWKSEndpoint:
    """An httpx MockTransport handler serving a JWKS document that tests can change or break."""

    def __init__(self, document: Any) -> None:
        self.document = document
        self.status = 200
        self.calls = 0
        self.raw: bytes | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        assert request.method == "GET"
        assert request.url.path == "/sso/jwks/client_test"
        if self.raw is not None:
            return httpx.Response(self.status, content=self.raw)
        return httpx.Response(self.status, json=self.document if self.status == 200 else {"message": "down"})


def make_config(**overrides: Any) -> AuthKitConfig:
    values: dict[str, Any] = {
        "client_id": "client_test",
        "api_key": "sk_test_123",
        "redirect_uri": "http://127.0.0.1:8000/callback",
        "cookie_password": "p" * 32,
        "jwks_cache_ttl_seconds": TTL,
        "jwks_stale_seconds": STALE,
        "jwks_refetch_cooldown_seconds": COOLDOWN,
        "max_retries": 0,
        **overrides,
    }
    return AuthKitConfig(**values)


def new_state() -> JWKSState:
    return JWKSState(ttl=TTL, stale=STALE, cooldown=COOLDOWN)


def random_kid(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters, k=16))


# ---------------------------------------------------------------------------------------------- parse_jwks


def test_parse_jwks_keeps_only_rsa_signature_keys(keys: Keys) -> None:
    ec = {"kty": "EC", "crv": "P-256", "kid": "ec", "x": "AA", "y": "AA"}
    document = {
        "keys": [
            keys.jwk("k1"),
            keys.jwk("k2", use="enc"),
            keys.jwk("k3", alg="RS512"),
            ec,
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {"kty": "RSA", "kid": "no-n"},
            "not an object",
            {**keys.jwk("k2"), "kid": "verify-less", "key_ops": ["sign"]},
        ]
    }
    key_set = parse_jwks(document)
    assert [key.kid for key in key_set] == ["k1"]


@pytest.mark.filterwarnings("ignore:Key size should be")
def test_parse_jwks_drops_private_parts_and_short_keys(keys: Keys) -> None:
    with_private = {**keys.private["k1"].as_dict(private=True), "kid": "k1"}
    (key,) = parse_jwks({"keys": [with_private]})
    assert not key.is_private
    small = RSAKey.generate_key(1024, parameters={"kid": "small"}).as_dict(private=False)
    with pytest.raises(InvalidResponseError):
        parse_jwks({"keys": [small]})


@pytest.mark.parametrize("document", [None, [], {}, {"keys": None}, {"keys": "k1"}, {"keys": []}, {"keys": [{}]}])
def test_parse_jwks_rejects_documents_without_usable_keys(document: Any) -> None:
    with pytest.raises(InvalidResponseError):
        parse_jwks(document)


# ---------------------------------------------------------------------------------------------- JWKSState


def test_state_starts_empty_and_needs_a_fetch() -> None:
    state = new_state()
    assert state.needs_fetch(None, 0.0)
    assert state.needs_fetch("k1", 0.0)
    assert state.usable_keys(0.0) is None
    with pytest.raises(JWKSUnavailableError) as info:
        state.key_set_or_raise(0.0)
    assert info.value.is_transient


def test_state_ttl(keys: Keys) -> None:
    state = new_state()
    state.record_success(keys.jwks("k1"), 1000.0)
    assert state.fetched_at == 1000.0
    assert not state.needs_fetch("k1", 1000.0)
    assert not state.needs_fetch(None, 1000.0 + TTL - 0.001)
    assert state.needs_fetch("k1", 1000.0 + TTL)
    assert state.needs_fetch(None, 1000.0 + TTL)
    usable = state.usable_keys(1000.0 + TTL - 1)
    assert usable is not None
    assert [k.kid for k in usable] == ["k1"]


def test_random_kid_flood_costs_one_fetch_per_cooldown(keys: Keys) -> None:
    state = new_state()
    state.record_success(keys.jwks("k1"), 0.0)
    rng = random.Random(7)
    fetches = 0
    now = 100.0  # well past the cooldown of the first fetch, within the TTL
    for i in range(1000):
        t = now + i * (COOLDOWN - 1) / 1000  # the flood spans just under one cooldown
        if state.needs_fetch(random_kid(rng), t):
            fetches += 1
            state.record_success(keys.jwks("k1"), t)  # the attacker's kids are never there
    assert fetches == 1
    # one cooldown later a new unknown kid may fetch again, exactly once
    later = [state.needs_fetch(random_kid(rng), now + COOLDOWN + 0.5) for _ in range(10)]
    assert later[0]
    # a known kid never triggers a fetch within the TTL
    assert not state.needs_fetch("k1", now + COOLDOWN + 0.5)


def test_unknown_kid_within_cooldown_of_the_first_fetch_waits(keys: Keys) -> None:
    state = new_state()
    state.record_success(keys.jwks("k1"), 0.0)
    assert not state.needs_fetch("k2", COOLDOWN - 0.1)
    assert state.needs_fetch("k2", COOLDOWN)


def test_failure_keeps_keys_and_serves_them_stale(keys: Keys) -> None:
    state = new_state()
    state.record_success(keys.jwks("k1"), 0.0)
    outage = ProviderUnavailableError("GET /sso/jwks/x failed", code="network_error")
    state.record_failure(outage, TTL)
    assert state.last_failure is outage
    assert state.usable_keys(TTL) is not None
    assert state.usable_keys(TTL + STALE - 0.001) is not None
    assert state.key_set_or_raise(TTL + STALE - 1) is state.key_set
    assert state.usable_keys(TTL + STALE) is None
    with pytest.raises(JWKSUnavailableError) as info:
        state.key_set_or_raise(TTL + STALE)
    assert isinstance(info.value, ProviderUnavailableError)
    assert info.value.code == "network_error"
    assert info.value.cause is outage
    assert info.value.__cause__ is outage


def test_failed_fetch_waits_a_cooldown_before_the_next(keys: Keys) -> None:
    state = new_state()
    state.record_failure(ProviderUnavailableError("down"), 10.0)
    assert not state.needs_fetch(None, 10.0)
    assert not state.needs_fetch("k1", 10.0 + COOLDOWN - 0.1)
    assert state.needs_fetch("k1", 10.0 + COOLDOWN)
    # the same past the TTL with stale keys: one attempt per cooldown, not one per request
    state.record_success(keys.jwks("k1"), 100.0)
    state.record_failure(ProviderUnavailableError("down"), 100.0 + TTL)
    assert not state.needs_fetch("k1", 100.0 + TTL + 1)
    assert state.needs_fetch("k1", 100.0 + TTL + COOLDOWN)


def test_success_after_failure_clears_it(keys: Keys) -> None:
    state = new_state()
    state.record_failure(ProviderUnavailableError("down"), 0.0)
    state.record_success(keys.jwks("k1"), 50.0)
    assert state.last_failure is None
    assert not state.needs_fetch("k1", 51.0)


@pytest.mark.parametrize("bad", [{"keys": "nope"}, {}, "<html>", {"keys": [{"kty": "EC"}]}])
def test_unparsable_jwks_is_a_failure_that_keeps_the_old_keys(keys: Keys, bad: Any) -> None:
    state = new_state()
    state.record_success(keys.jwks("k1"), 0.0)
    before = state.key_set
    state.record_success(bad, TTL)
    assert state.key_set is before
    assert state.fetched_at == 0.0
    assert isinstance(state.last_failure, InvalidResponseError)
    assert not state.needs_fetch("k1", TTL + 1)  # cooling down after the failure
    assert state.usable_keys(TTL + 1) is before


def test_rotation_in_state(keys: Keys) -> None:
    state = new_state()
    state.record_success(keys.jwks("k1"), 0.0)
    assert state.needs_fetch("k2", 60.0)
    state.record_success(keys.jwks("k2", "k1"), 60.0)
    assert not state.needs_fetch("k2", 61.0)
    # k1 retired: a k1 token causes one refetch after the cooldown, then nothing until the next cooldown
    state.record_success(keys.jwks("k2"), 100.0)
    assert state.needs_fetch("k1", 100.0 + COOLDOWN)
    state.record_success(keys.jwks("k2"), 100.0 + COOLDOWN)
    assert not state.needs_fetch("k1", 100.0 + COOLDOWN + 1)


def test_refresh_flow_records_errors_instead_of_raising(keys: Keys) -> None:
    from authkit_core.flow import Flow, run_sync

    state = new_state()

    def failing() -> Flow[Any]:
        raise ProviderUnavailableError("down", code="timeout")
        yield  # pragma: no cover

    def succeeding() -> Flow[Any]:
        return keys.jwks("k1")
        yield  # pragma: no cover

    run_sync(state.refresh_flow(failing(), lambda: 5.0), None)
    assert state.last_failure is not None
    assert state.last_failure.code == "timeout"
    run_sync(state.refresh_flow(succeeding(), lambda: 50.0), None)
    assert state.fetched_at == 50.0


def test_refetch_in_flight_does_not_hold_up_known_kids(keys: Keys) -> None:
    from authkit_core.flow import Flow

    state = new_state()
    state.record_success(keys.jwks("k1"), 0.0)

    def slow_fetch() -> Flow[Any]:
        yield "pending"  # stands for the HTTP effect still in flight
        return keys.jwks("k1", "k2")

    flow = state.refresh_flow(slow_fetch(), lambda: TTL + 1)
    assert state.needs_fetch("k1", TTL)  # past the TTL, nothing in flight yet
    assert next(flow) == "pending"
    assert not state.needs_fetch("k1", TTL)  # a refetch is running: serve the current keys meanwhile
    assert not state.needs_fetch(None, TTL)
    assert state.needs_fetch("k2", TTL)  # unknown kid: wait for the refetch
    assert state.needs_fetch("k1", TTL + STALE)  # the keys are no longer usable: wait too
    with pytest.raises(StopIteration):
        flow.send(None)
    assert not state.needs_fetch("k2", TTL + 2)
    assert not state.needs_fetch("k1", TTL + 2)


# --------------------------------------------------------------------------- shells over a mock transport


def sync_cache(endpoint: FakeJWKSEndpoint, clock: FakeClock, **config: Any) -> JWKSCache:
    http = httpx.Client(transport=httpx.MockTransport(endpoint), base_url="http://jwks.test")
    return JWKSCache(make_config(**config), http=http, clock=clock)


def test_sync_cache_verifies_and_caches(keys: Keys) -> None:
    endpoint, clock = FakeJWKSEndpoint(keys.jwks("k1")), FakeClock()
    cache = sync_cache(endpoint, clock)
    for _ in range(5):
        assert cache.verify(keys.token("k1", now=clock.now))["sub"] == "user_1"
    assert endpoint.calls == 1
    clock.advance(TTL)
    cache.verify(keys.token("k1", now=clock.now))
    assert endpoint.calls == 2


def test_sync_cache_random_kid_flood(keys: Keys) -> None:
    endpoint, clock = FakeJWKSEndpoint(keys.jwks("k1")), FakeClock()
    cache = sync_cache(endpoint, clock)
    cache.get_key_set("k1")
    clock.advance(COOLDOWN)
    rng = random.Random(1)
    for _ in range(1000):
        token = keys.token(random_kid(rng), now=clock.now, sign_with="k1")
        with pytest.raises(TokenError) as info:
            cache.verify(token)
        assert info.value.code == "unknown_key"
        clock.advance(0.01)
    assert endpoint.calls == 2  # the first fetch and one refetch for the whole flood


def test_sync_cache_outage_at_start_is_transient_not_a_token_error(keys: Keys) -> None:
    endpoint, clock = FakeJWKSEndpoint(keys.jwks("k1")), FakeClock()
    endpoint.status = 503
    cache = sync_cache(endpoint, clock)
    token = keys.token("k1", now=clock.now)
    with pytest.raises(JWKSUnavailableError) as info:
        cache.verify(token)
    assert not isinstance(info.value, TokenError)
    assert isinstance(info.value, ProviderUnavailableError)
    assert info.value.is_transient
    assert info.value.code == "server_error"
    # within the cooldown: no new fetch, same typed error
    with pytest.raises(JWKSUnavailableError):
        cache.verify(token)
    assert endpoint.calls == 1
    endpoint.status = 200
    clock.advance(COOLDOWN)
    assert cache.verify(keys.token("k1", now=clock.now))["sid"] == "session_1"
    assert endpoint.calls == 2


def test_sync_cache_malformed_body_is_transient(keys: Keys) -> None:
    endpoint, clock = FakeJWKSEndpoint(keys.jwks("k1")), FakeClock()
    endpoint.raw = b"<html>bad gateway</html>"
    cache = sync_cache(endpoint, clock)
    with pytest.raises(JWKSUnavailableError) as info:
        cache.get_key_set("k1")
    assert info.value.code == "invalid_response"


def test_sync_cache_serves_stale_keys_through_an_outage(keys: Keys) -> None:
    endpoint, clock = FakeJWKSEndpoint(keys.jwks("k1")), FakeClock()
    cache = sync_cache(endpoint, clock)
    cache.verify(keys.token("k1", now=clock.now))
    endpoint.status = 500
    clock.advance(TTL + 1)
    for _ in range(10):
        assert cache.verify(keys.token("k1", now=clock.now))["sub"] == "user_1"
    assert endpoint.calls == 2  # one failed refetch, then the cooldown
    clock.advance(STALE)
    with pytest.raises(JWKSUnavailableError):
        cache.verify(keys.token("k1", now=clock.now))


def test_sync_cache_serves_known_kids_while_a_refetch_is_slow(keys: Keys) -> None:
    entered, release = threading.Event(), threading.Event()
    endpoint, clock = FakeJWKSEndpoint(keys.jwks("k1")), FakeClock()

    def slow(request: httpx.Request) -> httpx.Response:
        if endpoint.calls >= 1:
            entered.set()
            assert release.wait(10)
        return endpoint(request)

    cache = JWKSCache(make_config(), http=httpx.Client(transport=httpx.MockTransport(slow)), clock=clock)
    cache.verify(keys.token("k1", now=clock.now))
    clock.advance(TTL + 1)
    refetching = threading.Thread(target=cache.verify, args=(keys.token("k1", now=clock.now),))
    refetching.start()
    try:
        assert entered.wait(10)
        started = time.monotonic()
        assert cache.verify(keys.token("k1", now=clock.now))["sub"] == "user_1"  # no wait for the refetch
        assert time.monotonic() - started < 1
    finally:
        release.set()
        refetching.join(10)
    assert endpoint.calls == 2


def test_sync_cache_rotation(keys: Keys) -> None:
    endpoint, clock = FakeJWKSEndpoint(keys.jwks("k1")), FakeClock()
    cache = sync_cache(endpoint, clock)
    cache.verify(keys.token("k1", now=clock.now))
    endpoint.document = keys.jwks("k2", "k1")
    clock.advance(COOLDOWN)
    assert cache.verify(keys.token("k2", now=clock.now))["sub"] == "user_1"
    assert endpoint.calls == 2
    endpoint.document = keys.jwks("k2")  # k1 retired
    clock.advance(COOLDOWN)
    # the cache cannot know yet: k1 is still among its keys, so k1 tokens verify until the next refresh
    assert cache.verify(keys.token("k1", now=clock.now))["sub"] == "user_1"
    assert endpoint.calls == 2
    clock.advance(TTL)
    with pytest.raises(TokenError) as info:
        cache.verify(keys.token("k1", now=clock.now))
    assert info.value.code == "unknown_key"
    assert endpoint.calls == 3
    assert cache.verify(keys.token("k2", now=clock.now))["sub"] == "user_1"
    assert endpoint.calls == 3


def test_sync_cache_uses_config_leeway_and_issuer(keys: Keys) -> None:
    endpoint, clock = FakeJWKSEndpoint(keys.jwks("k1")), FakeClock()
    cache = sync_cache(endpoint, clock, jwt_leeway_seconds=0, jwt_issuer="https://issuer.test")
    with pytest.raises(TokenError) as info:
        cache.verify(keys.token("k1", now=clock.now, iss="https://other.test"))
    assert info.value.code == "invalid_issuer"
    expired = keys.token("k1", now=clock.now, exp=int(clock.now))
    with pytest.raises(TokenError) as info:
        cache.verify(expired)
    assert info.value.code == "token_expired"


def test_sync_cache_garbage_token_does_not_fetch(keys: Keys) -> None:
    endpoint, clock = FakeJWKSEndpoint(keys.jwks("k1")), FakeClock()
    cache = sync_cache(endpoint, clock)
    with pytest.raises(TokenError):
        cache.verify("garbage")
    assert endpoint.calls == 0


def test_sync_cache_owns_its_client_only_when_it_made_it() -> None:
    made = JWKSCache(make_config())
    made.close()
    assert made.http.is_closed
    given = httpx.Client()
    cache = JWKSCache(make_config(), http=given)
    cache.close()
    assert not given.is_closed
    given.close()


@pytest.mark.anyio
async def test_async_cache_over_mock_transport(keys: Keys) -> None:
    endpoint, clock = FakeJWKSEndpoint(keys.jwks("k1")), FakeClock()
    http = httpx.AsyncClient(transport=httpx.MockTransport(endpoint), base_url="http://jwks.test")
    cache = AsyncJWKSCache(make_config(), http=http, clock=clock)
    assert (await cache.verify(keys.token("k1", now=clock.now)))["sub"] == "user_1"
    endpoint.status = 503
    clock.advance(TTL + 1)
    assert (await cache.verify(keys.token("k1", now=clock.now)))["sub"] == "user_1"  # stale keys
    clock.advance(STALE)
    with pytest.raises(JWKSUnavailableError):
        await cache.verify(keys.token("k1", now=clock.now))
    assert endpoint.calls == 3
    await cache.aclose()
    assert not http.is_closed
    await http.aclose()


# ---------------------------------------------------------------------------------- the real emulator


def jwks_fetches(emulator: Emulator) -> int:
    return len(emulator.requests_to("/sso/jwks/*", method="GET"))


class OffsetClock:
    """The wall clock plus an offset tests move forward (the emulator's tokens carry real times)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def test_emulator_20_threads_share_one_fetch(workos_emulator: Emulator) -> None:
    workos_emulator.inject_fault("/sso/jwks/*", delay=0.3)  # hold the first fetch open while the others arrive
    cache = JWKSCache(workos_emulator.config())
    token = workos_emulator.mint_access_token("user_alice", organization_id="org_acme")
    barrier = threading.Barrier(20)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(cache.verify(token))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    cache.close()
    assert errors == []
    assert len(results) == 20
    assert all(claims["sub"] == "user_alice" and claims["org_id"] == "org_acme" for claims in results)
    assert jwks_fetches(workos_emulator) == 1


def slow_jwks_async_cache(emulator: Emulator, *, delay: float) -> tuple[AsyncJWKSCache, str]:
    """A fresh async cache, a token for user_bob, and a JWKS endpoint whose next answer takes ``delay`` s."""
    emulator.inject_fault("/sso/jwks/*", delay=delay)
    return AsyncJWKSCache(emulator.config()), emulator.mint_access_token("user_bob")


@pytest.mark.anyio
async def test_emulator_50_tasks_share_one_fetch(workos_emulator: Emulator) -> None:
    cache, token = slow_jwks_async_cache(workos_emulator, delay=0.3)
    results: list[dict[str, Any]] = []

    async def worker() -> None:
        results.append(await cache.verify(token))

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(worker)
    await cache.aclose()
    assert len(results) == 50
    assert {claims["sub"] for claims in results} == {"user_bob"}
    assert jwks_fetches(workos_emulator) == 1


@pytest.mark.anyio
async def test_emulator_async_fetch_does_not_block_the_event_loop(workos_emulator: Emulator) -> None:
    cache, token = slow_jwks_async_cache(workos_emulator, delay=0.5)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await anyio.sleep(0.02)
            ticks += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await cache.verify(token)
        tg.cancel_scope.cancel()
    await cache.aclose()
    assert ticks >= 10  # the loop kept running during the 0.5 s fetch


def test_emulator_down_at_start_is_a_typed_transient_error(workos_emulator: Emulator) -> None:
    workos_emulator.inject_fault("/sso/jwks/*", status=503, count=100)
    cache = JWKSCache(workos_emulator.config(max_retries=1, jwks_refetch_cooldown_seconds=0.0))
    token = workos_emulator.mint_access_token("user_alice")
    with pytest.raises(JWKSUnavailableError) as info:
        cache.verify(token)
    assert isinstance(info.value, ProviderUnavailableError)
    assert not isinstance(info.value, TokenError)
    assert info.value.is_transient
    assert info.value.code == "server_error"
    assert token not in str(info.value)
    assert jwks_fetches(workos_emulator) == 2  # the first attempt and one retry
    workos_emulator.clear_faults()
    assert cache.verify(token)["sub"] == "user_alice"
    cache.close()


def test_emulator_dropped_connection_is_a_network_error(workos_emulator: Emulator) -> None:
    workos_emulator.inject_fault("/sso/jwks/*", drop_connection=True, count=100)
    cache = JWKSCache(workos_emulator.config(max_retries=0))
    with pytest.raises(JWKSUnavailableError) as info:
        cache.get_key_set(None)
    assert info.value.code == "network_error"
    cache.close()


def test_emulator_down_mid_life_serves_stale_keys(workos_emulator: Emulator) -> None:
    clock = OffsetClock()
    config = workos_emulator.config(
        jwks_cache_ttl_seconds=60, jwks_stale_seconds=600, jwks_refetch_cooldown_seconds=30, max_retries=0
    )
    cache = JWKSCache(config, clock=clock, verified_cache_size=0)  # every verify consults the key state
    token = workos_emulator.mint_access_token("user_alice", expires_in=3600)
    assert cache.verify(token)["sub"] == "user_alice"
    workos_emulator.inject_fault("/sso/jwks/*", status=503, count=100)
    clock.offset = 61  # past the TTL: a refetch is due and fails
    for _ in range(5):
        assert cache.verify(token)["sub"] == "user_alice"
    assert jwks_fetches(workos_emulator) == 2
    clock.offset = 61 + 30  # one cooldown later: one more attempt, still stale keys
    assert cache.verify(token)["sub"] == "user_alice"
    assert jwks_fetches(workos_emulator) == 3
    clock.offset = 60 + 600  # the stale window is over
    with pytest.raises(JWKSUnavailableError):
        cache.verify(token)
    workos_emulator.clear_faults()
    clock.offset += 30
    assert cache.verify(token)["sub"] == "user_alice"
    cache.close()


def test_emulator_rotation_sync(workos_emulator: Emulator) -> None:
    clock = OffsetClock()
    cache = JWKSCache(workos_emulator.config(jwks_cache_ttl_seconds=100), clock=clock)

    def mint(kid: str | None = None) -> str:
        return workos_emulator.mint_access_token("user_alice", kid=kid, expires_in=3600)

    old = workos_emulator.current_kid
    assert cache.verify(mint())["sub"] == "user_alice"
    new = workos_emulator.rotate_signing_key()
    clock.offset += 31  # past the unknown-kid cooldown: the new kid causes one refetch that finds it
    assert cache.verify(mint())["sub"] == "user_alice"
    assert jwks_fetches(workos_emulator) == 2
    assert cache.verify(mint(old))["sub"] == "user_alice"  # the old key is still published
    workos_emulator.rotate_signing_key(retire_old=True)
    clock.offset += 101  # the next refresh (TTL) learns that `new` and `old` are retired
    with pytest.raises(TokenError) as info:
        cache.verify(mint(new))
    assert info.value.code == "unknown_key"
    assert jwks_fetches(workos_emulator) == 3
    with pytest.raises(TokenError) as info:  # no second refetch for a retired kid within the cooldown
        cache.verify(mint(old))
    assert info.value.code == "unknown_key"
    assert jwks_fetches(workos_emulator) == 3
    assert cache.verify(mint())["sub"] == "user_alice"
    cache.close()


@pytest.mark.anyio
async def test_emulator_rotation_async(workos_emulator: Emulator) -> None:
    clock = OffsetClock()
    cache = AsyncJWKSCache(workos_emulator.config(), clock=clock)
    old = workos_emulator.current_kid
    await cache.verify(workos_emulator.mint_access_token("user_alice"))
    new = workos_emulator.rotate_signing_key(retire_old=True)
    clock.offset += 31
    assert (await cache.verify(workos_emulator.mint_access_token("user_alice")))["sub"] == "user_alice"
    with pytest.raises(TokenError) as info:
        await cache.verify(workos_emulator.mint_access_token("user_alice", kid=old))
    assert info.value.code == "unknown_key"
    assert workos_emulator.current_kid == new
    assert jwks_fetches(workos_emulator) == 2
    await cache.aclose()


def test_verified_tokens_are_remembered_until_they_expire(workos_emulator: Emulator) -> None:
    clock = OffsetClock()
    config = workos_emulator.config(jwt_leeway_seconds=0, jwks_cache_ttl_seconds=60, max_retries=0)
    cache = JWKSCache(config, clock=clock, verified_cache_size=2)
    token = workos_emulator.mint_access_token("user_alice", expires_in=120)
    first = cache.verify(token)
    workos_emulator.inject_fault("/sso/jwks/*", status=503, count=100)
    clock.offset = 61  # keys are past their TTL and the endpoint is down, yet a known token needs neither
    second = cache.verify(token)
    assert second == first
    second["sub"] = "mutated"  # callers get copies: the cache cannot be poisoned
    assert cache.verify(token)["sub"] == "user_alice"
    assert jwks_fetches(workos_emulator) == 1
    clock.offset = 121  # expired: the remembered claims are dropped and verification says so
    workos_emulator.clear_faults()
    with pytest.raises(TokenError) as info:
        cache.verify(token)
    assert info.value.code == "token_expired"
    cache.close()


def test_verified_cache_is_bounded(workos_emulator: Emulator) -> None:
    cache = JWKSCache(workos_emulator.config(), verified_cache_size=3)
    for _ in range(10):
        cache.verify(workos_emulator.mint_access_token("user_alice", expires_in=600))
    assert len(cache._verified) == 3
    cache.close()
