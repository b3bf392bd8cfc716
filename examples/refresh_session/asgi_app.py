"""The examples of the authkit-nextjs ``refreshSession`` page as one ASGI app: plain Starlette, wrapped only by
authkit-session's ``AuthKitMiddleware``, calling the async request-scoped functions (``refresh_session``,
``with_auth``, ``get_sign_in_url``) from its handlers.

Each TypeScript server action is a route here (see README.md for the pairs):

1. ``GET /refresh-user-data``: basic session refresh.
2. ``POST /switch-organization`` (form field ``organizationId``): switching organizations.
3. ``GET /check-permission-updates``: checking for permission updates.
4. ``POST /org-switch`` (form field ``organizationId``; ``GET`` shows the form): the organization switcher.
5. ``POST /users/{user_id}/role`` (form field ``role``): refreshing after a role change.
6. ``GET /refresh-org-123``: error handling.

``GET /`` shows the current session; ``/dashboard`` requires one; ``/auth/sso-required`` and
``/auth/mfa-enrollment`` are where example 4 sends the browser. Run it with
``python -m examples.refresh_session.asgi_app`` (serves http://127.0.0.1:8000/).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from authkit_adapters.asgi import AuthKitMiddleware, get_sign_in_url, refresh_session, with_auth
from authkit_core.engine import AuthKit
from authkit_core.errors import TokenRefreshError

from . import EXAMPLE_PORT, example_authkit
from .workos_api import AsyncUserManagement

__all__ = ["create_app"]


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


async def refresh_user_data(request: Request) -> Response:
    session = await refresh_session()

    if not session.user:
        return JSONResponse({"error": "Not authenticated"})

    return JSONResponse({"permissions": session.permissions})


# --- 2. Switching organizations ------------------------------------------------------------------------------------


async def switch_organization(request: Request) -> Response:
    organization_id = str((await request.form())["organizationId"])
    try:
        session = await refresh_session(organization_id, ensure_signed_in=True)
    except TokenRefreshError:
        return JSONResponse({"error": "Failed to switch organization"})

    # No revalidatePath: this response carries the new session cookie, so the next request sees the new org.
    return JSONResponse({"success": True, "organization_id": session.organization_id})


# --- 3. Checking for permission updates ----------------------------------------------------------------------------


async def check_permission_updates(request: Request) -> Response:
    current_session = await with_auth()
    refreshed_session = await refresh_session(ensure_signed_in=True)

    new_permissions = [p for p in refreshed_session.permissions or () if p not in (current_session.permissions or ())]

    return JSONResponse({"has_new_permissions": len(new_permissions) > 0, "new_permissions": new_permissions})


# --- 4. Organization switcher --------------------------------------------------------------------------------------


async def handle_org_switch(request: Request) -> Response:
    organization_id = str((await request.form())["organizationId"])

    try:
        await refresh_session(organization_id, ensure_signed_in=True)
    except TokenRefreshError as error:
        # Handle SSO or MFA requirements
        if "sso_required" in str(error):
            return RedirectResponse("/auth/sso-required", status_code=303)
        if "mfa_enrollment" in str(error):
            return RedirectResponse("/auth/mfa-enrollment", status_code=303)
        raise

    return RedirectResponse("/dashboard", status_code=303)


ORG_SWITCH_FORM = """<!doctype html>
<title>Switch organization</title>
<form method="post" action="/org-switch">
  <label>Organization <input name="organizationId" placeholder="org_globex" required></label>
  <button>Switch</button>
</form>
"""


async def org_switch_form(request: Request) -> Response:
    await with_auth(ensure_signed_in=True)
    return HTMLResponse(ORG_SWITCH_FORM)


# --- 5. Refreshing after a role change ----------------------------------------------------------------------------


async def update_user_role_and_refresh(request: Request) -> Response:
    user_id, new_role = request.path_params["user_id"], str((await request.form())["role"])
    workos: AsyncUserManagement = request.app.state.workos

    # Update role in your system
    request.app.state.database.update_user_role(user_id, new_role)

    # Update role in WorkOS (the original hard-codes 'om_123'; here the membership in the session's organization)
    current = await with_auth(ensure_signed_in=True)
    membership = await workos.find_organization_membership(user_id=user_id, organization_id=current.organization_id)
    if membership is None:
        return JSONResponse({"error": "Not a member of this organization"}, status_code=404)
    await workos.update_organization_membership(membership["id"], role_slug=new_role)

    # Refresh the session to get updated role information
    session = await refresh_session(ensure_signed_in=True)

    return JSONResponse({"success": True, "new_role": session.role})


# --- 6. Error handling ---------------------------------------------------------------------------------------------


async def refresh_org_123(request: Request) -> Response:
    try:
        await refresh_session(organization_id="org_123")
    except TokenRefreshError as error:
        # Handle specific auth errors
        if "sso_required" in str(error):
            # Redirect to SSO flow: a sign-in into the organization
            return RedirectResponse(await get_sign_in_url(organization_id="org_123", return_to="/dashboard"))
        if "mfa_enrollment" in str(error):
            # Redirect to MFA setup
            return RedirectResponse("/auth/mfa-enrollment")
        status = 503 if error.is_transient else 400
        return JSONResponse({"error": error.code, "is_transient": error.is_transient}, status_code=status)

    return RedirectResponse("/dashboard")


# --- the pages around the examples ---------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    return JSONResponse(session_json(await with_auth()))


async def dashboard(request: Request) -> Response:
    session = await with_auth(ensure_signed_in=True)
    return JSONResponse({"page": "dashboard", **session_json(session)})


async def sso_required(request: Request) -> Response:
    return PlainTextResponse("This organization requires single sign-on: sign in through your identity provider.")


async def mfa_enrollment(request: Request) -> Response:
    return PlainTextResponse("This organization requires multi-factor authentication: enroll a factor first.")


routes = [
    Route("/", home),
    Route("/dashboard", dashboard),
    Route("/auth/sso-required", sso_required),
    Route("/auth/mfa-enrollment", mfa_enrollment),
    Route("/refresh-user-data", refresh_user_data),
    Route("/switch-organization", switch_organization, methods=["POST"]),
    Route("/check-permission-updates", check_permission_updates),
    Route("/org-switch", org_switch_form, methods=["GET"]),
    Route("/org-switch", handle_org_switch, methods=["POST"]),
    Route("/users/{user_id}/role", update_user_role_and_refresh, methods=["POST"]),
    Route("/refresh-org-123", refresh_org_123),
]


def create_app(authkit: AuthKit) -> AuthKitMiddleware:
    """The Starlette app wrapped in the middleware (outermost, so even the 500 page carries the session cookies)."""
    app = Starlette(routes=routes)
    app.state.workos = AsyncUserManagement(authkit.config)
    app.state.database = Database()
    return AuthKitMiddleware(app, authkit=authkit)


if __name__ == "__main__":
    import uvicorn

    with example_authkit(EXAMPLE_PORT) as kit:
        uvicorn.run(create_app(kit), host="127.0.0.1", port=EXAMPLE_PORT)
