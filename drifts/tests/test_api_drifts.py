"""The /api/v1/drifts contract, as the user's document and the foundation issue specify it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from baselines.models import Baseline
from drifts.models import DetectionJob, Drift, DriftEvent, JobUnit
from driftwatch.tests.factories import T0, make_drift, make_provider, make_resource

pytestmark = pytest.mark.django_db

SEED_FIELDS = {
    "id",
    "resource_id",
    "resource_name",
    "resource_type",
    "drift_type",
    "severity",
    "status",
    "summary",
    "baseline_value",
    "current_value",
    "detected_at",
}
# Additive fields (CloudTrail attribution); the seed's fields above stay exactly as they are.
LIST_FIELDS = SEED_FIELDS | {"changed_by", "attribution_status", "attribution_reason"}


def test_list_returns_document_envelope_and_fields(api, drift):
    response = api.get("/api/v1/drifts")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {"total": 1, "page": 1, "per_page": 20}
    assert len(body["data"]) == 1
    item = body["data"][0]
    assert set(item) == LIST_FIELDS
    assert item == {
        "id": drift.pk,
        "resource_id": drift.resource_id,
        "resource_name": drift.resource.name,
        "resource_type": "s3_bucket",
        "drift_type": "security",
        "severity": "critical",
        "status": "detected",
        "summary": "S3 bucket BlockPublicAcls changed from true to false",
        "baseline_value": True,
        "current_value": False,
        "detected_at": "2024-01-15T14:30:00Z",
        "changed_by": None,
        "attribution_status": "not_attempted",
        "attribution_reason": None,
    }


def test_list_is_newest_first_and_stable_across_pages(api, resource):
    other = make_resource(resource.provider)
    ids = []
    for i in range(5):
        ids.append(make_drift(resource if i % 2 else other, path=f"Tags.k{i}", detected_at=T0 + timedelta(hours=i)).pk)
    # Two drifts detected at the same instant: id breaks the tie, descending.
    same = [make_drift(resource, path=f"Tags.same{i}", detected_at=T0 + timedelta(hours=10)).pk for i in range(2)]
    expected = sorted(same, reverse=True) + list(reversed(ids))
    seen = []
    for page in (1, 2, 3, 4):
        body = api.get(f"/api/v1/drifts?per_page=2&page={page}").json()
        assert body["meta"]["total"] == 7
        seen += [d["id"] for d in body["data"]]
    assert seen == expected


def test_page_past_the_end_is_empty_with_true_total(api, drift):
    body = api.get("/api/v1/drifts?page=50").json()
    assert body == {"data": [], "meta": {"total": 1, "page": 50, "per_page": 20}}


def test_per_page_is_capped_at_100(api, drift):
    assert api.get("/api/v1/drifts?per_page=1000").json()["meta"]["per_page"] == 100


@pytest.mark.parametrize(
    "query", ["page=0", "page=-1", "page=abc", "per_page=0", "per_page=1.5", "page=99999999999999999999999"]
)
def test_bad_page_parameters_are_400(api, drift, query):
    response = api.get(f"/api/v1/drifts?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert query.split("=")[0] in error["details"]


def test_unknown_filter_value_is_400_naming_parameter_and_allowed_values(api, drift):
    response = api.get("/api/v1/drifts?severity=urgent")
    assert response.status_code == 400
    error = response.json()["error"]
    assert "severity" in error["details"]
    message = " ".join(error["details"]["severity"])
    for allowed in ("critical", "high", "medium", "low"):
        assert allowed in message
    assert "urgent" in message


@pytest.mark.parametrize(
    "query",
    [
        "provider_id=abc",
        "resource_id=-3",
        "provider_id=99999999999999999999",
        "detected_after=yesterday",
        "type=nope",
        "status=open",
        "detected_after=9999-12-31T23:59:59-23:00",
        "detected_before=0001-01-01T00:00:00%2B23:00",
    ],
)
def test_malformed_filters_are_400(api, drift, query):
    assert api.get(f"/api/v1/drifts?{query}").status_code == 400


def test_filters_narrow_the_list(api):
    p1, p2 = make_provider(), make_provider()
    r1, r2 = make_resource(p1), make_resource(p2, resource_type="ec2_security_group")
    a = make_drift(r1, severity="critical", drift_type="security")
    b = make_drift(r1, path="Tags.env", severity="low", drift_type="configuration", status="investigating")
    c = make_drift(r2, path="IngressRules", severity="high", drift_type="security", detected_at=T0 + timedelta(days=2))

    def ids(query):
        return {d["id"] for d in api.get(f"/api/v1/drifts?{query}").json()["data"]}

    assert ids(f"provider_id={p1.pk}") == {a.pk, b.pk}
    assert ids(f"resource_id={r2.pk}") == {c.pk}
    assert ids("severity=critical") == {a.pk}
    assert ids("severity=critical,high") == {a.pk, c.pk}
    assert ids("type=configuration") == {b.pk}
    assert ids("status=investigating") == {b.pk}
    assert ids("status=detected,investigating") == {a.pk, b.pk, c.pk}
    assert ids("resource_type=ec2_security_group") == {c.pk}
    assert ids("detected_after=2024-01-16T00:00:00Z") == {c.pk}
    assert ids("detected_before=2024-01-16T00:00:00Z") == {a.pk, b.pk}
    assert ids(f"provider_id={p1.pk}&severity=low") == {b.pk}


def test_list_query_count_does_not_grow_with_per_page(api, resource):
    for i in range(30):
        make_drift(resource, path=f"Tags.k{i}")
    api.get("/api/v1/drifts")  # the token's first use writes last_used_at once
    counts = []
    for per_page in (5, 30):
        with CaptureQueriesContext(connection) as ctx:
            assert len(api.get(f"/api/v1/drifts?per_page={per_page}").json()["data"]) == per_page
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    assert counts[1] == 3  # token lookup, count, page


def test_detail_carries_path_diff_baseline_job_and_events(api, drift, user):
    response = api.get(f"/api/v1/drifts/{drift.pk}")
    assert response.status_code == 200
    body = response.json()
    assert LIST_FIELDS <= set(body)
    baseline = Baseline.objects.get(resource=drift.resource, is_current=True)
    assert body["provider_id"] == drift.provider_id
    assert body["path"] == "PublicAccessBlock.BlockPublicAcls"
    assert body["diff"] == [
        {"path": "PublicAccessBlock.BlockPublicAcls", "op": "changed", "baseline": True, "current": False}
    ]
    assert body["baseline"] == {"id": baseline.pk, "captured_at": "2024-01-14T14:30:00Z"}
    assert body["job_id"] is None
    assert body["resolved_at"] is None and body["resolution"] is None
    assert body["events"] == [
        {
            "from_status": None,
            "to_status": "detected",
            "actor": None,
            "note": "Detected by scan.",
            "at": "2024-01-15T14:30:00Z",
        }
    ]


def test_detail_of_unknown_drift_is_404_in_error_shape(api):
    for path in ("/api/v1/drifts/999999", "/api/v1/drifts/99999999999999999999999", "/api/v1/drifts/abc"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("start", "target", "expected_status"),
    [
        ("detected", "investigating", 200),
        ("detected", "resolved", 200),
        ("investigating", "resolved", 200),
        ("investigating", "investigating", 409),
        ("resolved", "investigating", 409),
        ("resolved", "resolved", 409),
    ],
)
def test_patch_follows_the_transition_table(api, resource, user, start, target, expected_status):
    extra = {"resolution": "manual", "resolved_at": T0} if start == "resolved" else {}
    drift = make_drift(resource, status=start, **extra)
    response = api.patch(f"/api/v1/drifts/{drift.pk}", {"status": target, "note": "looking"}, format="json")
    assert response.status_code == expected_status
    drift.refresh_from_db()
    events = list(drift.events.order_by("at", "id"))
    if expected_status == 200:
        body = response.json()
        assert body["status"] == target == drift.status
        assert events[-1].from_status == start and events[-1].to_status == target
        assert events[-1].actor == user and events[-1].note == "looking"
        assert body["events"][-1] == {
            "from_status": start,
            "to_status": target,
            "actor": "alice",
            "note": "looking",
            "at": body["events"][-1]["at"],
        }
        if target == "resolved":
            assert drift.resolution == "manual" and drift.resolved_by == user and drift.resolved_at is not None
    else:
        error = response.json()["error"]
        assert error["code"] == "invalid_transition"
        assert error["details"]["current_status"] == start
        assert (
            error["details"]["allowed_statuses"]
            == {"detected": ["investigating", "resolved"], "investigating": ["resolved"], "resolved": []}[start]
        )
        assert drift.status == start and len(events) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"status": "detected"},
        {"status": "open"},
        {},
        {"note": "x"},
        {"status": "resolved", "severity": "low"},
        ["resolved"],
        {"status": None},
    ],
)
def test_patch_rejects_bad_bodies_with_400_and_changes_nothing(api, drift, body):
    response = api.patch(f"/api/v1/drifts/{drift.pk}", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    drift.refresh_from_db()
    assert drift.status == "detected" and drift.severity == "critical"


def test_patch_with_invalid_json_is_400(api, drift):
    response = api.generic("PATCH", f"/api/v1/drifts/{drift.pk}", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_put_and_delete_are_405(api, drift):
    assert api.put(f"/api/v1/drifts/{drift.pk}", {"status": "resolved"}, format="json").status_code == 405
    response = api.delete(f"/api/v1/drifts/{drift.pk}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_resolve_marks_manual_resolution(api, drift):
    response = api.post(f"/api/v1/drifts/{drift.pk}/resolve", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "resolved" and body["resolution"] == "manual"
    assert api.post(f"/api/v1/drifts/{drift.pk}/resolve", {}, format="json").status_code == 409


def test_resolve_with_capture_baseline_rebaselines_and_resolves_siblings(api, user, provider):
    current = {"PublicAccessBlock": {"BlockPublicAcls": False}, "Tags": {"env": "dev"}}
    old = {"PublicAccessBlock": {"BlockPublicAcls": True}, "Tags": {"env": "prod"}}
    resource = make_resource(provider, config=current, baseline=old)
    first = make_drift(resource)
    sibling = make_drift(resource, path="Tags.env", severity="low", drift_type="configuration", status="investigating")
    old_baseline = Baseline.objects.get(resource=resource, is_current=True)

    response = api.post(f"/api/v1/drifts/{first.pk}/resolve", {"capture_baseline": True}, format="json")

    assert response.status_code == 200
    assert response.json()["resolution"] == "baseline_captured"
    new_baseline = Baseline.objects.get(resource=resource, is_current=True)
    assert new_baseline.pk != old_baseline.pk
    assert new_baseline.config == current and new_baseline.source == "resolve" and new_baseline.captured_by == user
    old_baseline.refresh_from_db()
    assert old_baseline.is_current is False  # kept as history
    sibling.refresh_from_db()
    assert sibling.status == "resolved" and sibling.resolution == "baseline_captured"
    why = sibling.events.order_by("-id").first()
    assert why.from_status == "investigating" and f"#{first.pk}" in why.note


def test_resolve_rejects_non_boolean_and_unknown_fields(api, drift):
    assert (
        api.post(f"/api/v1/drifts/{drift.pk}/resolve", {"capture_baseline": "maybe"}, format="json").status_code == 400
    )
    assert api.post(f"/api/v1/drifts/{drift.pk}/resolve", {"force": True}, format="json").status_code == 400
    drift.refresh_from_db()
    assert drift.status == "detected"


def test_summary_has_every_key_and_accepts_filters(api, resource):
    make_drift(resource, severity="critical")
    make_drift(resource, path="a", severity="high", status="investigating")
    make_drift(resource, path="b", severity="high", status="resolved", resolution="manual", resolved_at=T0)
    body = api.get("/api/v1/drifts/summary").json()
    assert body == {
        "total": 3,
        "by_severity": {"critical": 1, "high": 2, "medium": 0, "low": 0},
        "by_status": {"detected": 1, "investigating": 1, "resolved": 1},
    }
    body = api.get("/api/v1/drifts/summary?status=resolved").json()
    assert body["total"] == 1 and body["by_severity"]["high"] == 1
    assert api.get("/api/v1/drifts/summary?severity=urgent").status_code == 400


def test_summary_is_a_single_query(api, resource):
    make_drift(resource)
    api.get("/api/v1/drifts/summary")  # token last_used_at write happens on first use
    with CaptureQueriesContext(connection) as ctx:
        assert api.get("/api/v1/drifts/summary").status_code == 200
    summary_queries = [q for q in ctx.captured_queries if "drifts_drift" in q["sql"]]
    assert len(summary_queries) == 1


def test_detect_starts_a_job_and_enqueues_on_commit(api, provider, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("drifts.tasks.scan_unit.delay", lambda unit_id: sent.append(unit_id))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/drifts/detect", format="json")
    assert response.status_code == 202
    body = response.json()
    job = DetectionJob.objects.get(pk=body["job_id"])
    assert body == {"job_id": job.pk, "status": "running", "message": "Drift detection scan started"}
    assert job.trigger == "api" and job.requested_by.username == "alice"
    units = list(JobUnit.objects.filter(job=job))
    assert sorted(sent) == sorted(u.pk for u in units) and len(units) == job.units_total > 0
    provider.refresh_from_db()
    assert provider.running_job_id == job.pk

    again = api.post("/api/v1/drifts/detect", {"provider_id": provider.pk}, format="json")
    assert again.status_code == 202
    assert again.json() == {"job_id": job.pk, "status": "running", "message": "Drift detection scan already running"}
    assert DetectionJob.objects.count() == 1


def test_detect_errors(api, provider):
    assert api.post("/api/v1/drifts/detect", {"provider_id": 424242}, format="json").status_code == 404
    disabled = make_provider(enabled=False)
    response = api.post("/api/v1/drifts/detect", {"provider_id": disabled.pk}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "disabled"
    assert api.post("/api/v1/drifts/detect", {"provider_id": "x"}, format="json").status_code == 400
    assert api.post("/api/v1/drifts/detect", [1], format="json").status_code == 400
    assert DetectionJob.objects.count() == 0


def test_detect_with_no_enabled_provider_is_409(api):
    response = api.post("/api/v1/drifts/detect", format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_providers"


def test_events_count_matches_status_changes(api, drift):
    api.patch(f"/api/v1/drifts/{drift.pk}", {"status": "investigating"}, format="json")
    api.post(f"/api/v1/drifts/{drift.pk}/resolve", {}, format="json")
    assert list(DriftEvent.objects.filter(drift=drift).values_list("from_status", "to_status")) == [
        (None, "detected"),
        ("detected", "investigating"),
        ("investigating", "resolved"),
    ]
    assert Drift.objects.get(pk=drift.pk).status == "resolved"


def test_deep_pages_return_the_same_rows_as_the_ordering(api, resource):
    Drift.objects.bulk_create(
        Drift(
            resource=resource,
            provider_id=resource.provider_id,
            resource_type="s3_bucket",
            path=f"Tags.k{i}",
            drift_type="configuration",
            severity="low",
            summary=f"s{i}",
            detected_at=T0 + timedelta(minutes=i % 7),
            last_seen_at=T0,
            updated_at=T0,
        )
        for i in range(1030)
    )
    expected = list(Drift.objects.order_by("-detected_at", "-id").values_list("id", flat=True)[1000:1010])
    body = api.get("/api/v1/drifts?per_page=10&page=101").json()
    assert [d["id"] for d in body["data"]] == expected
    assert body["meta"]["total"] == 1030


def test_list_filters_do_not_turn_a_detail_url_into_a_404(api, drift):
    assert api.get(f"/api/v1/drifts/{drift.pk}?severity=low").status_code == 200


def test_patch_costs_a_bounded_number_of_queries(api, drift, django_assert_max_num_queries):
    api.get("/api/v1/drifts")  # the token's first use writes last_used_at once
    with django_assert_max_num_queries(11):
        assert api.patch(f"/api/v1/drifts/{drift.pk}", {"status": "investigating"}, format="json").status_code == 200


def test_far_time_zone_offsets_are_normalized_not_a_500(api, drift):
    # PostgreSQL refuses displacements past about 15 hours; the filter converts to UTC first.
    response = api.get("/api/v1/drifts?detected_after=2024-01-15T14:07:50%2B23:28")
    assert response.status_code == 200
    assert [d["id"] for d in response.json()["data"]] == [drift.pk]


def test_staff_browsable_api_renders_list_and_detail_pages(client, django_user_model, drift):
    from driftwatch.roles import group_for_scope

    staff = django_user_model.objects.create_user(username="staff", password="pw-for-tests-only", is_staff=True)
    staff.groups.add(group_for_scope("read"))  # sessions need the model permissions, as in the admin
    client.force_login(staff)
    for path in ("/api/v1/drifts", f"/api/v1/drifts/{drift.pk}"):
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html")
        assert drift.summary in response.content.decode()


CHANGED_BY = {
    "actor": "alice@example.com via AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b",
    "actor_arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b/alice@example.com",
    "actor_type": "AssumedRole",
    "actor_parts": {
        "account_id": "123456789012",
        "user_name": "alice@example.com",
        "role_name": "AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b",
        "session_name": "alice@example.com",
        "invoked_by": None,
    },
    "event_name": "PutBucketPublicAccessBlock",
    "event_id": "e2b5c7a1-0000-4000-8000-000000000001",
    "event_source": "s3.amazonaws.com",
    "event_time": "2024-01-15T14:02:11Z",
    "aws_region": "us-east-1",
    "source_ip": "203.0.113.9",
    "user_agent": "aws-cli/2.17.0",
    "confidence": "exact",
}


def test_list_and_detail_carry_changed_by_or_why_not(api, resource):
    found = make_drift(resource, path="Tags.a", changed_by=CHANGED_BY, attribution_status="attributed")
    failed = make_drift(
        resource,
        path="Tags.b",
        attribution_status="unavailable",
        attribution_reason="attribution unavailable: access denied to cloudtrail:LookupEvents in us-east-1",
    )
    rows = {d["id"]: d for d in api.get("/api/v1/drifts").json()["data"]}
    assert rows[found.pk]["changed_by"] == CHANGED_BY and rows[found.pk]["attribution_reason"] is None
    assert rows[failed.pk]["changed_by"] is None and rows[failed.pk]["attribution_status"] == "unavailable"
    assert rows[failed.pk]["attribution_reason"].startswith("attribution unavailable: access denied")
    detail = api.get(f"/api/v1/drifts/{found.pk}").json()
    assert detail["changed_by"] == CHANGED_BY and detail["attribution_status"] == "attributed"
    # The raw CloudTrail record is for the admin only.
    assert "attribution_event" not in detail


def test_changed_by_filters_on_a_substring_of_the_actor(api, resource):
    alice = make_drift(resource, path="Tags.a", changed_by=CHANGED_BY, attribution_status="attributed")
    bob_by = {**CHANGED_BY, "actor": "bob"}
    bob = make_drift(resource, path="Tags.b", changed_by=bob_by, attribution_status="attributed")
    make_drift(resource, path="Tags.c")

    def ids(query):
        response = api.get(f"/api/v1/drifts?{query}")
        assert response.status_code == 200
        return {d["id"] for d in response.json()["data"]}, response.json()["meta"]["total"]

    assert ids("changed_by=ALICE") == ({alice.pk}, 1)
    assert ids("changed_by=Bob") == ({bob.pk}, 1)
    assert ids("changed_by=o") == ({alice.pk, bob.pk}, 2)
    assert ids("changed_by=AWSReservedSSO") == ({alice.pk}, 1)
    assert ids("changed_by=nobody") == (set(), 0)
    too_long = api.get("/api/v1/drifts?changed_by=" + "x" * 201)
    assert too_long.status_code == 400 and "changed_by" in too_long.json()["error"]["details"]


def test_attributed_list_pages_cost_the_same_queries_as_before(api, resource, django_assert_max_num_queries):
    for i in range(30):
        make_drift(resource, path=f"Tags.k{i}", changed_by=CHANGED_BY, attribution_status="attributed")
    api.get("/api/v1/drifts")  # the token's first use writes last_used_at once
    with django_assert_max_num_queries(3):  # token lookup, count, page
        assert len(api.get("/api/v1/drifts?per_page=30").json()["data"]) == 30
    with django_assert_max_num_queries(3):
        assert len(api.get("/api/v1/drifts?per_page=30&changed_by=alice").json()["data"]) == 30
