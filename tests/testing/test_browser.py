"""``authkit_core.testing.browser`` outside the frameworks: the cookies open with the engine that made them, an
``EmulatorServer`` or an ``Emulator`` will do, httpx clients with and without a base URL, an unknown client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from authkit_core.engine import AuthKit
from authkit_core.models import UserInfo
from authkit_core.testing import EmulatorServer
from authkit_core.testing.browser import force_login, set_client_cookies, signed_in_cookies


@pytest.fixture
def kit(workos_emulator_server: EmulatorServer) -> Iterator[AuthKit]:
    workos_emulator_server.emulator.reset()
    kit = AuthKit(workos_emulator_server.config())
    yield kit
    kit.close()


def test_cookies_open_with_the_engine(kit: AuthKit, workos_emulator_server: EmulatorServer) -> None:
    cookies = signed_in_cookies(kit, workos_emulator_server, "bob@example.com")
    info = kit.authenticate(cookies).user_info
    assert isinstance(info, UserInfo)
    assert (info.user.id, info.organization_id, info.role) == ("user_bob", "org_acme", "member")
    other = signed_in_cookies(kit, workos_emulator_server.emulator, "user_alice", organization_id="org_globex")
    assert kit.authenticate(other).user_info.organization_id == "org_globex"
    with pytest.raises(ValueError, match="not a member"):
        signed_in_cookies(kit, workos_emulator_server, "user_bob", organization_id="org_globex")


def test_httpx_clients(kit: AuthKit, workos_emulator_server: EmulatorServer) -> None:
    with httpx.Client(base_url="http://app.test") as client:
        info = force_login(client, kit, workos_emulator_server, "user_alice")
        assert info.user.email == "alice@example.com"
        assert client.cookies.get(kit.config.cookie_name, domain="app.test")
    with httpx.Client() as anywhere:  # no base URL: the cookies go to any host
        force_login(anywhere, kit, workos_emulator_server, "user_alice")
        assert anywhere.cookies.get(kit.config.cookie_name)
    with pytest.raises(TypeError, match="cannot set cookies"):
        set_client_cookies(object(), {"a": "b"})
