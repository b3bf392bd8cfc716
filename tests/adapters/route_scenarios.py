"""The ready-made routes served by the middleware itself (``auth_routes``), the same on every face:
:class:`AuthRouteScenarios` is mixed into the ASGI and WSGI test classes, over real HTTP against the emulator."""

from __future__ import annotations

import pytest

from authkit_core.errors import ConfigurationError

from .conftest import ALICE, SESSION, Site, authorize, query_of, set_cookies, verifier_cookies


class AuthRouteScenarios:
    """``GET /auth/sign-in``, ``GET /auth/sign-up``, ``POST /auth/sign-out`` without framework code."""

    def test_sign_in_and_back_to_the_return_path(self, site: Site) -> None:
        site.mount(auth_routes=True)
        with site.client() as client:
            first = client.get("/auth/sign-in", params={"return_to": "/protected?x=1", "login_hint": ALICE})
            assert first.status_code == 307
            location = first.headers["location"]
            assert location.startswith(site.emulator.base_url + "/user_management/authorize?")
            assert query_of(location)["login_hint"] == [ALICE] and query_of(location)["screen_hint"] == ["sign-in"]
            assert len(verifier_cookies(first)) == 1
            callback = client.get(authorize(location))
            assert callback.headers["location"] == "/protected?x=1"
            assert client.get("/").json()["email"] == ALICE
            up = client.get("/auth/sign-up", params={"return_to": "https://evil.example/"})
            assert query_of(up.headers["location"])["screen_hint"] == ["sign-up"]

    def test_sign_out_is_a_same_origin_post(self, site: Site) -> None:
        site.mount(auth_routes=True)
        with site.client() as client:
            first = client.get("/auth/sign-in")
            client.get(authorize(first.headers["location"]))
            assert client.get("/auth/sign-out").status_code == 405
            cross = client.post("/auth/sign-out", headers={"Sec-Fetch-Site": "cross-site"})
            assert cross.status_code == 403 and SESSION not in set_cookies(cross)
            assert client.get("/").json()["email"] == ALICE  # the session was kept
            out = client.post("/auth/sign-out", headers={"Sec-Fetch-Site": "same-origin"})
            assert out.status_code == 303
            assert "/user_management/sessions/logout" in out.headers["location"]
            assert set_cookies(out)[SESSION]["max-age"] == "0"
            assert client.get("/").json()["email"] is None

    def test_another_prefix_and_bad_prefixes(self, site: Site) -> None:
        site.mount(auth_routes="/account")
        with site.client() as client:
            assert client.get("/account/sign-in").status_code == 307
            assert client.get("/auth/sign-in").status_code == 404  # the app's
        for bad in ("auth", "/auth/", 7):
            with pytest.raises(ConfigurationError):
                site.mount(auth_routes=bad)
