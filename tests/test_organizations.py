"""``list_organization_memberships`` and ``get_organization`` on the WorkOS clients (sync, and async under asyncio
and trio) against the emulator over real HTTP, every page followed; the emulator's list shape and cursor pagination
(``limit``, ``after``, ``before``, ``order``, ``statuses``). The official ``workos`` SDK reads the same endpoints in
``tests/interop/test_sdk_conformance.py``."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from authkit_core import Organization, OrganizationMembership, WorkOSAPIError
from authkit_core.workos_client import AsyncWorkOSClient, WorkOSClient

MEMBERSHIPS = "/user_management/organization_memberships"


def crowd(emulator: Any, n: int = 7) -> list[str]:
    """Make Alice a member of ``n`` more organizations; their ids, in the order added."""
    ids = []
    for i in range(n):
        org = emulator.add_organization(f"Org {i}", organization_id=f"org_extra_{i}")
        emulator.add_membership("user_alice", org, "member")
        ids.append(org)
    return ids


def test_sync_client_follows_every_page(workos_emulator: Any) -> None:
    extra = crowd(workos_emulator)
    with WorkOSClient(workos_emulator.config()) as client:
        before = len([r for r in workos_emulator.requests if r.path == MEMBERSHIPS])
        found = client.list_organization_memberships("user_alice", limit=2)
        pages = len([r for r in workos_emulator.requests if r.path == MEMBERSHIPS]) - before
        assert all(isinstance(m, OrganizationMembership) for m in found)
        assert [m.organization_id for m in found] == ["org_acme", "org_globex", *extra]
        assert pages == 5  # 9 memberships, 2 per page
        assert found[0].role == "admin" and found[0].organization_name == "Acme Corp" and found[0].status == "active"
        assert [m.organization_id for m in client.list_organization_memberships("user_alice")] == [
            "org_acme",
            "org_globex",
            *extra,
        ]
        assert [m.user_id for m in client.list_organization_memberships(organization_id="org_globex")] != []
        org = client.get_organization("org_acme")
        assert isinstance(org, Organization) and (org.id, org.name) == ("org_acme", "Acme Corp")
        with pytest.raises(WorkOSAPIError) as missing:
            client.get_organization("org_nope")
        assert missing.value.code == "entity_not_found" and missing.value.status == 404
        with pytest.raises(ValueError, match="user_id or organization_id is required"):
            client.list_organization_memberships()
        with pytest.raises(ValueError, match="limit must be between 1 and 100"):
            client.list_organization_memberships("user_alice", limit=101)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_client(workos_emulator: Any, backend: str) -> None:
    extra = crowd(workos_emulator, 3)

    async def main() -> tuple[list[OrganizationMembership], Organization]:
        async with AsyncWorkOSClient(workos_emulator.config()) as client:
            found = await client.list_organization_memberships("user_alice", limit=1)
            return found, await client.get_organization("org_globex")

    found, org = anyio.run(main, backend=backend)
    assert [m.organization_id for m in found] == ["org_acme", "org_globex", *extra]
    assert org.name == "Globex"


def test_emulator_list_shape_and_cursors(workos_emulator: Any) -> None:
    extra = crowd(workos_emulator, 3)
    headers = {"Authorization": f"Bearer {workos_emulator.api_key}"}
    url = workos_emulator.base_url + MEMBERSHIPS

    def page(**params: str) -> dict[str, Any]:
        answer = httpx.get(url, params={"user_id": "user_alice", **params}, headers=headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert body["object"] == "list" and set(body["list_metadata"]) == {"before", "after"}
        return body

    first = page(limit="2")
    ids = [m["id"] for m in first["data"]]
    assert first["list_metadata"] == {"before": None, "after": ids[-1]}
    second = page(limit="2", after=ids[-1])
    assert [m["organization_id"] for m in second["data"]] == extra[:2]
    back = page(limit="2", before=second["data"][0]["id"])
    assert [m["id"] for m in back["data"]] == ids and back["list_metadata"]["before"] is None
    last = page(limit="2", after=second["data"][-1]["id"])
    assert [m["organization_id"] for m in last["data"]] == extra[2:] and last["list_metadata"]["after"] is None
    oldest_first = page(order="asc")
    assert [m["organization_id"] for m in oldest_first["data"]] == ["org_acme", "org_globex", *extra]
    for bad in ({"limit": "0"}, {"limit": "101"}, {"order": "sideways"}):
        assert httpx.get(url, params={"user_id": "user_alice", **bad}, headers=headers).status_code == 422
    assert httpx.get(url, params={"user_id": "user_alice"}).status_code == 401  # the API key is required
