"""The OAuth endpoints: the AuthKit authorize redirect with its sign-in page, and the code and refresh grants.

The authorize endpoint refuses a ``redirect_uri`` that is not registered (see ``redirects``) with a 400 page, and
uses the first registered one when the request names none, as WorkOS does. The code exchange does not compare
redirect URIs: WorkOS's ``/user_management/authenticate`` takes no ``redirect_uri`` (the code was bound to a
registered URI when it was issued). Grants may answer the authentication errors tests set (``set_user_outcome``,
``set_organization_outcome``, an organization's seeded ``requires``) in the shape WorkOS uses.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..page import render_sign_in_page
from ..seed import SeedOrganization, SeedUser
from .asgi import _oauth_error, _Request, _Response
from .sessions import _Sessions
from .sign_ins import _SignIns
from .state import _Code, _new_id

__all__ = ["AUTH_ERROR_MESSAGES", "CODE_TTL_SECONDS"]

#: How long an authorization code can be exchanged.
CODE_TTL_SECONDS = 600


#: The ``message`` of each authentication error the emulator can answer.
AUTH_ERROR_MESSAGES: Mapping[str, str] = {
    "sso_required": "User must authenticate using one of the matching connections.",
    "mfa_enrollment": "The user must enroll in MFA to finish authenticating.",
    "mfa_challenge": "The user must complete an MFA challenge to finish authenticating.",
    "organization_selection_required": "The user must choose an organization to finish their authentication.",
    "email_verification_required": "Email ownership must be verified before authentication.",
    "organization_authentication_methods_required": "The user must sign in with a method the organization allows.",
}


def _b64url_sha256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode("ascii", "replace")).digest()).rstrip(b"=").decode()


class _OAuth(_Sessions, _SignIns):
    """``/user_management/authorize`` (and its ``/complete`` step) and ``/user_management/authenticate``."""

    def _check_authorize(self, q: Mapping[str, str]) -> _Response | None:
        client_id = q.get("client_id")
        if not client_id:
            return _oauth_error(400, "invalid_request", "client_id is required.")
        if client_id != self.client_id:
            return _oauth_error(400, "invalid_client", f"Invalid client ID {client_id!r}.")
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri:
            return _oauth_error(400, "invalid_request", "redirect_uri is required: no redirect URI is registered.")
        if urlsplit(redirect_uri).scheme not in ("http", "https") or not urlsplit(redirect_uri).netloc:
            return _oauth_error(400, "invalid_request", "redirect_uri must be an absolute http(s) URL.")
        refusal = self._redirect_uri_refusal(redirect_uri)
        if refusal is not None:
            return refusal
        if q.get("response_type") != "code":
            return _oauth_error(400, "unsupported_response_type", "response_type must be 'code'.")
        if not (q.get("provider") or q.get("organization_id") or q.get("connection_id")):
            return _oauth_error(400, "invalid_request", "provider, connection_id or organization_id is required.")
        refused = self._check_sign_in_options(q)
        if refused is not None:
            return refused
        if q.get("screen_hint") and q["screen_hint"] not in ("sign-in", "sign-up"):
            return _oauth_error(400, "invalid_request", "screen_hint must be sign-in or sign-up.")
        if q.get("code_challenge") and q.get("code_challenge_method") != "S256":
            return _oauth_error(400, "invalid_request", "code_challenge_method must be S256.")
        if q.get("code_challenge_method") and not q.get("code_challenge"):
            return _oauth_error(400, "invalid_request", "code_challenge is required with code_challenge_method.")
        if q.get("organization_id") and q["organization_id"] not in self._orgs:
            return _oauth_error(400, "invalid_request", f"Unknown organization {q['organization_id']!r}.")
        return None

    def _issue_code(self, q: Mapping[str, str], user: SeedUser, *, fresh: bool) -> _Response:
        """Send the browser back with a code for ``user`` (``fresh``: the user just authenticated)."""
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(
            user_id=user.id,
            client_id=q["client_id"],
            redirect_uri=q["redirect_uri"],
            code_challenge=q.get("code_challenge") or None,
            organization_id=q.get("organization_id") or self._connection_organization(q.get("connection_id")),
            expires_at=time.time() + CODE_TTL_SECONDS,
            auth_time=self._auth_time(user, fresh=fresh),
            authentication_method=self._authentication_method(q),
        )
        parts = urlsplit(q["redirect_uri"])
        extra = {"code": code}
        if "state" in q:
            extra["state"] = q["state"]
        query = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
        return _Response.redirect(urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment)))

    def _with_default_redirect(self, query: Mapping[str, str]) -> dict[str, str]:
        """The query, with the default (first registered) redirect URI when it names none, as WorkOS does."""
        q = dict(query)
        if not q.get("redirect_uri") and self._redirect_uris:
            q["redirect_uri"] = self._redirect_uris[0]
        return q

    def _authorize(self, request: _Request) -> _Response:
        self._record_authorize(request.query)
        q = self._with_default_redirect(request.query)
        error = self._check_authorize(q)
        if error is not None:
            return error
        hint = q.get("login_hint", "").strip().lower()
        if hint:
            user = next((u for u in self._users.values() if u.email.lower() == hint), None)
            if user is not None and not self._must_authenticate(q, user):
                return self._issue_code(q, user, fresh=False)
        passed = {k: v for k, v in q.items() if k != "user_id"}
        entries = []
        for u in self._users.values():
            href = "/user_management/authorize/complete?" + urlencode({**passed, "user_id": u.id})
            name = " ".join(p for p in (u.first_name, u.last_name) if p) or u.email
            entries.append((u.id, u.email, name, href))
        return _Response.html(200, render_sign_in_page(entries, screen_hint=q.get("screen_hint") or "sign-in"))

    def _authorize_complete(self, request: _Request) -> _Response:
        q = self._with_default_redirect(request.query)
        error = self._check_authorize(q)
        if error is not None:
            return error
        user = self._users.get(q.get("user_id", ""))
        if user is None:
            return _oauth_error(400, "invalid_request", "Unknown user_id.")
        return self._issue_code(q, user, fresh=True)

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
        impersonator = self._impersonations.pop(user.id, None)  # armed by start_impersonation
        body = self._new_session(
            user, org_id, impersonator, auth_time=code.auth_time, authentication_method=code.authentication_method
        )
        tokens = self._oauth_tokens(code.authentication_method)
        if tokens is not None:
            body["oauth_tokens"] = tokens
        return _Response.json(200, body)

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
