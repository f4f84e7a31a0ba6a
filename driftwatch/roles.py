"""The three roles: Viewers, Triagers and Administrators, one per token scope, as groups of model permissions.

A request passes when the token's scope covers the scope its action declares (sessions have no scope) and the
user holds the action's model permissions (driftwatch/api/permissions.py). A token therefore never does more
than its owner may, and a staff user never does more through the API than in the admin.
"""

from collections.abc import Iterable

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

from .models import TokenScope

# The apps whose models the roles cover. Names, not imports: the kit imports no domain app.
DOMAIN_APPS = ("providers", "baselines", "drifts", "notifications")
PROJECT_APPS = ("driftwatch", *DOMAIN_APPS)

# Triage beyond reading: move and resolve drifts, capture baselines, start scans (a scan is a detection job).
TRIAGE_PERMISSIONS = ("drifts.change_drift", "baselines.add_baseline", "drifts.add_detectionjob")

# The audit trail is written by DriftWatch itself; nobody edits or deletes it, administrators included.
AUDIT_TRAIL_WRITES = {f"driftwatch.{verb}_auditentry" for verb in ("add", "change", "delete")}

GROUP_NAMES = {TokenScope.READ: "Viewers", TokenScope.TRIAGE: "Triagers", TokenScope.ADMIN: "Administrators"}


def scope_permissions(scope: str, available: Iterable[str]) -> set[str]:
    """The permissions ("app.codename") the group of `scope` holds, among the `available` ones.

    read: view every domain model. triage: read plus TRIAGE_PERMISSIONS. admin: every permission of the
    project's apps (providers, credentials, ignore rules, tokens, and models added later) but writing the
    audit trail.
    """
    ours = {name for name in available if name.split(".", 1)[0] in PROJECT_APPS}
    if scope == TokenScope.ADMIN:
        return ours - AUDIT_TRAIL_WRITES
    viewing = {n for n in ours if n.split(".", 1)[0] in DOMAIN_APPS and n.split(".", 1)[1].startswith("view_")}
    if scope == TokenScope.READ:
        return viewing
    return viewing | (set(TRIAGE_PERMISSIONS) & ours)


def install_groups(apps=global_apps, *, update_existing: bool = True) -> dict[str, object]:
    """Create the three groups with their permissions; returns them by scope.

    Existing groups get the permissions of their scope they lack (`update_existing`), never lose one: an
    operator may have widened them. Takes a migration's historical `apps` too, and then first creates the
    permissions, which Django otherwise only writes after the last migration ran.
    """
    if apps is not global_apps:
        for app_config in apps.get_app_configs():
            app_config.models_module = True
            create_permissions(app_config, apps=apps, verbosity=0)
            app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    by_name = {
        f"{app}.{codename}": pk
        for pk, app, codename in Permission.objects.filter(content_type__app_label__in=PROJECT_APPS).values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    groups = {}
    for scope, name in GROUP_NAMES.items():
        group, created = Group.objects.get_or_create(name=name)
        if created or update_existing:
            group.permissions.add(*(by_name[p] for p in scope_permissions(scope, by_name)))
        groups[scope.value] = group
    return groups


def group_for_scope(scope: str):
    """The group whose members a token of `scope` needs; created with its permissions when missing."""
    scope = TokenScope.parse(scope)
    Group = global_apps.get_model("auth", "Group")
    group = Group.objects.filter(name=GROUP_NAMES[scope]).first()
    return group if group is not None else install_groups(update_existing=False)[scope.value]
