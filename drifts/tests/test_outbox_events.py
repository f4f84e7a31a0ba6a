"""Drift and job changes write their outbox events in the same transaction, in bulk."""

import pytest
from django.db import transaction

from drifts.models import DetectionJob, JobStatus, JobUnit
from drifts.services import jobs, triage
from driftwatch.models import OutboxEvent
from driftwatch.tests.factories import make_drift, make_resource

pytestmark = pytest.mark.django_db


def test_a_move_writes_status_changed_with_from_to_actor_and_note(drift, user):
    triage.move_drifts([drift.pk], "investigating", actor=user, note="looking")
    (event,) = OutboxEvent.objects.all()
    assert event.type == "drift.status_changed"
    assert event.data["from"] == "detected" and event.data["to"] == "investigating"
    assert event.data["actor"] == "alice" and event.data["note"] == "looking"
    body = event.data["drift"]
    assert body["id"] == drift.pk and body["status"] == "investigating"
    assert body["resource_name"] == drift.resource.name and body["provider_name"] == drift.provider.name
    assert body["path"] == "PublicAccessBlock.BlockPublicAcls" and body["severity"] == "critical"
    assert body["baseline_value"] is True and body["current_value"] is False
    assert body["detected_at"] == "2024-01-15T14:30:00Z"
    assert event.dispatched_at is None


def test_resolving_writes_status_changed_and_resolved_with_the_resolution(drift, user):
    triage.move_drifts([drift.pk], "resolved", actor=user)
    types = list(OutboxEvent.objects.order_by("id").values_list("type", flat=True))
    assert types == ["drift.status_changed", "drift.resolved"]
    resolved = OutboxEvent.objects.get(type="drift.resolved")
    assert resolved.data["resolution"] == "manual" and resolved.data["drift"]["status"] == "resolved"


def test_resolving_with_a_baseline_says_baseline_captured(drift, user):
    triage.resolve_with_baseline(drift, actor=user)
    resolved = OutboxEvent.objects.get(type="drift.resolved")
    assert resolved.data["resolution"] == "baseline_captured"


def test_a_rolled_back_move_leaves_no_event(drift, user):
    with pytest.raises(RuntimeError), transaction.atomic():
        triage.move_drifts([drift.pk], "investigating", actor=user)
        raise RuntimeError("the caller fails after the move")
    assert not OutboxEvent.objects.exists()
    drift.refresh_from_db()
    assert drift.status == "detected"


def test_a_refused_move_writes_no_event(drift, user):
    triage.move_drifts([drift.pk], "resolved", actor=user)
    OutboxEvent.objects.all().delete()
    result = triage.move_drifts([drift.pk], "investigating", actor=user)
    assert result.refused == {drift.pk: "resolved"}
    assert not OutboxEvent.objects.exists()


def test_moving_many_drifts_costs_a_constant_number_of_queries(provider, user, django_assert_max_num_queries):
    drifts = [make_drift(make_resource(provider)) for _ in range(30)]
    with django_assert_max_num_queries(12):
        triage.move_drifts([d.pk for d in drifts], "resolved", actor=user)
    assert OutboxEvent.objects.filter(type="drift.resolved").count() == 30


def _job_with_units(provider, statuses):
    job = DetectionJob.objects.create(trigger="cli", provider=provider, units_total=len(statuses))
    for i, status in enumerate(statuses):
        JobUnit.objects.create(job=job, provider=provider, region=f"r{i}", resource_type="s3_bucket", status=status)
    return job


def test_finalize_job_writes_job_completed_with_counters_and_duration(provider):
    job = _job_with_units(provider, ["succeeded", "succeeded"])
    JobUnit.objects.filter(job=job).update(drifts_new=3, resources_total=5, resources_scanned=5)
    assert jobs.finalize_job(job.pk)
    (event,) = OutboxEvent.objects.all()
    assert event.type == "job.completed" and event.job_id == job.pk
    body = event.data["job"]
    assert body["status"] == "succeeded" and body["drifts_new"] == 6 and body["resources_scanned"] == 10
    assert body["errors_count"] == 0 and body["duration_seconds"] >= 0
    assert not jobs.finalize_job(job.pk)  # a second caller loses, and writes nothing
    assert OutboxEvent.objects.count() == 1


def test_a_job_whose_units_all_failed_writes_job_failed(provider):
    job = _job_with_units(provider, ["failed"])
    jobs.finalize_job(job.pk)
    assert list(OutboxEvent.objects.values_list("type", flat=True)) == ["job.failed"]
    assert DetectionJob.objects.get(pk=job.pk).status == JobStatus.FAILED


def test_the_reaper_writes_job_failed(provider):
    job = _job_with_units(provider, ["running"])
    DetectionJob.objects.filter(pk=job.pk).update(started_at=job.started_at.replace(year=2020))
    assert jobs.reap_stale_jobs(max_age_minutes=1) == [job.pk]
    (event,) = OutboxEvent.objects.all()
    assert event.type == "job.failed" and event.data["job"]["errors_count"] == 1
