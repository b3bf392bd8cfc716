"""The two WorkOS User Management calls example 5 makes, for the Flask (blocking) and Starlette (async) apps.

The TypeScript original calls ``workos.userManagement.updateOrganizationMembership({organizationMembershipId,
roleSlug})`` from ``@workos-inc/node``. authkit-session's own WorkOS client only speaks the session endpoints, so
the example calls the API with httpx: ``GET /user_management/organization_memberships`` (to find the membership of
a user in an organization) and ``PUT /user_management/organization_memberships/{id}`` with ``role_slug``. Both use
the app's :class:`~authkit_core.config.AuthKitConfig` (``api_base_url``, ``api_key``), so they reach WorkOS or the
bundled emulator alike. Errors are raised as :class:`httpx.HTTPStatusError`.
"""

from __future__ import annotations

from typing import Any

import httpx

from authkit_core.config import AuthKitConfig

__all__ = ["AsyncUserManagement", "UserManagement"]

MEMBERSHIPS = "/user_management/organization_memberships"


def _client_options(config: AuthKitConfig) -> dict[str, Any]:
    return {
        "base_url": config.api_base_url,
        "headers": {"Authorization": f"Bearer {config.api_key}"},
        "timeout": config.http_timeout_seconds,
    }


def _first_membership(answer: httpx.Response) -> dict[str, Any] | None:
    answer.raise_for_status()
    data: list[dict[str, Any]] = answer.json()["data"]
    return data[0] if data else None


def _membership(answer: httpx.Response) -> dict[str, Any]:
    answer.raise_for_status()
    membership: dict[str, Any] = answer.json()
    return membership


class UserManagement:
    """Blocking calls (one short-lived HTTP client per call: enough for an example)."""

    def __init__(self, config: AuthKitConfig) -> None:
        self.config = config

    def find_organization_membership(self, *, user_id: str, organization_id: str) -> dict[str, Any] | None:
        """The active membership of ``user_id`` in ``organization_id`` (a WorkOS ``organization_membership``)."""
        params = {"user_id": user_id, "organization_id": organization_id, "statuses": "active"}
        with httpx.Client(**_client_options(self.config)) as http:
            return _first_membership(http.get(MEMBERSHIPS, params=params))

    def update_organization_membership(self, organization_membership_id: str, *, role_slug: str) -> dict[str, Any]:
        """Give the membership the role ``role_slug``; returns the updated membership."""
        with httpx.Client(**_client_options(self.config)) as http:
            return _membership(http.put(f"{MEMBERSHIPS}/{organization_membership_id}", json={"role_slug": role_slug}))


class AsyncUserManagement:
    """The same calls, awaited."""

    def __init__(self, config: AuthKitConfig) -> None:
        self.config = config

    async def find_organization_membership(self, *, user_id: str, organization_id: str) -> dict[str, Any] | None:
        """The active membership of ``user_id`` in ``organization_id`` (a WorkOS ``organization_membership``)."""
        params = {"user_id": user_id, "organization_id": organization_id, "statuses": "active"}
        async with httpx.AsyncClient(**_client_options(self.config)) as http:
            return _first_membership(await http.get(MEMBERSHIPS, params=params))

    async def update_organization_membership(
        self, organization_membership_id: str, *, role_slug: str
    ) -> dict[str, Any]:
        """Give the membership the role ``role_slug``; returns the updated membership."""
        async with httpx.AsyncClient(**_client_options(self.config)) as http:
            answer = await http.put(f"{MEMBERSHIPS}/{organization_membership_id}", json={"role_slug": role_slug})
            return _membership(answer)
