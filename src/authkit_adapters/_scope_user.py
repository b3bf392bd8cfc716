"""``scope["user"]`` and ``scope["auth"]``: the request's session the way Starlette's ``AuthenticationMiddleware``
presents one, set by :class:`~authkit_adapters.asgi.AuthKitMiddleware` without importing Starlette.

``request.user.is_authenticated``, ``request.user.display_name``, ``request.user.identity`` and
``request.auth.scopes`` (``"authenticated"`` and the access token's permissions) then work, and so do
``starlette.authentication.requires`` and code written for it. Both objects are small proxies over the request's
context, made per request (about 0.2 microseconds each): nothing is read until an attribute is, and reading one
marks the response as depending on the session (``Vary: Cookie``, ``no-store``), as ``with_auth`` does, so a cache
never shares a page built from them.

Any other attribute of ``request.user`` is the :class:`~authkit_core.models.UserInfo`'s (``.user.email``,
``.organization_id``, ``.role`` ...), or ``None``'s of :class:`~authkit_core.models.NoUserInfo` when signed out;
``request.user.authkit`` is that object itself.

The middleware leaves a ``scope["user"]``/``scope["auth"]`` already there alone: an outer ``AuthenticationMiddleware``
(or Channels' ``AuthMiddleware``) keeps its own; an inner one replaces these with its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authkit_core.models import NoUserInfo, UserInfo

if TYPE_CHECKING:
    from ._context import RequestContext

__all__ = ["ScopeAuth", "ScopeUser"]


class ScopeUser:
    """``scope["user"]``: the request's user with Starlette's ``BaseUser`` names, read lazily."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: RequestContext) -> None:
        self._ctx = ctx

    @property
    def authkit(self) -> UserInfo | NoUserInfo:
        """The request's :class:`UserInfo`, or :class:`NoUserInfo` when signed out (``with_auth()``)."""
        return self._ctx.with_auth()

    @property
    def is_authenticated(self) -> bool:
        """Whether the request is signed in."""
        return self._ctx.with_auth().is_authenticated

    @property
    def display_name(self) -> str:
        """The user's name, or email address; ``""`` when signed out."""
        return self._ctx.with_auth().display_name

    @property
    def identity(self) -> str | None:
        """The WorkOS user id; ``None`` when signed out."""
        return self._ctx.with_auth().identity

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not the user's (and no recursion while ``_ctx`` is unset, as in a copy)
            raise AttributeError(name)
        return getattr(self._ctx.with_auth(), name)

    def __repr__(self) -> str:
        return f"<ScopeUser {self._ctx.with_auth()!r}>"


class ScopeAuth:
    """``scope["auth"]``: Starlette's ``AuthCredentials`` shape, whose ``scopes`` are the access token's
    permissions (``[]`` when signed out)."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: RequestContext) -> None:
        self._ctx = ctx

    @property
    def scopes(self) -> list[str]:
        """Signed in, ``"authenticated"`` (the scope Starlette's backends grant, which
        ``requires("authenticated")`` checks) and the access token's permissions (``"posts:write"`` ...); ``[]``
        when signed out."""
        info = self._ctx.with_auth()
        return ["authenticated", *info.scopes] if info.is_authenticated else []

    def __repr__(self) -> str:
        return f"<ScopeAuth scopes={self.scopes!r}>"
