"""Two concurrent PATCHes of one drift on separate database connections: exactly one wins."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from drifts.models import Drift, DriftEvent
from drifts.services import triage
from driftwatch.models import ApiToken
from driftwatch.roles import group_for_scope
from driftwatch.tests.factories import make_drift, make_provider, make_resource


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("first", "second"), [("investigating", "investigating"), ("investigating", "resolved"), ("resolved", "resolved")]
)
def test_concurrent_patches_one_wins_one_conflicts(django_user_model, monkeypatch, first, second):
    user = django_user_model.objects.create_user("alice")
    user.groups.add(group_for_scope("triage"))
    _, raw = ApiToken.issue(user, scope="triage")
    drift = make_drift(make_resource(make_provider()))
    # Both requests read the drift as "detected" before either writes: the race the CAS must settle.
    barrier = threading.Barrier(2, timeout=20)
    real_move = triage.move_drifts

    def move_after_both_read(*args, **kwargs):
        barrier.wait()
        return real_move(*args, **kwargs)

    monkeypatch.setattr(triage, "move_drifts", move_after_both_read)
    results = {}

    def patch(name, status):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
            results[name] = client.patch(f"/api/v1/drifts/{drift.pk}", {"status": status}, format="json")
        finally:
            connection.close()  # each thread has its own connection; close it for the teardown flush

    threads = [threading.Thread(target=patch, args=("a", first)), threading.Thread(target=patch, args=("b", second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409]
    winner = next(r for r in results.values() if r.status_code == 200).json()["status"]
    loser = next(r for r in results.values() if r.status_code == 409).json()["error"]
    assert loser["details"]["current_status"] == winner
    assert Drift.objects.get(pk=drift.pk).status == winner
    events = list(DriftEvent.objects.filter(drift_id=drift.pk).values_list("from_status", "to_status"))
    assert events == [(None, "detected"), ("detected", winner)]
