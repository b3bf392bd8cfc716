"""pytest fixtures that start the local WorkOS emulator (registered automatically as a pytest plugin).

- ``workos_emulator_server`` (session scope): a running :class:`~authkit_core.testing.server.EmulatorServer`.
- ``workos_emulator`` (function scope): its :class:`~authkit_core.testing.emulator.Emulator`, reset before each
  test; ``workos_emulator.base_url`` and ``workos_emulator.config(**overrides)`` point at the server.

The emulator redirects browsers only to registered URIs. ``config(redirect_uri=...)`` registers the redirect URI
it hands out and every page of that site as a sign-out return URL; an app configured some other way registers its
URIs with ``workos_emulator.register_redirect_uri(uri)`` / ``register_logout_uri(uri)``. Registrations are
configuration and survive the reset between tests (the server lives for the whole session).

uvicorn is imported only when a fixture is used, so installing this package without the ``testing`` extra does
not break unrelated pytest runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .emulator import Emulator
    from .server import EmulatorServer

__all__ = ["workos_emulator", "workos_emulator_server"]


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
