"""Bearer access tokens: an API request that carries ``Authorization: Bearer <WorkOS access token>`` instead of a
session cookie (a JavaScript front end, a mobile app, another service).

The engine verifies such a token exactly as it verifies a session's (RS256 against the cached JWKS, expiry, the
issuer when ``jwt_issuer`` is set) and, here, that it was issued to this application: its ``client_id`` claim, or
its ``aud`` claim, must name the configured client id when present. It is never refreshed and never written to a
cookie. The token carries no profile, so the request's :class:`~authkit_core.models.UserInfo` knows the user by id
only (``user.email`` is ``""``); everything else (organization, role, permissions, entitlements, feature flags,
impersonator) comes from the claims as for a session.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .config import AuthKitConfig
from .errors import TokenError
from .models import Session, User, UserInfo
from .tokens import user_info_from_session

__all__ = ["BEARER_CHALLENGE", "bearer_token", "check_audience", "user_info_from_claims"]

#: RFC 6750's token68: what a bearer token may hold.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: The ``WWW-Authenticate`` challenge of a request that needs a bearer token and sent none (RFC 6750 section 3).
BEARER_CHALLENGE = 'Bearer realm="api"'


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value; ``None`` without such a header (another
    scheme, or none), ``""`` when the scheme is Bearer but the value is not a token (empty, spaces, odd
    characters)."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value if _TOKEN68.fullmatch(value) else ""


def check_audience(config: AuthKitConfig, claims: Mapping[str, Any]) -> None:
    """Raise :class:`TokenError` ``invalid_audience`` unless the token was issued to ``config.client_id``: its
    ``client_id`` claim, and its ``aud`` claim (a string or a list), when present, must name it. WorkOS puts the
    client id in one of them; a token that names neither is accepted (its signature already ties it to this
    application's JWKS, which is per client id)."""
    client_id = claims.get("client_id")
    if client_id is not None and client_id != config.client_id:
        raise TokenError("the token was issued to another client", code="invalid_audience")
    audience = claims.get("aud")
    if audience is None:
        return
    names = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else None
    if names is None or config.client_id not in names:
        raise TokenError("the token was issued to another audience", code="invalid_audience")


def user_info_from_claims(config: AuthKitConfig, token: str, claims: Mapping[str, Any]) -> UserInfo:
    """The :class:`UserInfo` of a verified bearer token; :class:`TokenError` when it was issued to another client
    (``invalid_audience``) or lacks ``sub`` or ``sid`` (``invalid_token``)."""
    check_audience(config, claims)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenError("the access token has no subject", code="invalid_token")
    # the impersonator comes from the token's ``act`` claim, as for a session that stored none
    session = Session(access_token=token, refresh_token="", user=User(id=sub, email=""))
    return user_info_from_session(session, claims)
