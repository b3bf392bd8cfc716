"""Precise types for the request-scoped functions whose result depends on ``ensure_signed_in``.

``with_auth(ensure_signed_in=True)`` and ``refresh_session(ensure_signed_in=True)`` never return ``NoUserInfo``
(a signed-out request becomes a redirect to sign-in), as authkit-nextjs's TypeScript overloads say. These
protocols give type checkers the same narrowing for the blocking faces (``authkit_adapters.wsgi``) and the async
ones (``authkit_adapters.asgi``); the functions themselves are written once in ``_core``.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, Literal, Protocol, overload

from authkit_core.models import NoUserInfo, UserInfo

__all__ = ["AsyncRefreshSession", "AsyncWithAuth", "RefreshSession", "WithAuth"]


class WithAuth(Protocol):
    """``with_auth(*, ensure_signed_in=False, request=None)``, blocking."""

    @overload
    def __call__(self, *, ensure_signed_in: Literal[True], request: object = None) -> UserInfo: ...
    @overload
    def __call__(self, *, ensure_signed_in: bool = False, request: object = None) -> UserInfo | NoUserInfo: ...


class AsyncWithAuth(Protocol):
    """``await with_auth(*, ensure_signed_in=False, request=None)``."""

    @overload
    def __call__(self, *, ensure_signed_in: Literal[True], request: object = None) -> Coroutine[Any, Any, UserInfo]: ...
    @overload
    def __call__(
        self, *, ensure_signed_in: bool = False, request: object = None
    ) -> Coroutine[Any, Any, UserInfo | NoUserInfo]: ...


class RefreshSession(Protocol):
    """``refresh_session(organization_id=None, *, ensure_signed_in=False, request=None)``, blocking."""

    @overload
    def __call__(
        self, organization_id: str | None = None, *, ensure_signed_in: Literal[True], request: object = None
    ) -> UserInfo: ...
    @overload
    def __call__(
        self, organization_id: str | None = None, *, ensure_signed_in: bool = False, request: object = None
    ) -> UserInfo | NoUserInfo: ...


class AsyncRefreshSession(Protocol):
    """``await refresh_session(organization_id=None, *, ensure_signed_in=False, request=None)``."""

    @overload
    def __call__(
        self, organization_id: str | None = None, *, ensure_signed_in: Literal[True], request: object = None
    ) -> Coroutine[Any, Any, UserInfo]: ...
    @overload
    def __call__(
        self, organization_id: str | None = None, *, ensure_signed_in: bool = False, request: object = None
    ) -> Coroutine[Any, Any, UserInfo | NoUserInfo]: ...
