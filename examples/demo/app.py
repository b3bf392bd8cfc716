"""The demo web app: a small Starlette app behind :class:`~authkit_adapters.asgi.AuthKitMiddleware`.

Routes (every page is server-rendered by :mod:`examples.demo.pages`):

- ``GET /``: signed out, sign-in and sign-up buttons; signed in, the user, organization, role, permissions,
  entitlements, feature flags, session id and token expiry, an organization switcher and the actions below.
- ``GET /sign-in``, ``GET /sign-up``: redirect to ``get_sign_in_url()`` / ``get_sign_up_url()`` (the middleware
  sets the state cookie on that redirect).
- ``GET /account``: ``with_auth(ensure_signed_in=True)``, then every claim of the access token.
- ``POST /switch-organization`` (form field ``organization_id``): ``switch_to_organization``, back home.
- ``POST /refresh``: ``refresh_session()``, back home.
- ``POST /sign-out``: ``sign_out()``; the browser goes through WorkOS's (the emulator's) logout and back home.
- ``GET /api/me``: the session as JSON, or ``401 {"error": "unauthorized"}`` when signed out; it also takes the
  user's access token as ``Authorization: Bearer`` (the middleware's ``accept_bearer``).
- ``GET /token``: browser code calling ``/api/me`` with the access token from ``POST /auth/access-token`` (the
  middleware's ``access_token_endpoints``), through ``GET /static/authkit-access-token.js``.

The user's organizations come from the WorkOS organization-memberships API through the library's client
(``AsyncWorkOSClient.list_organization_memberships`` and ``get_organization``), which the emulator serves; the
list is kept ``ORGANIZATIONS_TTL`` seconds, and a WorkOS outage shows the last list (or none) with a note. A session
started by an admin's impersonation shows a banner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from authkit_adapters import asgi as authkit
from authkit_adapters.asgi import AuthKitMiddleware
from authkit_core.engine import AuthKit
from authkit_core.errors import AuthKitError, TokenRefreshError
from authkit_core.models import UserInfo
from authkit_core.workos_client import AsyncWorkOSClient

from .pages import NOTICES, Organization, render_claims_page, render_error_page, render_home_page, render_token_page

__all__ = ["DemoSettings", "create_app"]

logger = logging.getLogger("authkit_demo")

#: How long the organization switcher's list (names from the WorkOS API) is reused, in seconds.
ORGANIZATIONS_TTL = 30.0
#: The demo's static files: the access-token snippet of docs/api-auth.md.
STATIC = Path(__file__).with_name("static")


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """What the pages show besides the session: where the emulator is, and how sessions are stored."""

    #: The WorkOS API base URL (the emulator's ``http://127.0.0.1:PORT``), for the memberships API.
    api_base_url: str
    #: The WorkOS API key, sent to the memberships API.
    api_key: str
    #: The app's own base URL (``http://127.0.0.1:8000``): where the emulator's logout sends the browser back.
    public_url: str
    #: A short description of the session store for the footer (``SQLite .demo/sessions.sqlite3``).
    storage: str = "the wos-session cookie"
    #: ``GET /metrics`` renders this (``--metrics``: the engine's OpenTelemetry metrics); ``None``: no such page.
    metrics: Callable[[], str] | None = None


def _user_json(info: UserInfo) -> dict[str, Any]:
    return {
        "user": {
            "id": info.user.id,
            "email": info.user.email,
            "first_name": info.user.first_name,
            "last_name": info.user.last_name,
        },
        "session_id": info.session_id,
        "organization_id": info.organization_id,
        "role": info.role,
        "roles": list(info.roles or ()),
        "permissions": list(info.permissions or ()),
        "entitlements": list(info.entitlements or ()),
        "feature_flags": list(info.feature_flags or ()),
    }


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the demo's forms), without python-multipart."""
    body = (await request.body())[:4096].decode("utf-8", "replace")
    return {key: values[0] for key, values in parse_qs(body).items()}


def _home(notice: str) -> RedirectResponse:
    return RedirectResponse(f"/?notice={notice}", status_code=303)


def create_app(kit: AuthKit, settings: DemoSettings, *, debug: bool = False) -> AuthKitMiddleware:
    """The demo app wrapped in the middleware, with ``kit`` as its session engine."""
    clients: dict[str, httpx.AsyncClient] = {}

    # user id -> (when listed, the organizations): the switcher's names, kept briefly (every page shows them)
    listed: dict[str, tuple[float, list[Organization]]] = {}

    async def organizations_of(user_id: str) -> tuple[list[Organization], str | None]:
        """The user's organizations with their names, through the library's WorkOS client
        (``list_organization_memberships``, every page; ``get_organization`` for a membership without a name).
        Cached for ``ORGANIZATIONS_TTL`` seconds; when WorkOS cannot be reached, what was listed last, or the ids
        of the session alone, with a note: never an error page."""
        hit = listed.get(user_id)
        if hit is not None and time.monotonic() - hit[0] < ORGANIZATIONS_TTL:
            return hit[1], None
        client = clients.get("api")
        if client is None:  # served without lifespan
            client = clients["api"] = httpx.AsyncClient(timeout=5)
        workos = AsyncWorkOSClient(kit.config, http=client)
        try:
            memberships = await workos.list_organization_memberships(user_id)
            organizations = []
            for m in memberships:
                name = m.organization_name or (await workos.get_organization(m.organization_id)).name
                organizations.append(Organization(id=m.organization_id, name=name, role=m.role))
        except AuthKitError as exc:
            logger.warning("could not list organization memberships: %s", exc.code)
            previous = hit[1] if hit is not None else []
            return previous, "The organization list could not be loaded from the WorkOS API."
        listed[user_id] = (time.monotonic(), organizations)
        return organizations, None

    def page_extras() -> dict[str, Any]:
        return {
            "emulator_url": settings.api_base_url,
            "storage": settings.storage,
            "metrics": settings.metrics is not None,
        }

    async def home(request: Request) -> Response:
        info = await authkit.with_auth()
        notice = request.query_params.get("notice")
        notice = notice if notice in NOTICES else None
        if not isinstance(info, UserInfo):
            page = render_home_page(
                None,
                claims={},
                organizations=[],
                organizations_error=None,
                notice=notice,
                now=time.time(),
                **page_extras(),
            )
            return HTMLResponse(page)
        organizations, problem = await organizations_of(info.user.id)
        page = render_home_page(
            info,
            claims=await authkit.get_token_claims(),
            organizations=organizations,
            organizations_error=problem,
            notice=notice,
            now=time.time(),
            **page_extras(),
        )
        return HTMLResponse(page)

    async def sign_in(request: Request) -> Response:
        return RedirectResponse(await authkit.get_sign_in_url(return_to="/?notice=signed-in"), status_code=302)

    async def sign_up(request: Request) -> Response:
        return RedirectResponse(await authkit.get_sign_up_url(return_to="/?notice=signed-in"), status_code=302)

    async def account(request: Request) -> Response:
        info = await authkit.with_auth(ensure_signed_in=True)
        assert isinstance(info, UserInfo)  # ensure_signed_in: a signed-out request became a redirect
        return HTMLResponse(render_claims_page(info, await authkit.get_token_claims(), **page_extras()))

    async def switch_organization(request: Request) -> Response:
        organization_id = (await _form(request)).get("organization_id", "")
        if not organization_id:
            return _error("No organization chosen", "Pick an organization to switch to.", 400, signed_in=True)
        try:
            await authkit.switch_to_organization(organization_id)
        except TokenRefreshError as exc:
            # SSO or MFA enrollment: the middleware already turned this response into the redirect WorkOS asks for
            return _error(
                "Could not switch organization", f"WorkOS refused the switch: {exc.code}.", 409, signed_in=True
            )
        return _home("switched")

    async def refresh(request: Request) -> Response:
        try:
            info = await authkit.refresh_session()
        except TokenRefreshError as exc:
            return _error(
                "Could not refresh the session", f"WorkOS refused the refresh: {exc.code}.", 409, signed_in=False
            )
        return _home("refreshed" if isinstance(info, UserInfo) else "signed-out")

    async def sign_out(request: Request) -> Response:
        await authkit.sign_out(return_to=settings.public_url + "/?notice=signed-out")
        return _home("signed-out")  # replaced by the middleware's redirect to the logout URL

    async def api_me(request: Request) -> Response:
        info = await authkit.with_auth()
        if not isinstance(info, UserInfo):
            return JSONResponse({"error": "unauthorized", "message": "Sign in first."}, status_code=401)
        return JSONResponse(_user_json(info))

    async def token_page(request: Request) -> Response:
        signed_in = isinstance(await authkit.with_auth(), UserInfo)
        return HTMLResponse(render_token_page(signed_in=signed_in, **page_extras()))

    async def metrics_page(request: Request) -> Response:
        assert settings.metrics is not None
        return PlainTextResponse(settings.metrics(), media_type="text/plain; version=0.0.4")

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    def _error(title: str, message: str, status: int, *, signed_in: bool) -> Response:
        page = render_error_page(title, message, signed_in=signed_in, **page_extras())
        return HTMLResponse(page, status_code=status)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        clients["api"] = httpx.AsyncClient(timeout=5)
        try:
            yield
        finally:
            await clients.pop("api").aclose()
            await kit.aclose()

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/sign-in", sign_in),
            Route("/sign-up", sign_up),
            Route("/account", account),
            Route("/switch-organization", switch_organization, methods=["POST"]),
            Route("/refresh", refresh, methods=["POST"]),
            Route("/sign-out", sign_out, methods=["POST"]),
            Route("/api/me", api_me),
            Route("/token", token_page),
            *([Route("/metrics", metrics_page)] if settings.metrics is not None else []),
            Mount("/static", StaticFiles(directory=STATIC)),
            Route("/favicon.ico", favicon),
        ],
        lifespan=lifespan,
    )
    return AuthKitMiddleware(
        app,
        authkit=kit,
        redirect_uri=settings.public_url + "/callback",
        debug=debug,
        accept_bearer=True,
        access_token_endpoints=True,
    )
