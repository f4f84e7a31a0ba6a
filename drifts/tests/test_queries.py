"""Query pieces other apps' pages use: open drifts per provider or resource, in one query."""

import pytest
from django.db.models import Exists

from drifts.queries import open_drift_count, open_drifts_of
from driftwatch.tests.factories import make_drift, make_provider, make_resource
from providers.models import Provider, Resource

pytestmark = pytest.mark.django_db


def test_open_drift_count_counts_detected_and_investigating_but_not_resolved(django_assert_num_queries):
    provider, quiet = make_provider(), make_provider()
    busy, calm = make_resource(provider), make_resource(provider)
    make_drift(busy, path="A")
    make_drift(busy, path="B", status="investigating")
    make_drift(calm, path="C", status="resolved", resolution="manual", resolved_at=busy.last_seen_at)
    with django_assert_num_queries(1):
        counts = dict(Provider.objects.annotate(n=open_drift_count("provider_id")).values_list("pk", "n"))
    assert counts == {provider.pk: 2, quiet.pk: 0}
    counts = dict(Resource.objects.annotate(n=open_drift_count("resource_id")).values_list("pk", "n"))
    assert counts == {busy.pk: 2, calm.pk: 0}
    with_open = Resource.objects.filter(Exists(open_drifts_of("resource_id")))
    assert list(with_open) == [busy]
