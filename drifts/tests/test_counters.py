"""The trigger-kept DriftCount table stays equal to COUNT(*) through every kind of write."""

import pytest
from django.db.models import Count

from drifts import counters
from drifts.models import Drift, DriftCount
from drifts.services import triage
from driftwatch.tests.factories import T0, make_drift, make_provider, make_resource

pytestmark = pytest.mark.django_db


def _truth() -> dict:
    rows = Drift.objects.values_list(*counters.KEY).annotate(n=Count("id")).order_by()
    return {tuple(r[:-1]): r[-1] for r in rows}


def _counted() -> dict:
    return {tuple(getattr(c, k) for k in counters.KEY): c.n for c in DriftCount.objects.all() if c.n != 0}


def test_counters_follow_inserts_updates_transitions_and_deletes():
    p1, p2 = make_provider(), make_provider()
    r1, r2 = make_resource(p1), make_resource(p2, resource_type="iam_role")
    a = make_drift(r1)
    b = make_drift(r1, path="Tags.env", severity="low", drift_type="configuration")
    Drift.objects.bulk_create(
        [
            Drift(
                resource=r2,
                provider=p2,
                resource_type="iam_role",
                path=f"p{i}",
                drift_type="security",
                severity="high",
                summary="s",
                detected_at=T0,
                last_seen_at=T0,
                updated_at=T0,
            )
            for i in range(5)
        ]
    )
    assert _counted() == _truth()
    triage.move_drifts([a.pk, b.pk], "investigating")
    triage.move_drifts([a.pk], "resolved")
    Drift.objects.filter(resource=r2).update(severity="critical")  # a scan re-classifying open drifts
    assert _counted() == _truth()
    Drift.objects.filter(pk=b.pk).delete()
    assert _counted() == _truth()


def test_total_and_grouped_answer_countable_filters_and_decline_others():
    p = make_provider()
    r = make_resource(p)
    make_drift(r)
    make_drift(r, path="x", severity="low", status="investigating")
    assert counters.total({}) == 2
    assert counters.total({"severity": ["critical", "low"], "status": ["investigating"]}) == 1
    assert counters.total({"provider_id": p.pk, "type": ["security"]}) == 2
    assert counters.total({"provider_id": p.pk + 1000}) == 0
    assert counters.total({"resource_id": r.pk}) is None
    assert counters.total({"detected_after": T0}) is None
    assert sorted(counters.grouped({})) == [("critical", "detected", 1), ("low", "investigating", 1)]


def test_rebuild_repairs_counters():
    make_drift(make_resource(make_provider()))
    DriftCount.objects.update(n=42)
    counters.rebuild_counts()
    assert _counted() == _truth()


def test_list_total_uses_counters_and_matches_count(api, resource):
    for i in range(3):
        make_drift(resource, path=f"k{i}", severity="high" if i else "critical")
    assert api.get("/api/v1/drifts?severity=high").json()["meta"]["total"] == 2
    assert api.get(f"/api/v1/drifts?resource_id={resource.pk}&severity=high").json()["meta"]["total"] == 2
    assert api.get("/api/v1/drifts?detected_after=2030-01-01T00:00:00Z").json()["meta"]["total"] == 0
