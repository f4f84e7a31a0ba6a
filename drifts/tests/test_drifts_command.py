"""manage.py drifts: the list endpoint's filters and rows on the command line."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from drifts import export
from driftwatch.tests.factories import T0, make_drift, make_provider, make_resource

pytestmark = pytest.mark.django_db


@pytest.fixture
def findings():
    prod, dev = make_provider(name="prod"), make_provider(name="dev")
    bucket, other = make_resource(prod, name="logs"), make_resource(dev, name="=evil")
    for n in range(6):
        make_drift(
            bucket if n % 2 else other,
            path=f"P.{n}",
            severity=["critical", "high", "medium"][n % 3],
            drift_type=["security", "configuration"][n % 2],
            summary=f"change {n}\nsecond line",
            current_value={"n": n},
            detected_at=T0 + timedelta(hours=n),
        )
    return prod, dev


def run(*args) -> str:
    out = io.StringIO()
    call_command("drifts", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("options", "query"),
    [
        ([], ""),
        (["--severity", "critical,high"], "severity=critical,high"),
        (["--type", "security", "--status", "detected"], "type=security&status=detected"),
        (["--detected-after", "2024-01-15T16:00:00Z"], "detected_after=2024-01-15T16:00:00Z"),
        (["--resource-type", "s3_bucket", "--severity", "medium"], "resource_type=s3_bucket&severity=medium"),
    ],
)
def test_json_is_the_list_endpoints_rows_for_the_same_filters(api, findings, options, query):
    listed = api.get(f"/api/v1/drifts?per_page=100&{query}").json()["data"]
    rows = json.loads(run("--format", "json", *options))
    assert [r["id"] for r in rows] == [d["id"] for d in listed]
    for row, item in zip(rows, listed, strict=True):
        assert {k: row[k] for k in item} == item


def test_provider_filter_and_limit(findings):
    prod, _dev = findings
    rows = json.loads(run("--provider-id", str(prod.pk)))  # not a terminal: JSON by default
    assert len(rows) == 3 and {r["provider_name"] for r in rows} == {"prod"}
    assert [r["id"] for r in json.loads(run("--limit", "2"))] == [r["id"] for r in json.loads(run())][:2]


def test_csv_and_ndjson_are_the_exports_formats(findings):
    rows = list(csv.DictReader(io.StringIO(run("--format", "csv"), newline="")))
    assert len(rows) == 6 and list(rows[0]) == export.HEADER
    assert {r["resource_name"] for r in rows} == {"logs", "'=evil"}
    lines = run("--format", "ndjson", "--severity", "critical").splitlines()
    assert [json.loads(line)["severity"] for line in lines] == ["critical", "critical"]


def test_table_has_one_line_per_finding(findings):
    text = run("--format", "table", "--status", "detected").splitlines()
    assert text[0].split()[:3] == ["ID", "SEVERITY", "STATUS"]
    assert len(text) == 1 + 6 + 1 and text[-1] == "6 finding(s)"
    assert "change 5 second line" in text[1] and "2024-01-15T19:30:00Z" in text[1]


def test_an_empty_result_is_an_empty_array(db):
    assert json.loads(run("--format", "json")) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--severity", "urgent"], "--severity: Unknown value 'urgent'"), (["--provider-id", "x"], "--provider-id")],
)
def test_bad_filters_are_errors_naming_the_option(db, options, message):
    with pytest.raises(CommandError, match=message):
        run(*options)
