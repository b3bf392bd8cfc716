"""``request.user`` for a WorkOS session, in the two modes of the Django integration.

- **Stateless** (the default: no :class:`~authkit_adapters.django.backends.AuthKitBackend` in
  ``AUTHENTICATION_BACKENDS``): ``request.user`` is an :class:`AuthKitUser`, built from the session, never stored.
  No database, no ``django.contrib.auth`` needed.
- **Synced** (``AuthKitBackend`` in ``AUTHENTICATION_BACKENDS``): ``request.user`` is the ``django.contrib.auth``
  user linked to the WorkOS user id, created or updated by the backend.

Signed out (or, synced, a local user that is inactive), ``request.user`` is whatever Django's own
``AuthenticationMiddleware`` found (a password login to the admin, say), else ``AnonymousUser``. Everything here is
lazy: nothing is looked up until ``request.user`` is read or ``await request.auser()`` is called.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.apps import apps
from django.utils.functional import LazyObject, empty

from authkit_core.models import UserInfo

from ._settings import IntegrationSettings

__all__ = ["AnonymousUser", "AuthKitUser", "Users", "anonymous_user", "aresolve_user", "resolve_user", "workos_user"]


class AuthKitUser:
    """The signed-in WorkOS user as Django code expects a user (stateless mode): not a database row.

    Reads like ``django.contrib.auth``'s users (``is_authenticated``, ``is_anonymous``, ``is_active``,
    ``get_username()``, ``email``, ``first_name``, ``last_name``, ``has_perm`` ...) and adds the session's
    ``organization_id``, ``role``, ``roles``, ``permissions`` and ``authkit`` (the full
    :class:`~authkit_core.models.UserInfo`). ``pk``, ``id`` and ``username``-like names are the WorkOS user id
    (``user_...``) and its email. ``is_staff``/``is_superuser`` come from ``AUTHKIT["staff_roles"]`` /
    ``["superuser_roles"]`` (``False`` without them).

    ``has_perm(name)``: an active superuser holds every permission; otherwise ``name`` must be one of the access
    token's WorkOS permissions (``"posts:write"``) or a Django permission that ``AUTHKIT["permission_map"]`` grants
    from one of them (``{"blog.change_post": "posts:write"}``).
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, info: UserInfo, settings: IntegrationSettings | None = None) -> None:
        self.authkit = info
        self._settings = settings if settings is not None else IntegrationSettings()
        self.is_staff, self.is_superuser = self._settings.flags((info.role, *(info.roles or ())))
        self._perms: set[str] | None = None

    # --- identity ----------------------------------------------------------------------------------------------

    @property
    def pk(self) -> str:
        """The WorkOS user id (``user_...``)."""
        return self.authkit.user.id

    id = pk
    workos_id = pk

    @property
    def email(self) -> str:
        """The WorkOS email address."""
        return self.authkit.user.email

    username = email

    @property
    def first_name(self) -> str:
        """The first name (``""`` when WorkOS has none)."""
        return self.authkit.user.first_name or ""

    @property
    def last_name(self) -> str:
        """The last name (``""`` when WorkOS has none)."""
        return self.authkit.user.last_name or ""

    @property
    def organization_id(self) -> str | None:
        """The session's organization (the access token's ``org_id``)."""
        return self.authkit.organization_id

    @property
    def role(self) -> str | None:
        """The role in that organization."""
        return self.authkit.role

    @property
    def roles(self) -> tuple[str, ...]:
        """Every role in that organization (at least ``role`` when there is one)."""
        roles = self.authkit.roles or ()
        return roles if roles or not self.authkit.role else (self.authkit.role,)

    @property
    def permissions(self) -> tuple[str, ...]:
        """The access token's WorkOS permissions."""
        return self.authkit.permissions or ()

    def get_username(self) -> str:
        """The email address (what Django shows as the user's name)."""
        return self.email

    def get_full_name(self) -> str:
        """First and last name, or the email address when WorkOS has neither."""
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self) -> str:
        """The first name, or the email address."""
        return self.first_name or self.email

    def natural_key(self) -> tuple[str]:
        """``(email,)``, like a ``django.contrib.auth`` user's."""
        return (self.email,)

    def __str__(self) -> str:
        return self.email

    def __repr__(self) -> str:
        return f"<AuthKitUser {self.pk} {self.email}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AuthKitUser) and other.pk == self.pk

    def __hash__(self) -> int:
        return hash(self.pk)

    # --- permissions -------------------------------------------------------------------------------------------

    def get_all_permissions(self, obj: object = None) -> set[str]:
        """The WorkOS permissions, and the Django permissions ``permission_map`` grants from them (none for an
        object)."""
        if obj is not None:
            return set()
        if self._perms is None:
            self._perms = self._settings.granted(self.permissions)
        return set(self._perms)

    def get_user_permissions(self, obj: object = None) -> set[str]:
        """Same as :meth:`get_all_permissions`: WorkOS permissions belong to the user's organization membership."""
        return self.get_all_permissions(obj)

    def get_group_permissions(self, obj: object = None) -> set[str]:
        """No groups: an empty set."""
        return set()

    def has_perm(self, perm: str, obj: object = None) -> bool:
        """Whether the user holds ``perm`` (see the class documentation)."""
        if self.is_active and self.is_superuser:
            return True
        return obj is None and perm in self.get_all_permissions()

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        """Whether the user holds every permission of ``perm_list``."""
        if isinstance(perm_list, str):
            raise ValueError("perm_list must be an iterable of permissions.")
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        """Whether the user holds a Django permission (``app_label.codename``) of ``app_label``."""
        if self.is_active and self.is_superuser:
            return True
        return any(perm.partition(".")[0] == app_label for perm in self.get_all_permissions() if "." in perm)

    async def ahas_perm(self, perm: str, obj: object = None) -> bool:
        """:meth:`has_perm` (nothing to await: the permissions are in the session)."""
        return self.has_perm(perm, obj)

    async def ahas_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        """:meth:`has_perms`."""
        return self.has_perms(perm_list, obj)

    async def ahas_module_perms(self, app_label: str) -> bool:
        """:meth:`has_module_perms`."""
        return self.has_module_perms(app_label)

    async def aget_all_permissions(self, obj: object = None) -> set[str]:
        """:meth:`get_all_permissions`."""
        return self.get_all_permissions(obj)

    # --- not a row ---------------------------------------------------------------------------------------------

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Refused: this user is not stored (use the synced mode for local users)."""
        raise NotImplementedError("AuthKitUser is not a database row; use AuthKitBackend for local users")

    def delete(self, *args: Any, **kwargs: Any) -> None:
        """Refused, like :meth:`save`."""
        raise NotImplementedError("AuthKitUser is not a database row; use AuthKitBackend for local users")

    def set_password(self, raw_password: str | None) -> None:
        """Refused: passwords are WorkOS's."""
        raise NotImplementedError("AuthKitUser has no password: WorkOS signs users in")

    def check_password(self, raw_password: str) -> bool:
        """Always ``False``: passwords are WorkOS's."""
        return False


class AnonymousUser:
    """Stands in for ``django.contrib.auth.models.AnonymousUser`` when ``django.contrib.auth`` is not installed
    (stateless mode needs no database): the same answers for the names views use."""

    id = None
    pk = None
    username = ""
    email = ""
    is_staff = False
    is_superuser = False
    is_active = False
    is_authenticated = False
    is_anonymous = True
    authkit = None

    def __str__(self) -> str:
        return "AnonymousUser"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, self.__class__)

    def __hash__(self) -> int:
        return 1

    def get_username(self) -> str:
        """``""``."""
        return self.username

    def get_all_permissions(self, obj: object = None) -> set[str]:
        """No permission."""
        return set()

    def has_perm(self, perm: str, obj: object = None) -> bool:
        """``False``."""
        return False

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        """``False`` (for a non-empty list)."""
        return not list(perm_list)

    def has_module_perms(self, module: str) -> bool:
        """``False``."""
        return False

    async def ahas_perm(self, perm: str, obj: object = None) -> bool:
        """``False``."""
        return False

    async def ahas_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        """:meth:`has_perms`."""
        return self.has_perms(perm_list, obj)

    async def ahas_module_perms(self, module: str) -> bool:
        """``False``."""
        return False


def anonymous_user() -> Any:
    """Django's ``AnonymousUser`` when ``django.contrib.auth`` is installed, else this module's stand-in."""
    if apps.is_installed("django.contrib.auth"):
        from django.contrib.auth.models import AnonymousUser as DjangoAnonymousUser

        return DjangoAnonymousUser()
    return AnonymousUser()


class Users:
    """How a request's WorkOS session becomes a user: stateless, or through the synced backend. One per
    middleware, decided when it starts (from ``AUTHENTICATION_BACKENDS``)."""

    def __init__(self, settings: IntegrationSettings, backend: Any = None, backend_path: str | None = None) -> None:
        self.settings = settings
        #: The :class:`~authkit_adapters.django.backends.AuthKitBackend` instance (synced mode), else ``None``.
        self.backend = backend
        self.backend_path = backend_path

    @property
    def synced(self) -> bool:
        """Whether local users are created and updated (``AuthKitBackend`` is configured)."""
        return self.backend is not None

    @classmethod
    def from_settings(cls, settings: IntegrationSettings) -> Users:
        """The mode ``AUTHENTICATION_BACKENDS`` asks for: synced when it lists ``AuthKitBackend`` (or a subclass)."""
        from django.conf import settings as django_settings
        from django.utils.module_loading import import_string

        if not apps.is_installed("django.contrib.auth"):
            return cls(settings)
        listed = [(path, import_string(path)) for path in getattr(django_settings, "AUTHENTICATION_BACKENDS", ())]
        ours = sys.modules.get(f"{__package__}.backends")  # imported by now only if a listed backend is ours
        if ours is None:
            return cls(settings)
        for path, backend_class in listed:
            if isinstance(backend_class, type) and issubclass(backend_class, ours.AuthKitBackend):
                return cls(settings, backend_class(), path)
        return cls(settings)

    def user_for(self, request: Any, info: UserInfo, *, bearer: bool = False) -> Any:
        """The user for a signed-in session, or ``None`` (synced: the local user is inactive). For a bearer access
        token (``bearer``), synced mode only finds the local user already linked (:meth:`AuthKitBackend.find_user`):
        the token has no profile to create or update one from."""
        if self.backend is None:
            return AuthKitUser(info, self.settings)
        if bearer:
            found = self.backend.find_user(info)
            if found is not None:
                found.backend = self.backend_path
            return found
        user = self.backend.authenticate(request, workos_user_info=info)
        if user is not None:
            user.backend = self.backend_path
        return user


# --- per request ----------------------------------------------------------------------------------------------

_USERS = "_authkit_users"
_FALLBACK = "_authkit_fallback"
_CACHE = "_authkit_user_cache"
_WORKOS_CACHE = "_authkit_workos_user_cache"


def _info(request: Any) -> UserInfo | None:
    from . import get_user

    info = get_user(request)
    return info if isinstance(info, UserInfo) else None


def forget_user(request: Any) -> None:
    """Drop the users cached on ``request`` (after its authentication changed: a bearer token adopted)."""
    request.__dict__.pop(_CACHE, None)
    request.__dict__.pop(_WORKOS_CACHE, None)


def _is_bearer(request: Any) -> bool:
    """Whether ``request`` was authenticated by a bearer access token rather than a session."""
    from .. import _core

    return _core.current_context(request).auth.bearer


def _unwrap(user: Any) -> Any:
    """The object behind a lazy user (Django's ``SimpleLazyObject``), evaluated."""
    if isinstance(user, LazyObject):
        if user._wrapped is empty:
            user._setup()
        return user._wrapped
    return user


def workos_user(request: Any) -> Any:
    """The user of ``request``'s WorkOS session (stateless or synced, as configured), or ``None`` when signed out
    (or, synced, the local user is inactive). Cached on the request; synced, it reads the database."""
    cache = request.__dict__
    if _WORKOS_CACHE not in cache:
        users: Users | None = cache.get(_USERS)
        info = _info(request)
        found = None
        if users is not None and info is not None:
            found = users.user_for(request, info, bearer=_is_bearer(request))
        cache[_WORKOS_CACHE] = found
    return cache[_WORKOS_CACHE]


def resolve_user(request: Any) -> Any:
    """``request.user``: the WorkOS session's user, else the one Django's own authentication found, else
    ``AnonymousUser``."""
    cache = request.__dict__
    if _CACHE not in cache:
        user = workos_user(request)
        if user is None:
            fallback: tuple[Any, Any] | None = cache.get(_FALLBACK)
            user = _unwrap(fallback[0]) if fallback is not None else anonymous_user()
        cache[_CACHE] = user
    return cache[_CACHE]


async def aresolve_user(request: Any) -> Any:
    """``await request.auser()``: :func:`resolve_user`, with the database work (synced mode, Django's own
    ``auser``) off the event loop."""
    cache = request.__dict__
    if _CACHE in cache:
        return cache[_CACHE]
    users: Users | None = cache.get(_USERS)
    if users is None or not users.synced:
        user = workos_user(request)
    else:
        user = await sync_to_async(workos_user)(request)
    if user is None:
        fallback: tuple[Any, Callable[[], Awaitable[Any]] | None] | None = cache.get(_FALLBACK)
        if fallback is not None and fallback[1] is not None:
            user = await fallback[1]()
        elif fallback is not None:
            user = await sync_to_async(resolve_user)(request)
        else:
            user = anonymous_user()
    cache[_CACHE] = user
    return user
