"""A minimal plain Starlette app protected by authkit-session: the FastAPI dependencies, awaited in endpoints.

Run it against the local WorkOS emulator like the FastAPI example (same ``WORKOS_*`` variables)::

    uvicorn examples.starlette_app.app:create_app --factory --port 8000
"""

from __future__ import annotations

from typing import Unpack

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from authkit_adapters import AuthKitOptions
from authkit_adapters.asgi import sign_out
from authkit_adapters.starlette import AuthKitMiddleware, optional_user, require_permission, require_role, require_user

can_write = require_permission("posts:write")
is_admin = require_role("admin")


async def home(request: Request) -> Response:
    user = await optional_user(request)
    return JSONResponse({"email": user.user.email if user.user else None})


async def account(request: Request) -> Response:
    user = await require_user(request)  # a sign-in redirect (browsers) or 401 when signed out
    return JSONResponse({"email": user.user.email, "role": user.role})


async def editor(request: Request) -> Response:
    user = await can_write(request)  # 403 without posts:write
    return JSONResponse({"editing_as": user.user.email})


async def admin(request: Request) -> Response:
    await is_admin(request)  # 403 unless admin
    return JSONResponse({"admin": True})


async def sign_out_route(request: Request) -> Response:
    return RedirectResponse(await sign_out(return_to="/"))


def create_app(**options: Unpack[AuthKitOptions]) -> Starlette:
    """The app; ``options`` go to ``AuthKitMiddleware`` (no ``authkit`` engine: one from ``WORKOS_*``)."""
    routes = [
        Route("/", home),
        Route("/account", account),
        Route("/editor", editor),
        Route("/admin", admin),
        Route("/sign-out", sign_out_route),
    ]
    return Starlette(routes=routes, middleware=[Middleware(AuthKitMiddleware, **options)])
