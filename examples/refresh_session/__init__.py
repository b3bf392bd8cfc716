"""Every example of the authkit-nextjs ``refreshSession`` reference page, ported to Python (see README.md).

``asgi_app`` (Starlette) and ``wsgi_app`` (Flask) serve the same routes with the plain authkit-session middleware
and request-scoped functions; ``workos_api`` holds the WorkOS API calls of example 5. Run one with
``python -m examples.refresh_session.asgi_app`` (or ``.wsgi_app``) from the repository root: with ``WORKOS_CLIENT_ID``
set it uses your WorkOS environment (``WORKOS_*`` variables), otherwise it starts the bundled emulator with
:func:`add_example_world` applied, so every example can be tried in a browser at http://127.0.0.1:8000/
(``PORT`` changes the port).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from authkit_core.config import AuthKitConfig
from authkit_core.engine import AuthKit

__all__ = ["EXAMPLE_PORT", "add_example_world", "example_authkit"]

#: Where ``python -m examples.refresh_session.<app>`` serves the app (``PORT`` in the environment, else 8000).
EXAMPLE_PORT = int(os.environ.get("PORT", "8000"))


def add_example_world(emulator: Any) -> None:
    """Add to the emulator's default seed what examples 4 and 6 switch into: ``alice@example.com`` becomes a member
    of ``org_sso`` (requires SSO), ``org_mfa`` (requires MFA enrollment) and ``org_123`` (the organization of the
    error-handling example, which requires SSO)."""
    emulator.add_organization("Org 123", organization_id="org_123", requires="sso_required")
    for organization_id in ("org_sso", "org_mfa", "org_123"):
        emulator.add_membership("user_alice", organization_id, "member")


@contextmanager
def example_authkit(port: int = EXAMPLE_PORT) -> Iterator[AuthKit]:
    """The engine of a standalone run: WorkOS from the environment, or the bundled emulator on a free port."""
    if os.environ.get("WORKOS_CLIENT_ID"):
        yield AuthKit(AuthKitConfig.from_env())
        return
    from authkit_core.testing import Emulator, EmulatorServer

    with EmulatorServer(Emulator()) as server:
        add_example_world(server.emulator)
        print(f"WorkOS emulator on {server.base_url}; sign in as alice@example.com")
        yield AuthKit(server.config(redirect_uri=f"http://127.0.0.1:{port}/callback"))
