"""The data the local WorkOS emulator starts from: users, organizations, memberships, roles, API keys and URIs.

A :class:`Seed` is plain dataclasses. Build one in code, load one from JSON with :meth:`Seed.from_file` (the same
shape :meth:`Seed.to_dict` writes), or use :meth:`Seed.default`, the small world every test of this project shares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_CREATED_AT",
    "DEFAULT_LOGOUT_URIS",
    "DEFAULT_REDIRECT_URIS",
    "Seed",
    "SeedApiKey",
    "SeedMembership",
    "SeedOrganization",
    "SeedUser",
]

#: The ``created_at``/``updated_at`` of seeded objects that do not set one.
DEFAULT_CREATED_AT = "2024-01-01T00:00:00.000Z"
#: The sign-in redirect URIs a seed registers unless it says otherwise: what ``Emulator.config()`` hands out.
DEFAULT_REDIRECT_URIS: tuple[str, ...] = ("http://127.0.0.1:8000/callback",)
#: The sign-out return URLs a seed registers unless it says otherwise: every page of ``http://127.0.0.1:8000``.
DEFAULT_LOGOUT_URIS: tuple[str, ...] = ("http://127.0.0.1:8000/*",)
_KEYS = {"users", "organizations", "memberships", "roles", "api_keys", "redirect_uris", "logout_uris"}


@dataclass(slots=True)
class SeedUser:
    """A WorkOS user. ``id`` looks like ``user_...``; the other fields are those of the WorkOS user object."""

    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    email_verified: bool = True
    profile_picture_url: str | None = None
    external_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    locale: str | None = None
    created_at: str = DEFAULT_CREATED_AT
    updated_at: str = DEFAULT_CREATED_AT


@dataclass(slots=True)
class SeedOrganization:
    """A WorkOS organization.

    ``requires`` makes every sign-in into it answer that authentication error (``"sso_required"`` or
    ``"mfa_enrollment"``). ``roles`` (slug -> permissions) overrides the seed-wide roles for this organization.
    ``entitlements`` and ``feature_flags`` go into access tokens for this organization.
    """

    id: str
    name: str
    entitlements: list[str] = field(default_factory=list)
    feature_flags: list[str] = field(default_factory=list)
    requires: str | None = None
    connection_ids: list[str] = field(default_factory=list)
    roles: dict[str, list[str]] = field(default_factory=dict)
    created_at: str = DEFAULT_CREATED_AT
    updated_at: str = DEFAULT_CREATED_AT


@dataclass(slots=True)
class SeedMembership:
    """A user's membership of an organization with a role slug. ``id`` looks like ``om_...``."""

    id: str
    user_id: str
    organization_id: str
    role: str = "member"
    status: str = "active"
    created_at: str = DEFAULT_CREATED_AT
    updated_at: str = DEFAULT_CREATED_AT


@dataclass(slots=True)
class SeedApiKey:
    """An organization API key that ``POST /api_keys/validations`` recognises by its ``value``."""

    id: str
    value: str = field(repr=False)
    organization_id: str
    name: str = "Test key"
    permissions: list[str] = field(default_factory=list)
    created_at: str = DEFAULT_CREATED_AT
    updated_at: str = DEFAULT_CREATED_AT


@dataclass(slots=True)
class Seed:
    """Everything the emulator knows at start (and returns to on ``reset()``).

    ``roles`` maps a role slug to its permissions for every organization (an organization's own ``roles`` win).
    A user's default organization is their first membership in ``memberships`` order.

    ``redirect_uris`` are the registered sign-in redirect URIs (the dashboard's "Redirect URIs": the authorize
    endpoint refuses any other ``redirect_uri``; the first is the default when a request names none) and
    ``logout_uris`` the registered sign-out return URLs (the dashboard's "Sign-out redirects": the logout endpoint
    redirects only to those; a trailing ``*`` allows every URL starting with the rest; the first without ``*`` is
    the default). Both default to ``http://127.0.0.1:8000`` (:data:`DEFAULT_REDIRECT_URIS`,
    :data:`DEFAULT_LOGOUT_URIS`); the emulator's module ``redirects`` has the matching rules.
    """

    users: list[SeedUser] = field(default_factory=list)
    organizations: list[SeedOrganization] = field(default_factory=list)
    memberships: list[SeedMembership] = field(default_factory=list)
    roles: dict[str, list[str]] = field(default_factory=dict)
    api_keys: list[SeedApiKey] = field(default_factory=list)
    redirect_uris: list[str] = field(default_factory=lambda: list(DEFAULT_REDIRECT_URIS))
    logout_uris: list[str] = field(default_factory=lambda: list(DEFAULT_LOGOUT_URIS))

    @classmethod
    def default(cls) -> Seed:
        """The shared test world.

        - ``user_alice`` (alice@example.com): ``admin`` of ``org_acme`` (her default), ``member`` of ``org_globex``.
        - ``user_bob`` (bob@example.com): ``member`` of ``org_acme``.
        - ``user_carol`` (carol@sso.example.com): ``member`` of ``org_sso``, which requires SSO.
        - ``user_dave`` (dave@mfa.example.com): ``member`` of ``org_mfa``, which requires MFA enrollment.
        - ``user_nora`` (nora@example.com): no organization.
        - roles ``admin`` (``posts:read``, ``posts:write``, ``users:manage``), ``member`` (``posts:read``),
          ``viewer`` (none).
        - API key ``sk_org_acme_test`` (``key_acme``) of ``org_acme`` with ``posts:read``.
        - redirect URI ``http://127.0.0.1:8000/callback``; logout URIs: every page of ``http://127.0.0.1:8000``.
        """
        return cls(
            users=[
                SeedUser("user_alice", "alice@example.com", "Alice", "Anderson"),
                SeedUser("user_bob", "bob@example.com", "Bob", "Baker"),
                SeedUser("user_carol", "carol@sso.example.com", "Carol", "Chen"),
                SeedUser("user_dave", "dave@mfa.example.com", "Dave", "Diaz"),
                SeedUser("user_nora", "nora@example.com", "Nora", "Noorg"),
            ],
            organizations=[
                SeedOrganization(
                    "org_acme",
                    "Acme Corp",
                    entitlements=["audit-logs", "sso"],
                    feature_flags=["new-dashboard"],
                ),
                SeedOrganization("org_globex", "Globex", entitlements=["basic"], feature_flags=[]),
                SeedOrganization("org_sso", "SSO Co", requires="sso_required", connection_ids=["conn_sso"]),
                SeedOrganization("org_mfa", "MFA Co", requires="mfa_enrollment"),
            ],
            memberships=[
                SeedMembership("om_alice_acme", "user_alice", "org_acme", "admin"),
                SeedMembership("om_alice_globex", "user_alice", "org_globex", "member"),
                SeedMembership("om_bob_acme", "user_bob", "org_acme", "member"),
                SeedMembership("om_carol_sso", "user_carol", "org_sso", "member"),
                SeedMembership("om_dave_mfa", "user_dave", "org_mfa", "member"),
            ],
            roles={
                "admin": ["posts:read", "posts:write", "users:manage"],
                "member": ["posts:read"],
                "viewer": [],
            },
            api_keys=[
                SeedApiKey("key_acme", "sk_org_acme_test", "org_acme", "Acme test key", ["posts:read"]),
            ],
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Seed:
        """Build a seed from its JSON shape (``{"users": [...], "organizations": [...], ...}``).

        Unknown keys raise ``TypeError`` so a typo in a seed file does not pass silently. A missing
        ``redirect_uris`` or ``logout_uris`` takes the default; an empty list registers none.
        """
        if not isinstance(data, Mapping):
            raise TypeError("a seed must be a JSON object")
        unknown = set(data) - _KEYS
        if unknown:
            raise TypeError(f"unknown seed keys: {sorted(unknown)}")
        return cls(
            users=[SeedUser(**dict(u)) for u in data.get("users", [])],
            organizations=[SeedOrganization(**dict(o)) for o in data.get("organizations", [])],
            memberships=[SeedMembership(**dict(m)) for m in data.get("memberships", [])],
            roles={str(k): list(v) for k, v in dict(data.get("roles", {})).items()},
            api_keys=[SeedApiKey(**dict(k)) for k in data.get("api_keys", [])],
            redirect_uris=_uri_list(data, "redirect_uris", DEFAULT_REDIRECT_URIS),
            logout_uris=_uri_list(data, "logout_uris", DEFAULT_LOGOUT_URIS),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Seed:
        """Load a seed from a JSON file in the :meth:`from_dict` shape."""
        with Path(path).open(encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def to_dict(self) -> dict[str, Any]:
        """This seed in its JSON shape (what :meth:`from_dict` reads)."""
        from dataclasses import asdict

        return {
            "users": [asdict(u) for u in self.users],
            "organizations": [asdict(o) for o in self.organizations],
            "memberships": [asdict(m) for m in self.memberships],
            "roles": {k: list(v) for k, v in self.roles.items()},
            "api_keys": [asdict(k) for k in self.api_keys],
            "redirect_uris": list(self.redirect_uris),
            "logout_uris": list(self.logout_uris),
        }


def _uri_list(data: Mapping[str, Any], key: str, default: tuple[str, ...]) -> list[str]:
    """The list of URI strings under ``key`` (``default`` when absent); ``TypeError`` for another shape."""
    value = data.get(key, default)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"seed key {key!r} must be a list of URI strings")
    return list(value)
