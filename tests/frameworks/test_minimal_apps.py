"""The smallest complete apps (``examples/minimal``: FastAPI and Flask, configured only from ``WORKOS_*``), served
over real HTTP against the emulator: sign in from a protected page, the permission check (Alice may write, Bob may
not), sign out by a same-origin POST (a cross-site one is refused)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from .conftest import ALICE, BOB, HTML, Served, authorize, serve_asgi, serve_wsgi


def environment(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    config = served.kit.config
    password = config.cookie_password
    assert isinstance(password, str)
    monkeypatch.setenv("WORKOS_CLIENT_ID", config.client_id)
    monkeypatch.setenv("WORKOS_API_KEY", config.api_key)
    monkeypatch.setenv("WORKOS_REDIRECT_URI", served.base_url + "/callback")
    monkeypatch.setenv("WORKOS_COOKIE_PASSWORD", password)
    monkeypatch.setenv("WORKOS_API_HOSTNAME", config.api_hostname)
    monkeypatch.setenv("WORKOS_API_PORT", str(config.api_port))
    monkeypatch.setenv("WORKOS_API_HTTPS", "false")


@pytest.fixture(params=["fastapi", "flask"])
def minimal(
    request: pytest.FixtureRequest, workos_emulator_server: Any, workos_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Served]:
    kind = str(request.param)
    serve: Callable[[Any], AbstractContextManager[Served]] = serve_asgi if kind == "fastapi" else serve_wsgi
    with serve(workos_emulator_server) as served:
        environment(served, monkeypatch)
        name = f"examples.minimal.{kind}_app"
        sys.modules.pop(name, None)  # built anew under this environment
        served.switch.app = importlib.import_module(name).app
        yield served
        served.switch.app = None
        sys.modules.pop(name, None)


def sign_in_at(client: Any, path: str, email: str) -> None:
    first = client.get(path)
    assert first.status_code == 307, first.text
    assert client.get(authorize(first.headers["location"], email)).headers["location"] == path


def test_sign_in_protected_page_permission_and_sign_out(minimal: Served) -> None:
    with minimal.browser() as alice, minimal.browser() as bob:
        sign_in_at(alice, "/account", ALICE)
        assert alice.get("/account").json() == {"email": ALICE}
        assert alice.post("/posts", headers={"Accept": "application/json"}).json() == {"created": True}
        sign_in_at(bob, "/account", BOB)
        assert bob.post("/posts", headers={"Accept": "application/json"}).status_code == 403
        assert alice.post("/auth/sign-out", headers={**HTML, "Sec-Fetch-Site": "cross-site"}).status_code == 403
        out = alice.post("/auth/sign-out", headers={**HTML, "Sec-Fetch-Site": "same-origin"})
        assert out.status_code == 303 and "/user_management/sessions/logout" in out.headers["location"]
        assert alice.get("/account").status_code == 307  # signed out: back to sign-in
