"""The emulator's in-memory state and the Python methods tests use to read and edit it.

The state is the seeded directory (users, organizations, memberships, roles, API keys), the codes and sessions
issued, and the authentication outcomes tests set.

Everything is guarded by one re-entrant lock (``_lock``): the server runs the app in its own thread while tests
edit state from theirs. :meth:`_State._reset_state` returns every per-test record (faults and the request log
included) to the seed.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..seed import Seed, SeedMembership, SeedOrganization, SeedUser
from .asgi import _Request, _Response

if TYPE_CHECKING:
    from .faults import Fault, RecordedRequest

_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _new_id(prefix: str) -> str:
    """A WorkOS-looking id: ``prefix_`` and 26 Crockford base32 characters (like a ULID)."""
    return f"{prefix}_01" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def _iso(ts: float) -> str:
    """``ts`` as WorkOS writes timestamps: ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


@dataclass(slots=True)
class _Code:
    """An authorization code issued by the authorize endpoint, until exchanged or expired."""

    user_id: str
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    organization_id: str | None
    expires_at: float
    used: bool = False
    #: The ``auth_time`` of the session the code opens.
    auth_time: int = 0
    #: ``Password``, ``SSO`` or the OAuth provider the user signed in through.
    authentication_method: str = "Password"


@dataclass(slots=True)
class _Session:
    """A WorkOS session: its user, organization, live refresh token and whether it was ended."""

    id: str
    user_id: str
    organization_id: str | None
    auth_time: int
    refresh_token: str
    impersonator: dict[str, Any] | None = None
    active: bool = True
    authentication_method: str = "Password"


class _State:
    """The state every part of the emulator shares, and the seed edits of the public API.

    The attributes set by ``Emulator.__init__`` are declared here so each concern's mixin can use them.
    """

    _seed: Seed
    #: The WorkOS client id this emulator answers for.
    client_id: str
    #: The API key (client secret) it accepts.
    api_key: str
    #: Lifetime in seconds of the access tokens issued from now on.
    access_token_ttl: int
    _initial_ttl: int
    _issuer: str | None
    #: ``http://host:port`` where the emulator is served (set by ``EmulatorServer`` or the first request).
    base_url: str | None
    _lock: threading.RLock

    def _reset_state(self) -> None:
        seed = copy.deepcopy(self._seed)
        self._users: dict[str, SeedUser] = {u.id: u for u in seed.users}
        self._last_sign_in: dict[str, str] = {}
        self._orgs: dict[str, SeedOrganization] = {o.id: o for o in seed.organizations}
        self._memberships: dict[str, SeedMembership] = {m.id: m for m in seed.memberships}
        self._roles: dict[str, list[str]] = {k: list(v) for k, v in seed.roles.items()}
        self._api_keys = {k.value: k for k in seed.api_keys}
        self._codes: dict[str, _Code] = {}
        self._sessions: dict[str, _Session] = {}
        self._refresh_tokens: dict[str, str] = {}  # live refresh token -> session id
        self._user_outcomes: dict[str, str] = {}
        self._org_outcomes: dict[str, str] = {}
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._authorize_log: list[dict[str, str]] = []
        self._authenticated_at: dict[str, float] = {}  # user id -> last AuthKit authentication (the "browser session")
        self._impersonations: dict[str, dict[str, Any]] = {}  # user id -> {email, reason} of the next sign-in
        self._idempotent: OrderedDict[tuple[str, str, str, str], tuple[float, _Response]] = OrderedDict()

    def reset(self) -> None:
        """Back to the seed: faults, request log, codes, sessions, outcomes and idempotency records are cleared
        and ``access_token_ttl`` is restored. Signing keys are kept."""
        with self._lock:
            self.access_token_ttl = self._initial_ttl
            self._reset_state()

    @property
    def issuer(self) -> str:
        """The ``iss`` of issued tokens: the one given, else ``<base_url>/user_management/<client_id>``."""
        if self._issuer is not None:
            return self._issuer
        return f"{self.base_url or 'http://127.0.0.1'}/user_management/{self.client_id}"

    @issuer.setter
    def issuer(self, value: str | None) -> None:
        self._issuer = value

    def start_impersonation(self, user_id_or_email: str, impersonator_email: str, reason: str | None = None) -> None:
        """Make the next sign-in of a user an impersonation, as an admin starts one from the WorkOS dashboard: the
        session it creates carries ``impersonator`` (``{email, reason}``) and its access tokens ``act.sub``."""
        with self._lock:
            user = self._user_ref(user_id_or_email)
            self._impersonations[user.id] = {"email": impersonator_email, "reason": reason}

    def _user_ref(self, user_id_or_email: str) -> SeedUser:
        user = self._users.get(user_id_or_email)
        if user is None:
            lowered = user_id_or_email.lower()
            user = next((u for u in self._users.values() if u.email.lower() == lowered), None)
        if user is None:
            raise KeyError(f"no user {user_id_or_email!r}")
        return user

    def _org_ref(self, organization_id: str) -> SeedOrganization:
        org = self._orgs.get(organization_id)
        if org is None:
            raise KeyError(f"no organization {organization_id!r}")
        return org

    def add_user(self, email: str, *, user_id: str | None = None, **fields: Any) -> str:
        """Add a user (``fields`` are :class:`SeedUser` fields such as ``first_name``) and return its id."""
        user = SeedUser(id=user_id or _new_id("user"), email=email, **fields)
        with self._lock:
            self._users[user.id] = user
        return user.id

    def add_organization(self, name: str, *, organization_id: str | None = None, **fields: Any) -> str:
        """Add an organization (``fields`` are :class:`SeedOrganization` fields) and return its id."""
        org = SeedOrganization(id=organization_id or _new_id("org"), name=name, **fields)
        with self._lock:
            self._orgs[org.id] = org
        return org.id

    def add_membership(
        self, user_id: str, organization_id: str, role: str = "member", *, membership_id: str | None = None
    ) -> str:
        """Make a user a member of an organization with ``role`` and return the membership id."""
        with self._lock:
            user = self._user_ref(user_id)
            self._org_ref(organization_id)
            membership = SeedMembership(membership_id or _new_id("om"), user.id, organization_id, role)
            self._memberships[membership.id] = membership
        return membership.id

    def remove_membership(self, user_id: str, organization_id: str) -> None:
        """Remove a user's membership of an organization (refreshes into it then fail)."""
        with self._lock:
            membership = self._membership(self._user_ref(user_id).id, organization_id)
            if membership is None:
                raise KeyError(f"{user_id!r} is not a member of {organization_id!r}")
            del self._memberships[membership.id]

    def set_membership_role(self, user_id: str, organization_id: str, role_slug: str) -> None:
        """Change a user's role in an organization; the next refresh's access token carries it."""
        with self._lock:
            membership = self._membership(self._user_ref(user_id).id, organization_id)
            if membership is None:
                raise KeyError(f"{user_id!r} is not a member of {organization_id!r}")
            membership.role = role_slug
            membership.updated_at = _iso(time.time())

    def set_role_permissions(
        self, role_slug: str, permissions: Iterable[str], *, organization_id: str | None = None
    ) -> None:
        """Set a role's permissions, for every organization or (with ``organization_id``) for one."""
        with self._lock:
            if organization_id is None:
                self._roles[role_slug] = list(permissions)
            else:
                self._org_ref(organization_id).roles[role_slug] = list(permissions)

    def set_organization_entitlements(self, organization_id: str, entitlements: Iterable[str]) -> None:
        """Set the ``entitlements`` claim of tokens for an organization."""
        with self._lock:
            self._org_ref(organization_id).entitlements = list(entitlements)

    def set_organization_feature_flags(self, organization_id: str, feature_flags: Iterable[str]) -> None:
        """Set the ``feature_flags`` claim of tokens for an organization."""
        with self._lock:
            self._org_ref(organization_id).feature_flags = list(feature_flags)

    def set_user_outcome(self, user_id_or_email: str, code: str | None) -> None:
        """Make every code and refresh grant of this user answer the authentication error ``code``
        (``sso_required``, ``mfa_enrollment``, ``organization_selection_required``, ``email_verification_required``,
        ...) until set back to ``None``."""
        with self._lock:
            user = self._user_ref(user_id_or_email)
            if code is None:
                self._user_outcomes.pop(user.id, None)
            else:
                self._user_outcomes[user.id] = code

    def set_organization_outcome(self, organization_id: str, code: str | None) -> None:
        """Make every code and refresh grant into this organization answer the authentication error ``code``
        until set back to ``None`` (a seeded ``requires`` applies the same way)."""
        with self._lock:
            self._org_ref(organization_id)
            if code is None:
                self._org_outcomes.pop(organization_id, None)
            else:
                self._org_outcomes[organization_id] = code

    def user(self, user_id_or_email: str) -> dict[str, Any]:
        """A user in the WorkOS API shape."""
        with self._lock:
            return self._user_json(self._user_ref(user_id_or_email))

    def _membership(self, user_id: str, organization_id: str) -> SeedMembership | None:
        return next(
            (
                m
                for m in self._memberships.values()
                if m.user_id == user_id and m.organization_id == organization_id and m.status == "active"
            ),
            None,
        )

    def _user_memberships(self, user_id: str) -> list[SeedMembership]:
        return [m for m in self._memberships.values() if m.user_id == user_id and m.status == "active"]

    def _default_org(self, user_id: str) -> str | None:
        memberships = self._user_memberships(user_id)
        return memberships[0].organization_id if memberships else None

    def _permissions(self, organization_id: str, role: str) -> list[str]:
        org = self._orgs.get(organization_id)
        if org is not None and role in org.roles:
            return list(org.roles[role])
        return list(self._roles.get(role, []))

    def _user_json(self, user: SeedUser) -> dict[str, Any]:
        return {
            "object": "user",
            "id": user.id,
            "email": user.email,
            "email_verified": user.email_verified,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "profile_picture_url": user.profile_picture_url,
            "last_sign_in_at": self._last_sign_in.get(user.id),
            "external_id": user.external_id,
            "metadata": dict(user.metadata),
            "locale": user.locale,
            "created_at": user.created_at,
            "updated_at": user.updated_at,
        }

    def _membership_json(self, m: SeedMembership) -> dict[str, Any]:
        org = self._orgs.get(m.organization_id)
        user = self._users.get(m.user_id)
        out: dict[str, Any] = {
            "object": "organization_membership",
            "id": m.id,
            "user_id": m.user_id,
            "organization_id": m.organization_id,
            "organization_name": org.name if org else None,
            "status": m.status,
            "role": {"slug": m.role},
            "roles": [{"slug": m.role}],
            "directory_managed": False,
            "custom_attributes": {},
            "created_at": m.created_at,
            "updated_at": m.updated_at,
        }
        if user is not None:
            out["user"] = self._user_json(user)
        return out

    def _require_api_key(self, request: _Request) -> _Response | None:
        if request.bearer() != self.api_key:
            return _Response.json(401, {"message": "Could not authorize the request. Maybe your API key is invalid?"})
        return None
