"""A minimal FastAPI app protected by authkit-session.

Run it against the local WorkOS emulator with the environment variables of README.md, from the repository
root: ``uvicorn examples.fastapi_app.app:create_app --factory --port 8000``.
Then open http://127.0.0.1:8000/account and sign in as alice (an admin) or bob (a member).
"""

from __future__ import annotations

from typing import Annotated, Any, Unpack

from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse

from authkit_adapters import AuthKitOptions
from authkit_adapters.asgi import get_sign_in_url, sign_out
from authkit_adapters.starlette import AuthKitMiddleware, optional_user, require_permission, require_role, require_user
from authkit_core.models import NoUserInfo, UserInfo

#: The signed-in user, or a sign-in redirect (browsers) / 401 (API clients).
CurrentUser = Annotated[UserInfo, Depends(require_user)]


def describe(user: UserInfo | NoUserInfo) -> dict[str, Any]:
    return {
        "email": user.user.email if user.user else None,
        "organization_id": user.organization_id,
        "role": user.role,
        "permissions": list(user.permissions or ()),
    }


def create_app(**options: Unpack[AuthKitOptions]) -> FastAPI:
    """The app; ``options`` go to ``AuthKitMiddleware`` (no ``authkit`` engine: one from ``WORKOS_*``)."""
    app = FastAPI(title="authkit-session FastAPI example")
    app.add_middleware(AuthKitMiddleware, **options)

    @app.get("/")
    async def home(user: Annotated[UserInfo | NoUserInfo, Depends(optional_user)]) -> dict[str, Any]:
        sign_in = None if user.is_signed_in else await get_sign_in_url(return_to="/account")
        return {**describe(user), "sign_in_url": sign_in}

    @app.get("/account")
    async def account(user: CurrentUser) -> dict[str, Any]:
        return describe(user)

    @app.get("/editor")
    async def editor(user: Annotated[UserInfo, Depends(require_permission("posts:write"))]) -> dict[str, Any]:
        return {"editing_as": user.user.email}

    @app.get("/admin", dependencies=[Depends(require_role("admin"))])
    async def admin() -> dict[str, Any]:
        return {"admin": True}

    @app.get("/sign-out")
    async def sign_out_route() -> RedirectResponse:
        return RedirectResponse(await sign_out(return_to="/"))

    return app
