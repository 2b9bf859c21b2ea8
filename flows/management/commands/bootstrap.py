"""Get an empty installation ready to use; `make run` calls it every time, so it is idempotent.

Creates the Viewer/Operator/Admin groups, the example flows (only when there are no flows at
all), and a local admin account when no superuser exists yet: DJANGO_SUPERUSER_USERNAME and
DJANGO_SUPERUSER_PASSWORD when set, else "admin" with a random password printed once.
"""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from flows import roles
from flows.definitions import editing
from flows.definitions.examples import EXAMPLES
from flows.models import FlowDefinition


class Command(BaseCommand):
    help = "Create the roles, the example flows and a first admin account where missing."

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        roles.install_roles()
        self._install_examples()
        self._create_admin()

    def _install_examples(self) -> None:
        if FlowDefinition.objects.exists():
            return
        for flow, description in EXAMPLES:
            editing.create_from_flow(flow, description=description)
            self.stdout.write(f"Installed example flow {flow.name}")

    def _create_admin(self) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        generated = not password
        password = password or secrets.token_urlsafe(12)
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        user = users.objects.create_superuser(username=username, email=email, password=password)
        user.groups.add(Group.objects.get(name=roles.ADMIN))
        self.stdout.write(self.style.SUCCESS(f"Created the admin account {username!r}"))
        if generated:
            # Printed this once only: it is stored hashed.
            self.stdout.write(
                self.style.SUCCESS(f"  user name: {username}\n  password:  {password}")
            )
