"""What the ASGI and WSGI middleware share, written once and free of I/O (one concern per module):

- :mod:`._types`: :class:`RequestInfo`, :class:`Response`, the options (:class:`AuthKitOptions`), the errors;
- :mod:`._context`: :class:`RequestContext`, one request's state, and :func:`current_context`;
- :mod:`._middleware`: :class:`MiddlewareCore`, the decisions and the sign-in callback;
- :mod:`._api`: the request-scoped functions (``with_auth`` ...) and their sync/async faces;
- :mod:`._effects`: the effects those flows yield (engine calls, user hooks);
- :mod:`._success`: what ``on_success`` receives and returns, and the refusal it raises.

This module gathers them under one name for the shells and the framework helpers.
"""

from __future__ import annotations

from ._api import (
    API_NAMES,
    as_coroutine,
    authenticate_bearer,
    awaiting,
    blocking,
    check_recent_auth,
    get_sign_in_url,
    get_sign_up_url,
    get_token_claims,
    refresh_session,
    save_session,
    sign_out,
    switch_to_organization,
    validate_api_key,
    with_auth,
)
from ._context import SESSION_CACHE_HEADERS, RequestContext, current_context, enter_context, leave_context
from ._middleware import MiddlewareCore
from ._success import SignInRefusedError, SignInSuccess, SuccessHook
from ._types import (
    CONTEXT_KEY,
    AuthKitOptions,
    CrossSiteRequestError,
    ErrorHook,
    NoRequestContextError,
    RequestInfo,
    Response,
    SignInOptions,
    SignInUrlOptions,
)

__all__ = [
    "authenticate_bearer",
    "check_recent_auth",
    "get_sign_in_url",
    "get_sign_up_url",
    "get_token_claims",
    "refresh_session",
    "save_session",
    "sign_out",
    "switch_to_organization",
    "validate_api_key",
    "with_auth",
    "API_NAMES",
    "CONTEXT_KEY",
    "SESSION_CACHE_HEADERS",
    "AuthKitOptions",
    "CrossSiteRequestError",
    "ErrorHook",
    "MiddlewareCore",
    "NoRequestContextError",
    "RequestContext",
    "RequestInfo",
    "Response",
    "SignInOptions",
    "SignInRefusedError",
    "SignInSuccess",
    "SignInUrlOptions",
    "SuccessHook",
    "as_coroutine",
    "awaiting",
    "blocking",
    "current_context",
    "enter_context",
    "leave_context",
]
