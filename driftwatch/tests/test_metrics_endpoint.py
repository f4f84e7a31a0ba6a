"""/metrics: off until configured, then a token and/or an address allow-list; the database-kept series."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftwatch import metrics
from driftwatch.models import MetricSeries

pytestmark = pytest.mark.django_db

TOKEN = "a-metrics-token-of-some-length"


def test_metrics_are_off_until_a_setting_turns_them_on(client, settings):
    settings.DRIFTWATCH_METRICS_TOKEN = ""
    settings.DRIFTWATCH_METRICS_ALLOWED_NETWORKS = []
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_the_metrics_token_is_required_and_is_not_an_api_token(client, settings, write_token):
    settings.DRIFTWATCH_METRICS_TOKEN = TOKEN
    settings.DRIFTWATCH_METRICS_ALLOWED_NETWORKS = []
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": f"Bearer {write_token}"}):
        response = client.get("/metrics", **header)
        assert response.status_code == 401, header
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] == "not_authenticated"
    ok = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert ok.status_code == 200 and "no-store" in ok["Cache-Control"]
    assert "driftwatch_scans_started_total" in ok.content.decode()


def test_an_address_allow_list_alone_or_with_the_token(client, settings):
    import ipaddress

    settings.DRIFTWATCH_METRICS_TOKEN = ""
    settings.DRIFTWATCH_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    settings.DRIFTWATCH_METRICS_TOKEN = TOKEN
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.0.1", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 403


def test_scrapes_are_not_throttled_like_the_api(client, settings):
    settings.DRIFTWATCH_METRICS_TOKEN = TOKEN
    # A plain Django view: no DRF throttle applies, however often Prometheus (or several) scrape.
    codes = {client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code for _ in range(30)}
    assert codes == {200}


def test_counters_add_up_across_writes_and_histograms_are_cumulative():
    hits = metrics.counter("driftwatch_test_hits_total", "Test counter.", ("kind",))
    took = metrics.histogram("driftwatch_test_seconds", "Test histogram.", ("kind",), buckets=(1, 10))
    metrics.write([*hits.inc(kind="a"), *hits.inc(2, kind="a"), *hits.inc(kind="b")])
    metrics.write(hits.inc(4, kind="a"))
    metrics.write([*took.observe(0.5, kind="a"), *took.observe(5, kind="a"), *took.observe(50, kind="a")])
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    counted = {s.labels["kind"]: s.value for s in families["driftwatch_test_hits"].samples if s.name.endswith("_total")}
    assert counted == {"a": 7.0, "b": 1.0}
    buckets = {
        s.labels["le"]: s.value for s in families["driftwatch_test_seconds"].samples if s.name.endswith("_bucket")
    }
    assert buckets == {"1.0": 1.0, "10.0": 2.0, "+Inf": 3.0}
    sums = {s.name: s.value for s in families["driftwatch_test_seconds"].samples if not s.name.endswith("_bucket")}
    assert sums == {"driftwatch_test_seconds_sum": 55.5, "driftwatch_test_seconds_count": 3.0}
    assert MetricSeries.objects.filter(name="driftwatch_test_hits_total").count() == 2


def test_a_metric_that_cannot_be_written_never_fails_the_caller(monkeypatch, caplog):
    from django.db import DatabaseError

    hits = metrics.counter("driftwatch_test_broken_total", "Test counter.")

    def broken(*args, **kwargs):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(metrics, "_upsert", broken)
    metrics.write(hits.inc())  # does not raise
    assert "metrics not recorded: DatabaseError" in caplog.text


def test_labels_must_match_the_declaration():
    hits = metrics.counter("driftwatch_test_labels_total", "Test counter.", ("kind",))
    with pytest.raises(ValueError, match="do not match"):
        hits.inc(resource_id="r-123")
