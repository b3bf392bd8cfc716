"""The access-token endpoints for front-end code (``access_token_endpoints``), the same on every face:
:class:`AccessTokenScenarios` is mixed into the ASGI and WSGI test classes, over real HTTP against the emulator."""

from __future__ import annotations

import threading

import httpx
import pytest

from authkit_core.errors import ConfigurationError
from authkit_core.signin import NO_STORE_CACHE_CONTROL
from authkit_core.tokens import get_token_claims

from .conftest import ALICE, SESSION, Site, set_cookies, sign_in

FETCH = {"Accept": "application/json", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}
REFRESH = "refresh_token"


def post(client: httpx.Client, path: str, **headers: str) -> httpx.Response:
    return client.post(path, headers={**FETCH, **headers})


class AccessTokenScenarios:
    """What every face's access-token endpoints must do."""

    def test_signed_out_gets_401_json(self, site: Site) -> None:
        site.mount(access_token_endpoints=True)
        with site.client() as client:
            for path in ("/auth/user", "/auth/access-token"):
                response = post(client, path)
                assert response.status_code == 401 and response.json() == {"error": "sign_in_required"}
                assert response.headers["cache-control"] == NO_STORE_CACHE_CONTROL

    def test_user_and_token_for_a_signed_in_browser(self, site: Site) -> None:
        site.mount(access_token_endpoints=True)
        with site.client() as client:
            sign_in(client)
            user = post(client, "/auth/user")
            assert user.status_code == 200 and user.headers["cache-control"] == NO_STORE_CACHE_CONTROL
            body = user.json()
            assert body["user"]["email"] == ALICE and body["organization_id"] == "org_acme"
            assert "access_token" not in user.text and "refresh" not in user.text
            token = post(client, "/auth/access-token")
            assert token.status_code == 200 and token.headers["cache-control"] == NO_STORE_CACHE_CONTROL
            answer = token.json()
            assert set(answer) == {"access_token", "expires_at"}
            claims = get_token_claims(answer["access_token"])
            assert claims["sub"] == "user_alice" and answer["expires_at"] == claims["exp"]
            assert "set-cookie" not in token.headers  # not due: nothing refreshed, nothing written

    def test_only_same_origin_posts(self, site: Site) -> None:
        site.mount(access_token_endpoints=True)
        with site.client() as client:
            sign_in(client)
            got = client.get("/auth/access-token", headers=FETCH)
            assert got.status_code == 405 and got.headers["allow"] == "POST"
            for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
                refused = post(client, "/auth/access-token", **headers)
                assert refused.status_code == 403 and refused.json() == {"error": "cross_site_request"}
                assert "access_token" not in refused.text
            evil = client.post("/auth/user", headers={"Accept": "application/json", "Origin": "https://evil.example"})
            assert evil.status_code == 403

    def test_a_due_token_is_refreshed_once_for_concurrent_calls(self, site: Site) -> None:
        site.mount(access_token_endpoints=True)
        site.emulator.access_token_ttl = 20  # inside the refresh buffer: due at once
        try:
            with site.client() as client:
                sign_in(client)
                before = client.cookies[SESSION]
                grants = site.emulator.grant_count(REFRESH)
                site.emulator.access_token_ttl = 300
                answers: list[httpx.Response] = []
                barrier = threading.Barrier(8)

                def call() -> None:
                    with site.client() as browser:
                        browser.cookies.set(SESSION, before)
                        barrier.wait()
                        answers.append(post(browser, "/auth/access-token"))

                threads = [threading.Thread(target=call) for _ in range(8)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(30)
                assert [a.status_code for a in answers] == [200] * 8
                assert site.emulator.grant_count(REFRESH) == grants + 1  # one grant for all of them
                assert len({a.json()["access_token"] for a in answers}) == 1
                assert all(SESSION in set_cookies(a) for a in answers)  # the refreshed cookie is written
        finally:
            site.emulator.access_token_ttl = 300

    def test_refresh_true_refreshes_now(self, site: Site) -> None:
        site.mount(access_token_endpoints=True)
        with site.client() as client:
            sign_in(client)
            first = post(client, "/auth/access-token").json()["access_token"]
            grants = site.emulator.grant_count(REFRESH)
            again = client.post("/auth/access-token?refresh=true", headers=FETCH)
            assert again.status_code == 200 and SESSION in set_cookies(again)
            assert again.json()["access_token"] != first
            assert site.emulator.grant_count(REFRESH) == grants + 1
            assert post(client, "/auth/access-token").json()["access_token"] == again.json()["access_token"]

    def test_another_prefix_and_off_by_default(self, site: Site) -> None:
        site.mount(access_token_endpoints="/api/session")
        with site.client() as client:
            sign_in(client)
            assert post(client, "/api/session/access-token").status_code == 200
            assert post(client, "/auth/access-token").status_code in (404, 405)  # the app's, not ours
        site.mount()
        with site.client() as client:
            sign_in(client)
            assert post(client, "/auth/access-token").status_code in (404, 405)
        for bad in ("auth", "/auth/", "/a?b"):
            with pytest.raises(ConfigurationError):
                site.mount(access_token_endpoints=bad)
