"""Sessions and access tokens: issuing, refreshing, minting and ending sessions; the logout and revoke endpoints."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from ..page import render_message_page
from ..seed import SeedUser
from .asgi import _api_error, _Request, _Response
from .keys import _SigningKeys
from .redirects import _Redirects
from .state import _iso, _new_id, _Session


class _Sessions(_SigningKeys, _Redirects):
    """Sessions (each with one live refresh token), the claims of their access tokens, and ending them."""

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
        self,
        user: SeedUser,
        organization_id: str | None,
        impersonator: dict[str, Any] | None,
        *,
        auth_time: int | None = None,
        authentication_method: str = "Password",
    ) -> dict[str, Any]:
        now = int(time.time())
        self._last_sign_in[user.id] = _iso(now)
        session = _Session(
            _new_id("session"),
            user.id,
            organization_id,
            now if auth_time is None else auth_time,
            "",
            impersonator,
            authentication_method=authentication_method,
        )
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
            "authentication_method": session.authentication_method,
        }
        if session.impersonator is not None:
            body["impersonator"] = {
                "email": session.impersonator.get("email"),
                "reason": session.impersonator.get("reason"),
            }
        return body

    def _logout(self, request: _Request) -> _Response:
        session_id = request.query.get("session_id")
        if not session_id:
            return _api_error(422, "invalid_request_parameters", "session_id is required.")
        ended = self._sessions.get(session_id)
        if self._end_session(session_id) and ended is not None:
            self._authenticated_at.pop(ended.user_id, None)  # the AuthKit session ends too
        destination = self._logout_destination(request.query.get("return_to"))
        if isinstance(destination, _Response):
            return destination
        if destination is not None:
            return _Response.redirect(destination)
        return _Response.html(200, render_message_page("Signed out", "You have been signed out."))

    def _revoke(self, request: _Request) -> _Response:
        denied = self._require_api_key(request)
        if denied is not None:
            return denied
        session_id = (request.params or {}).get("session_id")
        if not isinstance(session_id, str) or not self._end_session(session_id):
            return _api_error(404, "entity_not_found", "Session not found.")
        return _Response.json(200, {})
