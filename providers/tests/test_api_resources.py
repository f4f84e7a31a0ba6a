"""The /api/v1/resources contract: list and filters, detail, a resource's drifts and baselines, capture."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from baselines.models import Baseline
from drifts.models import Drift
from driftwatch.tests.factories import S3_CONFIG, T0, make_drift, make_provider, make_resource

pytestmark = pytest.mark.django_db

LIST_FIELDS = {
    "id",
    "provider_id",
    "resource_type",
    "external_id",
    "name",
    "region",
    "last_seen_at",
    "deleted_at",
    "open_drift_count",
}


def _ids(api, query: str = "") -> list[int]:
    response = api.get(f"/api/v1/resources{'?' + query if query else ''}")
    assert response.status_code == 200, response.json()
    return [r["id"] for r in response.json()["data"]]


def test_list_item_shape(api, provider):
    resource = make_resource(provider, name="data-lake", last_seen_at=T0)
    make_drift(resource)
    make_drift(resource, path="Tags.env", status="investigating")
    make_drift(resource, path="Versioning", status="resolved", resolution="manual", resolved_at=T0)
    body = api.get("/api/v1/resources").json()
    assert body["meta"] == {"total": 1, "page": 1, "per_page": 20}
    assert body["data"] == [
        {
            "id": resource.pk,
            "provider_id": provider.pk,
            "resource_type": "s3_bucket",
            "external_id": resource.external_id,
            "name": "data-lake",
            "region": "us-east-1",
            "last_seen_at": "2024-01-15T14:30:00Z",
            "deleted_at": None,
            "open_drift_count": 2,
        }
    ]


def test_list_shows_live_resources_unless_deleted_is_asked_for(api, provider):
    live = make_resource(provider)
    gone = make_resource(provider, deleted_at=T0)
    assert _ids(api) == [live.pk]
    assert _ids(api, "deleted=false") == [live.pk]
    assert _ids(api, "deleted=true") == [gone.pk]
    body = api.get("/api/v1/resources?deleted=true").json()
    assert body["data"][0]["deleted_at"] == "2024-01-15T14:30:00Z"


def test_filters_narrow_the_list(api):
    p1, p2 = make_provider(), make_provider()
    bucket = make_resource(p1, name="Payments-Logs")
    group = make_resource(p1, resource_type="ec2_security_group", name="web-sg", region="eu-west-1")
    other = make_resource(p2, name="payments-archive")
    make_drift(group, path="IngressRules")
    make_drift(bucket, status="resolved", resolution="manual", resolved_at=T0)

    assert set(_ids(api, f"provider_id={p1.pk}")) == {bucket.pk, group.pk}
    assert _ids(api, "resource_type=ec2_security_group") == [group.pk]
    assert _ids(api, "region=eu-west-1") == [group.pk]
    assert set(_ids(api, "search=PAYMENTS")) == {bucket.pk, other.pk}
    assert _ids(api, "has_open_drifts=true") == [group.pk]
    assert set(_ids(api, "has_open_drifts=false")) == {bucket.pk, other.pk}
    assert _ids(api, f"provider_id={p1.pk}&search=logs") == [bucket.pk]


@pytest.mark.parametrize(
    "query",
    ["provider_id=abc", "provider_id=0", "has_open_drifts=maybe", "deleted=both", "page=0", "search=" + "x" * 201],
)
def test_malformed_filters_are_400_naming_the_parameter(api, resource, query):
    response = api.get(f"/api/v1/resources?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["error"]["details"]


def test_list_query_count_does_not_grow_with_per_page(api, provider):
    for i in range(30):
        make_drift(make_resource(provider, name=f"bucket-{i:02d}"))
    api.get("/api/v1/resources")  # the token's first use writes last_used_at once
    counts = []
    for per_page in (5, 30):
        with CaptureQueriesContext(connection) as ctx:
            data = api.get(f"/api/v1/resources?per_page={per_page}").json()["data"]
        assert len(data) == per_page and {r["open_drift_count"] for r in data} == {1}
        counts.append(len(ctx.captured_queries))
    assert counts == [3, 3]  # token lookup, count, page


def test_detail_adds_config_current_baseline_and_open_drifts_by_severity(api, user, provider):
    current = {"Versioning": "Suspended", "Tags": {"env": "prod"}}
    resource = make_resource(provider, config=current, baseline=S3_CONFIG)
    make_drift(resource, severity="critical")
    make_drift(resource, path="a", severity="high", status="investigating")
    make_drift(resource, path="b", severity="high")
    make_drift(resource, path="c", severity="low", status="resolved", resolution="manual", resolved_at=T0)
    baseline = Baseline.objects.get(resource=resource, is_current=True)
    Baseline.objects.filter(pk=baseline.pk).update(captured_by=user)

    response = api.get(f"/api/v1/resources/{resource.pk}")

    assert response.status_code == 200
    body = response.json()
    assert LIST_FIELDS <= set(body)
    assert body["config"] == current
    assert body["open_drift_count"] == 3
    assert body["current_baseline"] == {
        "id": baseline.pk,
        "captured_at": "2024-01-14T14:30:00Z",
        "source": "discovered",
        "captured_by": "alice",
        "config": S3_CONFIG,
    }
    assert body["open_drifts_by_severity"] == {"critical": 1, "high": 2, "medium": 0, "low": 0}


def test_detail_of_a_deleted_resource_without_baseline(api, provider):
    resource = make_resource(provider, deleted_at=T0)
    Baseline.objects.filter(resource=resource).delete()
    body = api.get(f"/api/v1/resources/{resource.pk}").json()
    assert body["current_baseline"] is None and body["deleted_at"] == "2024-01-15T14:30:00Z"
    assert body["open_drifts_by_severity"] == {"critical": 0, "high": 0, "medium": 0, "low": 0}


def test_unknown_resource_is_404_on_every_route(api):
    for path in (
        "/api/v1/resources/424242",
        "/api/v1/resources/424242/drifts",
        "/api/v1/resources/424242/baselines",
        "/api/v1/resources/x1",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert api.post("/api/v1/resources/424242/baseline", {}, format="json").status_code == 404


def test_resource_drifts_lists_only_its_drifts_newest_first_with_filters(api, provider):
    resource, other = make_resource(provider), make_resource(provider)
    old = make_drift(resource, detected_at=T0)
    new = make_drift(resource, path="Tags.env", severity="low", detected_at=T0 + timedelta(hours=1))
    make_drift(other)
    response = api.get(f"/api/v1/resources/{resource.pk}/drifts")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {"total": 2, "page": 1, "per_page": 20}
    assert [d["id"] for d in body["data"]] == [new.pk, old.pk]
    assert (
        body["data"][1]["resource_name"] == resource.name and body["data"][1]["detected_at"] == "2024-01-15T14:30:00Z"
    )
    assert [d["id"] for d in api.get(f"/api/v1/resources/{resource.pk}/drifts?severity=low").json()["data"]] == [new.pk]
    assert api.get(f"/api/v1/resources/{resource.pk}/drifts?severity=urgent").status_code == 400
    assert api.get(f"/api/v1/resources/{resource.pk}/drifts?per_page=1&page=2").json()["data"][0]["id"] == old.pk


def test_resource_baselines_are_history_newest_first(api, user, provider):
    resource = make_resource(provider)  # discovered baseline at T0 - 1 day
    first = Baseline.objects.get(resource=resource)
    Baseline.objects.filter(pk=first.pk).update(is_current=False)
    second = Baseline.objects.create(
        resource=resource,
        config={"v": 2},
        config_hash="h2",
        source="manual",
        captured_by=user,
        captured_at=T0,
        is_current=True,
    )
    response = api.get(f"/api/v1/resources/{resource.pk}/baselines")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["total"] == 2
    assert body["data"] == [
        {
            "id": second.pk,
            "resource_id": resource.pk,
            "captured_at": "2024-01-15T14:30:00Z",
            "source": "manual",
            "captured_by": "alice",
            "is_current": True,
            "config_hash": "h2",
        },
        {
            "id": first.pk,
            "resource_id": resource.pk,
            "captured_at": "2024-01-14T14:30:00Z",
            "source": "discovered",
            "captured_by": None,
            "is_current": False,
            "config_hash": first.config_hash,
        },
    ]


def test_capture_baseline_makes_current_config_the_baseline_and_resolves_open_drifts(api, user, provider):
    current = {"Versioning": "Suspended"}
    resource = make_resource(provider, config=current, baseline={"Versioning": "Enabled"})
    old = Baseline.objects.get(resource=resource, is_current=True)
    open_drift = make_drift(resource, path="Versioning")
    investigating = make_drift(resource, path="Tags.env", status="investigating")

    response = api.post(f"/api/v1/resources/{resource.pk}/baseline", format="json")

    assert response.status_code == 201
    body = response.json()
    new = Baseline.objects.get(resource=resource, is_current=True)
    assert body["id"] == new.pk != old.pk
    assert body["config"] == current and body["source"] == "manual" and body["captured_by"] == "alice"
    assert body["is_current"] is True and body["resource_id"] == resource.pk
    assert new.captured_by == user
    old.refresh_from_db()
    assert old.is_current is False
    for drift in (open_drift, investigating):
        drift.refresh_from_db()
        assert drift.status == "resolved" and drift.resolution == "baseline_captured" and drift.resolved_by == user
        event = drift.events.order_by("-id").first()
        assert event.to_status == "resolved" and event.actor == user and f"#{new.pk}" in event.note
    detail = api.get(f"/api/v1/resources/{resource.pk}").json()
    assert detail["current_baseline"]["id"] == new.pk and detail["open_drift_count"] == 0


def test_capture_baseline_refuses_unknown_fields_deleted_resources_and_read_tokens(api, read_api, provider):
    resource = make_resource(provider)
    response = api.post(f"/api/v1/resources/{resource.pk}/baseline", {"force": True}, format="json")
    assert response.status_code == 400 and "force" in response.json()["error"]["details"]
    response = read_api.post(f"/api/v1/resources/{resource.pk}/baseline", format="json")
    assert response.status_code == 403
    gone = make_resource(provider, deleted_at=T0)
    response = api.post(f"/api/v1/resources/{gone.pk}/baseline", format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "resource_deleted"
    assert Baseline.objects.filter(resource__in=[resource, gone]).count() == 2  # only the factory's ones
    assert not Drift.objects.exists()


def test_resources_are_read_only_apart_from_capture(api, resource):
    assert api.patch(f"/api/v1/resources/{resource.pk}", {"name": "x"}, format="json").status_code == 405
    assert api.delete(f"/api/v1/resources/{resource.pk}").status_code == 405
    assert api.post("/api/v1/resources", {"name": "x"}, format="json").status_code == 405
    assert api.get(f"/api/v1/resources/{resource.pk}/baseline").status_code == 405
