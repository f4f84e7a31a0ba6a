"""Capturing a baseline: one audit row per capture, whichever door asked."""

import pytest
from django.urls import reverse

from baselines.models import Baseline
from baselines.services import capture_baseline
from drifts.services import triage
from driftwatch.models import AuditEntry
from driftwatch.tests.factories import make_drift, make_resource

pytestmark = pytest.mark.django_db


def _captures() -> list[dict]:
    return list(
        AuditEntry.objects.filter(action="capture").order_by("id").values("actor__username", "object_type", "changes")
    )


def test_capture_writes_one_audit_row_naming_the_baseline_it_replaced(user, resource):
    previous = Baseline.objects.get(resource=resource, is_current=True)
    baseline = capture_baseline(resource, user=user)
    [entry] = AuditEntry.objects.filter(action="capture")
    assert (entry.actor, entry.object_type, entry.object_id) == (user, "baselines.baseline", str(baseline.pk))
    assert entry.changes == {
        "resource_id": resource.pk,
        "source": "manual",
        "config_hash": resource.config_hash,
        "previous_baseline_id": previous.pk,
    }


def test_api_admin_and_resolve_each_write_one_capture_row(api, admin_client, user, provider):
    resources = [make_resource(provider) for _ in range(3)]
    assert api.post(f"/api/v1/resources/{resources[0].pk}/baseline", {}, format="json").status_code == 201
    response = admin_client.post(reverse("admin:providers_resource_capture", args=[resources[1].pk]))
    assert response.status_code == 302
    triage.resolve_with_baseline(make_drift(resources[2]), actor=user)
    rows = _captures()
    assert [(row["actor__username"], row["changes"]["resource_id"], row["changes"]["source"]) for row in rows] == [
        ("alice", resources[0].pk, "manual"),
        ("admin", resources[1].pk, "manual"),
        ("alice", resources[2].pk, "resolve"),
    ]
