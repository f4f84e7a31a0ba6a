"""GET /api/v1/drifts/export: the list's rows and filters, streamed as CSV or NDJSON."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection

from drifts import export
from drifts.models import Drift
from driftwatch.tests.factories import T0, make_drift, make_provider, make_resource

pytestmark = pytest.mark.django_db

URL = "/api/v1/drifts/export"
LIST_FIELDS = [
    "id",
    "resource_id",
    "resource_name",
    "resource_type",
    "drift_type",
    "severity",
    "status",
    "summary",
    "baseline_value",
    "current_value",
    "detected_at",
    "changed_by",
    "attribution_status",
    "attribution_reason",
]


@pytest.fixture
def findings():
    """Eight drifts over two providers with awkward values: quotes, commas, newlines, unicode, nested JSON."""
    prod, dev = make_provider(name="prod, eu"), make_provider(name='dev "2"')
    bucket = make_resource(prod, name='bucket "a", b')
    group = make_resource(dev, name="sg-é\nweb", resource_type="ec2_security_group", external_id="sg-1")
    values = [
        (True, False),
        ({"Rules": [{"Port": 22, "Cidr": "0.0.0.0/0"}], "Note": 'say "hi"\\n'}, None),
        (None, "line one\nline two, with comma"),
        (-5, 3.25),
        ("Enabled", "Suspended"),
        ([1, "two", None], []),
        ({}, {"ü": "∆"}),
        ("", "x"),
    ]
    drifts = []
    for n, (baseline, current) in enumerate(values):
        resource = bucket if n % 2 else group
        drifts.append(
            make_drift(
                resource,
                path=f"Path.{n}",
                severity=["critical", "high", "medium", "low"][n % 4],
                drift_type=["security", "configuration", "compliance"][n % 3],
                summary=f'Change {n}: "quoted", commas, and\na newline',
                baseline_value=baseline,
                current_value=current,
                detected_at=T0 + timedelta(hours=n, microseconds=123456 * n),
            )
        )
    resolved = drifts[3]
    Drift.objects.filter(pk=resolved.pk).update(
        status="resolved", resolution="manual", resolved_at=T0 + timedelta(days=2, seconds=7)
    )
    return drifts


def _ndjson(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    assert body.endswith("\n")
    return [json.loads(line) for line in body.splitlines()]


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    assert rows == [] or list(rows[0]) == export.HEADER
    return rows


def test_ndjson_rows_equal_the_list_rows_in_the_same_order(api, findings):
    listed = api.get("/api/v1/drifts?per_page=100").json()["data"]
    response = api.get(f"{URL}?format=ndjson")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].startswith('attachment; filename="drifts-')
    assert response["Cache-Control"] == "no-store"
    rows = _ndjson(response)
    assert len(rows) == len(listed) == 8
    for row, item in zip(rows, listed, strict=True):
        assert list(row) == export.HEADER
        assert {k: row[k] for k in LIST_FIELDS} == item
    by_id = {d.pk: d for d in Drift.objects.select_related("provider")}
    for row in rows:
        drift = by_id[row["id"]]
        assert row["provider_id"] == drift.provider_id and row["provider_name"] == drift.provider.name
        assert row["path"] == drift.path
        assert row["resolution"] == drift.resolution
    resolved = next(r for r in rows if r["status"] == "resolved")
    assert resolved["resolved_at"] == "2024-01-17T14:30:07Z" and resolved["resolution"] == "manual"
    assert all(r["resolved_at"] is None for r in rows if r["status"] != "resolved")


def test_csv_cells_parse_back_to_the_list_values(api, findings):
    listed = api.get("/api/v1/drifts?per_page=100").json()["data"]
    response = api.get(f"{URL}?format=csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = _csv(response)
    assert len(rows) == len(listed)
    for row, item in zip(rows, listed, strict=True):
        assert int(row["id"]) == item["id"] and int(row["resource_id"]) == item["resource_id"]
        for name in ("resource_name", "resource_type", "drift_type", "severity", "status", "summary", "detected_at"):
            assert row[name] == item[name], name
        assert json.loads(row["baseline_value"]) == item["baseline_value"]
        assert json.loads(row["current_value"]) == item["current_value"]
    assert {r["resolved_at"] for r in rows} == {"", "2024-01-17T14:30:07Z"}
    assert {r["provider_name"] for r in rows} == {"prod, eu", 'dev "2"'}


@pytest.mark.parametrize(
    "query",
    [
        "severity=critical,high",
        "status=detected",
        "type=security",
        "resource_type=ec2_security_group",
        "detected_after=2024-01-15T16:00:00Z&detected_before=2024-01-15T20:00:00Z",
        "severity=low&status=resolved",
        "status=resolved,investigating&type=security,compliance",
    ],
)
def test_every_list_filter_selects_the_same_rows(api, findings, query):
    listed = [d["id"] for d in api.get(f"/api/v1/drifts?per_page=100&{query}").json()["data"]]
    exported = [r["id"] for r in _ndjson(api.get(f"{URL}?format=ndjson&{query}"))]
    assert exported == listed
    assert 0 < len(listed) < 8


def test_provider_and_resource_filters(api, findings):
    drift = findings[1]
    for query in (f"provider_id={drift.provider_id}", f"resource_id={drift.resource_id}"):
        listed = [d["id"] for d in api.get(f"/api/v1/drifts?per_page=100&{query}").json()["data"]]
        exported = [int(r["id"]) for r in _csv(api.get(f"{URL}?{query}"))]  # csv is the default
        assert exported == listed and len(listed) == 4


def test_csv_neutralises_cells_a_spreadsheet_would_run(api, provider):
    resource = make_resource(provider, name='=HYPERLINK("http://evil","x")')
    make_drift(resource, summary="+cmd|' /C calc'!A0", path="-2+3", baseline_value="=1+1", current_value=-7)
    make_drift(resource, summary="@SUM(A1:A2)", path="\tTab", detected_at=T0 + timedelta(hours=1))
    make_drift(resource, summary="plain", path="a=b", detected_at=T0 + timedelta(hours=2))
    rows = _csv(api.get(URL))
    assert [r["summary"] for r in rows] == ["plain", "'@SUM(A1:A2)", "'+cmd|' /C calc'!A0"]
    assert [r["path"] for r in rows] == ["a=b", "'\tTab", "'-2+3"]
    assert {r["resource_name"] for r in rows} == {'\'=HYPERLINK("http://evil","x")'}
    # JSON cells hold JSON: a JSON string starts with a quote, a negative number is just a number.
    assert rows[2]["baseline_value"] == '"=1+1"' and rows[2]["current_value"] == "-7"
    # NDJSON is for programs: values exactly as stored.
    assert [r["summary"] for r in _ndjson(api.get(f"{URL}?format=ndjson"))][2] == "+cmd|' /C calc'!A0"


def test_a_read_token_may_export_and_nobody_else(read_api, anon_api, findings):
    assert read_api.get(URL).status_code == 200
    response = anon_api.get(URL)
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("query", "field"),
    [("format=xlsx", "format"), ("severity=urgent", "severity"), ("provider_id=abc", "provider_id")],
)
def test_bad_parameters_are_a_400_in_the_api_error_format(api, findings, query, field):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "trace"])
def test_other_methods_are_a_405_in_the_api_error_format_whatever_the_format(api, db, method):
    response = api.generic(method.upper(), "/api/v1/drifts/export?format=csv")
    assert response.status_code == 405, response.content
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_an_empty_export_is_a_header_or_nothing(api, db):
    assert b"".join(api.get(URL).streaming_content).decode() == ",".join(export.HEADER) + "\r\n"
    assert b"".join(api.get(f"{URL}?format=ndjson").streaming_content) == b""


def test_rows_stream_in_chunks_from_a_server_side_cursor(findings, monkeypatch):
    chunked = []
    real = connection.chunked_cursor
    monkeypatch.setattr(connection, "chunked_cursor", lambda: chunked.append(1) or real())
    queryset = Drift.objects.order_by("-detected_at", "-id")
    stream = export.lines(queryset, "ndjson", chunk_rows=3)
    assert chunked == []  # a generator: nothing is read before the first chunk is asked for
    chunks = list(stream)
    assert chunked == [1]
    assert [c.count("\n") for c in chunks] == [0, 3, 3, 2]  # (no header), then 3 rows per chunk
    assert [json.loads(line)["id"] for line in "".join(chunks).splitlines()] == [d.pk for d in queryset]


def test_the_export_costs_the_same_queries_for_8_rows_as_for_80(api, findings, provider):
    from django.test.utils import CaptureQueriesContext

    b"".join(api.get(URL).streaming_content)  # the token's first use of the minute writes last_used_at
    with CaptureQueriesContext(connection) as few:
        b"".join(api.get(URL).streaming_content)
    for n in range(72):
        make_drift(make_resource(provider), detected_at=T0 - timedelta(minutes=n))
    with CaptureQueriesContext(connection) as many:
        body = b"".join(api.get(URL).streaming_content)
    assert body.count(b"\r\n") == 81
    assert len(many.captured_queries) == len(few.captured_queries) <= 6
