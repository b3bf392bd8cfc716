"""``authkit_force_login`` with Django's test clients (``Client``, ``AsyncClient``): a signed-in WorkOS session
without walking the sign-in, seen as ``request.user`` in both of the integration's modes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "frameworks.django_settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import AsyncClient, Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from authkit_core.engine import AuthKit  # noqa: E402
from authkit_core.testing.pytest_plugin import AuthKitForceLogin  # noqa: E402

from .conftest import ALICE, BOB  # noqa: E402

BACKENDS = {
    "stateless": ["django.contrib.auth.backends.ModelBackend"],
    "synced": ["authkit_adapters.django.backends.AuthKitBackend", "django.contrib.auth.backends.ModelBackend"],
}


@pytest.fixture(scope="module", autouse=True)
def database() -> None:
    call_command("migrate", verbosity=0, interactive=False)


@pytest.fixture
def kit(workos_emulator: Any) -> Iterator[AuthKit]:
    kit = AuthKit(workos_emulator.config(redirect_uri="http://testserver/callback"))
    yield kit
    kit.close()


@pytest.mark.parametrize("mode", list(BACKENDS))
def test_force_login_with_django_test_clients(kit: AuthKit, authkit_force_login: AuthKitForceLogin, mode: str) -> None:
    with override_settings(AUTHKIT={"authkit": kit}, AUTHENTICATION_BACKENDS=BACKENDS[mode]):
        client = Client()
        assert client.get("/dj/whoami").json()["is_authenticated"] is False
        info = authkit_force_login(client, kit, BOB)
        assert info.user.email == BOB and info.role == "member"
        me = client.get("/dj/whoami").json()
        assert (me["is_authenticated"], me["username"]) == (True, BOB)
        async_client = AsyncClient()
        authkit_force_login(async_client, kit, ALICE)
        mine = asyncio.run(async_client.get("/dj/whoami-async")).json()
        assert (mine["username"], mine["posts_write"]) == (ALICE, True)
