"""A local emulator of the parts of the WorkOS API that a session library talks to, as a pure ASGI 3 app.

It signs users in (the AuthKit authorize redirect, with a clickable HTML page or ``login_hint``), exchanges codes
and rotating refresh tokens on ``/user_management/authenticate``, serves the JWKS, ends sessions, validates API
keys and lists and edits organization memberships. Tests steer it from Python: edit roles and memberships (the
next refresh sees the change), make grants answer authentication errors, inject faults (status, delay, dropped
connection, malformed body), read the request log and rotate signing keys. See ``docs/dev/emulator-api.md``.

Choices where WorkOS's exact answer is not documented:

- Authentication errors (``sso_required``, ``mfa_enrollment``, ``organization_selection_required``,
  ``email_verification_required``, ...) answer **403** with ``{code, message, pending_authentication_token, ...}``
  and also ``error``/``error_description`` set to the same code and message, so both the Python SDK (which reads
  ``code`` on a 403) and the node SDK (which reads ``error``) recognise them.
- Switching to an organization the user is not a member of answers **400** ``{"error": "invalid_grant",
  "error_description": "..."}``; the refresh token used stays valid (only a success rotates it).
- Reusing a rotated refresh token answers 400 ``invalid_grant`` and does not end the session.

State lives in memory behind a ``threading.Lock``: the server runs the app in its own thread while tests edit state
from theirs. Nothing is printed; the request log is in memory only.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import RSAKey

from ..config import AuthKitConfig
from .page import render_message_page, render_sign_in_page
from .seed import Seed, SeedMembership, SeedOrganization, SeedUser

__all__ = [
    "AUTH_ERROR_MESSAGES",
    "CODE_TTL_SECONDS",
    "IDEMPOTENCY_TTL_SECONDS",
    "Emulator",
    "Fault",
    "RecordedRequest",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: How long an authorization code can be exchanged.
CODE_TTL_SECONDS = 600
#: How long a response is replayed for a repeated ``Idempotency-Key``.
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
_IDEMPOTENCY_MAX = 10_000
_MAX_BODY = 1 << 20

#: The ``message`` of each authentication error the emulator can answer.
AUTH_ERROR_MESSAGES: Mapping[str, str] = {
    "sso_required": "User must authenticate using one of the matching connections.",
    "mfa_enrollment": "The user must enroll in MFA to finish authenticating.",
    "mfa_challenge": "The user must complete an MFA challenge to finish authenticating.",
    "organization_selection_required": "The user must choose an organization to finish their authentication.",
    "email_verification_required": "Email ownership must be verified before authentication.",
    "organization_authentication_methods_required": "The user must sign in with a method the organization allows.",
}

_AUTHENTICATE = "/user_management/authenticate"

# --------------------------------------------------------------------------------------------------------------
# Signing keys: RSA-2048 generation is slow-ish, so keys are generated once per process and shared.

_KEY_POOL: list[tuple[str, RSAKey, str]] = []
_KEY_POOL_LOCK = threading.Lock()


def _self_signed_certificate(private_key: rsa.RSAPrivateKey) -> bytes:
    """A DER self-signed certificate for the key: WorkOS's JWKS carries ``x5c``/``x5t#S256`` and the Python SDK
    requires them."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "WorkOS emulator")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(private_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def _pool_key(index: int) -> tuple[str, RSAKey, str]:
    """The ``index``-th (kid, key, DER certificate as base64) of this process, generated on first use."""
    with _KEY_POOL_LOCK:
        while len(_KEY_POOL) <= index:
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key = RSAKey.import_key(private_key)
            kid = f"key_{key.thumbprint()[:20]}"
            _KEY_POOL.append((kid, key, base64.b64encode(_self_signed_certificate(private_key)).decode()))
        return _KEY_POOL[index]


def _b64url_sha256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode("ascii", "replace")).digest()).rstrip(b"=").decode()


_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _new_id(prefix: str) -> str:
    """A WorkOS-looking id: ``prefix_`` and 26 Crockford base32 characters (like a ULID)."""
    return f"{prefix}_01" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


# --------------------------------------------------------------------------------------------------------------
# Public records


@dataclass(slots=True)
class RecordedRequest:
    """One request the emulator received.

    ``status`` is ``None`` while it is being answered or when the connection was dropped; ``faulted`` says an
    injected fault answered (or delayed) it; ``replayed`` that it was answered from the ``Idempotency-Key`` store.
    """

    method: str
    path: str
    query: dict[str, str]
    json: dict[str, Any] | None
    headers: dict[str, str]
    time: float
    status: int | None = None
    faulted: bool = False
    replayed: bool = False
    body: bytes = field(default=b"", repr=False)

    @property
    def grant_type(self) -> str | None:
        """The ``grant_type`` of a POST to ``/user_management/authenticate``, else ``None``."""
        if self.method == "POST" and self.path == _AUTHENTICATE and self.json is not None:
            value = self.json.get("grant_type")
            return value if isinstance(value, str) else None
        return None


@dataclass(slots=True)
class Fault:
    """An injected fault: see :meth:`Emulator.inject_fault`."""

    path: str
    status: int | None
    body: Any
    headers: dict[str, str]
    delay: float
    count: int
    method: str | None
    drop_connection: bool
    raw_body: bytes | None

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to ``method path``."""
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


# --------------------------------------------------------------------------------------------------------------
# Internal state


@dataclass(slots=True)
class _Code:
    user_id: str
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    organization_id: str | None
    expires_at: float
    used: bool = False


@dataclass(slots=True)
class _Session:
    id: str
    user_id: str
    organization_id: str | None
    auth_time: int
    refresh_token: str
    impersonator: dict[str, Any] | None = None
    active: bool = True


@dataclass(slots=True)
class _SigningKey:
    kid: str
    key: RSAKey
    certificate: str  # base64 DER
    published: bool = True


@dataclass(slots=True)
class _Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, data: Any, headers: Iterable[tuple[str, str]] = ()) -> _Response:
        return cls(
            status,
            json.dumps(data, separators=(",", ":")).encode(),
            [("content-type", "application/json"), *headers],
        )

    @classmethod
    def html(cls, status: int, page: str) -> _Response:
        return cls(status, page.encode(), [("content-type", "text/html; charset=utf-8")])

    @classmethod
    def redirect(cls, location: str) -> _Response:
        return cls(302, b"", [("location", location), ("cache-control", "no-store")])


def _oauth_error(status: int, error: str, description: str) -> _Response:
    return _Response.json(status, {"error": error, "error_description": description})


def _api_error(status: int, code: str, message: str) -> _Response:
    return _Response.json(status, {"code": code, "message": message})


@dataclass(slots=True)
class _Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, Any] | None  # the parsed body (JSON or form), None when unreadable

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _parse_body(body: bytes, content_type: str) -> tuple[dict[str, Any] | None, bool]:
    """(params, ok): the JSON object or form fields of ``body``; ``ok`` is False for an unreadable body."""
    if not body.strip():
        return {}, True
    if "application/x-www-form-urlencoded" in content_type:
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)), True
        except UnicodeDecodeError:
            return None, False
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, False
    return (data, True) if isinstance(data, dict) else (None, False)


# --------------------------------------------------------------------------------------------------------------


class Emulator:
    """The local WorkOS API, as an ASGI 3 app (``await emu(scope, receive, send)``).

    ``seed`` is a :class:`~authkit_core.testing.seed.Seed`, its JSON shape as a mapping, or ``None`` for
    :meth:`Seed.default`. Serve it with :class:`~authkit_core.testing.server.EmulatorServer` (which sets
    :attr:`base_url`) or any ASGI server.
    """

    def __init__(
        self,
        seed: Seed | Mapping[str, Any] | None = None,
        *,
        client_id: str = "client_emulator",
        api_key: str = "sk_test_emulator",
        access_token_ttl: int = 300,
        issuer: str | None = None,
    ) -> None:
        if seed is None:
            seed = Seed.default()
        elif not isinstance(seed, Seed):
            seed = Seed.from_dict(seed)
        self._seed = copy.deepcopy(seed)
        self.client_id = client_id
        self.api_key = api_key
        #: Lifetime in seconds of the access tokens issued from now on.
        self.access_token_ttl = access_token_ttl
        self._initial_ttl = access_token_ttl
        self._issuer = issuer
        #: ``http://host:port`` where the emulator is served (set by ``EmulatorServer`` or the first request).
        self.base_url: str | None = None
        self._lock = threading.RLock()
        self._key_index = 0
        self._keys: list[_SigningKey] = [_SigningKey(*_pool_key(0))]
        self._reset_state()

    # ---------------------------------------------------------------------------------------------- state

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

    # ------------------------------------------------------------------------------------------- faults/log

    def inject_fault(
        self,
        path: str,
        *,
        status: int | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        count: int = 1,
        method: str | None = None,
        drop_connection: bool = False,
        raw_body: bytes | str | None = None,
    ) -> Fault:
        """Make the next ``count`` requests to ``path`` (a prefix when it ends with ``*``) misbehave.

        They answer ``status`` (500 when not given) with ``body`` (JSON; a default error body when ``None``) or
        ``raw_body`` sent verbatim, plus ``headers`` (a 429 gets ``Retry-After: 1`` unless ``headers`` set one),
        after ``delay`` seconds. ``drop_connection`` closes the
        connection without answering. ``delay`` alone (no status, body or raw body) delays the real answer.
        ``method`` restricts the fault to one HTTP method. Faults are used in the order injected.
        """
        passthrough = status is None and body is None and raw_body is None and not drop_connection and delay > 0
        fault = Fault(
            path=path,
            status=None if passthrough else (500 if status is None else status),
            body=body,
            headers=dict(headers or {}),
            delay=delay,
            count=count,
            method=method.upper() if method else None,
            drop_connection=drop_connection,
            raw_body=raw_body.encode() if isinstance(raw_body, str) else raw_body,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """The logged requests whose path equals ``path`` (or starts with it when it ends with ``*``)."""
        probe = Fault(path, None, None, {}, 0.0, 0, method.upper() if method else None, False, None)
        return [r for r in self.requests if probe.matches(r.method, r.path)]

    def grant_count(self, grant_type: str | None = None) -> int:
        """How many POSTs to ``/user_management/authenticate`` (with that ``grant_type``, or any) arrived,
        faulted and replayed ones included."""
        return sum(
            1
            for r in self.requests
            if r.method == "POST" and r.path == _AUTHENTICATE and (grant_type is None or r.grant_type == grant_type)
        )

    def reset_log(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._requests.clear()

    # ------------------------------------------------------------------------------------------------ keys

    def rotate_signing_key(self, *, retire_old: bool = False) -> str:
        """Sign new tokens with a fresh key and return its ``kid``. The old keys stay in the JWKS unless
        ``retire_old`` (tokens they signed then fail verification with an unknown ``kid``)."""
        with self._lock:
            self._key_index += 1
            new = _SigningKey(*_pool_key(self._key_index))
            if retire_old:
                for k in self._keys:
                    k.published = False
            self._keys.append(new)
        return new.kid

    @property
    def current_kid(self) -> str:
        """The ``kid`` new tokens are signed with."""
        with self._lock:
            return self._keys[-1].kid

    def jwks(self) -> dict[str, Any]:
        """The JWKS document: the public parts of the published keys, newest first."""
        with self._lock:
            published = [k for k in reversed(self._keys) if k.published]
        keys = []
        for k in published:
            public = k.key.as_dict(private=False)
            thumb = base64.urlsafe_b64encode(hashlib.sha256(base64.b64decode(k.certificate)).digest())
            keys.append(
                {
                    "alg": "RS256",
                    "kty": "RSA",
                    "use": "sig",
                    "x5c": [k.certificate],
                    "n": public["n"],
                    "e": public["e"],
                    "kid": k.kid,
                    "x5t#S256": thumb.rstrip(b"=").decode(),
                }
            )
        return {"keys": keys}

    def _sign(self, claims: Mapping[str, Any], kid: str | None = None) -> str:
        with self._lock:
            if kid is None:
                key = self._keys[-1]
            else:
                found = [k for k in self._keys if k.kid == kid]
                if not found:
                    raise ValueError(f"unknown kid {kid!r}")
                key = found[0]
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": key.kid}, dict(claims), key.key)

    # ----------------------------------------------------------------------------------------- seed edits

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

    def sessions(self) -> list[dict[str, Any]]:
        """Every session issued since the last reset: ``{id, user_id, organization_id, active}``."""
        with self._lock:
            return [
                {"id": s.id, "user_id": s.user_id, "organization_id": s.organization_id, "active": s.active}
                for s in self._sessions.values()
            ]

    def end_session(self, session_id: str) -> None:
        """End a session as logout does: its refresh token stops working."""
        with self._lock:
            self._end_session(session_id)

    def _end_session(self, session_id: str) -> bool:
        session = self._sessions.get(session_id)
        if session is None:
            return False
        session.active = False
        self._refresh_tokens.pop(session.refresh_token, None)
        return True

    # ------------------------------------------------------------------------------------------- helpers

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

    def _claims(
        self,
        user_id: str,
        session_id: str,
        organization_id: str | None,
        auth_time: int,
        impersonator: Mapping[str, Any] | None,
        *,
        now: int,
        ttl: int,
    ) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": user_id,
            "sid": session_id,
            "jti": _new_id("jti")[4:],
            "client_id": self.client_id,
            "auth_time": auth_time,
            "iat": now,
            "exp": now + ttl,
        }
        if organization_id is not None:
            membership = self._membership(user_id, organization_id)
            org = self._orgs.get(organization_id)
            claims["org_id"] = organization_id
            if membership is not None:
                claims["role"] = membership.role
                claims["roles"] = [membership.role]
                claims["permissions"] = self._permissions(organization_id, membership.role)
            if org is not None:
                claims["entitlements"] = list(org.entitlements)
                claims["feature_flags"] = list(org.feature_flags)
        if impersonator is not None:
            claims["act"] = {"sub": impersonator.get("email")}
        return claims

    def mint_access_token(
        self,
        user_id: str,
        *,
        session_id: str | None = None,
        organization_id: str | None = None,
        expires_in: int | None = None,
        issued_at: int | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """An RS256 access token shaped like the real ones (role, permissions, entitlements and feature flags from
        the current state when ``organization_id`` is given). ``claims`` add or replace claims; a ``None`` value
        removes one. ``kid`` signs with a given (even retired) key."""
        with self._lock:
            now = int(time.time()) if issued_at is None else issued_at
            ttl = self.access_token_ttl if expires_in is None else expires_in
            out = self._claims(user_id, session_id or _new_id("session"), organization_id, now, None, now=now, ttl=ttl)
        for name, value in claims.items():
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
        return self._sign(out, kid)

    def issue_session(
        self,
        user_id: str,
        *,
        organization_id: str | None = None,
        impersonator: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Sign a user in without the browser and return the ``/authenticate``-shaped response (outcomes are not
        applied). ``organization_id`` defaults to the first membership; ``impersonator`` is ``{email, reason}``."""
        with self._lock:
            user = self._user_ref(user_id)
            org = organization_id if organization_id is not None else self._default_org(user.id)
            if org is not None and self._membership(user.id, org) is None:
                raise ValueError(f"{user.id!r} is not a member of {org!r}")
            return self._new_session(user, org, dict(impersonator) if impersonator else None)

    def _new_session(
        self, user: SeedUser, organization_id: str | None, impersonator: dict[str, Any] | None
    ) -> dict[str, Any]:
        now = int(time.time())
        self._last_sign_in[user.id] = _iso(now)
        session = _Session(_new_id("session"), user.id, organization_id, now, "", impersonator)
        self._sessions[session.id] = session
        return self._session_response(session, user, now)

    def _session_response(self, session: _Session, user: SeedUser, now: int) -> dict[str, Any]:
        if session.refresh_token:
            self._refresh_tokens.pop(session.refresh_token, None)
        session.refresh_token = secrets.token_urlsafe(24)
        self._refresh_tokens[session.refresh_token] = session.id
        claims = self._claims(
            user.id,
            session.id,
            session.organization_id,
            session.auth_time,
            session.impersonator,
            now=now,
            ttl=self.access_token_ttl,
        )
        body: dict[str, Any] = {
            "user": self._user_json(user),
            "organization_id": session.organization_id,
            "access_token": self._sign(claims),
            "refresh_token": session.refresh_token,
            "authentication_method": "Password",
        }
        if session.impersonator is not None:
            body["impersonator"] = {
                "email": session.impersonator.get("email"),
                "reason": session.impersonator.get("reason"),
            }
        return body

    def _auth_error(self, code: str, user: SeedUser, org: SeedOrganization | None) -> _Response:
        message = AUTH_ERROR_MESSAGES.get(code, "Further authentication is required.")
        body: dict[str, Any] = {
            "code": code,
            "message": message,
            "error": code,
            "error_description": message,
            "pending_authentication_token": secrets.token_urlsafe(24),
        }
        if code == "sso_required":
            body["email"] = user.email
            body["connection_ids"] = list(org.connection_ids) if org and org.connection_ids else ["conn_emulator"]
        elif code == "organization_authentication_methods_required":
            body["email"] = user.email
            body["sso_connection_ids"] = list(org.connection_ids) if org else []
            body["auth_methods"] = {"sso": True, "password": False}
        elif code == "email_verification_required":
            body["email"] = user.email
            body["email_verification_id"] = _new_id("email_verification")
            body["user"] = self._user_json(user)
        elif code == "organization_selection_required":
            body["user"] = self._user_json(user)
            body["organizations"] = [
                {"id": m.organization_id, "name": self._orgs[m.organization_id].name}
                for m in self._user_memberships(user.id)
                if m.organization_id in self._orgs
            ]
        else:
            body["user"] = self._user_json(user)
            if code == "mfa_challenge":
                body["authentication_factors"] = []
        return _Response.json(403, body)

    def _outcome(self, user: SeedUser, org_id: str | None) -> _Response | None:
        code = self._user_outcomes.get(user.id)
        org = self._orgs.get(org_id) if org_id else None
        if code is None and org is not None:
            code = self._org_outcomes.get(org.id) or org.requires
        return None if code is None else self._auth_error(code, user, org)

    # ---------------------------------------------------------------------------------------------- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI 3 entry point."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.extend(message.get("body", b""))
            if len(body) > _MAX_BODY:
                await self._send(send, _api_error(413, "payload_too_large", "Request body too large."))
                return
            if not message.get("more_body", False):
                break
        request = self._make_request(scope, bytes(body))
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            json=request.params if request.params is not None else None,
            headers=request.headers,
            time=time.time(),
            body=request.body,
        )
        with self._lock:
            if self.base_url is None and scope.get("server"):
                host, port = scope["server"][0], scope["server"][1]
                self.base_url = f"{scope.get('scheme', 'http')}://{host}:{port}"
            self._requests.append(record)
            fault = self._take_fault(request.method, request.path)
        if fault is not None:
            record.faulted = True
            if fault.delay > 0:
                await anyio.sleep(fault.delay)
            if fault.drop_connection:
                await self._drop(send)
                return
            if fault.status is not None:
                response = self._fault_response(fault)
                record.status = response.status
                await self._send(send, response)
                return
        with self._lock:
            response = self._handle(request, record)
            record.status = response.status
        await self._send(send, response)

    def _make_request(self, scope: Scope, body: bytes) -> _Request:
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        params, ok = _parse_body(body, headers.get("content-type", ""))
        return _Request(
            method=scope["method"].upper(),
            path=scope["path"],
            query=query,
            headers=headers,
            body=body,
            params=params if ok else None,
        )

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.count > 0 and fault.matches(method, path):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _fault_response(fault: Fault) -> _Response:
        status = fault.status if fault.status is not None else 500
        headers = list(fault.headers.items())
        if status == 429 and not any(k.lower() == "retry-after" for k, _ in headers):
            headers.append(("retry-after", "1"))
        if fault.raw_body is not None:
            if not any(k.lower() == "content-type" for k, _ in headers):
                headers.append(("content-type", "text/html; charset=utf-8"))
            return _Response(status, fault.raw_body, headers)
        body = fault.body
        if body is None:
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            body = {"message": phrase, "code": phrase.lower().replace(" ", "_").replace("-", "_")}
        return _Response.json(status, body, headers)

    @staticmethod
    async def _send(send: Send, response: _Response) -> None:
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    @staticmethod
    async def _drop(send: Send) -> None:
        """Close the connection without answering (uvicorn: close its transport; elsewhere: raise)."""
        cycle = getattr(send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None or not hasattr(transport, "close"):
            raise ConnectionResetError("emulator fault: connection dropped")
        transport.close()
        # let the server notice the disconnect before the app returns, so it does not answer 500 instead
        for _ in range(50):
            await anyio.sleep(0.002)
            if getattr(cycle, "disconnected", True):
                break

    # ------------------------------------------------------------------------------------------- routing

    def _handle(self, request: _Request, record: RecordedRequest) -> _Response:
        method, path = request.method, request.path
        key = request.headers.get("idempotency-key")
        if method == "POST" and key:
            digest = hashlib.sha256(request.body).hexdigest()
            cache_key = (key, method, path, digest)
            now = time.time()
            while self._idempotent:
                oldest_key, (stored_at, _) = next(iter(self._idempotent.items()))
                if stored_at > now - IDEMPOTENCY_TTL_SECONDS and len(self._idempotent) <= _IDEMPOTENCY_MAX:
                    break
                del self._idempotent[oldest_key]
            stored = self._idempotent.get(cache_key)
            if stored is not None:
                record.replayed = True
                return stored[1]
            response = self._route(request)
            if response.status < 500:
                self._idempotent[cache_key] = (now, response)
            return response
        return self._route(request)

    def _route(self, request: _Request) -> _Response:
        method, path = request.method, request.path
        if request.params is None and method in ("POST", "PUT"):
            return _oauth_error(400, "invalid_request", "The request body is not valid JSON or form data.")
        routes: dict[str, dict[str, Callable[[_Request], _Response]]] = {
            "/user_management/authorize": {"GET": self._authorize},
            "/user_management/authorize/complete": {"GET": self._authorize_complete},
            _AUTHENTICATE: {"POST": self._authenticate},
            "/user_management/sessions/logout": {"GET": self._logout},
            "/user_management/sessions/revoke": {"POST": self._revoke},
            "/api_keys/validations": {"POST": self._validate_api_key},
            "/user_management/organization_memberships": {"GET": self._list_memberships},
            "/": {"GET": self._index},
        }
        handlers = routes.get(path)
        if handlers is None:
            if path.startswith("/sso/jwks/"):
                handlers = {"GET": self._jwks}
            elif path.startswith("/user_management/organization_memberships/"):
                handlers = {"GET": self._get_membership, "PUT": self._update_membership}
            elif path.startswith("/user_management/users/"):
                handlers = {"GET": self._get_user}
            else:
                return _api_error(404, "not_found", f"No route for {path}.")
        handler = handlers.get(method)
        if handler is None:
            return _api_error(405, "method_not_allowed", f"{method} is not allowed on {path}.")
        return handler(request)

    def _index(self, request: _Request) -> _Response:
        return _Response.html(200, render_message_page("WorkOS emulator", f"Client {self.client_id}."))

    def _require_api_key(self, request: _Request) -> _Response | None:
        if request.bearer() != self.api_key:
            return _Response.json(401, {"message": "Could not authorize the request. Maybe your API key is invalid?"})
        return None

    # ------------------------------------------------------------------------------------------ authorize

    def _check_authorize(self, q: Mapping[str, str]) -> _Response | None:
        client_id = q.get("client_id")
        if not client_id:
            return _oauth_error(400, "invalid_request", "client_id is required.")
        if client_id != self.client_id:
            return _oauth_error(400, "invalid_client", f"Invalid client ID {client_id!r}.")
        redirect_uri = q.get("redirect_uri", "")
        if urlsplit(redirect_uri).scheme not in ("http", "https") or not urlsplit(redirect_uri).netloc:
            return _oauth_error(400, "invalid_request", "redirect_uri must be an absolute http(s) URL.")
        if q.get("response_type") != "code":
            return _oauth_error(400, "unsupported_response_type", "response_type must be 'code'.")
        if not (q.get("provider") or q.get("organization_id") or q.get("connection_id")):
            return _oauth_error(400, "invalid_request", "provider, connection_id or organization_id is required.")
        if q.get("provider") and q["provider"] != "authkit":
            return _oauth_error(400, "invalid_request", "The emulator only supports provider=authkit.")
        if q.get("screen_hint") and q["screen_hint"] not in ("sign-in", "sign-up"):
            return _oauth_error(400, "invalid_request", "screen_hint must be sign-in or sign-up.")
        if q.get("code_challenge") and q.get("code_challenge_method") != "S256":
            return _oauth_error(400, "invalid_request", "code_challenge_method must be S256.")
        if q.get("code_challenge_method") and not q.get("code_challenge"):
            return _oauth_error(400, "invalid_request", "code_challenge is required with code_challenge_method.")
        if q.get("organization_id") and q["organization_id"] not in self._orgs:
            return _oauth_error(400, "invalid_request", f"Unknown organization {q['organization_id']!r}.")
        return None

    def _issue_code(self, q: Mapping[str, str], user: SeedUser) -> _Response:
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(
            user_id=user.id,
            client_id=q["client_id"],
            redirect_uri=q["redirect_uri"],
            code_challenge=q.get("code_challenge") or None,
            organization_id=q.get("organization_id") or None,
            expires_at=time.time() + CODE_TTL_SECONDS,
        )
        parts = urlsplit(q["redirect_uri"])
        extra = {"code": code}
        if "state" in q:
            extra["state"] = q["state"]
        query = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
        return _Response.redirect(urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment)))

    def _authorize(self, request: _Request) -> _Response:
        q = request.query
        error = self._check_authorize(q)
        if error is not None:
            return error
        hint = q.get("login_hint", "").strip().lower()
        if hint:
            user = next((u for u in self._users.values() if u.email.lower() == hint), None)
            if user is not None:
                return self._issue_code(q, user)
        passed = {k: v for k, v in q.items() if k != "user_id"}
        entries = []
        for u in self._users.values():
            href = "/user_management/authorize/complete?" + urlencode({**passed, "user_id": u.id})
            name = " ".join(p for p in (u.first_name, u.last_name) if p) or u.email
            entries.append((u.id, u.email, name, href))
        return _Response.html(200, render_sign_in_page(entries, screen_hint=q.get("screen_hint") or "sign-in"))

    def _authorize_complete(self, request: _Request) -> _Response:
        q = request.query
        error = self._check_authorize(q)
        if error is not None:
            return error
        user = self._users.get(q.get("user_id", ""))
        if user is None:
            return _oauth_error(400, "invalid_request", "Unknown user_id.")
        return self._issue_code(q, user)

    # --------------------------------------------------------------------------------------- authenticate

    def _authenticate(self, request: _Request) -> _Response:
        params = request.params or {}
        secret = params.get("client_secret")
        if params.get("client_id") != self.client_id or (secret if secret is not None else request.bearer()) != (
            self.api_key
        ):
            return _oauth_error(401, "invalid_client", "Invalid client ID or client secret.")
        grant = params.get("grant_type")
        if grant == "authorization_code":
            return self._grant_code(params)
        if grant == "refresh_token":
            return self._grant_refresh(params)
        if not grant:
            return _oauth_error(400, "invalid_request", "grant_type is required.")
        return _oauth_error(400, "unsupported_grant_type", f"The emulator does not support grant_type {grant!r}.")

    def _grant_code(self, params: Mapping[str, Any]) -> _Response:
        code_value = params.get("code")
        if not isinstance(code_value, str) or not code_value:
            return _oauth_error(400, "invalid_request", "code is required.")
        code = self._codes.get(code_value)
        if code is None or code.used or code.expires_at <= time.time() or code.client_id != self.client_id:
            return _oauth_error(400, "invalid_grant", "The code is invalid, expired or already used.")
        if code.code_challenge is not None:
            verifier = params.get("code_verifier")
            if not isinstance(verifier, str) or not verifier:
                return _oauth_error(400, "invalid_grant", "code_verifier is required for this code.")
            if not secrets.compare_digest(_b64url_sha256(verifier), code.code_challenge):
                return _oauth_error(400, "invalid_grant", "code_verifier does not match the code_challenge.")
        user = self._users.get(code.user_id)
        if user is None:
            return _oauth_error(400, "invalid_grant", "The user no longer exists.")
        org_id = code.organization_id or self._default_org(user.id)
        outcome = self._outcome(user, org_id)
        code.used = True
        if outcome is not None:
            return outcome
        if org_id is not None and self._membership(user.id, org_id) is None:
            return _oauth_error(400, "invalid_grant", f"The user is not a member of organization {org_id}.")
        return _Response.json(200, self._new_session(user, org_id, None))

    def _grant_refresh(self, params: Mapping[str, Any]) -> _Response:
        token = params.get("refresh_token")
        if not isinstance(token, str) or not token:
            return _oauth_error(400, "invalid_request", "refresh_token is required.")
        session = self._sessions.get(self._refresh_tokens.get(token, ""))
        if session is None or not session.active:
            return _oauth_error(400, "invalid_grant", "Refresh token is invalid, expired or already used.")
        user = self._users.get(session.user_id)
        if user is None:
            return _oauth_error(400, "invalid_grant", "The user no longer exists.")
        requested = params.get("organization_id")
        org_id = requested if isinstance(requested, str) and requested else session.organization_id
        if org_id is not None and org_id not in self._orgs:
            return _oauth_error(400, "invalid_grant", f"Organization {org_id} does not exist.")
        outcome = self._outcome(user, org_id)
        if outcome is not None:
            return outcome
        if org_id is not None and self._membership(user.id, org_id) is None:
            return _oauth_error(400, "invalid_grant", f"The user is not a member of organization {org_id}.")
        session.organization_id = org_id
        return _Response.json(200, self._session_response(session, user, int(time.time())))

    # --------------------------------------------------------------------------------------- other routes

    def _jwks(self, request: _Request) -> _Response:
        client_id = request.path.removeprefix("/sso/jwks/")
        if client_id != self.client_id:
            return _api_error(404, "entity_not_found", f"No JWKS for client {client_id!r}.")
        return _Response.json(200, self.jwks(), [("cache-control", "public, max-age=60")])

    def _logout(self, request: _Request) -> _Response:
        session_id = request.query.get("session_id")
        if not session_id:
            return _api_error(422, "invalid_request_parameters", "session_id is required.")
        self._end_session(session_id)
        return_to = request.query.get("return_to")
        if return_to:
            return _Response.redirect(return_to)
        return _Response.html(200, render_message_page("Signed out", "You have been signed out."))

    def _revoke(self, request: _Request) -> _Response:
        denied = self._require_api_key(request)
        if denied is not None:
            return denied
        session_id = (request.params or {}).get("session_id")
        if not isinstance(session_id, str) or not self._end_session(session_id):
            return _api_error(404, "entity_not_found", "Session not found.")
        return _Response.json(200, {})

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

    # ------------------------------------------------------------------------------------------- config

    def config(self, **overrides: Any) -> AuthKitConfig:
        """An :class:`~authkit_core.config.AuthKitConfig` pointing at this emulator (once served), with a test
        cookie password and redirect URI ``http://127.0.0.1:8000/callback``; ``overrides`` win."""
        if self.base_url is None:
            raise RuntimeError("the emulator is not served yet (start an EmulatorServer first)")
        parts = urlsplit(self.base_url)
        kwargs: dict[str, Any] = {
            "client_id": self.client_id,
            "api_key": self.api_key,
            "redirect_uri": "http://127.0.0.1:8000/callback",
            "cookie_password": "emulator-test-cookie-password-0123456789abcdef",
            "api_hostname": parts.hostname or "127.0.0.1",
            "api_https": parts.scheme == "https",
            "api_port": parts.port,
        }
        kwargs.update(overrides)
        return AuthKitConfig(**kwargs)
