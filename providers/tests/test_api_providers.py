"""The /api/v1/providers contract: write-only credentials, validation, soft delete, audit and the connection test."""

import contextlib
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from drifts.models import DetectionJob, Drift
from driftwatch.models import AuditEntry
from driftwatch.tests.factories import T0, make_drift, make_provider, make_resource
from providers.api.serializers import ProviderWriteSerializer
from providers.models import Provider, Resource

pytestmark = pytest.mark.django_db

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRET"
CREDENTIALS = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": SECRET}
FIELDS = {
    "id",
    "name",
    "kind",
    "regions",
    "endpoint_url",
    "role_arn",
    "external_id",
    "has_credentials",
    "scan_interval_minutes",
    "max_concurrency",
    "cloudtrail_bucket",
    "cloudtrail_prefix",
    "enabled",
    "report_unmanaged",
    "created_at",
    "updated_at",
    "last_scanned_at",
    "resource_count",
    "open_drift_count",
}


def _body(**overrides) -> dict:
    body = {
        "name": "prod",
        "kind": "aws",
        "regions": ["us-east-1", "eu-west-1"],
        "endpoint_url": None,
        "role_arn": None,
        "external_id": None,
        "credentials": dict(CREDENTIALS),
        "scan_interval_minutes": 60,
        "enabled": True,
    }
    body.update(overrides)
    return body


_STS_DENIED = (
    b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
    b"<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>"
    b"</Error><RequestId>4d2d1b7e-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
)


@contextlib.contextmanager
def denying_sts_endpoint() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback HTTP server answering every call like STS refusing the credentials (403); yields (url, requests)."""
    seen: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API
            length = int(self.headers.get("Content-Length") or 0)
            seen.append(bytes(self.headers) + self.rfile.read(length))
            self.send_response(403)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(_STS_DENIED)))
            self.end_headers()
            self.wfile.write(_STS_DENIED)

        do_GET = do_POST  # noqa: N815 - S3 and friends read with GET
        do_PUT = do_POST  # noqa: N815

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


# --- create -------------------------------------------------------------------------------------------


def test_create_stores_credentials_encrypted_and_never_returns_them(api, user):
    response = api.post("/api/v1/providers", _body(), format="json")
    assert response.status_code == 201
    body = response.json()
    provider = Provider.objects.get(pk=body["id"])
    assert set(body) == FIELDS
    assert body == {
        "id": provider.pk,
        "name": "prod",
        "kind": "aws",
        "regions": ["us-east-1", "eu-west-1"],
        "endpoint_url": None,
        "role_arn": None,
        "external_id": None,
        "has_credentials": True,
        "scan_interval_minutes": 60,
        "max_concurrency": 8,
        "cloudtrail_bucket": None,
        "cloudtrail_prefix": None,
        "enabled": True,
        "report_unmanaged": False,
        "created_at": provider.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": provider.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "last_scanned_at": None,
        "resource_count": 0,
        "open_drift_count": 0,
    }
    assert SECRET not in response.content.decode()
    assert SECRET not in provider.credentials_encrypted  # encrypted at rest
    assert provider.get_credentials() == CREDENTIALS
    entry = AuditEntry.objects.get(object_type="providers.provider", object_id=str(provider.pk))
    assert entry.action == "create" and entry.actor == user
    assert entry.changes["credentials"] == "set" and entry.changes["regions"] == ["us-east-1", "eu-west-1"]
    assert SECRET not in str(entry.changes) and CREDENTIALS["access_key_id"] not in str(entry.changes)


def test_create_with_only_the_required_fields_uses_defaults(api):
    response = api.post("/api/v1/providers", {"name": "dev", "kind": "aws", "regions": ["us-west-2"]}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["has_credentials"] is False
    assert (body["endpoint_url"], body["scan_interval_minutes"], body["enabled"], body["max_concurrency"]) == (
        None,
        60,
        True,
        8,
    )
    assert Provider.objects.get(pk=body["id"]).get_credentials() is None


def test_create_accepts_role_endpoint_session_token_and_other_partitions(api, moto_server):
    body = _body(
        regions=["cn-north-1", "us-gov-west-1", "us-east-1", "us-east-1"],
        endpoint_url="http://localhost:4566",
        role_arn="arn:aws:iam::123456789012:role/DriftWatchReadOnly",
        external_id="dw-external-1",
        credentials={**CREDENTIALS, "session_token": "FwoGZXIvYXdzEXAMPLE"},
        scan_interval_minutes=15,
        max_concurrency=4,
        enabled=False,
    )
    response = api.post("/api/v1/providers", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["regions"] == ["cn-north-1", "us-gov-west-1", "us-east-1"]  # de-duplicated, order kept
    assert data["endpoint_url"] == "http://localhost:4566/"  # stored normalized
    assert data["role_arn"] == "arn:aws:iam::123456789012:role/DriftWatchReadOnly"
    assert data["external_id"] == "dw-external-1"
    assert (data["scan_interval_minutes"], data["max_concurrency"], data["enabled"]) == (15, 4, False)
    assert Provider.objects.get(pk=data["id"]).get_credentials()["session_token"] == "FwoGZXIvYXdzEXAMPLE"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "gcp"}, "kind"),
        ({"regions": []}, "regions"),
        ({"regions": ["mars-north-1"]}, "regions"),
        ({"regions": "us-east-1"}, "regions"),
        ({"regions": ["us-east-1", 5]}, "regions"),
        ({"endpoint_url": "ftp://localhost/"}, "endpoint_url"),
        ({"endpoint_url": "http://169.254.169.254/latest"}, "endpoint_url"),
        ({"endpoint_url": "http://[fd00:ec2::254]/"}, "endpoint_url"),
        ({"endpoint_url": "https://evil.example.com"}, "endpoint_url"),
        ({"endpoint_url": "http://"}, "endpoint_url"),
        ({"scan_interval_minutes": 0}, "scan_interval_minutes"),
        ({"scan_interval_minutes": "often"}, "scan_interval_minutes"),
        ({"max_concurrency": 65}, "max_concurrency"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"enabled": "maybe"}, "enabled"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"role_arn": "not-an-arn"}, "role_arn"),
        ({"external_id": "abc"}, "external_id"),  # without role_arn
        ({"credentials": {"access_key_id": "AKIA"}}, "credentials"),
        ({"credentials": {**CREDENTIALS, "region": "x"}}, "credentials"),
        ({"credentials": "AKIA:secret"}, "credentials"),
        ({"has_credentials": True}, "has_credentials"),
        ({"id": 5}, "id"),
        ({"last_scanned_at": "2024-01-01T00:00:00Z"}, "last_scanned_at"),
    ],
)
def test_create_rejects_invalid_input_with_400_naming_the_field(api, overrides, field):
    response = api.post("/api/v1/providers", _body(**overrides), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"], error
    assert SECRET not in response.content.decode()
    assert Provider.objects.count() == 0 and AuditEntry.objects.count() == 0


@pytest.mark.parametrize("missing", ["name", "kind", "regions"])
def test_create_requires_name_kind_and_regions(api, missing):
    body = _body()
    del body[missing]
    response = api.post("/api/v1/providers", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"][missing] == ["This field is required."]


def test_endpoint_error_says_why(api):
    response = api.post("/api/v1/providers", _body(endpoint_url="http://169.254.169.254/"), format="json")
    assert response.json()["error"]["details"]["endpoint_url"] == [
        "endpoint_url points at a link-local or cloud metadata address, which is never allowed."
    ]
    response = api.post("/api/v1/providers", _body(regions=["us-east-1", "moon-1"]), format="json")
    assert "'moon-1'" in response.json()["error"]["details"]["regions"][0]


def test_body_must_be_an_object(api):
    assert api.post("/api/v1/providers", [_body()], format="json").status_code == 400
    response = api.generic("POST", "/api/v1/providers", "{nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"


def test_name_is_unique_among_live_providers_only(api):
    assert api.post("/api/v1/providers", _body(), format="json").status_code == 201
    response = api.post("/api/v1/providers", _body(), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["name"] == ["A provider named 'prod' already exists."]
    first = Provider.objects.get(name="prod")
    assert api.delete(f"/api/v1/providers/{first.pk}").status_code == 204
    assert api.post("/api/v1/providers", _body(), format="json").status_code == 201
    assert Provider.objects.filter(name="prod").count() == 2


def test_a_name_race_lost_at_the_database_is_a_400_not_a_500(api, monkeypatch):
    make_provider(name="prod")
    # As if the other request committed between our validation and our insert.
    monkeypatch.setattr(ProviderWriteSerializer, "validate_name", lambda self, value: value)
    response = api.post("/api/v1/providers", _body(), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["name"] == ["A provider named 'prod' already exists."]
    assert Provider.objects.filter(name="prod").count() == 1


# --- list and retrieve --------------------------------------------------------------------------------


def test_list_has_counts_of_live_resources_and_open_drifts(api):
    a, b = make_provider(name="alpha"), make_provider(name="beta")
    r1, r2 = make_resource(a), make_resource(a)
    make_resource(a, deleted_at=T0)
    make_drift(r1)
    make_drift(r1, path="Tags.env", status="investigating")
    make_drift(r2, status="resolved", resolution="manual", resolved_at=T0)
    response = api.get("/api/v1/providers")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {"total": 2, "page": 1, "per_page": 20}
    assert [(p["name"], p["resource_count"], p["open_drift_count"]) for p in body["data"]] == [
        ("alpha", 2, 2),
        ("beta", 0, 0),
    ]
    assert api.get(f"/api/v1/providers/{b.pk}").json()["resource_count"] == 0
    assert api.get(f"/api/v1/providers/{a.pk}").json()["open_drift_count"] == 2


def test_list_filters_on_enabled_and_rejects_bad_values(api):
    on, off = make_provider(name="on"), make_provider(name="off", enabled=False)
    assert [p["id"] for p in api.get("/api/v1/providers?enabled=true").json()["data"]] == [on.pk]
    assert [p["id"] for p in api.get("/api/v1/providers?enabled=false").json()["data"]] == [off.pk]
    response = api.get("/api/v1/providers?enabled=perhaps")
    assert response.status_code == 400 and "enabled" in response.json()["error"]["details"]


def test_list_query_count_does_not_grow_with_per_page(api):
    for i in range(30):
        provider = make_provider(name=f"p{i:02d}")
        make_drift(make_resource(provider))
    api.get("/api/v1/providers")  # the token's first use writes last_used_at once
    counts = []
    for per_page in (5, 30):
        with CaptureQueriesContext(connection) as ctx:
            data = api.get(f"/api/v1/providers?per_page={per_page}").json()["data"]
        assert len(data) == per_page and all(p["resource_count"] == 1 and p["open_drift_count"] == 1 for p in data)
        counts.append(len(ctx.captured_queries))
    assert counts == [3, 3]  # token lookup, count, page


def test_retrieve_unknown_or_malformed_id_is_404(api):
    for path in ("/api/v1/providers/424242", "/api/v1/providers/abc", "/api/v1/providers/9999999999999999999999"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


def test_paths_have_no_trailing_slash(api, provider):
    assert api.get("/api/v1/providers/").status_code == 404
    assert api.get(f"/api/v1/providers/{provider.pk}/").status_code == 404


# --- update -------------------------------------------------------------------------------------------


def test_patch_changes_settings_and_audits_without_secrets(api, user):
    provider_id = api.post("/api/v1/providers", _body(), format="json").json()["id"]
    response = api.patch(
        f"/api/v1/providers/{provider_id}",
        {
            "regions": ["eu-central-1"],
            "scan_interval_minutes": 5,
            "max_concurrency": 2,
            "name": "production",
            "credentials": {"access_key_id": "AKIANEW", "secret_access_key": "new-" + SECRET},
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["regions"], body["scan_interval_minutes"], body["max_concurrency"]) == (
        "production",
        ["eu-central-1"],
        5,
        2,
    )
    assert body["has_credentials"] is True and SECRET not in response.content.decode()
    provider = Provider.objects.get(pk=provider_id)
    assert provider.get_credentials() == {"access_key_id": "AKIANEW", "secret_access_key": "new-" + SECRET}
    entry = AuditEntry.objects.filter(object_id=str(provider_id), action="update").get()
    assert entry.actor == user
    assert entry.changes == {
        "credentials": "replaced",
        "name": ["prod", "production"],
        "regions": [["us-east-1", "eu-west-1"], ["eu-central-1"]],
        "scan_interval_minutes": [60, 5],
        "max_concurrency": [8, 2],
    }


def test_patch_credentials_null_clears_them(api):
    provider_id = api.post("/api/v1/providers", _body(), format="json").json()["id"]
    response = api.patch(f"/api/v1/providers/{provider_id}", {"credentials": None}, format="json")
    assert response.status_code == 200 and response.json()["has_credentials"] is False
    provider = Provider.objects.get(pk=provider_id)
    assert provider.credentials_encrypted == "" and provider.get_credentials() is None
    assert AuditEntry.objects.get(object_id=str(provider_id), action="update").changes == {"credentials": "cleared"}


def test_patch_leaves_scan_state_alone(api, provider):
    job = DetectionJob.objects.create(trigger="api", provider=provider)
    Provider.objects.filter(pk=provider.pk).update(running_job_id=job.pk, last_scanned_at=T0)
    response = api.patch(f"/api/v1/providers/{provider.pk}", {"enabled": False}, format="json")
    assert response.status_code == 200
    assert response.json()["last_scanned_at"] == "2024-01-15T14:30:00Z"
    provider.refresh_from_db()
    assert provider.running_job_id == job.pk and provider.enabled is False


@pytest.mark.parametrize(
    "body",
    [
        {"credentials": {"access_key_id": "AKIAONLY"}},
        {"credentials": {"secret_access_key": "only"}},
        {"regions": []},
        {"name": None},
        {"kind": "azure"},
        {"endpoint_url": "http://169.254.169.254"},
        {"external_id": "abc-123"},
        {"password": "x"},
        ["enabled"],
    ],
)
def test_patch_rejects_bad_bodies_and_changes_nothing(api, body):
    provider_id = api.post("/api/v1/providers", _body(), format="json").json()["id"]
    before = Provider.objects.get(pk=provider_id)
    response = api.patch(f"/api/v1/providers/{provider_id}", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    after = Provider.objects.get(pk=provider_id)
    assert after.credentials_encrypted == before.credentials_encrypted
    assert (after.name, after.regions, after.endpoint_url, after.external_id) == (
        "prod",
        ["us-east-1", "eu-west-1"],
        None,
        None,
    )
    assert not AuditEntry.objects.filter(action="update").exists()


def test_patch_to_a_taken_name_is_400_but_keeping_ones_own_name_is_fine(api):
    make_provider(name="taken")
    provider = make_provider(name="mine")
    assert api.patch(f"/api/v1/providers/{provider.pk}", {"name": "taken"}, format="json").status_code == 400
    assert api.patch(f"/api/v1/providers/{provider.pk}", {"name": "mine"}, format="json").status_code == 200
    assert not AuditEntry.objects.filter(action="update").exists()  # nothing changed, nothing recorded


def test_patch_external_id_with_an_existing_role_is_fine(api):
    provider = make_provider(role_arn="arn:aws:iam::123456789012:role/Reader")
    response = api.patch(f"/api/v1/providers/{provider.pk}", {"external_id": "ext-42"}, format="json")
    assert response.status_code == 200 and response.json()["external_id"] == "ext-42"


def test_put_is_405(api, provider):
    response = api.put(f"/api/v1/providers/{provider.pk}", _body(), format="json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


# --- delete -------------------------------------------------------------------------------------------


def test_delete_is_soft_hides_the_provider_and_keeps_its_drifts(api, user, provider):
    resource = make_resource(provider)
    drift = make_drift(resource)
    response = api.delete(f"/api/v1/providers/{provider.pk}")
    assert response.status_code == 204 and response.content == b""
    provider.refresh_from_db()
    assert provider.deleted_at is not None and provider.enabled is False
    assert Drift.objects.filter(pk=drift.pk, status="detected").exists()
    assert Resource.objects.get(pk=resource.pk).deleted_at == provider.deleted_at
    assert api.get("/api/v1/providers").json()["meta"]["total"] == 0
    assert api.get(f"/api/v1/providers/{provider.pk}").status_code == 404
    assert api.get(f"/api/v1/drifts/{drift.pk}").status_code == 200
    assert api.delete(f"/api/v1/providers/{provider.pk}").status_code == 404
    entry = AuditEntry.objects.get(object_id=str(provider.pk), action="delete")
    assert entry.actor == user and entry.object_repr == provider.name


def test_delete_while_a_scan_runs_is_409(api, provider):
    job = DetectionJob.objects.create(trigger="api", provider=provider)
    Provider.objects.filter(pk=provider.pk).update(running_job_id=job.pk)
    response = api.delete(f"/api/v1/providers/{provider.pk}")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "scan_running" and error["details"] == {"job_id": job.pk}
    provider.refresh_from_db()
    assert provider.deleted_at is None and provider.enabled is True


# --- permissions --------------------------------------------------------------------------------------


def test_read_token_can_read_but_not_change_providers(read_api, provider):
    assert read_api.get("/api/v1/providers").status_code == 200
    assert read_api.get(f"/api/v1/providers/{provider.pk}").status_code == 200
    attempts = [
        read_api.post("/api/v1/providers", _body(), format="json"),
        read_api.patch(f"/api/v1/providers/{provider.pk}", {"enabled": False}, format="json"),
        read_api.delete(f"/api/v1/providers/{provider.pk}"),
        read_api.post(f"/api/v1/providers/{provider.pk}/test", format="json"),
    ]
    for response in attempts:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    provider.refresh_from_db()
    assert provider.enabled and provider.deleted_at is None and Provider.objects.count() == 1


def test_anonymous_is_401(anon_api, provider):
    assert anon_api.get("/api/v1/providers").status_code == 401
    assert anon_api.post("/api/v1/providers", _body(), format="json").status_code == 401


# --- connection test ----------------------------------------------------------------------------------


def test_connection_test_answers_account_and_arn_from_sts(api, moto):
    provider_id = api.post("/api/v1/providers", _body(endpoint_url=moto), format="json").json()["id"]
    response = api.post(f"/api/v1/providers/{provider_id}/test", format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["account"] == "123456789012"
    assert body["arn"].startswith("arn:aws:") and body["arn"].split(":")[4] == "123456789012"
    assert SECRET not in response.content.decode()
    assert AuditEntry.objects.get(object_id=str(provider_id), action="test").changes == {
        "ok": True,
        "account": "123456789012",
    }


def test_connection_test_failure_is_a_clear_error_without_the_secret(api):
    with denying_sts_endpoint() as (url, seen):
        provider_id = api.post("/api/v1/providers", _body(endpoint_url=url), format="json").json()["id"]
        response = api.post(f"/api/v1/providers/{provider_id}/test", format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "connection_failed"
    assert error["message"] == (
        "Connection check failed: AWS error InvalidClientTokenId (HTTP 403) in GetCallerIdentity: "
        "the access key id is not valid"
    )
    assert error["details"] == {"provider_id": provider_id}
    assert seen and b"GetCallerIdentity" in seen[0]  # it really called the endpoint
    assert SECRET not in response.content.decode()
    assert all(SECRET.encode() not in request for request in seen)  # signed with, never sent


def test_connection_test_of_unknown_provider_is_404_and_it_takes_no_input(api, provider):
    assert api.post("/api/v1/providers/424242/test", format="json").status_code == 404
    response = api.post(f"/api/v1/providers/{provider.pk}/test", {"endpoint_url": "http://x"}, format="json")
    assert response.status_code == 400 and "endpoint_url" in response.json()["error"]["details"]
    assert not AuditEntry.objects.exists()


def test_timestamps_are_utc_with_z(api, provider):
    Provider.objects.filter(pk=provider.pk).update(last_scanned_at=T0 + timedelta(microseconds=5))
    body = api.get(f"/api/v1/providers/{provider.pk}").json()
    assert body["last_scanned_at"] == "2024-01-15T14:30:00Z"
    assert body["created_at"].endswith("Z") and len(body["created_at"]) == 20


def test_the_trail_bucket_and_prefix_are_settings_with_their_own_validation(api):
    body = _body(name="org", cloudtrail_bucket="org-trail-logs", cloudtrail_prefix="/cloudtrail/")
    response = api.post("/api/v1/providers", body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["cloudtrail_bucket"], created["cloudtrail_prefix"]) == ("org-trail-logs", "cloudtrail")
    provider_id = created["id"]
    bad = api.patch(f"/api/v1/providers/{provider_id}", {"cloudtrail_bucket": "Not_A_Bucket"}, format="json")
    assert bad.status_code == 400 and "cloudtrail_bucket" in bad.json()["error"]["details"]
    bad = api.patch(f"/api/v1/providers/{provider_id}", {"cloudtrail_prefix": "a//b"}, format="json")
    assert bad.status_code == 400 and "cloudtrail_prefix" in bad.json()["error"]["details"]
    cleared = api.patch(f"/api/v1/providers/{provider_id}", {"cloudtrail_bucket": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["cloudtrail_bucket"] is None
    assert Provider.objects.get(pk=provider_id).cloudtrail_bucket == ""
    change = AuditEntry.objects.filter(object_id=str(provider_id), action="update").order_by("id").last()
    assert change.changes == {"cloudtrail_bucket": ["org-trail-logs", ""]}
