"""The /api/v1/jobs contract: detection jobs with progress, counters and errors."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from drifts.models import DetectionJob, JobUnit
from driftwatch.tests.factories import T0, make_provider

pytestmark = pytest.mark.django_db


def _job(**kw) -> DetectionJob:
    values = {"trigger": "api", "started_at": T0}
    values.update(kw)
    return DetectionJob.objects.create(**values)


def _ids(api, query: str = "") -> list[int]:
    response = api.get(f"/api/v1/jobs{'?' + query if query else ''}")
    assert response.status_code == 200, response.json()
    return [j["id"] for j in response.json()["data"]]


def test_job_has_the_documented_shape(api, user, provider):
    error = {
        "provider_id": provider.pk,
        "region": "eu-west-1",
        "resource_type": "rds_instance",
        "message": "AccessDenied: not authorized to perform rds:DescribeDBInstances",
    }
    job = _job(
        status="partial",
        provider=provider,
        requested_by=user,
        finished_at=T0 + timedelta(minutes=3),
        units_total=4,
        units_done=4,
        resources_total=120,
        resources_scanned=118,
        drifts_new=3,
        drifts_updated=2,
        drifts_resolved=1,
        errors=[error],
    )
    response = api.get(f"/api/v1/jobs/{job.pk}")
    assert response.status_code == 200
    assert response.json() == {
        "id": job.pk,
        "status": "partial",
        "trigger": "api",
        "provider_id": provider.pk,
        "requested_by": "alice",
        "started_at": "2024-01-15T14:30:00Z",
        "finished_at": "2024-01-15T14:33:00Z",
        "progress": {"scanned": 118, "total": 120, "percent": 100, "units_done": 4, "units_total": 4},
        "counters": {"drifts_new": 3, "drifts_updated": 2, "drifts_resolved": 1},
        "errors": [error],
        "warnings": [],
    }
    assert api.get("/api/v1/jobs").json()["data"] == [response.json()]


def test_running_job_progress_comes_from_its_units(api):
    job = _job(units_total=8, units_done=3, resources_total=40, resources_scanned=25)
    body = api.get(f"/api/v1/jobs/{job.pk}").json()
    assert body["status"] == "running" and body["finished_at"] is None and body["requested_by"] is None
    assert body["progress"] == {"scanned": 25, "total": 40, "percent": 37, "units_done": 3, "units_total": 8}
    assert body["progress"]["percent"] == job.percent
    empty = _job(units_total=0)
    assert api.get(f"/api/v1/jobs/{empty.pk}").json()["progress"]["percent"] == 0


def test_reaper_errors_without_scope_are_shown_with_nulls(api):
    job = _job(
        status="failed",
        errors=[
            {
                "provider_id": None,
                "region": None,
                "resource_type": None,
                "message": "Job did not finish within 120 minutes.",
            }
        ],
    )
    assert api.get(f"/api/v1/jobs/{job.pk}").json()["errors"] == [
        {
            "provider_id": None,
            "region": None,
            "resource_type": None,
            "message": "Job did not finish within 120 minutes.",
        }
    ]


def test_list_is_newest_first_and_filters(api, provider):
    other = make_provider()
    scheduled = _job(trigger="schedule", status="succeeded", provider=provider, started_at=T0)
    failed = _job(trigger="cli", status="failed", provider=other, started_at=T0 + timedelta(hours=1))
    everyone = _job(trigger="api", status="running", started_at=T0 + timedelta(hours=2))
    JobUnit.objects.create(job=everyone, provider=provider, region="us-east-1", resource_type="s3_bucket")

    assert _ids(api) == [everyone.pk, failed.pk, scheduled.pk]
    assert _ids(api, "status=running") == [everyone.pk]
    assert _ids(api, "status=failed,succeeded") == [failed.pk, scheduled.pk]
    assert _ids(api, "trigger=schedule") == [scheduled.pk]
    assert _ids(api, "trigger=api,cli") == [everyone.pk, failed.pk]
    # A scan of every provider counts as a scan of each provider it covered.
    assert _ids(api, f"provider_id={provider.pk}") == [everyone.pk, scheduled.pk]
    assert _ids(api, f"provider_id={other.pk}") == [failed.pk]
    assert _ids(api, f"provider_id={provider.pk}&status=succeeded") == [scheduled.pk]


@pytest.mark.parametrize("query", ["status=done", "trigger=cron", "provider_id=x", "per_page=-1"])
def test_bad_filters_are_400_naming_the_parameter(api, query):
    response = api.get(f"/api/v1/jobs?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["error"]["details"]


def test_list_query_count_does_not_grow_with_per_page(api, user):
    for i in range(30):
        _job(requested_by=user, started_at=T0 + timedelta(minutes=i), status="succeeded")
    api.get("/api/v1/jobs")  # the token's first use writes last_used_at once
    counts = []
    for per_page in (5, 30):
        with CaptureQueriesContext(connection) as ctx:
            data = api.get(f"/api/v1/jobs?per_page={per_page}").json()["data"]
        assert len(data) == per_page and {j["requested_by"] for j in data} == {"alice"}
        counts.append(len(ctx.captured_queries))
    assert counts == [3, 3]  # token lookup, count, page


def test_detect_then_follow_the_job(api, provider, monkeypatch):
    monkeypatch.setattr("drifts.tasks.scan_unit.delay", lambda unit_id: None)
    job_id = api.post("/api/v1/drifts/detect", {"provider_id": provider.pk}, format="json").json()["job_id"]
    body = api.get(f"/api/v1/jobs/{job_id}").json()
    assert body["status"] == "running" and body["trigger"] == "api" and body["requested_by"] == "alice"
    assert body["provider_id"] == provider.pk
    assert body["progress"]["units_total"] == JobUnit.objects.filter(job_id=job_id).count() > 0
    assert body["progress"]["percent"] == 0


def test_jobs_are_read_only_and_unknown_ids_are_404(api, anon_api):
    job = _job()
    assert api.post("/api/v1/jobs", {}, format="json").status_code == 405
    assert api.delete(f"/api/v1/jobs/{job.pk}").status_code == 405
    assert api.patch(f"/api/v1/jobs/{job.pk}", {"status": "failed"}, format="json").status_code == 405
    assert api.get("/api/v1/jobs/424242").json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/jobs/abc").status_code == 404
    assert anon_api.get("/api/v1/jobs").status_code == 401
