"""/metrics after real scans against moto: parsed with prometheus_client's own parser, checked against the database."""

from collections import Counter

import pytest
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from devtools.changes import apply_changes
from devtools.estate import seed_estate
from drifts.models import DetectionJob, Drift, JobUnit
from drifts.services import detection, jobs
from driftwatch.tests.factories import make_drift, make_provider, make_resource

pytestmark = pytest.mark.django_db

METRICS_TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def metrics_on(settings):
    settings.DRIFTWATCH_METRICS_TOKEN = METRICS_TOKEN
    settings.DRIFTWATCH_METRICS_ALLOWED_NETWORKS = []


def scrape(client) -> dict[str, list]:
    """GET /metrics with the token; {family name: samples}, parsed by the Prometheus client's parser."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {family.name: family.samples for family in text_string_to_metric_families(response.content.decode())}


def total(samples, name: str, **labels) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def scan(provider) -> DetectionJob:
    job, created = detection.start_detection(trigger="cli", provider_id=provider.pk)
    assert created
    for unit in JobUnit.objects.filter(job=job).order_by("id"):
        jobs.scan_unit(unit.pk)
    job.refresh_from_db()
    return job


@pytest.fixture
def estate(moto):
    return seed_estate(moto, regions=["us-east-1"])


@pytest.fixture
def aws_provider(moto, estate):
    provider = make_provider(name="prod", regions=["us-east-1"], endpoint_url=moto)
    provider.set_credentials({"access_key_id": "testing", "secret_access_key": "testing"})
    provider.save()
    return provider


def test_metrics_after_two_scans_match_the_summary_and_the_jobs(client, api, moto, estate, aws_provider):
    first = scan(aws_provider)
    apply_changes(moto, estate)
    second = scan(aws_provider)
    assert first.status == second.status == "succeeded"

    families = scrape(client)
    summary = api.get("/api/v1/drifts/summary").json()
    drifts = families["driftwatch_drifts"]
    assert summary["total"] > 5
    for severity, n in summary["by_severity"].items():
        assert total(drifts, "driftwatch_drifts", severity=severity) == n
    for status, n in summary["by_status"].items():
        assert total(drifts, "driftwatch_drifts", status=status) == n
    by_type = Counter(Drift.objects.values_list("resource_type", flat=True))
    for resource_type, n in by_type.items():
        assert total(drifts, "driftwatch_drifts", resource_type=resource_type, provider="prod") == n
    assert all(s.labels["provider_id"] == str(aws_provider.pk) for s in drifts)

    started = families["driftwatch_scans_started"]
    assert total(started, "driftwatch_scans_started_total", trigger="cli") == 2
    finished = families["driftwatch_scans_finished"]
    assert total(finished, "driftwatch_scans_finished_total", trigger="cli", status="succeeded") == 2

    units = JobUnit.objects.filter(job__in=[first, second])
    scanned = families["driftwatch_resources_scanned"]
    assert total(scanned, "driftwatch_resources_scanned_total") == first.resources_scanned + second.resources_scanned
    s3 = sum(u.resources_scanned for u in units if u.resource_type == "s3_bucket")
    assert total(scanned, "driftwatch_resources_scanned_total", resource_type="s3_bucket") == s3
    finished_units = families["driftwatch_scan_units_finished"]
    assert total(finished_units, "driftwatch_scan_units_finished_total", status="succeeded") == units.count()

    duration = families["driftwatch_scan_unit_duration_seconds"]
    assert total(duration, "driftwatch_scan_unit_duration_seconds_count") == units.count()
    assert total(duration, "driftwatch_scan_unit_duration_seconds_bucket", le="+Inf") == units.count()
    # Cumulative buckets never decrease along the bounds.
    s3_buckets = [s.value for s in duration if s.name.endswith("_bucket") and s.labels["resource_type"] == "s3_bucket"]
    assert s3_buckets == sorted(s3_buckets) and s3_buckets[-1] == 2

    calls = families["driftwatch_aws_calls"]
    assert total(calls, "driftwatch_aws_calls_total", service="s3", operation="ListBuckets") == 2
    assert total(calls, "driftwatch_aws_calls_total", service="iam", operation="ListRoles") >= 2
    assert total(families["driftwatch_aws_throttles"], "driftwatch_aws_throttles_total") == 0

    assert families["driftwatch_scans_running"][0].value == 0
    last = next(
        s.value
        for s in families["driftwatch_provider_last_successful_scan_timestamp_seconds"]
        if s.labels["provider_id"] == str(aws_provider.pk)
    )
    assert last == pytest.approx(second.finished_at.timestamp(), abs=1)
    interval = families["driftwatch_provider_scan_interval_seconds"]
    assert total(interval, "driftwatch_provider_scan_interval_seconds", provider="prod") == 3600


def test_a_failing_unit_counts_its_error_code_and_not_a_success(client, moto, estate, aws_provider, monkeypatch):
    import providers.services

    scan(aws_provider)
    real = providers.services.aws_clients

    def deny_roles(provider):
        clients = real(provider)

        def deny(**kwargs):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no ListRoles"}}, "ListRoles")

        clients.session.events.register("before-call.iam.ListRoles", deny)
        return clients

    monkeypatch.setattr(providers.services, "aws_clients", deny_roles)
    before = next(
        s.value
        for s in scrape(client)["driftwatch_provider_last_successful_scan_timestamp_seconds"]
        if s.labels["provider_id"] == str(aws_provider.pk)
    )
    job = scan(aws_provider)
    assert job.status == "partial"

    families = scrape(client)
    failures = families["driftwatch_scan_unit_failures"]
    name = "driftwatch_scan_unit_failures_total"
    assert total(failures, name, resource_type="iam_role", error_code="AccessDenied") == 1
    assert total(failures, "driftwatch_scan_unit_failures_total") == 1
    finished = families["driftwatch_scans_finished"]
    assert total(finished, "driftwatch_scans_finished_total", status="partial") == 1
    units = families["driftwatch_scan_units_finished"]
    assert total(units, "driftwatch_scan_units_finished_total", resource_type="iam_role", status="failed") == 1
    # The partial scan is not a successful one: the timestamp stays at the first scan's.
    after = next(
        s.value
        for s in families["driftwatch_provider_last_successful_scan_timestamp_seconds"]
        if s.labels["provider_id"] == str(aws_provider.pk)
    )
    assert after == before > 0


def test_throttled_answers_and_retries_are_counted(client, moto, estate, aws_provider, monkeypatch):
    from botocore.awsrequest import AWSResponse

    import providers.services

    remaining = {"n": 3}

    class _Raw:
        def stream(self, **kw):
            yield b""

    def slow_down(request, **kwargs):
        if remaining["n"] > 0:
            remaining["n"] -= 1
            response = AWSResponse(request.url, 503, {}, _Raw())
            response._content = b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
            return response
        return None

    real = providers.services.aws_clients

    def throttled(provider):
        clients = real(provider)
        clients.session.events.register("before-send.s3.GetBucketVersioning", slow_down)
        return clients

    monkeypatch.setattr(providers.services, "aws_clients", throttled)
    job = scan(aws_provider)
    assert job.status == "succeeded" and remaining["n"] == 0

    families = scrape(client)
    throttles = families["driftwatch_aws_throttles"]
    assert total(throttles, "driftwatch_aws_throttles_total", service="s3", operation="GetBucketVersioning") == 3
    assert total(throttles, "driftwatch_aws_throttles_total") == 3
    retries = families["driftwatch_aws_retries"]
    assert total(retries, "driftwatch_aws_retries_total", service="s3", operation="GetBucketVersioning") == 3
    assert total(retries, "driftwatch_aws_retries_total") == 3


def test_a_scrape_costs_the_same_queries_at_any_number_of_drifts(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    provider = make_provider(name="big")

    def add(count: int) -> None:
        for n in range(count):
            resource = make_resource(provider)
            make_drift(resource, severity=["critical", "high", "medium", "low"][n % 4])

    add(4)
    with CaptureQueriesContext(connection) as small:
        scrape(client)
    add(36)
    with CaptureQueriesContext(connection) as large:
        families = scrape(client)
    assert len(large.captured_queries) == len(small.captured_queries) <= 8
    assert not any("drifts_drift" in q["sql"].replace("drifts_driftcount", "") for q in large.captured_queries)
    assert total(families["driftwatch_drifts"], "driftwatch_drifts") == 40
    assert total(families["driftwatch_drifts"], "driftwatch_drifts", severity="critical", provider="big") == 10


def test_the_dashboard_and_alert_rules_use_only_exported_metrics(client):
    import json
    import re
    from pathlib import Path

    import yaml

    docs = Path(__file__).resolve().parents[2] / "docs"
    provider = make_provider(name="p")
    make_drift(make_resource(provider))
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    # Every declared family, with or without samples yet: the names its samples have or will have.
    exported = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\w+)$", response.content.decode(), flags=re.MULTILINE):
        suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
        exported |= {name + suffix for suffix in suffixes}

    dashboard = json.loads((docs / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    rules = yaml.safe_load((docs / "prometheus-alerts.yml").read_text())["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == [
        "DriftWatchCriticalDriftOpen",
        "DriftWatchScansFailing",
        "DriftWatchNoSuccessfulScan",
    ]
    expressions += [r["expr"] for r in rules]
    used = {name for expr in expressions for name in re.findall(r"driftwatch_[a-z_]+", expr)}
    assert len(used) >= 10
    assert used <= exported, used - exported
