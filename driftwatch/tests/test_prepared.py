"""PreparedQuery: compiled once, run every time; the token lookup built on it still sees every change at once."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from drifts.models import Drift
from driftwatch.db import PreparedQuery
from driftwatch.models import ApiToken, hash_token
from driftwatch.roles import group_for_scope
from driftwatch.tests.factories import make_drift, make_provider, make_resource

pytestmark = pytest.mark.django_db


@pytest.fixture
def compiles(monkeypatch) -> list:
    """Every SQL compilation the ORM does while the test runs."""
    seen: list = []
    original = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        seen.append(self.query.model)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    return seen


def _captured(fn) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return [q["sql"] for q in ctx.captured_queries]


def test_rows_match_the_queryset_in_every_shape_and_the_sql_is_the_orms():
    resource = make_resource(make_provider())
    a = make_drift(resource, path="a", severity="low", baseline_value={"x": [1, 2.5]}, current_value=None)
    make_drift(resource, path="b", severity="high")
    shapes = {
        "instances": lambda severity: Drift.objects.select_related("resource").filter(severity=severity),
        "values": lambda severity: Drift.objects.filter(severity=severity).values(
            "id", "resource__name", "baseline_value"
        ),
        "values_list": lambda severity: Drift.objects.filter(severity=severity).values_list("id", "detected_at"),
        "flat": lambda severity: Drift.objects.filter(severity=severity).values_list("id", flat=True),
    }
    for name, build in shapes.items():
        prepared = PreparedQuery(build, severity=str)
        got = prepared.run(severity="low")
        expected = list(build("low"))
        if name == "instances":
            assert [(d.pk, d.path, d.baseline_value, d.detected_at) for d in got] == [
                (a.pk, "a", {"x": [1, 2.5]}, a.detected_at)
            ]
            with CaptureQueriesContext(connection) as ctx:
                assert got[0].resource.name == resource.name  # loaded with the row: no query
            assert ctx.captured_queries == []
        else:
            assert got == expected, name
        assert _captured(lambda b=build, p=prepared: p.run(severity="high")) == _captured(
            lambda b=build: list(b("high"))
        )


def test_second_run_compiles_nothing_and_binds_new_values(compiles):
    resource = make_resource(make_provider())
    low = make_drift(resource, path="a", severity="low")
    high = make_drift(resource, path="b", severity="high")
    prepared = PreparedQuery(
        lambda severity, pk: Drift.objects.filter(severity=severity, pk=pk).values_list("pk", flat=True),
        severity=str,
        pk=int,
    )
    assert prepared.run(severity="low", pk=low.pk) == [low.pk]
    compiles.clear()
    assert prepared.run(severity="high", pk=high.pk) == [high.pk]
    assert prepared.run(severity="high", pk=low.pk) == []
    assert compiles == []


def test_values_that_would_reach_the_database_rewritten_are_refused():
    prepared = PreparedQuery(lambda s: Drift.objects.filter(summary__icontains=s).values_list("pk"), s=str)
    with pytest.raises(ImproperlyConfigured, match="not passed to the database as given"):
        prepared.run(s="x")


def test_a_value_of_the_wrong_type_is_refused():
    prepared = PreparedQuery(lambda pk: Drift.objects.filter(pk=pk).values_list("pk"), pk=int)
    with pytest.raises(TypeError, match="pk must be int"):
        prepared.run(pk="1")


# --- the token lookup ------------------------------------------------------------------------------


def _get(raw: str, path: str = "/api/v1/drifts/summary"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client.get(path)


def test_token_lookup_and_summary_compile_no_sql_after_the_first_request(user, compiles):
    user.groups.add(group_for_scope("read"))
    _, raw = ApiToken.issue(user, scope="read")
    assert _get(raw).status_code == 200
    compiles.clear()
    with CaptureQueriesContext(connection) as ctx:
        assert _get(raw).status_code == 200
    assert compiles == []
    token_sql, counters_sql = (q["sql"] for q in ctx.captured_queries)
    assert hash_token(raw) in token_sql
    assert "drifts_driftcount" in counters_sql


def test_revocation_expiry_scope_and_user_changes_count_on_the_very_next_request(user, drift):
    user.groups.add(group_for_scope("admin"))
    token, raw = ApiToken.issue(user, scope="admin")
    patch = lambda: APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}").patch(  # noqa: E731
        f"/api/v1/drifts/{drift.pk}", {"status": "investigating"}, format="json"
    )
    assert _get(raw).status_code == 200
    # A scope check per token reads the scope of this request's row, not of a cached one.
    ApiToken.objects.filter(pk=token.pk).update(scope="read")
    assert patch().status_code == 403
    ApiToken.objects.filter(pk=token.pk).update(scope="admin")
    assert patch().status_code == 200
    token.revoke()
    assert _get(raw).status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=None)
    assert _get(raw).status_code == 200
    user.is_active = False
    user.save()
    assert _get(raw).status_code == 401
