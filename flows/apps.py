from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_migrate


class FlowsConfig(AppConfig):
    name = "flows"
    verbose_name = "Flows"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.exceptions import ImproperlyConfigured

        from flows.engine import script_functions
        from flows.engine.builder import StepLimits, set_step_limits
        from flows.logins import record_lockout
        from flows.roles import install_roles, sync_staff_status

        # The builder pages, the admin, import and the API all validate through the engine.
        set_step_limits(StepLimits(settings.FLOWS_MAX_STEP_TIMEOUT, settings.FLOWS_MAX_RETRIES))
        try:  # a script module that will not load stops start-up, naming it
            script_functions.load(settings.FLOWS_SCRIPT_MODULES)
        except ValueError as error:
            raise ImproperlyConfigured(f"FLOWS_SCRIPT_MODULES: {error}") from None

        post_migrate.connect(install_roles, sender=self, dispatch_uid="flows.install_roles")
        m2m_changed.connect(
            sync_staff_status,
            sender=get_user_model().groups.through,
            dispatch_uid="flows.sync_staff_status",
        )
        user_locked_out.connect(record_lockout, dispatch_uid="flows.record_lockout")
