"""The emulated AuthKit browser sign-in: the log of authorize requests, when a user must sign in again
(``prompt=login``, ``max_age``), the ``auth_time`` a sign-in gets, and the identity providers (``provider``,
``connection_id``) with the tokens an OAuth provider returns.

WorkOS keeps an AuthKit session in the browser: a sign-in while it lives goes straight back to the app, keeping the
time the user last actually authenticated (the access token's ``auth_time``). The emulator has no browser of its
own, so it keeps that time per user: choosing a user on the sign-in page (``/authorize/complete``), or a
``login_hint`` naming one who has no AuthKit session, is an authentication (``auth_time`` = now); a ``login_hint``
while the user's AuthKit session lives reuses its time, unless ``prompt=login`` or ``max_age`` (``0``, or older than
the user's last authentication) asks for a new one: then the sign-in page is shown and the user must choose again.
Logout ends the user's AuthKit session.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from ..seed import SeedUser
from .asgi import _oauth_error, _Response
from .state import _State

__all__ = ["OAUTH_PROVIDERS"]

#: The ``provider`` values the emulator accepts besides ``authkit``: a sign-in through one of them has that
#: ``authentication_method`` and returns ``oauth_tokens``.
OAUTH_PROVIDERS = frozenset({"GoogleOAuth", "MicrosoftOAuth", "GitHubOAuth", "AppleOAuth"})
#: The scopes of the emulated provider tokens.
_PROVIDER_SCOPES = ("openid", "email", "profile")
_PROVIDER_TOKEN_TTL = 3600


class _SignIns(_State):
    """The authorize request log and the per-user AuthKit sessions (``_authenticated_at``)."""

    @property
    def authorize_requests(self) -> list[dict[str, str]]:
        """The query of every ``GET /user_management/authorize`` since the last reset, as received (every option:
        ``login_hint``, ``organization_id``, ``prompt``, ``max_age``, ``state`` ...), oldest first."""
        with self._lock:
            return [dict(q) for q in self._authorize_log]

    def set_last_authentication(self, user_id_or_email: str, when: float | None) -> None:
        """Set when the user last authenticated at AuthKit (Unix seconds): their AuthKit session, which a
        ``login_hint`` sign-in reuses (its ``auth_time`` too) while ``prompt``/``max_age`` allow. ``None`` ends it
        (the next sign-in authenticates again)."""
        with self._lock:
            user = self._user_ref(user_id_or_email)
            if when is None:
                self._authenticated_at.pop(user.id, None)
            else:
                self._authenticated_at[user.id] = float(when)

    def _record_authorize(self, query: Mapping[str, str]) -> None:
        self._authorize_log.append(dict(query))

    def _check_sign_in_options(self, q: Mapping[str, str]) -> _Response | None:
        """Refuse the options WorkOS would: an unknown provider, a ``max_age`` that is not whole seconds."""
        provider = q.get("provider")
        if provider and provider != "authkit" and provider not in OAUTH_PROVIDERS:
            known = ", ".join(sorted({"authkit", *OAUTH_PROVIDERS}))
            return _oauth_error(400, "invalid_request", f"Unknown provider {provider!r} (the emulator knows {known}).")
        max_age = q.get("max_age")
        if max_age is not None and not (max_age.isascii() and max_age.isdigit()):
            return _oauth_error(400, "invalid_request", "max_age must be a whole number of seconds.")
        return None

    def _must_authenticate(self, q: Mapping[str, str], user: SeedUser) -> bool:
        """Whether a sign-in of ``user`` needs a new authentication (no AuthKit session, ``prompt=login``, or a
        ``max_age`` the last one is older than)."""
        last = self._authenticated_at.get(user.id)
        if last is None:
            return False  # the login_hint shortcut is itself an authentication
        if q.get("prompt") == "login":
            return True
        max_age = q.get("max_age")
        return max_age is not None and (int(max_age) == 0 or time.time() - last > int(max_age))

    def _auth_time(self, user: SeedUser, *, fresh: bool) -> int:
        """The ``auth_time`` of a sign-in: now when the user authenticates (``fresh``, or no AuthKit session),
        else the time of their last authentication."""
        last = self._authenticated_at.get(user.id)
        if fresh or last is None:
            last = self._authenticated_at[user.id] = time.time()
        return int(last)

    def _authentication_method(self, q: Mapping[str, str]) -> str:
        """How a sign-in with these options authenticates: the OAuth provider, ``SSO`` through a connection, else
        ``Password``."""
        provider = q.get("provider")
        if provider in OAUTH_PROVIDERS:
            return provider
        if q.get("connection_id"):
            return "SSO"
        return "Password"

    def _connection_organization(self, connection_id: str | None) -> str | None:
        """The seeded organization an SSO connection belongs to."""
        if not connection_id:
            return None
        return next((o.id for o in self._orgs.values() if connection_id in (o.connection_ids or ())), None)

    @staticmethod
    def _oauth_tokens(method: str) -> dict[str, Any] | None:
        """The provider's tokens a code grant returns after an OAuth provider sign-in (``None`` otherwise)."""
        if method not in OAUTH_PROVIDERS:
            return None
        return {
            "provider": method,
            "access_token": "emu_provider_at_" + secrets.token_urlsafe(18),
            "refresh_token": "emu_provider_rt_" + secrets.token_urlsafe(18),
            "expires_at": int(time.time()) + _PROVIDER_TOKEN_TTL,
            "scopes": list(_PROVIDER_SCOPES),
        }
