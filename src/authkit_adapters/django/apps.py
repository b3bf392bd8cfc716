"""The Django app ``"authkit_adapters.django"`` (label ``authkit``): the synced mode's table and the
``authkit_clearsessions`` command. Stateless mode needs neither: the middleware works without this app."""

from __future__ import annotations

from django.apps import AppConfig


class AuthKitAppConfig(AppConfig):  # type: ignore[misc]
    """``INSTALLED_APPS = [..., "authkit_adapters.django"]``."""

    name = "authkit_adapters.django"
    label = "authkit"
    verbose_name = "WorkOS AuthKit"
    default_auto_field = "django.db.models.BigAutoField"
