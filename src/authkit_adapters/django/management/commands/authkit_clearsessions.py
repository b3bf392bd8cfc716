"""``python manage.py authkit_clearsessions``: delete expired sessions of the SQL session store (what Django's
``clearsessions`` does for ``django.contrib.sessions``). Run it from cron."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand

from authkit_core.errors import ConfigurationError
from authkit_core.storage import CookieSessionStore

from ..._settings import read_settings


class Command(BaseCommand):  # type: ignore[misc]
    """Deletes the rows of ``SQLSessionStore`` whose expiry has passed; says so when the store keeps none."""

    help = (
        "Delete expired AuthKit sessions from the SQL session store (settings.AUTHKIT's store, or its engine's). "
        "Other stores keep nothing to delete: the command says so and changes nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the command."""
        store = read_settings().store
        name = type(store).__name__
        delete = getattr(store, "delete_expired", None)
        if store is None or isinstance(store, CookieSessionStore):
            self.stdout.write(
                "Sessions are kept in the browser's sealed cookie (CookieSessionStore): "
                "there are no stored sessions to delete."
            )
            return
        if delete is None:
            self.stdout.write(f"{name} keeps no expired sessions to delete (only SQLSessionStore does): nothing done.")
            return
        try:
            count = int(delete())
        except ConfigurationError:  # a store with only an async engine
            count = int(asyncio.run(getattr(store, "adelete_expired")()))  # noqa: B009
        self.stdout.write(self.style.SUCCESS(f"Deleted {count} expired session(s) from {name}."))
