"""The examples of the authkit-nextjs ``refreshSession`` page as one WSGI app: plain Flask, its ``wsgi_app``
wrapped only by authkit-session's ``AuthKitWSGIMiddleware``, calling the blocking request-scoped functions
(``refresh_session``, ``with_auth``, ``get_sign_in_url``) from its views.

The routes are those of :mod:`examples.refresh_session.asgi_app` (see README.md for the TypeScript pairs):

1. ``GET /refresh-user-data``: basic session refresh.
2. ``POST /switch-organization`` (form field ``organizationId``): switching organizations.
3. ``GET /check-permission-updates``: checking for permission updates.
4. ``POST /org-switch`` (form field ``organizationId``; ``GET`` shows the form): the organization switcher.
5. ``POST /users/<user_id>/role`` (form field ``role``): refreshing after a role change.
6. ``GET /refresh-org-123``: error handling.

Run it with ``python -m examples.refresh_session.wsgi_app`` (serves http://127.0.0.1:8000/).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, redirect, request
from werkzeug.wrappers import Response

from authkit_adapters.wsgi import AuthKitWSGIMiddleware, get_sign_in_url, refresh_session, with_auth
from authkit_core.engine import AuthKit
from authkit_core.errors import TokenRefreshError

from . import EXAMPLE_PORT, example_authkit
from .workos_api import UserManagement

__all__ = ["create_app"]

examples = Blueprint("refresh_session_examples", __name__)


class Database:
    """Stands in for "your system" of example 5: the roles your app keeps itself."""

    def __init__(self) -> None:
        self.roles: dict[str, str] = {}

    def update_user_role(self, user_id: str, role: str) -> None:
        self.roles[user_id] = role


def session_json(session: Any) -> dict[str, Any]:
    """What ``GET /`` shows of a ``UserInfo`` (or ``NoUserInfo``)."""
    return {
        "user": session.user.email if session.user else None,
        "session_id": session.session_id,
        "organization_id": session.organization_id,
        "role": session.role,
        "roles": session.roles,
        "permissions": session.permissions,
        "entitlements": session.entitlements,
        "feature_flags": session.feature_flags,
    }


# --- 1. Basic session refresh --------------------------------------------------------------------------------------


@examples.get("/refresh-user-data")
def refresh_user_data() -> Any:
    session = refresh_session()

    if not session.user:
        return {"error": "Not authenticated"}

    return {"permissions": session.permissions}


# --- 2. Switching organizations ------------------------------------------------------------------------------------


@examples.post("/switch-organization")
def switch_organization() -> Any:
    organization_id = request.form["organizationId"]
    try:
        session = refresh_session(organization_id, ensure_signed_in=True)
    except TokenRefreshError:
        return {"error": "Failed to switch organization"}

    # No revalidatePath: this response carries the new session cookie, so the next request sees the new org.
    return {"success": True, "organization_id": session.organization_id}


# --- 3. Checking for permission updates ----------------------------------------------------------------------------


@examples.get("/check-permission-updates")
def check_permission_updates() -> Any:
    current_session = with_auth()
    refreshed_session = refresh_session(ensure_signed_in=True)

    new_permissions = [p for p in refreshed_session.permissions or () if p not in (current_session.permissions or ())]

    return {"has_new_permissions": len(new_permissions) > 0, "new_permissions": new_permissions}


# --- 4. Organization switcher --------------------------------------------------------------------------------------


@examples.post("/org-switch")
def handle_org_switch() -> Response:
    organization_id = request.form["organizationId"]

    try:
        refresh_session(organization_id, ensure_signed_in=True)
    except TokenRefreshError as error:
        # Handle SSO or MFA requirements
        if "sso_required" in str(error):
            return redirect("/auth/sso-required", 303)
        if "mfa_enrollment" in str(error):
            return redirect("/auth/mfa-enrollment", 303)
        raise

    return redirect("/dashboard", 303)


ORG_SWITCH_FORM = """<!doctype html>
<title>Switch organization</title>
<form method="post" action="/org-switch">
  <label>Organization <input name="organizationId" placeholder="org_globex" required></label>
  <button>Switch</button>
</form>
"""


@examples.get("/org-switch")
def org_switch_form() -> Any:
    with_auth(ensure_signed_in=True)
    return ORG_SWITCH_FORM


# --- 5. Refreshing after a role change ----------------------------------------------------------------------------


@examples.post("/users/<user_id>/role")
def update_user_role_and_refresh(user_id: str) -> Any:
    new_role = request.form["role"]
    workos: UserManagement = current_app.extensions["workos"]

    # Update role in your system
    current_app.extensions["database"].update_user_role(user_id, new_role)

    # Update role in WorkOS (the original hard-codes 'om_123'; here the membership in the session's organization)
    current = with_auth(ensure_signed_in=True)
    membership = workos.find_organization_membership(user_id=user_id, organization_id=current.organization_id)
    if membership is None:
        return {"error": "Not a member of this organization"}, 404
    workos.update_organization_membership(membership["id"], role_slug=new_role)

    # Refresh the session to get updated role information
    session = refresh_session(ensure_signed_in=True)

    return {"success": True, "new_role": session.role}


# --- 6. Error handling ---------------------------------------------------------------------------------------------


@examples.get("/refresh-org-123")
def refresh_org_123() -> Any:
    try:
        refresh_session(organization_id="org_123")
    except TokenRefreshError as error:
        # Handle specific auth errors
        if "sso_required" in str(error):
            # Redirect to SSO flow: a sign-in into the organization
            return redirect(get_sign_in_url(organization_id="org_123", return_to="/dashboard"), 307)
        if "mfa_enrollment" in str(error):
            # Redirect to MFA setup
            return redirect("/auth/mfa-enrollment", 307)
        status = 503 if error.is_transient else 400
        return {"error": error.code, "is_transient": error.is_transient}, status

    return redirect("/dashboard", 307)


# --- the pages around the examples ---------------------------------------------------------------------------------


@examples.get("/")
def home() -> Any:
    return session_json(with_auth())


@examples.get("/dashboard")
def dashboard() -> Any:
    session = with_auth(ensure_signed_in=True)
    return {"page": "dashboard", **session_json(session)}


@examples.get("/auth/sso-required")
def sso_required() -> Any:
    return "This organization requires single sign-on: sign in through your identity provider."


@examples.get("/auth/mfa-enrollment")
def mfa_enrollment() -> Any:
    return "This organization requires multi-factor authentication: enroll a factor first."


def create_app(authkit: AuthKit) -> Flask:
    """The Flask app with the middleware around its ``wsgi_app`` (so even the 500 page carries the cookies)."""
    app = Flask(__name__)
    app.register_blueprint(examples)
    app.extensions["workos"] = UserManagement(authkit.config)
    app.extensions["database"] = Database()
    app.wsgi_app = AuthKitWSGIMiddleware(app.wsgi_app, authkit=authkit)  # type: ignore[method-assign]
    return app


if __name__ == "__main__":
    with example_authkit(EXAMPLE_PORT) as kit:
        create_app(kit).run(host="127.0.0.1", port=EXAMPLE_PORT)
