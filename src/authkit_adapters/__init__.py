"""Adapters that put authkit-session in front of ASGI and WSGI apps.

``authkit_adapters.asgi`` has :class:`~authkit_adapters.asgi.AuthKitMiddleware` and the async request-scoped
functions; ``authkit_adapters.wsgi`` has :class:`~authkit_adapters.wsgi.AuthKitWSGIMiddleware` and the same
functions, blocking. What both share (and the types below) lives in ``authkit_adapters._core``.

Optional framework conveniences, never required for correctness: ``authkit_adapters.starlette`` (Starlette and
FastAPI dependencies, the sign-in routes as a ``Mount``), ``authkit_adapters.fastapi`` (dependencies declared in
OpenAPI, ``CurrentUser``, ``authkit_router``), ``authkit_adapters.flask`` (an extension, ``current_user``,
decorators, a blueprint) and ``authkit_adapters.django`` (middleware and view decorators, sync and async).
"""

from ._core import (
    AuthKitOptions,
    CrossSiteRequestError,
    ErrorHook,
    NoRequestContextError,
    RequestInfo,
    Response,
    SignInOptions,
    SignInRefusedError,
    SignInSuccess,
    SignInUrlOptions,
    SuccessHook,
)

__all__ = [
    "AuthKitOptions",
    "CrossSiteRequestError",
    "ErrorHook",
    "NoRequestContextError",
    "RequestInfo",
    "Response",
    "SignInOptions",
    "SignInRefusedError",
    "SignInSuccess",
    "SignInUrlOptions",
    "SuccessHook",
]
