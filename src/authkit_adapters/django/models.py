"""The synced mode's one table: which local user each WorkOS user is (no custom user model needed)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

__all__ = ["WorkOSIdentity"]


class WorkOSIdentity(models.Model):  # type: ignore[misc]
    """Links a WorkOS user id (``user_...``) to a ``settings.AUTH_USER_MODEL`` user, one to one.

    ``session_id`` is the WorkOS session (the access token's ``sid``) last seen for this user: when a request
    brings another one, the user has signed in again (``user_logged_in`` is sent, ``last_login`` moves).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workos_identity", verbose_name="user"
    )
    workos_id = models.CharField("WorkOS user id", max_length=255, unique=True)
    session_id = models.CharField("last WorkOS session id", max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        """Names in the admin."""

        verbose_name = "WorkOS identity"
        verbose_name_plural = "WorkOS identities"

    def __str__(self) -> str:
        return f"{self.workos_id} -> {self.user_id}"
