"""Bearer access tokens (``accept_bearer=True``), the same on every face: :class:`BearerScenarios` is mixed into the
ASGI (Starlette on uvicorn and hypercorn/trio) and WSGI (Flask on wsgiref) test classes, over real HTTP against the
emulator. The apps' routes are those of :mod:`tests.adapters.conftest`."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from authkit_core.tokens import get_token_claims

from .conftest import ALICE, SESSION, Site, sign_in

API = {"Accept": "application/json", "Sec-Fetch-Mode": "cors"}
PAGE = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
REFRESH = "refresh_token"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bearer(token: str, headers: dict[str, str] = API) -> dict[str, str]:
    return {**headers, "Authorization": f"Bearer {token}"}


def token_for(site: Site, user: str = "user_alice", **claims: Any) -> str:
    """A WorkOS access token from the emulator (signed by its current key, in its JWKS)."""
    return str(site.emulator.mint_access_token(user, organization_id="org_acme", **claims))


def assert_invalid_token(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token"') and f'error_description="{reason}"' in challenge
    assert response.json()["error"] == "invalid_token"
    assert "location" not in response.headers and "set-cookie" not in response.headers


class BearerScenarios:
    """Bearer-token behaviour every face must show."""

    def test_a_valid_token_authenticates_an_api_request(self, site: Site) -> None:
        site.mount(accept_bearer=True)
        with site.client() as client:
            response = client.get("/protected", headers=bearer(token_for(site)))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == "user_alice" and body["org"] == "org_acme" and body["sid"]
        assert body["email"] == ""  # an access token carries no profile: the user is known by id
        assert body["permissions"]  # from the token's claims, as for a session
        assert "set-cookie" not in response.headers

    def test_a_repeated_token_keeps_working_and_never_writes_a_cookie(self, site: Site) -> None:
        site.mount(accept_bearer=True)
        token = token_for(site)
        with site.client() as client:
            for _ in range(3):
                response = client.get("/", headers=bearer(token))
                assert response.json()["id"] == "user_alice"
                assert "set-cookie" not in response.headers
            assert not client.cookies

    @pytest.mark.parametrize(
        ("kind", "reason"),
        [
            ("expired", "token_expired"),
            ("bad-signature", "invalid_signature"),
            ("another-client", "invalid_audience"),
            ("another-audience", "invalid_audience"),
            ("alg-none", "unsupported_algorithm"),
            ("hs256", "unsupported_algorithm"),
            ("garbage", "invalid_token"),
            ("no-sid", "invalid_token"),
        ],
    )
    def test_a_refused_token_is_401_with_the_rfc_6750_challenge(self, site: Site, kind: str, reason: str) -> None:
        site.mount(accept_bearer=True, middleware_auth=True)
        good = token_for(site)
        header, payload, signature = good.split(".")
        claims = get_token_claims(good)
        tokens = {
            "expired": lambda: token_for(site, expires_in=-120),
            "bad-signature": lambda: f"{header}.{payload}.{signature[:-6]}AAAAAA",
            "another-client": lambda: token_for(site, client_id="client_someone_else"),
            "another-audience": lambda: token_for(site, aud=["client_someone_else"]),
            "alg-none": lambda: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
            "hs256": lambda: f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}.c2lnbmF0dXJl",
            "garbage": lambda: "not.a.jwt",
            "no-sid": lambda: token_for(site, sid=None),
        }
        with site.client() as client:
            for headers in (API, PAGE):  # a page navigation too: never a redirect to sign in
                for path in ("/protected", "/public/page"):
                    assert_invalid_token(client.get(path, headers=bearer(tokens[kind](), headers)), reason)

    def test_a_bearer_header_that_holds_no_token_is_refused(self, site: Site) -> None:
        site.mount(accept_bearer=True)
        with site.client() as client:
            for value in ("Bearer", "Bearer a b", "bearer <script>", 'Bearer tok"en'):
                response = client.get("/", headers={**API, "Authorization": value})
                assert_invalid_token(response, "invalid_token")
            # another scheme is not ours: the request goes on signed out
            assert client.get("/", headers={**API, "Authorization": "Basic dTpw"}).json()["email"] is None

    def test_the_header_wins_over_the_cookie_which_is_left_alone(self, site: Site) -> None:
        site.mount(accept_bearer=True)
        site.emulator.access_token_ttl = 20  # Alice's cookie session is due for refresh on every request
        try:
            with site.client() as client:
                sign_in(client)
                before = client.cookies[SESSION]
                grants = site.emulator.grant_count(REFRESH)
                response = client.get("/", headers=bearer(token_for(site, "user_bob")))
                assert response.json()["id"] == "user_bob"
                assert "set-cookie" not in response.headers
                assert site.emulator.grant_count(REFRESH) == grants  # the cookie's session was not refreshed
                assert client.cookies[SESSION] == before
                assert client.get("/").json()["email"] == ALICE  # without the header, the cookie as before
        finally:
            site.emulator.access_token_ttl = 300

    def test_the_middleware_endpoints_still_answer_a_bearer_request(self, site: Site) -> None:
        """A bearer header does not hide the sign-in callback from the middleware (a bad callback is still its
        400 page, not the app's), and the access-token endpoints answer for the token."""
        site.mount(accept_bearer=True, access_token_endpoints=True)
        token = token_for(site)
        with site.client() as client:
            callback = client.get("/callback?code=x&state=y", headers=bearer(token, PAGE))
            assert callback.status_code == 400 and "Sign-in failed" in callback.text
            user = client.post("/auth/user", headers={**bearer(token), "Sec-Fetch-Site": "same-origin"})
            assert user.status_code == 200 and user.json()["user"]["id"] == "user_alice"

    def test_refresh_session_on_a_bearer_request_raises_a_typed_error(self, site: Site) -> None:
        site.mount(accept_bearer=True)
        with site.client() as client:
            response = client.get("/refresh", headers=bearer(token_for(site)))
        assert response.status_code == 409 and response.json() == {"error": "bearer_request"}

    def test_signed_out_api_request_gets_a_bearer_challenge(self, site: Site) -> None:
        site.mount(accept_bearer=True)
        with site.client() as client:
            response = client.get("/protected", headers=API)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == 'Bearer realm="api"'
            assert response.json()["error"] == "sign_in_required"
            assert client.get("/protected", headers=PAGE).status_code == 307  # a page still goes to sign in

    def test_without_accept_bearer_the_header_is_not_a_credential(self, site: Site) -> None:
        site.mount()
        with site.client() as client:
            assert client.get("/", headers=bearer(token_for(site))).json()["email"] is None
            response = client.get("/protected", headers=bearer(token_for(site)))
            assert response.status_code == 401 and "www-authenticate" not in response.headers
