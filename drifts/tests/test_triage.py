"""Triage services: resolving a batch of drifts with new baselines."""

import pytest

from baselines.models import Baseline
from drifts.models import Drift
from drifts.services import triage
from driftwatch.tests.factories import make_drift, make_resource

pytestmark = pytest.mark.django_db


def test_batch_resolve_with_baseline_captures_once_per_resource_and_reports_the_rest(user, provider):
    one, two = make_resource(provider), make_resource(provider)
    first, sibling = make_drift(one, path="A"), make_drift(one, path="B")
    other = make_drift(two, path="A")
    done = make_drift(two, path="B", status="resolved", resolution="manual", resolved_at=other.detected_at)

    result = triage.resolve_drifts_with_baseline([sibling.pk, done.pk, first.pk, other.pk], user)

    assert result.moved == [first.pk, sibling.pk, other.pk]
    assert result.refused == {done.pk: "resolved"}
    statuses = dict(Drift.objects.values_list("pk", "resolution"))
    assert statuses == {
        first.pk: "baseline_captured",
        sibling.pk: "baseline_captured",
        other.pk: "baseline_captured",
        done.pk: "manual",
    }
    for resource in (one, two):
        sources = list(Baseline.objects.filter(resource=resource).order_by("id").values_list("source", "is_current"))
        assert sources == [("discovered", False), ("resolve", True)]
