"""``authkit_adapters.starlette`` over real HTTP: the FastAPI example (``Depends(require_user)`` ...) and the plain
Starlette example (the same functions awaited in endpoints), served by uvicorn against the WorkOS emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from authkit_adapters.starlette import require_user
from authkit_core.engine import AuthKit

from .conftest import (
    ALICE,
    BOB,
    HTML,
    JSON,
    Served,
    authorize,
    free_port,
    query_of,
    serve_asgi,
    set_cookies,
    sign_in,
)


def fastapi_app(kit: Any) -> Any:
    from examples.fastapi_app.app import create_app

    return create_app(authkit=kit)


def starlette_app(kit: Any) -> Any:
    from examples.starlette_app.app import create_app

    return create_app(authkit=kit)


def fastapi_detail(response: httpx.Response) -> str:
    return str(response.json()["detail"])


def starlette_detail(response: httpx.Response) -> str:
    return response.text


EXAMPLES: dict[str, tuple[Callable[[Any], Any], Callable[[httpx.Response], str]]] = {
    "fastapi": (fastapi_app, fastapi_detail),
    "starlette": (starlette_app, starlette_detail),
}


@pytest.fixture(scope="module")
def served(workos_emulator_server: Any) -> Iterator[Served]:
    with serve_asgi(workos_emulator_server) as served:
        yield served


@pytest.fixture(params=list(EXAMPLES))
def site(request: pytest.FixtureRequest, served: Served, workos_emulator: Any) -> Iterator[Served]:
    make, detail = EXAMPLES[request.param]
    served.switch.app = make(served.kit)
    served.detail = detail  # type: ignore[attr-defined]
    yield served
    served.switch.app = None


def test_signed_out_navigation_redirects_to_sign_in_and_back(site: Served) -> None:
    with site.browser() as client:
        first = client.get("/account?tab=1")
        assert first.status_code == 307
        location = first.headers["location"]
        assert "/user_management/authorize?" in location
        assert query_of(location)["redirect_uri"] == [site.base_url + "/callback"]
        assert any(name.startswith("wos-auth-verifier") for name in set_cookies(first))
        callback = client.get(authorize(location))
        assert callback.status_code == 307
        assert callback.headers["location"] == "/account?tab=1"
        account = client.get("/account")
        assert account.status_code == 200
        assert account.json()["email"] == ALICE
        assert account.json()["role"] == "admin"


def test_signed_out_api_request_gets_401(site: Served) -> None:
    detail = site.detail  # type: ignore[attr-defined]
    with site.browser() as client:
        api = client.get("/account", headers=JSON)
        assert api.status_code == 401
        assert detail(api) == "Sign-in required."
        assert "set-cookie" not in api.headers  # no sign-in was started
        # a script's fetch says so even when it accepts HTML
        fetch = client.get("/account", headers={**HTML, "Sec-Fetch-Mode": "cors"})
        assert fetch.status_code == 401
        assert client.get("/editor", headers=JSON).status_code == 401
        assert client.get("/admin", headers=JSON).status_code == 401
        navigate = client.get("/admin", headers={"Accept": "*/*", "Sec-Fetch-Mode": "navigate"})
        assert navigate.status_code == 307


def test_workos_unreachable_with_a_kept_session_answers_503(
    site: Served, make_app: Callable[[Any], Any], workos_emulator_server: Any
) -> None:
    """Issue item 8 through the framework helpers: the session exists, but WorkOS cannot be reached to verify or
    refresh it (here: a fresh engine pointed at a closed port, so it has no signing keys yet)."""
    with site.browser() as client:
        sign_in(client, "/account")
        cookies = dict(client.cookies)
        down = AuthKit(workos_emulator_server.config(redirect_uri=site.base_url + "/callback", api_port=free_port()))
        site.switch.app = make_app(down)
        try:
            page = client.get("/account")
            assert page.status_code == 503 and "Retry-After" in page.headers
            assert "temporarily unavailable" in page.text and "location" not in page.headers
            assert page.headers["content-type"].startswith("text/html")  # the middleware's page
            api = client.get("/admin", headers=JSON)
            assert api.status_code == 503 and api.json()["code"] == "sign_in_unavailable"
            assert "set-cookie" not in page.headers and "set-cookie" not in api.headers  # nothing deleted
            assert dict(client.cookies) == cookies
        finally:
            down.close()


@pytest.fixture
def make_app(request: pytest.FixtureRequest, site: Served) -> Callable[[Any], Any]:
    return EXAMPLES[request.node.callspec.params["site"]][0]


def test_admin_passes_permission_and_role_checks(site: Served) -> None:
    with site.browser() as client:
        sign_in(client, start="/account")
        editor = client.get("/editor")
        assert editor.status_code == 200
        assert editor.json() == {"editing_as": ALICE}
        assert client.get("/admin").json() == {"admin": True}


def test_member_gets_403_on_missing_permission_and_role(site: Served) -> None:
    detail = site.detail  # type: ignore[attr-defined]
    with site.browser() as client:
        sign_in(client, start="/account", email=BOB)
        assert client.get("/account").json()["email"] == BOB
        editor = client.get("/editor")
        assert editor.status_code == 403
        assert "posts:write" in detail(editor)
        admin = client.get("/admin", headers=JSON)
        assert admin.status_code == 403
        assert "admin" in detail(admin)


def test_role_change_takes_effect_after_refresh(site: Served, workos_emulator: Any) -> None:
    workos_emulator.access_token_ttl = 20  # inside the refresh buffer: every request refreshes first
    with site.browser() as client:
        sign_in(client, start="/account", email=BOB)
        assert client.get("/admin").status_code == 403
        workos_emulator.set_membership_role("user_bob", "org_acme", "admin")
        admin = client.get("/admin")
        assert admin.status_code == 200
        assert "wos-session" in set_cookies(admin)  # the refreshed session reached the browser


def test_optional_user_and_sign_out(site: Served) -> None:
    with site.browser() as client:
        home = client.get("/", headers=JSON)
        assert home.status_code == 200
        assert home.json()["email"] is None
        sign_in(client, start="/account")
        assert client.get("/").json()["email"] == ALICE
        out = client.get("/sign-out")
        assert out.status_code == 307
        assert "/user_management/sessions/logout?" in out.headers["location"]
        assert set_cookies(out)["wos-session"]["max-age"] == "0"
        assert client.get("/").json()["email"] is None


def test_fastapi_only_routes(served: Served, workos_emulator: Any) -> None:
    """The FastAPI example's signed-out home offers a sign-in URL (``get_sign_in_url``) that returns to /account."""
    served.switch.app = fastapi_app(served.kit)
    with served.browser() as client:
        url = client.get("/", headers=JSON).json()["sign_in_url"]
        callback = client.get(authorize(url))
        assert callback.headers["location"] == "/account"
        assert client.get("/account").json()["email"] == ALICE


def test_dependency_outside_the_middleware_says_so() -> None:
    import anyio
    from starlette.requests import Request

    from authkit_adapters import NoRequestContextError

    async def main() -> None:
        with pytest.raises(NoRequestContextError):
            await require_user(Request({"type": "http", "method": "GET", "path": "/", "headers": []}))

    anyio.run(main)
