"""The management API endpoints: API key validation, organization memberships (listed with WorkOS's cursor
pagination), organizations and users (API key required)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from ..seed import SeedMembership
from .asgi import _api_error, _Request, _Response
from .state import _iso, _State


class _Management(_State):
    """The management endpoints: API key validation, organization memberships, organizations and users."""

    def _validate_api_key(self, request: _Request) -> _Response:
        denied = self._require_api_key(request)
        if denied is not None:
            return denied
        value = (request.params or {}).get("value")
        if not isinstance(value, str) or not value:
            return _api_error(422, "invalid_request_parameters", "value is required.")
        key = self._api_keys.get(value)
        if key is None:
            return _Response.json(200, {"api_key": None})
        return _Response.json(
            200,
            {
                "api_key": {
                    "object": "api_key",
                    "id": key.id,
                    "owner": {"type": "organization", "id": key.organization_id},
                    "name": key.name,
                    "obfuscated_value": f"{value[:3]}...{value[-4:]}",
                    "last_used_at": None,
                    "expires_at": None,
                    "permissions": list(key.permissions),
                    "created_at": key.created_at,
                    "updated_at": key.updated_at,
                }
            },
        )

    def _list_memberships(self, request: _Request) -> _Response:
        """WorkOS's list endpoint: ``user_id`` and/or ``organization_id``, ``statuses`` (default ``active``), and
        cursor pagination (``limit`` 1-100, default 10; ``before``/``after`` an object id; ``order`` ``desc``
        (default), ``asc`` or ``normal``) answered as ``{"object": "list", "data", "list_metadata": {before,
        after}}``."""
        denied = self._require_api_key(request)
        if denied is not None:
            return denied
        query = request.query
        user_id, org_id = query.get("user_id"), query.get("organization_id")
        if not user_id and not org_id:
            return _api_error(422, "invalid_request_parameters", "user_id or organization_id is required.")
        statuses = query.get("statuses")
        wanted = set(statuses.split(",")) if statuses else {"active"}
        found = [
            m
            for m in self._memberships.values()
            if (not user_id or m.user_id == user_id)
            and (not org_id or m.organization_id == org_id)
            and m.status in wanted
        ]
        page = _paginate(found, query)
        if isinstance(page, _Response):
            return page
        items, metadata = page
        data = [self._membership_json(m) for m in items]
        return _Response.json(200, {"object": "list", "data": data, "list_metadata": metadata})

    def _get_organization(self, request: _Request) -> _Response:
        denied = self._require_api_key(request)
        if denied is not None:
            return denied
        oid = request.path.removeprefix("/organizations/")
        org = self._orgs.get(oid)
        if org is None:
            return _api_error(404, "entity_not_found", f"Organization not found: '{oid}'.")
        return _Response.json(
            200,
            {
                "object": "organization",
                "id": org.id,
                "name": org.name,
                "domains": [],
                "metadata": {},
                "external_id": None,
                "allow_profiles_outside_organization": False,
                "created_at": org.created_at,
                "updated_at": org.created_at,
            },
        )

    def _membership_in_path(self, request: _Request) -> SeedMembership | _Response:
        """The membership the path names, or the error answer (no API key, unknown id)."""
        denied = self._require_api_key(request)
        if denied is not None:
            return denied
        mid = request.path.removeprefix("/user_management/organization_memberships/")
        membership = self._memberships.get(mid)
        if membership is None:
            return _api_error(404, "entity_not_found", f"Organization membership not found: '{mid}'.")
        return membership

    def _get_membership(self, request: _Request) -> _Response:
        membership = self._membership_in_path(request)
        if isinstance(membership, _Response):
            return membership
        return _Response.json(200, self._membership_json(membership))

    def _update_membership(self, request: _Request) -> _Response:
        membership = self._membership_in_path(request)
        if isinstance(membership, _Response):
            return membership
        params = request.params or {}
        slug = params.get("role_slug")
        slugs = params.get("role_slugs")
        if slug is None and isinstance(slugs, list) and slugs:
            slug = slugs[0]
        if not isinstance(slug, str) or not slug:
            return _api_error(422, "invalid_request_parameters", "role_slug is required.")
        org = self._orgs.get(membership.organization_id)
        if slug not in self._roles and (org is None or slug not in org.roles):
            return _api_error(422, "role_not_found", f"Role not found: '{slug}'.")
        membership.role = slug
        membership.updated_at = _iso(time.time())
        return _Response.json(200, self._membership_json(membership))

    def _get_user(self, request: _Request) -> _Response:
        denied = self._require_api_key(request)
        if denied is not None:
            return denied
        uid = request.path.removeprefix("/user_management/users/")
        user = self._users.get(uid)
        if user is None:
            return _api_error(404, "entity_not_found", f"User not found: '{uid}'.")
        return _Response.json(200, self._user_json(user))


def _paginate(
    items: list[SeedMembership], query: Mapping[str, str]
) -> tuple[list[SeedMembership], dict[str, str | None]] | _Response:
    """WorkOS's cursor pagination over ``items`` ordered by creation time: ``desc`` (the default) and
    ``normal`` newest first, ``asc`` oldest first; ``after=X`` the page following object ``X``, ``before=X`` the
    page preceding it; ``list_metadata.after`` is the last object's id when more follow, ``before`` the first
    one's when some precede."""
    order = query.get("order") or "desc"
    if order not in ("asc", "desc", "normal"):
        return _api_error(422, "invalid_request_parameters", "order must be asc, desc or normal.")
    try:
        limit = int(query.get("limit") or 10)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        return _api_error(422, "invalid_request_parameters", "limit must be between 1 and 100.")
    # a stable sort: objects created at the same time keep the order they were added in, whatever the order
    ordered = sorted(items, key=lambda m: m.created_at, reverse=order != "asc")
    ids = [m.id for m in ordered]
    after, before = query.get("after"), query.get("before")
    if after:
        start = ids.index(after) + 1 if after in ids else len(ids)
        end = start + limit
    elif before:
        end = ids.index(before) if before in ids else 0
        start = max(0, end - limit)
    else:
        start, end = 0, limit
    page = ordered[start:end]
    metadata: dict[str, str | None] = {
        "before": page[0].id if page and start > 0 else None,
        "after": page[-1].id if page and end < len(ordered) else None,
    }
    return page, metadata
