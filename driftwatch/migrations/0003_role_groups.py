"""The Viewers, Triagers and Administrators groups, and existing token owners in the group their tokens need.

From now on a token acts with its scope and its owner's model permissions, both; an owner who is not a
superuser joins the group of their strongest live token, so every token keeps working as before.
"""

from django.db import migrations
from django.db.models import Q
from django.utils import timezone

from driftwatch.roles import install_groups

STRENGTH = ("read", "triage", "admin")


def create_groups_and_keep_tokens_working(apps, schema_editor):
    groups = install_groups(apps)
    ApiToken = apps.get_model("driftwatch", "ApiToken")
    live = ApiToken.objects.filter(revoked_at__isnull=True, user__is_superuser=False).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )
    strongest: dict[int, str] = {}
    for user_id, scope in live.values_list("user_id", "scope"):
        if STRENGTH.index(scope) >= STRENGTH.index(strongest.get(user_id, "read")):
            strongest[user_id] = scope
    for scope in STRENGTH:
        owners = [user_id for user_id, best in strongest.items() if best == scope]
        if owners:
            groups[scope].user_set.add(*owners)


class Migration(migrations.Migration):
    dependencies = [
        ("driftwatch", "0002_token_scopes_read_triage_admin"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        # Every model the groups cover must exist, so that its permissions can be created here.
        ("providers", "0002_running_job_plain_id"),
        ("baselines", "0002_initial"),
        ("drifts", "0004_unit_lease"),
    ]

    operations = [
        # Reversing keeps the groups: an operator may have put people in them since.
        migrations.RunPython(create_groups_and_keep_tokens_working, migrations.RunPython.noop),
    ]
