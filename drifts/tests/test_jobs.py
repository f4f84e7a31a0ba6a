"""The unit lifecycle against PostgreSQL and moto: a unit always finishes, a job always ends, a provider is
always released, whatever fails; and the supervisor picks up what no worker will finish."""

import pytest
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from devtools.estate import seed_estate
from drifts.models import DetectionJob, Drift, JobUnit
from drifts.services import detection, jobs, scan
from drifts.tasks import scan_unit as scan_unit_task
from driftwatch.tests.factories import make_provider
from providers.models import Provider, Resource

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def aws_provider(moto):
    seed_estate(moto, regions=["us-east-1"])
    provider = make_provider(regions=["us-east-1"], endpoint_url=moto)
    provider.set_credentials({"access_key_id": "testing", "secret_access_key": "testing"})
    provider.save()
    return provider


@pytest.fixture
def unsent(monkeypatch) -> list[int]:
    """Messages are recorded instead of sent: the test plays the worker (or loses the message)."""
    sent: list[int] = []
    monkeypatch.setattr("drifts.tasks.scan_unit.delay", sent.append)
    return sent


def start(provider) -> DetectionJob:
    job, created = detection.start_detection(trigger="cli", provider_id=provider.pk)
    assert created
    return job


def run_all(job) -> DetectionJob:
    for unit in JobUnit.objects.filter(job=job).order_by("id"):
        jobs.scan_unit(unit.pk)
    job.refresh_from_db()
    return job


def assert_ended_and_released(job, status: str) -> None:
    job.refresh_from_db()
    assert job.status == status and job.finished_at is not None
    assert not JobUnit.objects.filter(job=job, status__in=["pending", "running"]).exists()
    assert not Provider.objects.filter(running_job_id=job.pk).exists()


def test_an_exception_while_recording_a_batch_fails_the_unit_and_ends_the_job(aws_provider, unsent, monkeypatch):
    run_all(start(aws_provider))

    def broken(self, batch):
        raise RuntimeError("a bug in recording")

    monkeypatch.setattr(scan._Recorder, "record_batch", broken)
    job = run_all(start(aws_provider))
    assert_ended_and_released(job, "failed")
    assert {e["message"] for e in job.errors} == {"RuntimeError: a bug in recording"}
    assert set(JobUnit.objects.filter(job=job).values_list("status", flat=True)) == {"failed"}
    assert Drift.objects.count() == 0 and not Resource.objects.filter(deleted_at__isnull=False).exists()
    monkeypatch.undo()
    assert detection.start_detection(trigger="cli", provider_id=aws_provider.pk)[1] is True


def test_one_failing_unit_leaves_a_partial_job_and_the_others_recorded(aws_provider, unsent, monkeypatch):
    real = scan._Recorder.record_batch

    def fail_for_kms(self, batch):
        if self.unit.resource_type == "kms_key":
            raise RuntimeError("boom")
        return real(self, batch)

    monkeypatch.setattr(scan._Recorder, "record_batch", fail_for_kms)
    job = run_all(start(aws_provider))
    assert_ended_and_released(job, "partial")
    assert [e["resource_type"] for e in job.errors] == ["kms_key"]
    assert Resource.objects.filter(resource_type="s3_bucket").exists()


@override_settings(DRIFTWATCH_UNIT_RETRY_DELAYS=[0, 0, 0])
def test_a_database_error_on_every_retry_fails_the_unit_once_retries_run_out(aws_provider, unsent, monkeypatch):
    calls = {"n": 0}

    def db_down(self, batch):
        calls["n"] += 1
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(scan._Recorder, "record_batch", db_down)
    job = start(aws_provider)
    unit = JobUnit.objects.filter(job=job, resource_type="s3_bucket").get()
    scan_unit_task.apply(args=[unit.pk])  # the real task, run eagerly: its retries run at once
    unit.refresh_from_db()
    assert calls["n"] == 4  # the first try and three retries
    assert unit.status == "failed" and unit.attempt == 4
    assert "OperationalError" in unit.error
    monkeypatch.undo()
    for other in JobUnit.objects.filter(job=job).exclude(pk=unit.pk):
        jobs.scan_unit(other.pk)
    assert_ended_and_released(job, "partial")


@override_settings(DRIFTWATCH_UNIT_RETRY_DELAYS=[0, 0, 0])
def test_a_transient_error_that_clears_is_retried_on_the_same_lease(aws_provider, unsent, monkeypatch):
    real = scan._Recorder.record_batch
    failures = {"left": 2}

    def flaky(self, batch):
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("the database is failing over")
        return real(self, batch)

    monkeypatch.setattr(scan._Recorder, "record_batch", flaky)
    job = start(aws_provider)
    for unit in JobUnit.objects.filter(job=job):
        scan_unit_task.apply(args=[unit.pk])
    assert_ended_and_released(job, "succeeded")
    assert failures["left"] == 0


def test_a_redelivered_message_does_not_run_a_unit_twice(aws_provider, unsent, monkeypatch):
    job = start(aws_provider)
    unit = JobUnit.objects.filter(job=job, resource_type="s3_bucket").get()
    jobs.scan_unit(unit.pk)
    unit.refresh_from_db()
    ran = []
    monkeypatch.setattr(scan, "collect_and_record", lambda *a, **kw: ran.append(1))
    jobs.scan_unit(unit.pk)  # done already
    JobUnit.objects.filter(pk=unit.pk).update(
        status="running", lease_expires_at=timezone.now() + timezone.timedelta(minutes=1)
    )
    jobs.scan_unit(unit.pk)  # held by a live worker
    assert ran == []


@override_settings(DRIFTWATCH_UNIT_QUEUE_TIMEOUT_SECONDS=1)
def test_the_supervisor_resends_units_of_a_dead_worker_and_of_lost_messages(aws_provider, unsent, monkeypatch):
    job = start(aws_provider)
    units = list(JobUnit.objects.filter(job=job).order_by("id"))
    past = timezone.now() - timezone.timedelta(minutes=5)
    # One unit was running on a worker that died (its lease ran out), the others' messages were lost.
    JobUnit.objects.filter(pk=units[0].pk).update(status="running", attempt=1, lease_expires_at=past)
    JobUnit.objects.filter(job=job).update(enqueued_at=past)
    unsent.clear()
    sent = unsent
    monkeypatch.setattr(jobs, "_queue_backlog", lambda: 3)  # messages are waiting: workers are only behind
    jobs.supervise_jobs()
    assert sent == [units[0].pk]
    monkeypatch.setattr(jobs, "_queue_backlog", lambda: 0)  # the queue is empty: the other messages were lost
    jobs.supervise_jobs()
    assert sorted(sent) == sorted(u.pk for u in units)
    assert JobUnit.objects.get(pk=units[0].pk).status == "pending"
    for pk in sent:  # the worker that receives them
        jobs.scan_unit(pk)
    assert_ended_and_released(job, "succeeded")
    assert JobUnit.objects.get(pk=units[0].pk).attempt == 2


@override_settings(DRIFTWATCH_UNIT_MAX_ATTEMPTS=2)
def test_a_unit_that_keeps_killing_its_worker_is_failed_not_resent_forever(aws_provider, unsent):
    job = start(aws_provider)
    past = timezone.now() - timezone.timedelta(minutes=5)
    JobUnit.objects.filter(job=job).update(status="running", attempt=2, lease_expires_at=past)
    jobs.supervise_jobs()
    assert_ended_and_released(job, "failed")
    assert "Worker lost" in job.errors[0]["message"]


def test_the_supervisor_finalizes_a_job_whose_units_are_all_done(aws_provider, unsent):
    job = start(aws_provider)
    # A database error struck after the last unit was marked done, before the job was finalized.
    JobUnit.objects.filter(job=job).update(status="succeeded", finished_at=timezone.now())
    assert jobs.supervise_jobs()["finalized"] == [job.pk]
    assert_ended_and_released(job, "succeeded")


def test_detect_while_the_broker_is_down_answers_and_the_units_wait(api, aws_provider, monkeypatch):
    from driftwatch.celery import app

    # Celery prefers the environment variable to its configuration; nothing listens on the discard port.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:9/0")
    app._pool = None
    app.amqp._producer_pool = None
    try:
        started = timezone.now()
        response = api.post("/api/v1/drifts/detect", {"provider_id": aws_provider.pk}, format="json")
        took = (timezone.now() - started).total_seconds()
    finally:
        monkeypatch.undo()
        app._pool = None
        app.amqp._producer_pool = None
    assert response.status_code == 202, response.content
    assert took < 10
    job = DetectionJob.objects.get(pk=response.json()["job_id"])
    assert job.status == "running"
    assert set(JobUnit.objects.filter(job=job).values_list("status", "enqueued_at")) == {("pending", None)}


def test_the_queue_backlog_is_read_from_the_broker(settings):
    from driftwatch.celery import app

    if app.conf.broker_url.startswith("filesystem"):
        pytest.skip("needs a network broker (CELERY_BROKER_URL); CI runs it on Redis")
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)
    assert jobs._queue_backlog() == 0
    app.send_task("drifts.noop-for-backlog-test")
    app.send_task("drifts.noop-for-backlog-test")
    try:
        assert jobs._queue_backlog() == 2
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(app.conf.task_default_queue)
