"""The /api/v1/ignore-rules contract: CRUD with a write token, strict input, and an audit row per change."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from drifts.models import IgnoreRule
from driftwatch.models import AuditEntry

pytestmark = pytest.mark.django_db

FUTURE = "2099-01-01T00:00:00Z"


def _create(api, **overrides) -> dict:
    body = {
        "resource_type": "s3_bucket",
        "path_glob": "Tags.*",
        "name_glob": "scratch-*",
        "expires_at": FUTURE,
        "reason": "Tags are managed by the cost team.",
    }
    body.update(overrides)
    response = api.post("/api/v1/ignore-rules", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_returns_the_rule_and_records_who(api, user):
    body = _create(api)
    rule = IgnoreRule.objects.get(pk=body["id"])
    assert body == {
        "id": rule.pk,
        "resource_type": "s3_bucket",
        "path_glob": "Tags.*",
        "name_glob": "scratch-*",
        "expires_at": "2099-01-01T00:00:00Z",
        "active": True,
        "reason": "Tags are managed by the cost team.",
        "created_by": "alice",
        "created_at": rule.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": rule.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert rule.created_by == user and rule.expires_at == datetime(2099, 1, 1, tzinfo=UTC)
    assert rule.matches("s3_bucket", "scratch-1", "Tags.owner") and not rule.matches("s3_bucket", "prod", "Tags.x")
    entry = AuditEntry.objects.get(object_type="drifts.ignorerule", object_id=str(rule.pk))
    assert entry.action == "create" and entry.actor == user
    assert entry.changes == {
        "resource_type": "s3_bucket",
        "path_glob": "Tags.*",
        "name_glob": "scratch-*",
        "expires_at": "2099-01-01T00:00:00Z",
        "reason": "Tags are managed by the cost team.",
    }


def test_minimal_rule_matches_every_type_and_name(api):
    body = _create(api, resource_type=None, name_glob=None, expires_at=None)
    assert (body["resource_type"], body["name_glob"], body["expires_at"], body["active"]) == (None, None, None, True)
    rule = IgnoreRule.objects.get(pk=body["id"])
    assert (rule.resource_type, rule.name_glob) == ("", "")
    assert rule.matches("iam_role", "anything", "Tags.team")
    response = api.post("/api/v1/ignore-rules", {"path_glob": "Versioning", "reason": "r"}, format="json")
    assert response.status_code == 201 and response.json()["resource_type"] is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"resource_type": "s3_buckets"}, "resource_type"),
        ({"path_glob": ""}, "path_glob"),
        ({"path_glob": None}, "path_glob"),
        ({"path_glob": "x" * 513}, "path_glob"),
        ({"reason": ""}, "reason"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"created_by": "bob"}, "created_by"),
        ({"severity": "low"}, "severity"),
    ],
)
def test_create_rejects_invalid_input_with_400_naming_the_field(api, overrides, field):
    body = {"path_glob": "Tags.*", "reason": "because", **overrides}
    response = api.post("/api/v1/ignore-rules", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert not IgnoreRule.objects.exists() and not AuditEntry.objects.exists()


def test_unknown_resource_type_error_lists_known_types(api):
    response = api.post(
        "/api/v1/ignore-rules", {"path_glob": "a", "reason": "b", "resource_type": "vpc"}, format="json"
    )
    message = response.json()["error"]["details"]["resource_type"][0]
    assert "'vpc'" in message and "s3_bucket" in message and "iam_role" in message


def test_patch_updates_and_audits_the_difference(api, user):
    rule_id = _create(api)["id"]
    response = api.patch(
        f"/api/v1/ignore-rules/{rule_id}", {"path_glob": "Tags.cost-*", "name_glob": ""}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["path_glob"] == "Tags.cost-*" and body["name_glob"] is None and body["resource_type"] == "s3_bucket"
    entry = AuditEntry.objects.get(object_id=str(rule_id), action="update")
    assert entry.actor == user
    assert entry.changes == {"path_glob": ["Tags.*", "Tags.cost-*"], "name_glob": ["scratch-*", ""]}


@pytest.mark.parametrize("body", [{"reason": ""}, {"expires_at": "2000-01-01T00:00:00Z"}, {"id": 9}, ["reason"]])
def test_patch_rejects_bad_bodies_and_changes_nothing(api, body):
    rule_id = _create(api)["id"]
    response = api.patch(f"/api/v1/ignore-rules/{rule_id}", body, format="json")
    assert response.status_code == 400
    rule = IgnoreRule.objects.get(pk=rule_id)
    assert rule.reason == "Tags are managed by the cost team." and rule.expires_at.year == 2099
    assert not AuditEntry.objects.filter(action="update").exists()


def test_delete_removes_the_rule_and_audits_it(api, user):
    rule_id = _create(api)["id"]
    response = api.delete(f"/api/v1/ignore-rules/{rule_id}")
    assert response.status_code == 204
    assert not IgnoreRule.objects.filter(pk=rule_id).exists()
    entry = AuditEntry.objects.get(object_id=str(rule_id), action="delete")
    assert entry.actor == user and entry.changes["path_glob"] == "Tags.*"
    assert api.get(f"/api/v1/ignore-rules/{rule_id}").status_code == 404
    assert api.delete(f"/api/v1/ignore-rules/{rule_id}").status_code == 404


def test_read_token_can_list_but_not_change(api, read_api):
    rule_id = _create(api)["id"]
    assert read_api.get("/api/v1/ignore-rules").json()["meta"]["total"] == 1
    assert read_api.get(f"/api/v1/ignore-rules/{rule_id}").status_code == 200
    for response in (
        read_api.post("/api/v1/ignore-rules", {"path_glob": "a", "reason": "b"}, format="json"),
        read_api.patch(f"/api/v1/ignore-rules/{rule_id}", {"reason": "x"}, format="json"),
        read_api.delete(f"/api/v1/ignore-rules/{rule_id}"),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    assert IgnoreRule.objects.get(pk=rule_id).reason == "Tags are managed by the cost team."
    assert AuditEntry.objects.count() == 1  # the write token's create only


def test_list_filters_on_type_and_active(api):
    now = timezone.now()
    live = IgnoreRule.objects.create(resource_type="s3_bucket", path_glob="Tags.*", reason="a")
    expired = IgnoreRule.objects.create(
        resource_type="iam_role", path_glob="Tags.*", reason="b", expires_at=now - timedelta(days=1)
    )
    later = IgnoreRule.objects.create(path_glob="Versioning", reason="c", expires_at=now + timedelta(days=1))

    def ids(query=""):
        return [r["id"] for r in api.get(f"/api/v1/ignore-rules?{query}").json()["data"]]

    assert ids() == [live.pk, expired.pk, later.pk]
    assert ids("active=true") == [live.pk, later.pk]
    assert ids("active=false") == [expired.pk]
    assert ids("resource_type=iam_role") == [expired.pk]
    assert api.get(f"/api/v1/ignore-rules/{expired.pk}").json()["active"] is False
    assert api.get("/api/v1/ignore-rules?active=sometimes").status_code == 400


def test_list_query_count_does_not_grow_with_per_page(api, user):
    for i in range(30):
        IgnoreRule.objects.create(path_glob=f"Tags.k{i}", reason="r", created_by=user)
    api.get("/api/v1/ignore-rules")  # the token's first use writes last_used_at once
    counts = []
    for per_page in (5, 30):
        with CaptureQueriesContext(connection) as ctx:
            data = api.get(f"/api/v1/ignore-rules?per_page={per_page}").json()["data"]
        assert len(data) == per_page and {r["created_by"] for r in data} == {"alice"}
        counts.append(len(ctx.captured_queries))
    assert counts == [3, 3]  # token lookup, count, page


def test_put_is_405(api):
    rule_id = _create(api)["id"]
    assert (
        api.put(f"/api/v1/ignore-rules/{rule_id}", {"path_glob": "a", "reason": "b"}, format="json").status_code == 405
    )
