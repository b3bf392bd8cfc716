"""The link table of the synced mode (:class:`~authkit_adapters.django.models.WorkOSIdentity`)."""

from typing import ClassVar

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):  # type: ignore[misc]
    """Create ``authkit_workosidentity``."""

    initial = True

    dependencies: ClassVar = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations: ClassVar = [
        migrations.CreateModel(
            name="WorkOSIdentity",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("workos_id", models.CharField(max_length=255, unique=True, verbose_name="WorkOS user id")),
                (
                    "session_id",
                    models.CharField(blank=True, default="", max_length=255, verbose_name="last WorkOS session id"),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="workos_identity",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "WorkOS identity",
                "verbose_name_plural": "WorkOS identities",
            },
        ),
    ]
