"""manage.py detect: the CLI entry point starts the same job as the API and can wait for it."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devtools.estate import seed_estate
from drifts.models import DetectionJob, Drift
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


# --- --fail-on: exit codes for pipelines ----------------------------------------------------------------


@pytest.fixture
def inline_worker(monkeypatch):
    # The worker's part, inline: each enqueued unit runs as soon as the job's transaction commits.
    monkeypatch.setattr("drifts.tasks.scan_unit.delay", lambda unit_id: jobs.scan_unit(unit_id))


@pytest.fixture
def drifted(moto, inline_worker):
    """A provider whose first scan baselined the estate, then seven realistic changes (two critical)."""
    from devtools.changes import apply_changes

    estate = seed_estate(moto, regions=["us-east-1"])
    provider = make_provider(regions=["us-east-1"], endpoint_url=moto)
    call_command("detect", "--provider", str(provider.pk), "--wait", stdout=StringIO())
    apply_changes(moto, estate)
    provider.estate = estate
    return provider


def _fail_on(provider, severity: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("detect", "--provider", str(provider.pk), "--fail-on", severity, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_fail_on_exits_1_when_the_scan_finds_drift_at_or_above_the_severity(drifted, inline_worker):
    code, text = _fail_on(drifted, "high")
    job = DetectionJob.objects.latest("id")
    assert job.status == "succeeded" and job.trigger == "cli"
    critical = Drift.objects.filter(job=job, status="detected", severity="critical").count()
    high = Drift.objects.filter(job=job, status="detected", severity="high").count()
    assert critical >= 2 and high >= 1
    assert code == 1
    assert f"critical {critical}, high {high}," in text
    assert f"{critical + high} open finding(s) at or above high" in text


@pytest.mark.django_db(transaction=True)
def test_fail_on_exits_0_when_nothing_reaches_the_severity(moto, inline_worker):
    seed_estate(moto, regions=["us-east-1"])
    provider = make_provider(regions=["us-east-1"], endpoint_url=moto)
    code, text = _fail_on(provider, "critical")
    job = DetectionJob.objects.get()
    assert job.status == "succeeded"
    assert not Drift.objects.filter(job=job, severity="critical").exists()
    assert code == 0 and "no open findings at or above critical" in text


@pytest.mark.django_db(transaction=True)
def test_fail_on_exits_2_when_the_scan_is_partial_even_with_findings(drifted, inline_worker, monkeypatch):
    from botocore.exceptions import ClientError

    import providers.services

    real = providers.services.aws_clients

    def deny_roles(provider):
        clients = real(provider)

        def deny(**kwargs):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no ListRoles"}}, "ListRoles")

        clients.session.events.register("before-call.iam.ListRoles", deny)
        return clients

    monkeypatch.setattr(providers.services, "aws_clients", deny_roles)
    code, text = _fail_on(drifted, "low")
    assert DetectionJob.objects.latest("id").status == "partial"
    assert code == 2 and "partial: no verdict" in text


@pytest.mark.django_db
def test_fail_on_exits_2_when_the_scan_cannot_start():
    with pytest.raises(CommandError, match="does not exist") as raised:
        call_command("detect", "--provider", "4242", "--fail-on", "high")
    assert raised.value.returncode == 2


@pytest.mark.django_db(transaction=True)
def test_manage_py_detect_fail_on_exit_codes_in_a_real_process(moto, drifted):
    """The process's own exit status, as a CI runner sees it: 1 with a critical drift, 0 below the bar."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    from urllib.parse import quote

    from django.db import connection

    from devtools.changes import revert_changes

    db = connection.settings_dict
    if connection.vendor == "postgresql":
        credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
        url = f"postgresql://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    # Units run in the command's own process (eager Celery): no worker to start.
    env = {**os.environ, "DATABASE_URL": url, "CELERY_TASK_ALWAYS_EAGER": "1"}
    root = Path(__file__).resolve().parents[2]

    def run(severity: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "detect", "--provider", str(drifted.pk), "--fail-on", severity],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    found = run("critical")
    assert found.returncode == 1, found.stderr
    assert "open finding(s) at or above critical" in found.stderr
    assert "open findings: critical" in found.stdout
    # Put the critical settings back: the next scan resolves those findings as reverted.
    revert_changes(moto, drifted.estate)
    clean = run("critical")
    assert clean.returncode == 0, clean.stderr
    assert "no open findings at or above critical" in clean.stdout
    assert not Drift.objects.filter(severity="critical").exclude(status="resolved").exists()
