"""The synced mode: :class:`AuthKitBackend`, an authentication backend keyed on the WorkOS user id.

``AUTHENTICATION_BACKENDS = ["authkit_adapters.django.backends.AuthKitBackend"]`` (add
``"django.contrib.auth.backends.ModelBackend"`` after it to keep password logins, e.g. to the admin) and
``"authkit_adapters.django"`` in ``INSTALLED_APPS`` (its migration creates the link table).

When ``request.user`` is first read on a request with a WorkOS session, the backend finds the local user linked to
that WorkOS user id (:class:`~authkit_adapters.django.models.WorkOSIdentity`), creating it on first sight, and
brings it up to date: email and names follow WorkOS; ``is_staff``/``is_superuser`` follow the session's roles when
``AUTHKIT["staff_roles"]``/``["superuser_roles"]`` are set (else they are left to you). It writes only what changed,
so an unchanged user costs one indexed read per request. A new WorkOS session id sends Django's ``user_logged_in``
signal (which updates ``last_login``), unless the session is an impersonation. An inactive local user
(``is_active=False``) is not signed in.

Permissions combine: a user holds a permission when Django grants it (active superuser, the user's or groups'
model permissions, as ``ModelBackend``) **or** the session's WorkOS permissions do: the WorkOS name itself
(``"posts:write"``) or a Django name that ``AUTHKIT["permission_map"]`` maps to one of them.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model, user_logged_in
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from authkit_core.models import UserInfo

from ._settings import IntegrationSettings, read_settings

if not apps.is_installed("authkit_adapters.django"):
    raise ImproperlyConfigured(
        "AuthKitBackend keeps its WorkOS user links in a table: add 'authkit_adapters.django' to INSTALLED_APPS "
        "and run migrate"
    )

from .models import WorkOSIdentity

__all__ = ["AuthKitBackend"]

logger = logging.getLogger("authkit_session")


def _has_field(model: Any, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:  # FieldDoesNotExist
        return False
    return True


class AuthKitBackend(ModelBackend):  # type: ignore[misc]
    """Creates or updates the ``django.contrib.auth`` user of a WorkOS session (see the module's documentation).

    It authenticates only ``authenticate(request, workos_user_info=UserInfo)`` (what the middleware calls), never
    a username and password. Subclass it to change :meth:`username_for` or :meth:`update_user`.
    """

    def __init__(self, settings: IntegrationSettings | None = None) -> None:
        self.settings = settings if settings is not None else read_settings()

    # --- authentication ----------------------------------------------------------------------------------------

    def authenticate(self, request: Any, workos_user_info: UserInfo | None = None, **kwargs: Any) -> Any:
        """The local user of ``workos_user_info``, created or updated; ``None`` for anything else, or when that
        user may not sign in (``is_active=False``)."""
        if not isinstance(workos_user_info, UserInfo):
            return None
        user = self.sync_user(workos_user_info, request)
        return user if self.user_can_authenticate(user) else None

    def sync_user(self, info: UserInfo, request: Any = None) -> Any:
        """Find or create the user linked to ``info.user.id`` and save what changed; the returned user carries
        ``info`` as ``user.authkit`` (the WorkOS permissions the permission checks read)."""
        identity = WorkOSIdentity.objects.select_related("user").filter(workos_id=info.user.id).first()
        if identity is None:
            identity = self._create(info)
        user = identity.user
        changed = self.update_user(user, info)
        if changed:
            try:
                with transaction.atomic():
                    user.save(update_fields=changed)
            except IntegrityError:  # e.g. a custom user model whose unique email WorkOS changed to a taken one
                logger.warning("authkit: local user %s not updated (%s): a unique value is taken", user.pk, changed)
        user.authkit = info
        if identity.session_id != info.session_id:  # a sign-in we have not seen: a new WorkOS session
            identity.session_id = info.session_id
            identity.save(update_fields=["session_id", "updated_at"])
            if info.impersonator is None:  # an admin impersonating the user is not the user signing in
                user_logged_in.send(sender=user.__class__, request=request, user=user)
        return user

    def find_user(self, info: UserInfo) -> Any:
        """The local user already linked to ``info.user.id``, read only (nothing created, updated or signalled);
        ``None`` when there is none or it may not sign in. For a request authenticated by a bearer access token,
        which carries no profile to sync (its ``UserInfo`` knows the user by id only)."""
        identity = WorkOSIdentity.objects.select_related("user").filter(workos_id=info.user.id).first()
        if identity is None:
            return None
        user = identity.user
        user.authkit = info
        return user if self.user_can_authenticate(user) else None

    def _create(self, info: UserInfo) -> WorkOSIdentity:
        model = get_user_model()
        try:
            with transaction.atomic():
                user = self._existing_by_email(model, info)
                if user is None:
                    user = model(**{model.USERNAME_FIELD: self.username_for(model, info)})
                    user.set_unusable_password()
                    self.update_user(user, info)
                    user.save()
                created: WorkOSIdentity = WorkOSIdentity.objects.create(user=user, workos_id=info.user.id)
                return created
        except IntegrityError:  # a concurrent first request of the same user created it: use theirs
            theirs: WorkOSIdentity | None = (
                WorkOSIdentity.objects.select_related("user").filter(workos_id=info.user.id).first()
            )
            if theirs is None:  # not that race (a username taken meanwhile ...): the error stands
                raise
            return theirs

    def _existing_by_email(self, model: Any, info: UserInfo) -> Any:
        if not (self.settings.link_users_by_email and info.user.email_verified and info.user.email):
            return None
        field = model.get_email_field_name()
        found = list(
            model._default_manager.filter(**{f"{field}__iexact": info.user.email, "workos_identity__isnull": True})[:2]
        )
        return found[0] if len(found) == 1 else None

    def username_for(self, model: Any, info: UserInfo) -> str:
        """The ``USERNAME_FIELD`` of a new user: the email address when free and short enough, else the WorkOS user
        id (``user_...``, unique)."""
        name_field = model.USERNAME_FIELD
        max_length = getattr(model._meta.get_field(name_field), "max_length", None) or 150
        email = info.user.email
        if email and len(email) <= max_length and not model._default_manager.filter(**{name_field: email}).exists():
            return email
        return info.user.id[:max_length]

    def update_user(self, user: Any, info: UserInfo) -> list[str]:
        """Bring ``user``'s email, names and (with a role mapping) ``is_staff``/``is_superuser`` to what WorkOS
        says; returns the names of the fields changed (nothing is saved here)."""
        model = type(user)
        wanted: dict[str, Any] = {}
        if _has_field(model, model.get_email_field_name()):
            wanted[model.get_email_field_name()] = info.user.email
        if _has_field(model, "first_name"):
            wanted["first_name"] = info.user.first_name or ""
        if _has_field(model, "last_name"):
            wanted["last_name"] = info.user.last_name or ""
        if self.settings.manages_flags():
            staff, superuser = self.settings.flags((info.role, *(info.roles or ())))
            if _has_field(model, "is_staff"):
                wanted["is_staff"] = staff
            if _has_field(model, "is_superuser"):
                wanted["is_superuser"] = superuser
        changed = [name for name, value in wanted.items() if getattr(user, name, None) != value]
        for name in changed:
            setattr(user, name, wanted[name])
        return changed

    # --- permissions -------------------------------------------------------------------------------------------

    def _workos_permissions(self, user_obj: Any, obj: object) -> set[str]:
        info = getattr(user_obj, "authkit", None)
        if obj is not None or not isinstance(info, UserInfo) or not user_obj.is_active:
            return set()
        return self.settings.granted(info.permissions or ())

    def get_all_permissions(self, user_obj: Any, obj: object = None) -> set[str]:
        """``ModelBackend``'s model permissions, and the session's WorkOS ones (with ``permission_map``)."""
        return {*super().get_all_permissions(user_obj, obj), *self._workos_permissions(user_obj, obj)}

    async def aget_all_permissions(self, user_obj: Any, obj: object = None) -> set[str]:
        """:meth:`get_all_permissions`, async."""
        return {*await super().aget_all_permissions(user_obj, obj), *self._workos_permissions(user_obj, obj)}

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        """Whether ``user_obj`` holds a Django permission (``app_label.codename``) of ``app_label``."""
        perms = self.get_all_permissions(user_obj)
        return bool(user_obj.is_active) and any(p.partition(".")[0] == app_label for p in perms if "." in p)

    async def ahas_module_perms(self, user_obj: Any, app_label: str) -> bool:
        """:meth:`has_module_perms`, async."""
        perms = await self.aget_all_permissions(user_obj)
        return bool(user_obj.is_active) and any(p.partition(".")[0] == app_label for p in perms if "." in p)
