from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class FlowsConfig(AppConfig):
    name = "flows"
    verbose_name = "Flows"

    def ready(self) -> None:
        from flows.roles import install_roles

        post_migrate.connect(install_roles, sender=self, dispatch_uid="flows.install_roles")
