"""Give the role groups (Viewers, Triagers, Administrators) their permissions on the models added after
them: webhooks and deliveries, Terraform state sources."""

from django.db import migrations


def install(apps, schema_editor):
    from driftwatch.roles import install_groups

    install_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_subscriptions_and_deliveries"),
        ("driftwatch", "0003_role_groups"),
        # After every model the groups should cover (webhooks, Terraform state sources).
        ("baselines", "0003_terraform_state_sources"),
        ("drifts", "0006_drift_terraform_fields"),
    ]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
