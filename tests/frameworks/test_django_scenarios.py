"""The Django face runs the shared middleware scenarios: every test of ``tests/adapters/conftest.py``'s
:class:`Scenarios` (and the bearer, access-token and ready-made route scenarios) against Django's
``AuthKitMiddleware``, served by wsgiref (Django's WSGI handler) and by uvicorn (Django's ASGI handler), over real
HTTP against the emulator. The views (``django_scenario_urls.py``) are those of the Flask and Starlette test apps,
written for Django; the middleware's options come from ``settings.AUTHKIT``, as in a Django project."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

import pytest

os.environ["DJANGO_SETTINGS_MODULE"] = "frameworks.django_settings"

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from adapters.access_token_scenarios import AccessTokenScenarios  # noqa: E402
from adapters.bearer_scenarios import BearerScenarios  # noqa: E402
from adapters.conftest import Scenarios, Site  # noqa: E402
from adapters.route_scenarios import AuthRouteScenarios  # noqa: E402
from adapters.test_asgi import Switch as ASGISwitch  # noqa: E402
from adapters.test_asgi import free_port, serve_uvicorn  # noqa: E402
from adapters.test_wsgi import QuietHandler  # noqa: E402
from adapters.test_wsgi import Switch as WSGISwitch  # noqa: E402
from authkit_core.engine import AuthKit  # noqa: E402

#: Only our middleware (no CSRF or common middleware: the scenarios' POSTs and paths are the other faces' too).
SCENARIO_SETTINGS = {
    "ROOT_URLCONF": "frameworks.django_scenario_urls",
    "MIDDLEWARE": ["authkit_adapters.django.AuthKitMiddleware"],
}


def django_middleware(kind: str) -> Any:
    """``site.mount(**options)``: a new Django handler whose middleware reads ``settings.AUTHKIT = options``."""

    def mount(app: object, **options: Any) -> Any:
        settings.AUTHKIT = options
        return WSGIHandler() if kind == "wsgi" else ASGIHandler()

    return mount


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def server(request: pytest.FixtureRequest, workos_emulator_server: Any) -> Iterator[tuple[Any, str, AuthKit, str]]:
    kind = str(request.param)
    with override_settings(**SCENARIO_SETTINGS):
        before = getattr(settings, "AUTHKIT", None)
        if kind == "wsgi":
            switch: Any = WSGISwitch()
            httpd: WSGIServer = make_server("127.0.0.1", 0, switch, handler_class=QuietHandler)
            base = f"http://127.0.0.1:{httpd.server_port}"
            kit = AuthKit(workos_emulator_server.config(redirect_uri=base + "/callback"))
            thread = threading.Thread(target=httpd.serve_forever, daemon=True)
            thread.start()
            try:
                yield switch, base, kit, kind
            finally:
                httpd.shutdown()
                httpd.server_close()
                thread.join(10)
        else:
            switch = ASGISwitch()
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            kit = AuthKit(workos_emulator_server.config(redirect_uri=base + "/callback"))
            with serve_uvicorn(switch, port):
                yield switch, base, kit, kind
        kit.close()
        settings.AUTHKIT = before


@pytest.fixture
def site(server: tuple[Any, str, AuthKit, str], workos_emulator: Any) -> Site:
    switch, base, kit, kind = server
    return Site((switch, base, kit), workos_emulator, django_middleware(kind), None)


class TestDjango(Scenarios, BearerScenarios, AccessTokenScenarios, AuthRouteScenarios):
    """The shared scenarios, through Django under WSGI and ASGI."""

    def test_a_repeated_request_takes_the_warm_path(self, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
        """As on the other faces, a session cookie authenticated a moment ago is answered from the engine's memory
        (no authentication flow), with the same answer."""
        from adapters.conftest import ALICE, sign_in

        site.mount()
        with site.client() as client:
            sign_in(client)
            assert client.get("/").json()["email"] == ALICE  # authenticated once, then remembered
            calls: list[str] = []
            for name in ("authenticate", "authenticate_async"):
                original = getattr(site.kit, name)
                monkeypatch.setattr(
                    site.kit, name, lambda *a, _o=original, _n=name, **k: calls.append(_n) or _o(*a, **k)
                )
            for _ in range(3):
                assert client.get("/").json()["email"] == ALICE
            assert calls == []
