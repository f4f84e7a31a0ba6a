"""The drifts list's filters, cleaned without a FilterSet per request, decide exactly as django-filter would."""

from datetime import timedelta

import pytest
from django.db.models.sql.compiler import SQLCompiler
from django.http import QueryDict
from django_filters.utils import translate_validation
from rest_framework.exceptions import ValidationError

from drifts.api.filters import DRIFT_FILTERS, DriftFilter
from drifts.models import Drift
from driftwatch.tests.factories import T0, make_drift, make_provider, make_resource

pytestmark = pytest.mark.django_db

QUERIES = [
    "",
    "page=2",
    "unknown=1",
    "severity=critical",
    "severity=critical&status=detected",
    "severity=critical,high&status=detected,investigating&type=security",
    "severity=critical,critical",
    "severity=",
    "severity=urgent",
    "severity=critical,&status=nope",
    "severity=%25d",
    "status=detected&status=resolved",  # a repeated parameter: the last value counts
    "provider_id=3",
    "provider_id=0",
    "provider_id=abc",
    "provider_id=99999999999999999999",
    "provider_id=3&resource_id=4&resource_type=s3_bucket",
    "resource_type=" + "x" * 65,
    "detected_after=2024-01-15T14:30:00Z",
    "detected_after=2024-01-15T14:30:00%2B16:00",
    "detected_before=yesterday",
    "detected_after=2024-01-15&detected_before=2024-02-01T00:00:00-05:00",
    "type=configuration,compliance&provider_id=-1&detected_before=x",
]


def _filterset(params: QueryDict, queryset):
    filterset = DriftFilter(params, queryset=queryset)
    if not filterset.is_valid():
        return None, translate_validation(filterset.errors).detail
    return filterset, None


@pytest.mark.parametrize("query", QUERIES)
def test_resolver_cleans_filters_and_errs_as_the_filterset_does(query):
    params = QueryDict(query)
    queryset = Drift.objects.order_by("-detected_at", "-id")
    filterset, expected_error = _filterset(params, queryset)
    try:
        narrowed, cleaned = DRIFT_FILTERS.resolve(params, queryset)
    except ValidationError as exc:
        assert exc.detail == expected_error
        assert expected_error is not None
        return
    assert expected_error is None
    if not cleaned:  # no filter given: the queryset is untouched
        assert narrowed is queryset
        assert not any(value not in (None, "", []) for value in filterset.form.cleaned_data.values())
        return
    assert cleaned == filterset.form.cleaned_data
    assert str(narrowed.query) == str(filterset.qs.query)


def test_the_api_narrows_by_the_resolved_filters():
    provider, other = make_provider(), make_provider(name="other")
    mine = make_drift(make_resource(provider), severity="critical")
    make_drift(make_resource(other, external_id="o"), severity="critical")
    narrowed, cleaned = DRIFT_FILTERS.resolve(QueryDict(f"provider_id={provider.pk}&severity=critical"), Drift.objects)
    assert [d.pk for d in narrowed] == [mine.pk]
    assert cleaned["provider_id"] == provider.pk and cleaned["severity"] == ["critical"]


def test_list_filtered_or_not_builds_no_filterset(api, drift, monkeypatch):
    built = []
    original = DriftFilter.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(DriftFilter, "__init__", counting)
    DRIFT_FILTERS._filters()  # the one template FilterSet, built once per process
    built.clear()
    for query in ("", "?severity=critical&status=detected", f"?provider_id={drift.provider_id}"):
        response = api.get(f"/api/v1/drifts{query}")
        assert response.status_code == 200
        assert response.json()["meta"]["total"] == 1
    assert api.get("/api/v1/drifts/summary?severity=low").json()["total"] == 0
    assert built == []


@pytest.mark.parametrize(
    "query",
    ["", "?severity=critical", "?severity=critical,low&status=detected", "?provider_id={provider}&page=2&per_page=2"],
)
def test_list_pages_are_served_from_compiled_sql_with_the_rows_the_orm_reads(api, resource, monkeypatch, query):
    for i in range(5):
        make_drift(resource, path=f"p{i}", severity="critical" if i % 2 else "low")
    path = "/api/v1/drifts" + query.format(provider=resource.provider_id)
    first = api.get(path)
    assert first.status_code == 200
    compiled = []
    original = SQLCompiler.as_sql
    monkeypatch.setattr(SQLCompiler, "as_sql", lambda self, *a, **k: compiled.append(1) or original(self, *a, **k))
    again = api.get(path)
    assert compiled == []  # token, total and page: all compiled by the first request
    assert again.content == first.content
    params = QueryDict(query.format(provider=resource.provider_id).lstrip("?"))
    narrowed, _ = DRIFT_FILTERS.resolve(params, Drift.objects.order_by("-detected_at", "-id"))
    page, per_page = int(params.get("page", 1)), int(params.get("per_page", 20))
    expected = list(narrowed.values_list("id", flat=True)[(page - 1) * per_page : page * per_page])
    assert [row["id"] for row in again.json()["data"]] == expected
    assert expected


def test_a_date_filter_is_served_by_the_orm_and_still_narrows(api, resource):
    old = make_drift(resource, path="old", detected_at=T0)
    make_drift(resource, path="new", detected_at=T0 + timedelta(days=2))
    response = api.get("/api/v1/drifts?detected_before=" + (T0 + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert [row["id"] for row in response.json()["data"]] == [old.pk]
