"""Sign-out and revocation while a refresh grant is in flight, over real HTTP (ASGI under uvicorn, WSGI under
``wsgiref``), for every server-side store.

The app's engine talks to the emulator through :class:`~engine.held.HeldTransport`, which holds the answer of a
refresh grant (processed upstream: the token is rotated) until the test releases it. While it is held, the user
signs out from another tab (a copy of the cookie) or an administrator calls ``revoke_user_sessions``. Then:

* the refreshing request is answered signed out, without a 5xx, and its response expires the session cookie;
* the copy of the cookie taken before (and the refreshing browser's own jar) stay signed out: the refresh's save
  did not bring the session back.

On the code before the fix the memory store re-created the session (the copied cookie was signed in again), and
both stores answered the refreshing request signed in.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy

from authkit_core.engine import AuthKit
from authkit_core.storage.base import SessionStore
from authkit_core.storage.memory import MemorySessionStore
from authkit_core.storage.sql import SQLSessionStore
from conftest import require_mariadb, require_postgres
from engine.held import HeldTransport

from .conftest import ALICE, SESSION, Site, count, expires_session, fresh_table, sign_in, whoami


@pytest.fixture(params=["memory", "sqlite", "postgres", "mariadb"])
def server_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    """A store that keeps sessions server-side."""
    if request.param == "memory":
        yield MemorySessionStore()
        return
    url = {
        "sqlite": lambda: f"sqlite:///{tmp_path}/in_flight.sqlite3",
        "postgres": require_postgres,
        "mariadb": require_mariadb,
    }[str(request.param)]()
    store = SQLSessionStore(url, table_name=fresh_table(), create_tables=True)
    yield store
    store.dispose()
    engine = sqlalchemy.create_engine(url)
    store.table.drop(engine, checkfirst=True)
    engine.dispose()


def held_kit(site: Site, store: SessionStore, held: HeldTransport) -> AuthKit:
    """An engine for ``site`` whose HTTP clients (both faces) go through ``held``."""
    config = site.emulator.config(redirect_uri=site.base_url + "/callback", max_retries=1)
    kit = AuthKit(config, store=store, http=httpx.Client(transport=held), async_http=httpx.AsyncClient(transport=held))
    site.kits.append(kit)
    site.mount(kit)
    return kit


@pytest.mark.parametrize(
    ("trigger", "how"),
    [("explicit", "sign_out"), ("explicit", "revoke"), ("expiring", "revoke")],
    ids=["refresh_session-then-sign_out", "refresh_session-then-revoke", "proactive-refresh-then-revoke"],
)
def test_session_ended_while_its_refresh_is_in_flight_stays_ended(
    site: Site, server_store: SessionStore, workos_emulator: Any, trigger: str, how: str
) -> None:
    held = HeldTransport()
    held_kit(site, server_store, held)
    if trigger == "expiring":
        workos_emulator.access_token_ttl = 20  # inside the refresh buffer: the next request refreshes
    with site.client() as browser:
        sign_in(browser)
        workos_emulator.access_token_ttl = 300
        copied = browser.cookies[SESSION]
        answers: list[httpx.Response] = []
        errors: list[BaseException] = []

        def refreshing_request() -> None:
            try:
                answers.append(browser.get("/refresh" if trigger == "explicit" else "/"))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=refreshing_request)
        thread.start()
        try:
            assert held.arrived.wait(15), "no refresh grant was sent"
            count("attacks")
            if how == "sign_out":
                with site.client() as other_tab:
                    other_tab.cookies.set(SESSION, copied)
                    assert other_tab.get("/sign-out").status_code == 307
            else:
                assert server_store.revoke_user_sessions("user_alice") == 1  # type: ignore[attr-defined]
        finally:
            held.release.set()
            thread.join(30)
        assert not errors, errors
        assert workos_emulator.grant_count("refresh_token") == 1  # WorkOS did rotate the token
        with site.client() as attacker:  # the copy taken before the sign-out
            attacker.cookies.set(SESSION, copied)
            _, body = whoami(attacker)
            assert body["email"] is None, "the ended session came back"
            assert body["reason"] == "not_found"
        answer = answers[0]
        assert answer.status_code < 500, answer.text[:300]
        if trigger == "explicit":  # refresh_session raised the terminal error; the test app answers 409
            assert answer.status_code == 409 and answer.json()["error"] == "session_not_found", answer.text[:300]
        else:
            assert answer.status_code == 200 and answer.json()["email"] is None, answer.text[:300]
            assert answer.json()["reason"] == "session_not_found"
        assert expires_session(answer)
        _, body = whoami(browser)  # the refreshing browser, with whatever the answer left in its jar
        assert body["email"] is None
    with site.client() as fresh:  # the store still works for a new sign-in
        sign_in(fresh)
        assert whoami(fresh)[1]["email"] == ALICE
