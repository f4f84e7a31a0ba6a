"""Provider.running_job becomes a plain id column: providers no longer points a relation at drifts.

The column (running_job_id) and its values stay: first the foreign key constraint is dropped, then the
field is swapped in Django's state only. The index that came with the foreign key is dropped too: the
lock is read by primary key or by job id on a table of a few providers.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="provider",
            name="running_job",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                editable=False,
                null=True,
                on_delete=models.SET_NULL,
                related_name="+",
                to="drifts.detectionjob",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="provider", name="running_job"),
                migrations.AddField(
                    model_name="provider",
                    name="running_job_id",
                    field=models.BigIntegerField(blank=True, editable=False, null=True),
                ),
            ],
        ),
    ]
