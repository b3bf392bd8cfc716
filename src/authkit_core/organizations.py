"""WorkOS organizations: :func:`list_organization_memberships_flow` (every page followed) and
:func:`get_organization_flow`, with their models, :class:`OrganizationMembership` and :class:`Organization`.

Flows in the style of :mod:`authkit_core.workos_api` (one body; :class:`~authkit_core.workos_client.WorkOSClient`
and :class:`~authkit_core.workos_client.AsyncWorkOSClient` drive them), over the same request path: the API key as
bearer, the configured timeout, retries with back-off on 408/429/5xx, typed errors
(:class:`~authkit_core.errors.WorkOSAPIError` and its subclasses; ``entity_not_found`` for an unknown id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack
from urllib.parse import quote

import httpx

from .config import AuthKitConfig
from .errors import InvalidResponseError
from .flow import Flow
from .workos_api import _headers, _request_flow, _timeout

__all__ = [
    "MembershipQuery",
    "Organization",
    "OrganizationMembership",
    "get_organization_flow",
    "list_organization_memberships_flow",
]

#: WorkOS's largest page; the flows ask for it to make as few requests as possible.
MAX_PAGE = 100
#: A guard against a server whose cursor never ends: at most this many pages are followed.
MAX_PAGES = 1000


def _str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise InvalidResponseError(f"{name} is not a string")
    return value


def _opt_str(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class OrganizationMembership:
    """A user's membership of an organization (WorkOS's ``organization_membership``)."""

    id: str
    user_id: str
    organization_id: str
    status: str
    #: The role's slug (``admin``, ``member`` ...), ``None`` when WorkOS sends none.
    role: str | None = None
    #: The organization's name, when WorkOS includes it.
    organization_name: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> OrganizationMembership:
        """Read one membership of WorkOS's JSON."""
        role = data.get("role")
        slug = role.get("slug") if isinstance(role, Mapping) else None
        known = {"id", "user_id", "organization_id", "status", "role", "organization_name", "created_at", "updated_at"}
        return cls(
            id=_str(data, "id"),
            user_id=_str(data, "user_id"),
            organization_id=_str(data, "organization_id"),
            status=_str(data, "status"),
            role=slug if isinstance(slug, str) else None,
            organization_name=_opt_str(data, "organization_name"),
            created_at=_opt_str(data, "created_at"),
            updated_at=_opt_str(data, "updated_at"),
            extra={k: v for k, v in data.items() if k not in known},
        )


@dataclass(frozen=True, slots=True)
class Organization:
    """A WorkOS organization."""

    id: str
    name: str
    external_id: str | None = None
    #: The organization's domains (``domain`` of each).
    domains: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Organization:
        """Read WorkOS's JSON."""
        domains = data.get("domains")
        metadata = data.get("metadata")
        known = {"id", "name", "external_id", "domains", "metadata", "created_at", "updated_at"}
        return cls(
            id=_str(data, "id"),
            name=_str(data, "name"),
            external_id=_opt_str(data, "external_id"),
            domains=tuple(
                d["domain"] for d in domains or () if isinstance(d, Mapping) and isinstance(d.get("domain"), str)
            ),
            metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
            created_at=_opt_str(data, "created_at"),
            updated_at=_opt_str(data, "updated_at"),
            extra={k: v for k, v in data.items() if k not in known},
        )


def _get(config: AuthKitConfig, path: str, params: Mapping[str, str] | None = None) -> httpx.Request:
    return httpx.Request(
        "GET", config.api_base_url + path, params=params, headers=_headers(config), extensions=_timeout(config)
    )


def _page(body: dict[str, Any]) -> tuple[list[OrganizationMembership], str | None]:
    data, metadata = body.get("data"), body.get("list_metadata")
    if not isinstance(data, list) or not isinstance(metadata, Mapping):
        raise InvalidResponseError("the list has no data array or no list_metadata")
    after = metadata.get("after")
    return [OrganizationMembership.from_api(item) for item in data], after if isinstance(after, str) else None


class MembershipQuery(TypedDict, total=False):
    """The options of :func:`list_organization_memberships_flow` besides ``user_id``."""

    organization_id: str | None
    statuses: tuple[Literal["active", "inactive", "pending"], ...]
    order: Literal["asc", "desc"]
    #: The page size asked for, 1-100 (default 100: the fewest requests); every page is followed whatever it is.
    limit: int


def list_organization_memberships_flow(
    config: AuthKitConfig, *, user_id: str | None = None, **query: Unpack[MembershipQuery]
) -> Flow[list[OrganizationMembership]]:
    """Every membership of ``user_id`` (and/or in ``organization_id``) with one of ``statuses`` (default: active),
    newest first (``order="asc"``: oldest first): WorkOS's ``GET /user_management/organization_memberships``, each
    page's ``list_metadata.after`` followed until there is none."""
    organization_id = query.get("organization_id")
    statuses = query.get("statuses", ("active",))
    order = query.get("order", "desc")
    limit = query.get("limit", MAX_PAGE)
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    if not user_id and not organization_id:
        raise ValueError("user_id or organization_id is required")
    if not statuses:
        raise ValueError("statuses must name at least one status")
    params = {"limit": str(limit), "order": order, "statuses": ",".join(statuses)}
    if user_id:
        params["user_id"] = user_id
    if organization_id:
        params["organization_id"] = organization_id
    found: list[OrganizationMembership] = []
    after: str | None = None
    for _ in range(MAX_PAGES):
        page = params | ({"after": after} if after else {})
        request = _get(config, "/user_management/organization_memberships", page)
        items, after = yield from _request_flow(config, request, _page)
        found.extend(items)
        if after is None or not items:
            return found
    raise InvalidResponseError(f"the membership list did not end after {MAX_PAGES} pages")


def get_organization_flow(config: AuthKitConfig, organization_id: str) -> Flow[Organization]:
    """``GET /organizations/{id}``."""
    if not organization_id:
        raise ValueError("organization_id is empty")
    request = _get(config, "/organizations/" + quote(organization_id, safe=""))
    return (yield from _request_flow(config, request, Organization.from_api))
