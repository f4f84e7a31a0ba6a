"""Attribution end to end on a real Celery worker: the API scans, the trail bucket holds the calls that made the
changes (several identity types), and every drift ends up naming who made it, with no provider setting at
all (LookupEvents, which moto lacks, falls back to the bucket of the trail the scan collected)."""

import time

import pytest

from devtools import cloudtrail_logs as ct
from devtools.changes import apply_changes
from devtools.estate import seed_estate
from devtools.fake_aws import SeedClients
from tests.test_e2e_worker import _run_scan, _tail, broker_url, worker  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ATTRIBUTION_TIMEOUT = 90


def test_every_drift_names_its_actor_after_a_scan_on_a_real_worker(api, moto, worker):  # noqa: F811
    estate = seed_estate(moto, regions=("us-east-1",))
    created = api.post(
        "/api/v1/providers",
        {
            "name": "moto",
            "kind": "aws",
            "regions": ["us-east-1"],
            "endpoint_url": moto,
            "credentials": {"access_key_id": "testing", "secret_access_key": "testing"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    provider_id = created.json()["id"]
    assert _run_scan(api, provider_id, worker)["status"] == "succeeded"

    changes = apply_changes(moto, estate)
    ct.log_changes(SeedClients(moto)("s3"), estate, changes)
    job = _run_scan(api, provider_id, worker)
    assert job["status"] == "succeeded" and job["counters"]["drifts_new"] == len(changes)

    deadline = time.monotonic() + ATTRIBUTION_TIMEOUT
    while True:
        drifts = api.get("/api/v1/drifts", {"per_page": 100}).json()["data"]
        if all(d["attribution_status"] != "pending" for d in drifts):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"attribution still pending: {drifts}\n{_tail(worker)}")
        time.sleep(0.5)
    assert {d["attribution_status"] for d in drifts} == {"attributed"}, [d["attribution_reason"] for d in drifts]
    actors = {d["changed_by"]["actor"] for d in drifts}
    assert actors == {
        "alice@example.com via AWSReservedSSO_AdministratorAccess_0123456789abcdef",
        "bob",
        "gha-run-4711 via deploy-pipeline",
        "root (123456789012)",
        "cloudformation.amazonaws.com",
        "carol-7f3a",
        "dave",
    }
    assert all(d["changed_by"]["confidence"] == "exact" for d in drifts)
    only_bob = api.get("/api/v1/drifts", {"changed_by": "bob"}).json()
    bobs = [i for i in range(len(changes)) if ct.DEMO_IDENTITIES[i % len(ct.DEMO_IDENTITIES)].get("userName") == "bob"]
    assert only_bob["meta"]["total"] == len(bobs) > 1
    assert {d["changed_by"]["actor_type"] for d in only_bob["data"]} == {"IAMUser"}
    assert api.get(f"/api/v1/jobs/{job['id']}").json()["warnings"] == []
