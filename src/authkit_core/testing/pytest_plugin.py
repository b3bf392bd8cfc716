"""pytest fixtures that start the local WorkOS emulator (registered automatically as a pytest plugin).

- ``workos_emulator_server`` (session scope): a running :class:`~authkit_core.testing.server.EmulatorServer`.
- ``workos_emulator`` (function scope): its :class:`~authkit_core.testing.emulator.Emulator`, reset before each
  test; ``workos_emulator.base_url`` and ``workos_emulator.config(**overrides)`` point at the server.
- ``authkit_cookies`` (function scope): ``authkit_cookies(kit, "alice@example.com", organization_id=None)``, the
  session cookies of a browser signed in as that seeded user to the app running with ``kit``
  (:func:`~authkit_core.testing.browser.signed_in_cookies`).
- ``authkit_force_login`` (function scope): ``authkit_force_login(client, kit, "alice@example.com")`` puts those
  cookies in a test client (httpx, Starlette's/FastAPI's ``TestClient``, Flask's or Django's test client) and
  returns the session's ``UserInfo`` (:func:`~authkit_core.testing.browser.force_login`).

The emulator redirects browsers only to registered URIs. ``config(redirect_uri=...)`` registers the redirect URI
it hands out and every page of that site as a sign-out return URL; an app configured some other way registers its
URIs with ``workos_emulator.register_redirect_uri(uri)`` / ``register_logout_uri(uri)``. Registrations are
configuration and survive the reset between tests (the server lives for the whole session).

uvicorn is imported only when a fixture is used, so installing this package without the ``testing`` extra does
not break unrelated pytest runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from authkit_core.engine import AuthKit
    from authkit_core.models import UserInfo

    from .emulator import Emulator
    from .server import EmulatorServer

__all__ = [
    "AuthKitCookies",
    "AuthKitForceLogin",
    "authkit_cookies",
    "authkit_force_login",
    "workos_emulator",
    "workos_emulator_server",
]


class AuthKitCookies(Protocol):
    """The ``authkit_cookies`` fixture: signed-in session cookies for a seeded user."""

    def __call__(self, kit: AuthKit, user: str, *, organization_id: str | None = None) -> dict[str, str]:
        """The cookies (``{name: value}``) of a browser in which ``user`` (id or email) signed in to ``kit``'s
        app."""
        ...


class AuthKitForceLogin(Protocol):
    """The ``authkit_force_login`` fixture: a test client signed in as a seeded user."""

    def __call__(self, client: Any, kit: AuthKit, user: str, *, organization_id: str | None = None) -> UserInfo:
        """Sign ``client`` in as ``user`` (id or email) to ``kit``'s app; returns the session's ``UserInfo``."""
        ...


@pytest.fixture(scope="session")
def workos_emulator_server() -> Iterator[EmulatorServer]:
    """The WorkOS emulator served on a free 127.0.0.1 port for the whole test session."""
    from .emulator import Emulator
    from .server import EmulatorServer

    with EmulatorServer(Emulator()) as server:
        yield server


@pytest.fixture
def workos_emulator(workos_emulator_server: EmulatorServer) -> Emulator:
    """The session's emulator, reset to the default seed (no faults, sessions, outcomes or log)."""
    emulator = workos_emulator_server.emulator
    emulator.reset()
    return emulator


@pytest.fixture
def authkit_cookies(workos_emulator: Emulator) -> AuthKitCookies:
    """``authkit_cookies(kit, user, organization_id=None)``: the session cookies of a browser signed in as the
    seeded ``user`` (id or email) to the app running with ``kit`` (an engine pointed at ``workos_emulator``)."""
    from .browser import signed_in_cookies

    def cookies(kit: AuthKit, user: str, *, organization_id: str | None = None) -> dict[str, str]:
        return signed_in_cookies(kit, workos_emulator, user, organization_id=organization_id)

    return cookies


@pytest.fixture
def authkit_force_login(workos_emulator: Emulator) -> AuthKitForceLogin:
    """``authkit_force_login(client, kit, user, organization_id=None)``: make a test client (httpx, Starlette's or
    FastAPI's ``TestClient``, Flask's or Django's test client) a browser signed in as the seeded ``user`` to the app
    running with ``kit``; returns the session's ``UserInfo``."""
    from .browser import force_login

    def login(client: Any, kit: AuthKit, user: str, *, organization_id: str | None = None) -> UserInfo:
        return force_login(client, kit, workos_emulator, user, organization_id=organization_id)

    return login
