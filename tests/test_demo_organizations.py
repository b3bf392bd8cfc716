"""The demo's organization switcher reads names through the library's WorkOS client (``list_organization_memberships``)
and keeps the page up when WorkOS cannot answer: the last list (or none) with a note, never an error page. The demo
app in process (Starlette's TestClient) against the emulator over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from examples.demo import app as demo_app
from starlette.testclient import TestClient

from authkit_core.engine import AuthKit
from authkit_core.testing.browser import signed_in_cookies

MEMBERSHIPS = "/user_management/organization_memberships"


def test_names_from_the_api_and_an_outage_keeps_the_page(workos_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    base = "http://testserver"
    kit = AuthKit(workos_emulator.config(redirect_uri=base + "/callback"))
    settings = demo_app.DemoSettings(
        api_base_url=workos_emulator.base_url, api_key=workos_emulator.api_key, public_url=base
    )
    monkeypatch.setattr(demo_app, "ORGANIZATIONS_TTL", 0.0)  # every page asks WorkOS again
    with TestClient(demo_app.create_app(kit, settings), base_url=base) as client:
        for name, value in signed_in_cookies(kit, workos_emulator, "alice@example.com").items():
            client.cookies.set(name, value)
        page = client.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert 'id="org-name">Acme Corp<' in page.text and "Globex" in page.text
        workos_emulator.inject_fault(MEMBERSHIPS, status=503, count=1000)
        down = client.get("/", headers={"Accept": "text/html"})
        assert down.status_code == 200  # never an error page
        assert "could not be loaded from the WorkOS API" in down.text
        assert 'id="org-name">Acme Corp<' in down.text  # the last list, names included
        assert 'id="org-id">org_acme<' in down.text
    kit.close()
