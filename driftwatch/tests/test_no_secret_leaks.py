"""No provider secret ever appears in an API response, an audit row or a log line, whatever the path."""

import logging

import pytest
from cryptography.fernet import Fernet

from drifts.models import DetectionJob
from driftwatch.models import AuditEntry
from providers.models import Provider
from providers.tests.test_api_providers import denying_sts_endpoint

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t/LEAK+CANARY+wJalrXUtnFEMIK7MDENG"
NEW_SECRET = "n3w/LEAK+CANARY+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvLEAK+CANARY+SESSIONTOKEN"
CANARIES = (SECRET, NEW_SECRET, SESSION_TOKEN)


def _assert_clean(text: str, where: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"secret leaked in {where}"


def test_no_secret_in_any_provider_response_audit_row_or_log_line(
    api, caplog, moto, settings, monkeypatch, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    responses = []

    def call(method: str, path: str, body=None):
        response = getattr(api, method)(path, body, format="json")
        responses.append((f"{method.upper()} {path} -> {response.status_code}", response))
        return response

    credentials = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": SECRET, "session_token": SESSION_TOKEN}
    body = {"name": "prod", "kind": "aws", "regions": ["us-east-1"], "endpoint_url": moto, "credentials": credentials}
    created = call("post", "/api/v1/providers", body)
    assert created.status_code == 201
    pid = created.json()["id"]
    base = f"/api/v1/providers/{pid}"

    # Rejected bodies that carry the secret must not echo it back.
    assert call("post", "/api/v1/providers", {**body, "regions": ["nowhere-1"]}).status_code == 400
    assert call("post", "/api/v1/providers", {**body, "credentials": {**credentials, "x": SECRET}}).status_code == 400
    assert call("post", "/api/v1/providers", {**body, "credentials": {"secret_access_key": SECRET}}).status_code == 400
    assert (
        call(
            "post", "/api/v1/providers", {**body, "credentials": {**credentials, "access_key_id": SECRET * 9}}
        ).status_code
        == 400
    )
    assert call("post", "/api/v1/providers", {**body, "name": "prod"}).status_code == 400  # name taken
    assert call("patch", base, {"credentials": {"secret_access_key": NEW_SECRET}}).status_code == 400

    assert call("get", "/api/v1/providers").status_code == 200
    assert call("get", base).status_code == 200
    assert call("post", f"{base}/test").json()["ok"] is True  # moto: works
    assert call("patch", base, {"credentials": {**credentials, "secret_access_key": NEW_SECRET}}).status_code == 200

    with denying_sts_endpoint() as (url, _seen):
        assert call("patch", base, {"endpoint_url": url}).status_code == 200
        failed = call("post", f"{base}/test")
        assert failed.json()["error"]["code"] == "connection_failed"
        # A scan against the failing endpoint: its errors reach the job, which the API shows.
        monkeypatch.setattr(
            "drifts.tasks.scan_unit.delay",
            lambda unit_id: __import__("drifts.services.jobs", fromlist=["scan_unit"]).scan_unit(unit_id),
        )
        with django_capture_on_commit_callbacks(execute=True):
            job_id = call("post", "/api/v1/drifts/detect", {"provider_id": pid}).json()["job_id"]
        job = call("get", f"/api/v1/jobs/{job_id}").json()
        assert job["status"] == "failed" and job["errors"], job
        assert call("get", "/api/v1/jobs").status_code == 200

    # An endpoint that slipped into the database past validation is refused at call time.
    Provider.objects.filter(pk=pid).update(endpoint_url="http://169.254.169.254/")
    assert call("post", f"{base}/test").json()["error"]["code"] == "connection_failed"
    # Credentials that cannot be decrypted (a rotated key) fail cleanly too.
    Provider.objects.filter(pk=pid).update(endpoint_url=moto)
    settings.DRIFTWATCH_ENCRYPTION_KEY = Fernet.generate_key().decode()
    assert call("post", f"{base}/test").json()["error"]["code"] == "connection_failed"

    assert call("patch", base, {"credentials": None}).status_code == 200
    assert call("delete", base).status_code == 204
    assert call("get", "/api/v1/providers").status_code == 200

    assert len(responses) >= 20
    for label, response in responses:
        _assert_clean(response.content.decode(), label)
        _assert_clean(str(dict(response.items())), f"headers of {label}")
    for entry in AuditEntry.objects.all():
        _assert_clean(f"{entry.object_repr} {entry.changes}", f"audit {entry.action}")
    assert AuditEntry.objects.filter(object_id=str(pid)).count() >= 6
    _assert_clean(str(DetectionJob.objects.values_list("errors", flat=True)[::1]), "job errors")
    assert caplog.records, "the failing test and scan should have logged something"
    for record in caplog.records:
        _assert_clean(record.getMessage(), f"log {record.name}")
        _assert_clean(str(record.__dict__), f"log record {record.name}")
    _assert_clean(caplog.text, "captured log text")
