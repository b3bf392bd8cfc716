"""Adapters that put authkit-session in front of ASGI and WSGI apps.

``authkit_adapters.asgi`` has :class:`~authkit_adapters.asgi.AuthKitMiddleware` and the async request-scoped
functions; ``authkit_adapters.wsgi`` has :class:`~authkit_adapters.wsgi.AuthKitWSGIMiddleware` and the same
functions, blocking. What both share (and the types below) lives in ``authkit_adapters._core``.
"""

from ._core import AuthKitOptions, ErrorHook, NoRequestContextError, RequestInfo, Response, SignInUrlOptions

__all__ = ["AuthKitOptions", "ErrorHook", "NoRequestContextError", "RequestInfo", "Response", "SignInUrlOptions"]
