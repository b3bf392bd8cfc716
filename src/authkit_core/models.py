"""The data this library passes around: users, authentication responses, stored sessions and ``UserInfo``.

Two JSON shapes meet here. The WorkOS API speaks snake_case (``first_name``); the session that authkit-nextjs
seals into its cookie uses the node SDK's camelCase (``firstName``). :class:`User` reads both and writes either,
so a cookie written by a Next.js app opens here and the reverse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import InvalidResponseError

__all__ = [
    "AuthenticationResponse",
    "Impersonator",
    "NoUserInfo",
    "OAuthTokens",
    "Session",
    "User",
    "UserInfo",
]

# (snake_case API name, camelCase cookie name) for every user field, in WorkOS's order.
_USER_FIELDS: tuple[tuple[str, str], ...] = (
    ("object", "object"),
    ("id", "id"),
    ("email", "email"),
    ("email_verified", "emailVerified"),
    ("first_name", "firstName"),
    ("last_name", "lastName"),
    ("profile_picture_url", "profilePictureUrl"),
    ("last_sign_in_at", "lastSignInAt"),
    ("external_id", "externalId"),
    ("metadata", "metadata"),
    ("locale", "locale"),
    ("created_at", "createdAt"),
    ("updated_at", "updatedAt"),
)
# Built once, for each shape: the field each of its own keys fills, and the field each key of the other shape
# fills when the shape's own key is absent. Any other key is an unknown field, kept in ``extra``.
_CAMEL_KEYS = {camel: snake for snake, camel in _USER_FIELDS}
_SNAKE_KEYS = {snake: snake for snake, _ in _USER_FIELDS}
_CAMEL_FALLBACK = {snake: snake for snake, camel in _USER_FIELDS if snake != camel}
_SNAKE_FALLBACK = {camel: snake for snake, camel in _USER_FIELDS if snake != camel}


@dataclass(frozen=True, slots=True)
class User:
    """A WorkOS user. Unknown fields WorkOS may add later are kept in ``extra`` and written back unchanged."""

    id: str
    email: str
    email_verified: bool = False
    first_name: str | None = None
    last_name: str | None = None
    profile_picture_url: str | None = None
    last_sign_in_at: str | None = None
    external_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    locale: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    object: str = "user"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> User:
        """Read a user from the WorkOS API (snake_case) shape."""
        return cls._build(data, camel=False)

    @classmethod
    def from_session(cls, data: Mapping[str, Any]) -> User:
        """Read a user from the authkit-nextjs cookie (camelCase) shape; snake_case keys are accepted too."""
        return cls._build(data, camel=True)

    @classmethod
    def _build(cls, data: Mapping[str, Any], *, camel: bool) -> User:
        if type(data) is not dict and not isinstance(data, Mapping):  # the exact-type test skips the ABC check
            raise InvalidResponseError("user is not an object")
        own, other = (_CAMEL_KEYS, _CAMEL_FALLBACK) if camel else (_SNAKE_KEYS, _SNAKE_FALLBACK)
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        fallback: dict[str, Any] | None = None
        for key, value in data.items():  # one pass: each key is looked up once
            snake = own.get(key)
            if snake is not None:
                values[snake] = value
            elif key in other:
                if fallback is None:
                    fallback = {}
                fallback[other[key]] = value
            else:
                extra[key] = value
        if fallback:  # a key of the other shape counts only when the shape's own key is absent
            for snake, value in fallback.items():
                values.setdefault(snake, value)
        if not isinstance(values.get("id"), str) or not isinstance(values.get("email"), str):
            raise InvalidResponseError("user has no string id and email")
        if values.get("metadata") is None:
            values["metadata"] = {}
        values["email_verified"] = bool(values.get("email_verified", False))
        values["extra"] = extra
        return cls(**values)

    def to_api(self) -> dict[str, Any]:
        """This user in the WorkOS API (snake_case) shape."""
        out = {snake: getattr(self, snake) for snake, _ in _USER_FIELDS}
        out["metadata"] = dict(self.metadata)
        return {**self.extra, **out}

    def to_session(self) -> dict[str, Any]:
        """This user in the authkit-nextjs cookie (camelCase) shape."""
        out = {camel: getattr(self, snake) for snake, camel in _USER_FIELDS}
        out["metadata"] = dict(self.metadata)
        return {**self.extra, **out}


@dataclass(frozen=True, slots=True)
class Impersonator:
    """The admin impersonating the user (WorkOS's ``impersonator``)."""

    email: str
    reason: str | None = None

    @classmethod
    def from_json(cls, data: object) -> Impersonator | None:
        """Read ``{email, reason}``; anything else is ``None``."""
        if data is None:  # the usual case, without the ABC check
            return None
        if isinstance(data, Mapping) and isinstance(data.get("email"), str):
            reason = data.get("reason")
            return cls(email=data["email"], reason=reason if isinstance(reason, str) else None)
        return None

    def to_json(self) -> dict[str, Any]:
        """``{email, reason}``."""
        return {"email": self.email, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class OAuthTokens:
    """The identity provider's own tokens (WorkOS's ``oauth_tokens``), returned by a code grant when the user signed
    in through an OAuth provider (Google, Microsoft, GitHub ...) and the app asked WorkOS for them. Never stored in
    the session: hand them to your own storage from ``on_success``."""

    #: The provider, as WorkOS names it (``GoogleOAuth`` ...).
    provider: str | None
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    #: When ``access_token`` expires (Unix seconds), when WorkOS says.
    expires_at: int | None = None
    #: The scopes the provider granted.
    scopes: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: object) -> OAuthTokens | None:
        """Read ``{provider, access_token, refresh_token, expires_at, scopes}``; ``None`` when absent or without an
        access token."""
        if not isinstance(data, Mapping) or not isinstance(data.get("access_token"), str):
            return None
        provider, refresh = data.get("provider"), data.get("refresh_token")
        expires_at, scopes = data.get("expires_at"), data.get("scopes")
        return cls(
            provider=provider if isinstance(provider, str) else None,
            access_token=data["access_token"],
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=int(expires_at)
            if isinstance(expires_at, int | float) and not isinstance(expires_at, bool)
            else None,
            scopes=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationResponse:
    """A successful answer of ``POST /user_management/authenticate`` (code or refresh grant)."""

    user: User
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    organization_id: str | None = None
    impersonator: Impersonator | None = None
    authentication_method: str | None = None
    #: The identity provider's tokens, when WorkOS returned them (code grants through an OAuth provider).
    oauth_tokens: OAuthTokens | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> AuthenticationResponse:
        """Parse the JSON body; raise :class:`InvalidResponseError` when a required field is missing."""
        if not isinstance(data, Mapping):
            raise InvalidResponseError("authenticate response is not an object")
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not isinstance(access, str) or not isinstance(refresh, str) or not access or not refresh:
            raise InvalidResponseError("authenticate response has no access_token or refresh_token")
        org = data.get("organization_id")
        method = data.get("authentication_method")
        return cls(
            user=User.from_api(data.get("user")),  # type: ignore[arg-type]
            access_token=access,
            refresh_token=refresh,
            organization_id=org if isinstance(org, str) else None,
            impersonator=Impersonator.from_json(data.get("impersonator")),
            authentication_method=method if isinstance(method, str) else None,
            oauth_tokens=OAuthTokens.from_json(data.get("oauth_tokens")),
            raw=data,
        )

    def to_session(self) -> Session:
        """The session to store after this authentication."""
        return Session(
            access_token=self.access_token,
            refresh_token=self.refresh_token,
            user=self.user,
            impersonator=self.impersonator,
            authentication_method=self.authentication_method,
        )


@dataclass(frozen=True, slots=True)
class Session:
    """What is stored for a signed-in browser: the payload authkit-nextjs seals into ``wos-session``."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    user: User
    impersonator: Impersonator | None = None
    authentication_method: str | None = None

    @classmethod
    def from_json(cls, data: object) -> Session:
        """Read the camelCase payload (``accessToken``, ``refreshToken``, ``user``, ``impersonator``)."""
        if type(data) is not dict and not isinstance(data, Mapping):
            raise InvalidResponseError("session payload is not an object")
        access, refresh = data.get("accessToken"), data.get("refreshToken")
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise InvalidResponseError("session payload has no accessToken or refreshToken")
        method = data.get("authenticationMethod")
        return cls(
            access_token=access,
            refresh_token=refresh,
            user=User._build(data.get("user"), camel=True),  # type: ignore[arg-type]
            impersonator=Impersonator.from_json(data.get("impersonator")),
            authentication_method=method if isinstance(method, str) else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The camelCase payload authkit-nextjs writes (``impersonator`` and ``authenticationMethod`` only
        when set)."""
        out: dict[str, Any] = {
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
            "user": self.user.to_session(),
        }
        if self.impersonator is not None:
            out["impersonator"] = self.impersonator.to_json()
        if self.authentication_method is not None:
            out["authenticationMethod"] = self.authentication_method
        return out


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A signed-in request: who the user is and what the access token grants."""

    user: User
    session_id: str
    access_token: str = field(repr=False)
    organization_id: str | None = None
    role: str | None = None
    roles: tuple[str, ...] | None = None
    permissions: tuple[str, ...] | None = None
    entitlements: tuple[str, ...] | None = None
    feature_flags: tuple[str, ...] | None = None
    impersonator: Impersonator | None = None

    @property
    def is_signed_in(self) -> Literal[True]:
        """Always ``True``: lets code branch without an ``isinstance`` check."""
        return True

    # The names frameworks give a user object (Starlette's ``BaseUser``, Flask-Login's ``UserMixin``, Django's
    # users), so a ``UserInfo`` can stand where those are expected; none of them needs a framework import.

    @property
    def is_authenticated(self) -> Literal[True]:
        """Always ``True`` (Starlette, Flask-Login and Django name it so)."""
        return True

    @property
    def is_anonymous(self) -> Literal[False]:
        """Always ``False`` (Flask-Login, Django)."""
        return False

    @property
    def is_active(self) -> Literal[True]:
        """Always ``True``: WorkOS only issues sessions to users who may sign in (Flask-Login, Django)."""
        return True

    @property
    def identity(self) -> str:
        """The WorkOS user id, ``user_...`` (Starlette's ``BaseUser.identity``)."""
        return self.user.id

    def get_id(self) -> str:
        """The WorkOS user id, ``user_...`` (Flask-Login's ``get_id()``)."""
        return self.user.id

    @property
    def display_name(self) -> str:
        """First and last name, or the email address when WorkOS has neither (Starlette's
        ``BaseUser.display_name``)."""
        user = self.user
        return f"{user.first_name or ''} {user.last_name or ''}".strip() or user.email

    @property
    def scopes(self) -> list[str]:
        """The access token's permissions (what Starlette's ``AuthCredentials.scopes`` and its ``requires``
        check)."""
        return list(self.permissions or ())


@dataclass(frozen=True, slots=True)
class NoUserInfo:
    """A signed-out request. Every field is ``None`` so code written for :class:`UserInfo` reads it safely."""

    user: None = None
    session_id: None = None
    access_token: None = None
    organization_id: None = None
    role: None = None
    roles: None = None
    permissions: None = None
    entitlements: None = None
    feature_flags: None = None
    impersonator: None = None

    @property
    def is_signed_in(self) -> Literal[False]:
        """Always ``False``."""
        return False

    # The framework names of :class:`UserInfo`, as a signed-out (anonymous) user has them.

    @property
    def is_authenticated(self) -> Literal[False]:
        """Always ``False`` (Starlette, Flask-Login and Django name it so)."""
        return False

    @property
    def is_anonymous(self) -> Literal[True]:
        """Always ``True`` (Flask-Login, Django)."""
        return True

    @property
    def is_active(self) -> Literal[False]:
        """Always ``False`` (Flask-Login's anonymous user)."""
        return False

    @property
    def identity(self) -> None:
        """``None``: a signed-out request names no user."""
        return None

    def get_id(self) -> None:
        """``None`` (Flask-Login's anonymous user)."""
        return None

    @property
    def display_name(self) -> str:
        """``""`` (Starlette's ``UnauthenticatedUser``)."""
        return ""

    @property
    def scopes(self) -> list[str]:
        """``[]``: no permission."""
        return []
