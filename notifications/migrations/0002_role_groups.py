"""Give the role groups (Viewers, Triagers, Administrators) their permissions on webhooks and deliveries."""

from django.db import migrations


def install(apps, schema_editor):
    from driftwatch.roles import install_groups

    install_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_subscriptions_and_deliveries"),
        ("driftwatch", "0003_role_groups"),
    ]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
