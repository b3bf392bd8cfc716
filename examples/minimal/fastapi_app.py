"""The smallest complete FastAPI app: ``uvicorn examples.minimal.fastapi_app:app``."""

from fastapi import Depends, FastAPI

from authkit_adapters.fastapi import CurrentUser, authkit_router, require_permission
from authkit_adapters.starlette import AuthKitMiddleware

app = FastAPI()
app.add_middleware(AuthKitMiddleware)  # the engine from WORKOS_*; serves the sign-in callback
app.include_router(authkit_router())  # GET /auth/sign-in, GET /auth/sign-up, POST /auth/sign-out


@app.get("/account")
async def account(user: CurrentUser) -> dict[str, str]:
    return {"email": user.user.email}


@app.post("/posts", dependencies=[Depends(require_permission("posts:write"))])
async def create_post() -> dict[str, bool]:
    return {"created": True}
