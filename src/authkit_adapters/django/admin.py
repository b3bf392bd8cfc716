"""The link table in the admin (read-only: links are made by the backend on sign-in)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import WorkOSIdentity


@admin.register(WorkOSIdentity)
class WorkOSIdentityAdmin(admin.ModelAdmin):  # type: ignore[misc]
    """Which local user each WorkOS user is; deleting a link makes the next sign-in create or link anew."""

    list_display = ("workos_id", "user", "updated_at")
    search_fields = ("workos_id", "user__email")
    readonly_fields = ("workos_id", "user", "session_id", "created_at", "updated_at")

    def has_add_permission(self, request: Any) -> bool:
        """Links are made on sign-in only."""
        return False
