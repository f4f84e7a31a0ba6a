"""Store every provider endpoint in the outbound guard's normalized form (scheme://host:port/path).

A URL the guard refuses is left as it is: the scan and the connection test refuse it with the reason, and
the operator fixes it; a migration must not silently drop a setting.
"""

from django.db import migrations


def normalize(apps, schema_editor):
    from driftwatch.outbound import URLNotAllowed, normalize_url

    Provider = apps.get_model("providers", "Provider")
    for provider in Provider.objects.exclude(endpoint_url__isnull=True).exclude(endpoint_url="").only("endpoint_url"):
        try:
            normalized = normalize_url(provider.endpoint_url)
        except URLNotAllowed:
            continue
        if normalized != provider.endpoint_url:
            Provider.objects.filter(pk=provider.pk).update(endpoint_url=normalized)


class Migration(migrations.Migration):
    dependencies = [("providers", "0002_running_job_plain_id")]
    operations = [migrations.RunPython(normalize, migrations.RunPython.noop)]
