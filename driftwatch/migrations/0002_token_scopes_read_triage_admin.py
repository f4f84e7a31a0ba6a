"""Token scopes become read, triage and admin: every write token becomes an admin token, keeping its rights."""

from django.db import migrations, models


def write_to_admin(apps, schema_editor):
    ApiToken = apps.get_model("driftwatch", "ApiToken")
    ApiToken.objects.filter(scope="write").update(scope="admin")


def admin_to_write(apps, schema_editor):
    ApiToken = apps.get_model("driftwatch", "ApiToken")
    ApiToken.objects.filter(scope="admin").update(scope="write")
    # Before triage existed a token could only read or do everything: fall back to the narrower one.
    ApiToken.objects.filter(scope="triage").update(scope="read")


class Migration(migrations.Migration):
    dependencies = [
        ("driftwatch", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="apitoken", name="apitoken_scope_valid"),
        migrations.AlterField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[("read", "Read"), ("triage", "Triage"), ("admin", "Admin"), ("write", "Write")],
                default="read",
                max_length=8,
            ),
        ),
        migrations.RunPython(write_to_admin, admin_to_write),
        migrations.AlterField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[("read", "Read"), ("triage", "Triage"), ("admin", "Admin")], default="read", max_length=8
            ),
        ),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.CheckConstraint(
                condition=models.Q(scope__in=["read", "triage", "admin"]), name="apitoken_scope_valid"
            ),
        ),
    ]
