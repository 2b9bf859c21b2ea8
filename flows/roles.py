"""The three roles, as Django groups, and the permissions each one holds.

Views check permissions, never group names, so an administrator can also grant a single
permission to one user.
"""

from __future__ import annotations

VIEWER = "Viewer"
OPERATOR = "Operator"
ADMIN = "Admin"

_VIEW = [
    "flows.view_flowdefinition",
    "flows.view_stepdefinition",
    "flows.view_runrecord",
    "flows.view_secret",
]
_BUILD_AND_RUN = [
    "flows.add_flowdefinition",
    "flows.change_flowdefinition",
    "flows.add_stepdefinition",
    "flows.change_stepdefinition",
    "flows.delete_stepdefinition",
    "flows.launch_flow",
    "flows.test_step",
    "flows.cancel_run",
]
_ADMINISTER = [
    "flows.delete_flowdefinition",
    "flows.retry_step",
    "flows.add_secret",
    "flows.change_secret",
    "flows.delete_secret",
    "flows.view_alertdestination",
    "flows.add_alertdestination",
    "flows.change_alertdestination",
    "flows.delete_alertdestination",
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.delete_user",
    "auth.view_group",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: _VIEW,
    OPERATOR: _VIEW + _BUILD_AND_RUN,
    ADMIN: _VIEW + _BUILD_AND_RUN + _ADMINISTER,
}


def install_roles(**_signal_arguments: object) -> None:
    """Create the groups and give each exactly its role's permissions; safe to run again.

    Connected to post_migrate (after Django has created the permissions), so every migrated
    database, the test database included, has the roles.
    """
    from django.contrib.auth.models import Group, Permission

    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = []
        for name in names:
            app_label, codename = name.split(".")
            permissions.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(permissions)


def sync_staff_status(
    instance: object, action: str, reverse: bool, pk_set: set[int] | None, **_: object
) -> None:
    """Admins manage users in the Django admin, which only lets staff in: staff status follows
    membership of the Admin group (superusers keep theirs).

    Connected to m2m_changed of User.groups; covers user.groups.add/remove/set/clear and
    group.user_set.add/remove (a group's user_set.clear is not tracked).
    """
    from django.contrib.auth import get_user_model

    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    users = get_user_model().objects
    affected = users.filter(pk__in=pk_set or ()) if reverse else users.filter(pk=instance.pk)
    for user in affected:
        staff = user.is_superuser or user.groups.filter(name=ADMIN).exists()
        if user.is_staff != staff:
            users.filter(pk=user.pk).update(is_staff=staff)
            user.is_staff = staff
        if not reverse:
            instance.is_staff = staff
