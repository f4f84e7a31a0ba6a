"""manage.py detect: the CLI entry point starts the same job as the API and can wait for it."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devtools.estate import seed_estate
from drifts.models import DetectionJob
from drifts.services import jobs
from driftwatch.tests.factories import make_provider


@pytest.mark.django_db(transaction=True)
def test_detect_wait_runs_the_job_to_the_end(moto, monkeypatch):
    seed_estate(moto, regions=["us-east-1"])
    provider = make_provider(regions=["us-east-1"], endpoint_url=moto)
    # The worker's part, inline: each enqueued unit runs as soon as the job's transaction commits.
    monkeypatch.setattr("drifts.tasks.scan_unit.delay", lambda unit_id: jobs.scan_unit(unit_id))
    out = StringIO()
    call_command("detect", "--provider", str(provider.pk), "--wait", stdout=out)
    job = DetectionJob.objects.get()
    assert job.trigger == "cli" and job.status == "succeeded" and job.resources_scanned > 10
    text = out.getvalue()
    assert f"Drift detection scan started: job {job.pk}" in text
    assert "100%" in text and f"job {job.pk} succeeded: {job.resources_scanned} resources" in text


@pytest.mark.django_db
def test_detect_reports_unknown_and_disabled_providers():
    with pytest.raises(CommandError, match="does not exist"):
        call_command("detect", "--provider", "4242")
    disabled = make_provider(enabled=False)
    with pytest.raises(CommandError, match="disabled"):
        call_command("detect", "--provider", str(disabled.pk))
    assert DetectionJob.objects.count() == 0
