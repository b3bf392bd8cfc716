"""Fixtures for the engine's behavioural suite: the same tests run against every session store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy

from authkit_core import AuthKitConfig
from authkit_core.cookies import apply_set_cookies
from authkit_core.engine import AuthKit, AuthResult
from authkit_core.pkce import code_challenge, generate_code_verifier, generate_state
from authkit_core.storage.base import SessionStore
from authkit_core.storage.cookie import CookieSessionStore
from authkit_core.storage.memory import MemorySessionStore
from authkit_core.workos_api import authorization_url
from conftest import require_mariadb, require_postgres, require_redis

STORES = ["cookie", "memory", "sqlite", "postgres", "mariadb", "redis"]


def make_store(kind: str, tmp_path: Any) -> tuple[SessionStore, Any]:
    """A fresh store of ``kind`` and a cleanup callable."""
    if kind == "cookie":
        return CookieSessionStore(), lambda: None
    if kind == "memory":
        return MemorySessionStore(), lambda: None
    if kind == "redis":
        import redis

        from authkit_core.storage.redis import RedisSessionStore

        url = require_redis()
        prefix = f"authkit-engine-{uuid.uuid4().hex[:10]}"
        made = RedisSessionStore(url, key_prefix=prefix)

        def drop() -> None:
            made.close()
            raw = redis.Redis.from_url(url)
            for pattern in (f"{{{prefix}:*", f"{prefix}:*"):
                for key in raw.scan_iter(match=pattern, count=1000):
                    raw.delete(key)
            raw.close()

        return made, drop
    from authkit_core.storage.sql import SQLSessionStore

    if kind == "sqlite":
        url = f"sqlite:///{tmp_path}/sessions.sqlite3"
    elif kind == "postgres":
        url = require_postgres()
    else:
        url = require_mariadb()
    table = f"authkit_test_{uuid.uuid4().hex[:10]}"
    store = SQLSessionStore(url, table_name=table, create_tables=True)

    def cleanup() -> None:
        store.dispose()
        raw = sqlalchemy.create_engine(url)
        store.table.drop(raw, checkfirst=True)
        raw.dispose()

    return store, cleanup


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(store_kind: str, tmp_path: Any) -> Iterator[SessionStore]:
    store, cleanup = make_store(store_kind, tmp_path)
    yield store
    cleanup()


@pytest.fixture
def config(workos_emulator: Any) -> AuthKitConfig:
    return workos_emulator.config()  # type: ignore[no-any-return]


@pytest.fixture
def kit(config: AuthKitConfig, store: SessionStore) -> Iterator[AuthKit]:
    kit = AuthKit(config, store=store)
    yield kit
    kit.close()


apply_cookies = apply_set_cookies


def get_code(
    config: AuthKitConfig, email: str = "alice@example.com", organization_id: str | None = None
) -> tuple[str, str]:
    """Sign in at the emulator's authorize endpoint (login_hint) and return ``(code, code_verifier)``."""
    verifier = generate_code_verifier()
    state = generate_state()
    url = authorization_url(
        config,
        redirect_uri=config.redirect_uri,
        state=state,
        code_challenge=code_challenge(verifier),
        login_hint=email,
        organization_id=organization_id,
    )
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code in (302, 303, 307), response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == [state]
    return query["code"][0], verifier


def sign_in(
    kit: AuthKit, email: str = "alice@example.com", organization_id: str | None = None
) -> tuple[AuthResult, dict[str, str]]:
    """A full sign-in through the emulator; returns the result and the browser's cookie jar."""
    code, verifier = get_code(kit.config, email, organization_id)
    result = kit.exchange_code(code, verifier, {})
    return result, apply_cookies({}, result.cookies)
