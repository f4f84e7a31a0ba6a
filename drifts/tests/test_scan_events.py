"""A scan announces each new drift once, in bulk, tied to its job; an unchanged rescan announces nothing."""

import pytest

from devtools.changes import apply_changes, revert_changes
from devtools.estate import seed_estate
from drifts.models import Drift
from driftwatch.models import OutboxEvent
from driftwatch.tests.factories import make_provider

from .test_scan import scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(moto):
    return seed_estate(moto, regions=["us-east-1"])


@pytest.fixture
def aws_provider(moto, estate):
    provider = make_provider(regions=["us-east-1"], endpoint_url=moto)
    provider.set_credentials({"access_key_id": "testing", "secret_access_key": "testing"})
    provider.save()
    return provider


def test_scan_events_new_drifts_once_and_job_completed(aws_provider, moto, estate):
    first = scan(aws_provider)
    assert list(OutboxEvent.objects.values_list("type", flat=True)) == ["job.completed"]
    apply_changes(moto, estate)
    second = scan(aws_provider)
    detected = OutboxEvent.objects.filter(type="drift.detected")
    assert detected.count() == Drift.objects.count() > 0
    assert set(detected.values_list("job_id", flat=True)) == {second.pk}
    assert {e.data["drift"]["id"] for e in detected} == set(Drift.objects.values_list("pk", flat=True))
    last = OutboxEvent.objects.filter(job_id=second.pk).order_by("id").last()
    assert last.type == "job.completed" and last.data["job"]["drifts_new"] == detected.count()

    before = OutboxEvent.objects.count()
    third = scan(aws_provider)  # nothing changed since: the open drifts are not announced again
    assert list(OutboxEvent.objects.filter(pk__gt=0).order_by("id").values_list("type", flat=True))[before:] == [
        "job.completed"
    ]
    assert first.pk < second.pk < third.pk

    revert_changes(moto, estate)
    fourth = scan(aws_provider)
    resolved = OutboxEvent.objects.filter(type="drift.resolved", job_id=fourth.pk)
    assert resolved.count() > 0 and {e.data["resolution"] for e in resolved} == {"reverted"}
