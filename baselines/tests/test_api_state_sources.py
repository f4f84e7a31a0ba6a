"""/api/v1/state-sources: create, list, detail, update, delete, upload and refresh; and what an applied
state does to baselines and drifts as the API shows them."""

import pytest

from baselines.models import Baseline, StateSource
from drifts.models import Drift, DriftEvent, JobUnit
from drifts.tests import tf_estate
from driftwatch.tests.factories import make_resource
from providers.models import Resource

pytestmark = pytest.mark.django_db

URL = "/api/v1/state-sources"
IDS = {
    "SG_WEB": "sg-0123456789abcdef0",
    "VPC": "vpc-0a1b2c3d",
    "KMS_KEY": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "KMS_POLICY": '{"Version":"2012-10-17","Statement":[]}',
    "RDS_ENGINE_VERSION": "16.3",
    "RDS_STORAGE_TYPE": "gp2",
}
LOGS_LIVE = {
    "Acl": {"Grants": []},
    "Encryption": {
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]
    },
    "Logging": None,
    "Policy": None,
    "PublicAccessBlock": {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    },
    "Tags": {"env": "prod", "team": "platform"},
    "Versioning": "Suspended",
}


def state(serial=1, **kw) -> bytes:
    return tf_estate.render(IDS, serial=serial, **kw)


def upload(api, source, body: bytes, content_type="application/json"):
    return api.post(f"{URL}/{source.pk}/upload", data=body, content_type=content_type)


@pytest.fixture
def upload_source(provider):
    return StateSource.objects.create(provider=provider, name="ci", kind="upload")


@pytest.fixture
def logs(provider):
    return make_resource(provider, config=LOGS_LIVE, external_id="arn:aws:s3:::tf-logs", name="tf-logs")


def test_create_an_s3_source_and_list_it(api, provider, django_assert_max_num_queries):
    response = api.post(
        URL,
        {
            "provider_id": provider.pk,
            "name": "prod",
            "kind": "s3",
            "bucket": "acme-tfstate",
            "key": "envs/*/terraform.tfstate",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "s3" and body["key"] == "envs/*/terraform.tfstate" and body["last_status"] == "never"
    for n in range(3):
        StateSource.objects.create(provider=provider, name=f"more-{n}", kind="upload")
    with django_assert_max_num_queries(4):
        listed = api.get(URL, {"provider_id": provider.pk})
    assert listed.status_code == 200 and listed.json()["meta"]["total"] == 4


def test_the_bearer_token_is_write_only_and_stored_encrypted(api, provider):
    response = api.post(
        URL,
        {
            "provider_id": provider.pk,
            "name": "hcp",
            "kind": "http",
            "url": "http://127.0.0.1:8999/api/v2/workspaces/ws-1/current-state-version",
            "token": "atlasv1.super-secret-token",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["has_token"] is True and "super-secret" not in response.content.decode()
    source = StateSource.objects.get(pk=response.json()["id"])
    assert "super-secret" not in source.token_encrypted and source.get_token() == "atlasv1.super-secret-token"
    cleared = api.patch(f"{URL}/{source.pk}", {"token": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["has_token"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a", "kind": "s3", "bucket": "acme-tfstate"}, "key"),
        ({"name": "a", "kind": "s3", "bucket": "Not_A_Bucket", "key": "k"}, "bucket"),
        ({"name": "a", "kind": "s3", "bucket": "acme", "key": "k", "url": "https://x.example/"}, "url"),
        ({"name": "a", "kind": "http"}, "url"),
        ({"name": "a", "kind": "http", "url": "ftp://example.com/state"}, "url"),
        ({"name": "a", "kind": "upload", "token": "t"}, "token"),
        ({"name": " ", "kind": "upload"}, "name"),
        ({"name": "a", "kind": "git"}, "kind"),
    ],
)
def test_create_refuses_bad_settings_field_by_field(api, provider, body, field):
    response = api.post(URL, {"provider_id": provider.pk, **body}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["details"]


def test_create_refuses_an_unknown_provider_and_a_duplicate_name(api, provider, upload_source):
    assert api.post(URL, {"provider_id": 999999, "name": "x", "kind": "upload"}, format="json").status_code == 400
    dup = api.post(URL, {"provider_id": provider.pk, "name": "ci", "kind": "upload"}, format="json")
    assert dup.status_code == 400 and "name" in dup.json()["error"]["details"]


def test_kind_and_provider_cannot_change(api, upload_source):
    response = api.patch(f"{URL}/{upload_source.pk}", {"kind": "s3"}, format="json")
    assert response.status_code == 400 and "kind" in response.json()["error"]["details"]


def test_a_read_token_cannot_create(read_api, provider):
    assert (
        read_api.post(URL, {"provider_id": provider.pk, "name": "x", "kind": "upload"}, format="json").status_code
        == 403
    )


def test_upload_applies_the_state_and_opens_what_differs(api, upload_source, logs):
    response = upload(api, upload_source, state())
    assert response.status_code == 200, response.json()
    result = response.json()["result"]
    assert (result["status"], result["serial"], result["declared"]) == ("applied", 1, 8)
    assert response.json()["source"]["files"][0]["serial"] == 1
    baseline = Baseline.objects.get(resource=logs, is_current=True)
    assert (baseline.source, baseline.address, baseline.serial) == ("terraform", "module.storage.aws_s3_bucket.logs", 1)
    # Live says Suspended, the code says Enabled.
    drift = Drift.objects.get(resource=logs, status="detected")
    assert (drift.path, drift.baseline_value, drift.current_value) == ("Versioning", "Enabled", "Suspended")
    assert drift.tf_address == "module.storage.aws_s3_bucket_versioning.logs"
    assert result["drifts_new"] == 1
    # Declared resources never seen live wait for a scan: rows that are gone, no finding yet.
    ghost = Resource.objects.get(external_id="arn:aws:s3:::tf-ghost")
    assert ghost.deleted_at is not None and not ghost.drifts.exists()


def test_the_same_serial_again_changes_nothing(api, upload_source, logs):
    upload(api, upload_source, state())
    again = upload(api, upload_source, state())
    assert again.status_code == 200 and again.json()["result"]["status"] == "unchanged"
    assert Baseline.objects.filter(resource=logs, source="terraform").count() == 1


def test_a_new_serial_resolves_the_drift_it_absorbed(api, upload_source, logs):
    upload(api, upload_source, state())
    drift = Drift.objects.get(resource=logs, path="Versioning")
    response = upload(api, upload_source, state(serial=2, logs_versioning="Suspended"))
    assert response.json()["result"]["drifts_resolved"] == 1
    drift.refresh_from_db()
    assert (drift.status, drift.resolution) == ("resolved", "baseline_captured")
    note = DriftEvent.objects.get(drift=drift, to_status="resolved").note
    assert "state serial 2" in note


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"version": 4, "serial": 3, "lineage": "l", "resources": [', "ends early"),
        (b'{"version": 3, "serial": 3, "lineage": "l"}', "version 3 is not supported"),
        (b"{nope", "not valid JSON"),
    ],
)
def test_an_invalid_upload_is_400_and_no_baseline_changes(api, upload_source, logs, body, message):
    upload(api, upload_source, state())
    before = list(Baseline.objects.filter(is_current=True).values_list("id", flat=True).order_by("id"))
    response = upload(api, upload_source, body)
    assert response.status_code == 400 and message in response.json()["error"]["message"]
    assert list(Baseline.objects.filter(is_current=True).values_list("id", flat=True).order_by("id")) == before
    upload_source.refresh_from_db()
    assert upload_source.last_status == "error" and message in upload_source.last_error


def test_an_upload_over_the_limit_is_413(api, upload_source, settings):
    settings.DRIFTWATCH_TF_STATE_MAX_BYTES = 4096
    response = upload(api, upload_source, state())
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_an_empty_upload_is_400(api, upload_source):
    assert upload(api, upload_source, b"").status_code == 400


def test_an_older_serial_of_the_same_lineage_is_409(api, upload_source, logs):
    upload(api, upload_source, state(serial=5))
    response = upload(api, upload_source, state(serial=4))
    assert response.status_code == 409 and response.json()["error"]["code"] == "stale_serial"


def test_only_upload_sources_accept_a_state(api, provider):
    s3 = StateSource.objects.create(provider=provider, name="s3", kind="s3", bucket="b-1", key="k")
    response = upload(api, s3, state())
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_upload_source"


def test_resolve_with_capture_on_a_terraform_managed_drift_is_409(api, upload_source, logs):
    upload(api, upload_source, state())
    drift = Drift.objects.get(resource=logs, path="Versioning")
    response = api.post(f"/api/v1/drifts/{drift.pk}/resolve", {"capture_baseline": True}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "managed_by_terraform"
    assert "Change the code" in response.json()["error"]["message"]
    drift.refresh_from_db()
    assert drift.status == "detected"
    assert Baseline.objects.get(resource=logs, is_current=True).source == "terraform"
    capture = api.post(f"/api/v1/resources/{logs.pk}/baseline", {}, format="json")
    assert capture.status_code == 409
    # Resolving without capturing is still allowed.
    assert api.post(f"/api/v1/drifts/{drift.pk}/resolve", {}, format="json").status_code == 200


def test_drift_detail_and_filters_show_the_terraform_trace(api, upload_source, logs, provider):
    other = make_resource(provider, config={"Versioning": "Enabled"}, baseline={"Versioning": "Suspended"})
    Drift.objects.create(
        resource=other,
        provider=provider,
        resource_type="s3_bucket",
        path="Versioning",
        drift_type="configuration",
        severity="low",
        summary="not terraform",
    )
    upload(api, upload_source, state())
    drift = Drift.objects.get(resource=logs)
    detail = api.get(f"/api/v1/drifts/{drift.pk}").json()
    assert detail["managed_by"] == "terraform"
    assert detail["terraform"] == {
        "finding": "attribute",
        "state_source_id": upload_source.pk,
        "state_source_name": "ci",
        "address": "module.storage.aws_s3_bucket_versioning.logs",
        "serial": 1,
    }
    managed = api.get("/api/v1/drifts", {"managed_by": "terraform"}).json()
    assert [d["id"] for d in managed["data"]] == [drift.pk] and managed["meta"]["total"] == 1
    by_source = api.get("/api/v1/drifts", {"state_source": upload_source.pk}).json()
    assert [d["id"] for d in by_source["data"]] == [drift.pk]
    assert api.get("/api/v1/drifts", {"managed_by": "pulumi"}).status_code == 400


def test_refresh_starts_a_job_that_only_reads_state(api, provider):
    source = StateSource.objects.create(provider=provider, name="s3", kind="s3", bucket="b-1", key="k")
    response = api.post(f"{URL}/{source.pk}/refresh", {}, format="json")
    assert response.status_code == 202, response.json()
    units = list(JobUnit.objects.filter(job_id=response.json()["job_id"]).values_list("resource_type", flat=True))
    assert units == ["terraform_state"]


def test_refresh_of_an_upload_source_is_409(api, upload_source):
    assert api.post(f"{URL}/{upload_source.pk}/refresh", {}, format="json").status_code == 409


def test_deleting_a_source_returns_its_resources_to_snapshots_and_closes_its_drifts(api, upload_source, logs):
    upload(api, upload_source, state())
    drift = Drift.objects.get(resource=logs)
    assert api.delete(f"{URL}/{upload_source.pk}").status_code == 204
    drift.refresh_from_db()
    assert drift.status == "resolved" and drift.state_source_id is None
    current = Baseline.objects.get(resource=logs, is_current=True)
    assert current.source == "discovered" and current.config == LOGS_LIVE
    assert not StateSource.objects.filter(pk=upload_source.pk).exists()


def test_a_scan_of_a_provider_with_an_upload_source_has_no_state_unit(api, upload_source):
    response = api.post("/api/v1/drifts/detect", {"provider_id": upload_source.provider_id}, format="json")
    assert response.status_code == 202
    assert not JobUnit.objects.filter(job_id=response.json()["job_id"], resource_type="terraform_state").exists()


def test_the_schema_documents_the_endpoints(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    text = schema.content.decode()
    assert schema.status_code == 200
    assert "/api/v1/state-sources/{id}/upload" in text and "managed_by" in text and "413" in text
