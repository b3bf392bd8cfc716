"""``settings.AUTHKIT``: one dictionary for the middleware's options, the WorkOS configuration and the Django
integration's own options, read the same way by the middleware, the backend and the management command.

Keys are case-insensitive (``"CLIENT_ID"`` or ``"client_id"``), in four groups:

- the middleware's options (:class:`~authkit_adapters.AuthKitOptions`): ``authkit``, ``middleware_auth``,
  ``unauthenticated_paths``, ``sign_up_paths``, ``redirect_uri``, ``debug``, ``on_error``, ``on_success``,
  ``sign_in_options``, ``csrf_protect_sign_out``, ``accept_bearer`` (every key of ``AuthKitOptions``);
- any field of :class:`~authkit_core.config.AuthKitConfig` (``client_id``, ``api_key``, ``redirect_uri``,
  ``cookie_password``, ``cookie_name`` ...): they override the ``WORKOS_*`` environment variables, which give the
  rest;
- ``store``: a :class:`~authkit_core.storage.SessionStore` instance (the sealed cookie when absent);
- the Django integration's: ``staff_roles``, ``superuser_roles`` (WorkOS roles that make a user ``is_staff`` /
  ``is_superuser``), ``permission_map`` (a Django permission name to the WorkOS permission, or list of
  permissions any one of which grants it) and ``link_users_by_email`` (synced mode: a first sign-in adopts an
  existing local user with the same, WorkOS-verified, email address).

``authkit`` (a ready engine) excludes the configuration keys and ``store``: put them in the engine instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from authkit_core.config import AuthKitConfig
from authkit_core.engine import AuthKit
from authkit_core.storage import SessionStore

from .._core import AuthKitOptions

__all__ = ["IntegrationSettings", "read_settings"]

_MIDDLEWARE_KEYS = frozenset(AuthKitOptions.__annotations__)
_CONFIG_KEYS = frozenset(f.name for f in dataclasses.fields(AuthKitConfig))
_DJANGO_KEYS = frozenset({"staff_roles", "superuser_roles", "permission_map", "link_users_by_email"})


def _names(value: object, key: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, Iterable) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    raise ImproperlyConfigured(f"AUTHKIT[{key!r}] must be a list of WorkOS role slugs")


def _permission_map(value: object) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured("AUTHKIT['permission_map'] must map Django permission names to WorkOS permissions")
    out: dict[str, tuple[str, ...]] = {}
    for django_name, workos in value.items():
        granted = (workos,) if isinstance(workos, str) else tuple(workos)
        if not isinstance(django_name, str) or not all(isinstance(name, str) for name in granted):
            raise ImproperlyConfigured("AUTHKIT['permission_map'] must map strings to a string or list of strings")
        out[django_name] = granted
    return out


@dataclass(frozen=True, slots=True)
class IntegrationSettings:
    """``settings.AUTHKIT`` sorted out (see the module's documentation)."""

    #: The middleware's options as given (see :meth:`middleware_options`).
    middleware: dict[str, Any] = field(default_factory=dict)
    #: The ``AuthKitConfig`` fields given, overriding the environment.
    config: dict[str, Any] = field(default_factory=dict)
    #: The session store: the ``authkit`` engine's, else ``store``; ``None``: the default (the sealed cookie).
    store: SessionStore | None = None
    #: WorkOS roles giving ``is_staff`` (``None``: not managed, a local admin decides).
    staff_roles: frozenset[str] | None = None
    #: WorkOS roles giving ``is_superuser`` (and ``is_staff``); ``None``: not managed.
    superuser_roles: frozenset[str] | None = None
    #: Django permission name -> the WorkOS permissions any one of which grants it.
    permission_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Synced mode: a first sign-in adopts a local user with the same verified email address.
    link_users_by_email: bool = False

    def middleware_options(self) -> dict[str, Any]:
        """The middleware's keyword arguments; without an ``authkit`` engine but with configuration keys or a
        ``store``, the engine is built here (configuration keys over ``WORKOS_*``)."""
        options = dict(self.middleware)
        if options.get("authkit") is None and (self.config or self.store is not None):
            options["authkit"] = AuthKit(AuthKitConfig.from_env(**self.config), store=self.store)
        return options

    def manages_flags(self) -> bool:
        """Whether ``is_staff``/``is_superuser`` follow WorkOS roles (some role mapping is configured)."""
        return self.staff_roles is not None or self.superuser_roles is not None

    def flags(self, roles: Iterable[str | None]) -> tuple[bool, bool]:
        """``(is_staff, is_superuser)`` for a user holding ``roles`` (a superuser is staff too)."""
        held = {role for role in roles if role}
        superuser = bool(self.superuser_roles and held & self.superuser_roles)
        staff = superuser or bool(self.staff_roles and held & self.staff_roles)
        return staff, superuser

    def granted(self, workos_permissions: Iterable[str]) -> set[str]:
        """The permission names held with ``workos_permissions``: those themselves, and every Django permission of
        ``permission_map`` that one of them grants."""
        held = set(workos_permissions)
        mapped = {name for name, grants in self.permission_map.items() if held.intersection(grants)}
        return held | mapped


def read_settings(raw: Mapping[str, Any] | None = None) -> IntegrationSettings:
    """Sort out ``settings.AUTHKIT`` (or ``raw``); unknown keys and contradictions raise ``ImproperlyConfigured``."""
    source = (getattr(settings, "AUTHKIT", None) or {}) if raw is None else raw
    if not isinstance(source, Mapping):
        raise ImproperlyConfigured("settings.AUTHKIT must be a dict")
    values: dict[str, Any] = {}
    for key, value in source.items():
        name = str(key).lower()
        if name in values:
            raise ImproperlyConfigured(f"settings.AUTHKIT names {name!r} twice (keys are case-insensitive)")
        values[name] = value
    unknown = sorted(set(values) - _MIDDLEWARE_KEYS - _CONFIG_KEYS - _DJANGO_KEYS - {"store"})
    if unknown:
        raise ImproperlyConfigured(f"settings.AUTHKIT has unknown keys: {', '.join(unknown)}")
    middleware = {key: values[key] for key in _MIDDLEWARE_KEYS & set(values)}
    config = {key: values[key] for key in _CONFIG_KEYS & set(values)}
    store = values.get("store")
    if store is not None and not isinstance(store, SessionStore):
        raise ImproperlyConfigured("AUTHKIT['store'] must be a SessionStore instance (e.g. SQLSessionStore(...))")
    kit = middleware.get("authkit")
    if kit is not None:
        extra = sorted((set(config) - {"redirect_uri"}) | ({"store"} if store is not None else set()))
        if extra:
            raise ImproperlyConfigured(
                "settings.AUTHKIT has an 'authkit' engine and also " + ", ".join(extra) + ": configure the engine"
            )
        store = kit.store
    return IntegrationSettings(
        middleware=middleware,
        config=config,
        store=store,
        staff_roles=_names(values.get("staff_roles"), "staff_roles"),
        superuser_roles=_names(values.get("superuser_roles"), "superuser_roles"),
        permission_map=_permission_map(values.get("permission_map")),
        link_users_by_email=bool(values.get("link_users_by_email", False)),
    )
