"""The management API endpoints: API key validation, organization memberships and users (API key required)."""

from __future__ import annotations

import time

from ..seed import SeedMembership
from .asgi import _api_error, _Request, _Response
from .state import _iso, _State


class _Management(_State):
    """The management endpoints: API key validation, organization memberships and users."""

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
        denied = self._require_api_key(request)
        if denied is not None:
            return denied
        user_id, org_id = request.query.get("user_id"), request.query.get("organization_id")
        if not user_id and not org_id:
            return _api_error(422, "invalid_request_parameters", "user_id or organization_id is required.")
        statuses = request.query.get("statuses")
        wanted = set(statuses.split(",")) if statuses else None
        data = [
            self._membership_json(m)
            for m in self._memberships.values()
            if (not user_id or m.user_id == user_id)
            and (not org_id or m.organization_id == org_id)
            and (wanted is None or m.status in wanted)
        ]
        return _Response.json(200, {"object": "list", "data": data, "list_metadata": {"before": None, "after": None}})

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
