"""DriftWatch's Prometheus metrics: counters and histograms the scan path records, gauges read at scrape time.

Gauges cost a scrape a handful of small queries whatever the number of drifts: finding counts come from
the trigger-kept DriftCount table (one row per provider, type, severity, drift type and status), running
work from the partial index on unfinished units. Labels are bounded sets (statuses, severities, resource
types, AWS operations and error codes, provider ids); never a resource id.
"""

from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from driftwatch import metrics
from providers.models import Provider

from .models import UNFINISHED_UNIT_STATUSES, DetectionJob, DriftCount, JobStatus, JobTrigger, JobUnit

_FINAL = (JobStatus.SUCCEEDED, JobStatus.PARTIAL, JobStatus.FAILED)
SCANS_STARTED = metrics.counter(
    "driftwatch_scans_started_total",
    "Detection jobs started, by trigger (api, schedule, admin, cli).",
    ("trigger",),
    initial=[(trigger,) for trigger in JobTrigger.values],
)
SCANS_FINISHED = metrics.counter(
    "driftwatch_scans_finished_total",
    "Detection jobs finished, by trigger and final status (succeeded, partial, failed).",
    ("trigger", "status"),
    initial=[(trigger, str(status)) for trigger in JobTrigger.values for status in _FINAL],
)
UNITS_FINISHED = metrics.counter(
    "driftwatch_scan_units_finished_total",
    "Scan units (one provider, region and resource type) finished, by resource type and status.",
    ("resource_type", "status"),
)
UNIT_DURATION = metrics.histogram(
    "driftwatch_scan_unit_duration_seconds",
    "Wall time of a finished scan unit, from its last start to its end, by resource type.",
    ("resource_type",),
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
RESOURCES_SCANNED = metrics.counter(
    "driftwatch_resources_scanned_total",
    "Resources read and recorded by scan units, by resource type.",
    ("resource_type",),
)
UNIT_FAILURES = metrics.counter(
    "driftwatch_scan_unit_failures_total",
    "Scan units that failed, by resource type and error code (the AWS error code, or the exception's type).",
    ("resource_type", "error_code"),
)
AWS_CALLS = metrics.counter(
    "driftwatch_aws_calls_total", "AWS API calls made by scans, by service and operation.", ("service", "operation")
)
AWS_RETRIES = metrics.counter(
    "driftwatch_aws_retries_total",
    "HTTP requests botocore sent again after a retryable error, by service and operation.",
    ("service", "operation"),
)
AWS_THROTTLES = metrics.counter(
    "driftwatch_aws_throttles_total",
    "AWS answers that were throttling errors (429, Throttling, SlowDown, ...), by service and operation.",
    ("service", "operation"),
)

ATTRIBUTION_OUTCOMES = ("attributed", "not_found", "unavailable")
ATTRIBUTIONS = metrics.counter(
    "driftwatch_attributions_total",
    "Drift attributions settled, by outcome (attributed, not_found after the last retry, unavailable).",
    ("outcome",),
    initial=[(outcome,) for outcome in ATTRIBUTION_OUTCOMES],
)
ATTRIBUTION_LAG = metrics.histogram(
    "driftwatch_attribution_lag_seconds",
    "From a drift's detection to its attribution settling, by outcome (CloudTrail delivers events 5-15 minutes "
    "late, so attributed drifts usually settle on a retry).",
    ("outcome",),
    buckets=(10, 60, 300, 600, 900, 1800, 3600, 7200, 14400, 86400),
)

# Stored values (not exported as such): when each provider last had a scan whose units all succeeded.
_LAST_SUCCESS = "driftwatch_provider_last_success"


# --- recording (called by drifts.services) ---------------------------------------------------------------


def record_scan_started(trigger: str) -> None:
    metrics.write(SCANS_STARTED.inc(trigger=trigger))


def record_scan_finished(trigger: str, status: str) -> None:
    metrics.write(SCANS_FINISHED.inc(trigger=trigger, status=status))


def record_unit_finished(
    resource_type: str,
    status: str,
    *,
    started_at: datetime | None,
    finished_at: datetime,
    scanned: int,
    error_code: str = "",
) -> None:
    """One finished unit: its status, duration, resources and (when it failed) its error code."""
    changes = [*UNITS_FINISHED.inc(resource_type=resource_type, status=status)]
    changes += RESOURCES_SCANNED.inc(scanned, resource_type=resource_type)
    if started_at is not None:
        seconds = max(0.0, (finished_at - started_at).total_seconds())
        changes += UNIT_DURATION.observe(seconds, resource_type=resource_type)
    if status == "failed":
        changes += UNIT_FAILURES.inc(resource_type=resource_type, error_code=error_code or "Unknown")
    metrics.write(changes)


def record_aws_usage(calls: Iterable[tuple[str, int]], attempts: dict, throttles: dict) -> None:
    """AWS calls, retries and throttles of one unit, from its AwsClients' per-"service.Operation" counters."""
    changes = []
    for key, n in calls:
        service, _, operation = key.partition(".")
        changes += AWS_CALLS.inc(n, service=service, operation=operation)
        changes += AWS_RETRIES.inc(max(0, attempts.get(key, n) - n), service=service, operation=operation)
    for key, n in throttles.items():
        service, _, operation = key.partition(".")
        changes += AWS_THROTTLES.inc(n, service=service, operation=operation)
    metrics.write(changes)


def record_attributions(settled: Iterable[tuple[str, datetime]], now: datetime) -> None:
    """Drifts whose attribution settled now: (outcome, detected_at) each."""
    changes = []
    for outcome, detected_at in settled:
        changes += ATTRIBUTIONS.inc(outcome=outcome)
        changes += ATTRIBUTION_LAG.observe(max(0.0, (now - detected_at).total_seconds()), outcome=outcome)
    metrics.write(changes)


def record_provider_success(provider_ids: Iterable[int], at: datetime) -> None:
    """These providers had a scan whose units all succeeded, at `at`."""
    metrics.set_values(_LAST_SUCCESS, {str(pk): at.timestamp() for pk in provider_ids})


# --- gauges at scrape time ---------------------------------------------------------------------------


def collect() -> Iterator[Metric]:
    """Findings, running work and per-provider scan times: a handful of queries, none over the drifts."""
    names = dict(Provider.objects.values_list("id", "name"))

    drifts = GaugeMetricFamily(
        "driftwatch_drifts",
        "Drift findings by provider, resource type, severity, drift type and status (open: detected, "
        "investigating). Sums match GET /api/v1/drifts/summary.",
        labels=("provider_id", "provider", "resource_type", "severity", "drift_type", "status"),
    )
    rows = DriftCount.objects.exclude(n=0).values_list(
        "provider_id", "resource_type", "severity", "drift_type", "status", "n"
    )
    for provider_id, resource_type, severity, drift_type, status, n in rows.order_by(
        "provider_id", "resource_type", "severity", "drift_type", "status"
    ):
        labels = [str(provider_id), names.get(provider_id, ""), resource_type, severity, drift_type, status]
        drifts.add_metric(labels, n)
    yield drifts

    yield GaugeMetricFamily(
        "driftwatch_scans_running",
        "Detection jobs running now.",
        value=DetectionJob.objects.filter(status=JobStatus.RUNNING).count(),
    )
    units = GaugeMetricFamily("driftwatch_scan_units", "Scan units waiting or running now.", labels=("status",))
    counts = dict(
        JobUnit.objects.filter(status__in=UNFINISHED_UNIT_STATUSES)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for status in UNFINISHED_UNIT_STATUSES:
        units.add_metric([status], counts.get(status, 0))
    yield units

    yield from _provider_families(names)


def _provider_families(names: dict[int, str]) -> Iterator[Metric]:
    labels = ("provider_id", "provider")
    interval = GaugeMetricFamily(
        "driftwatch_provider_scan_interval_seconds", "Each enabled provider's scan interval.", labels=labels
    )
    last_scan = GaugeMetricFamily(
        "driftwatch_provider_last_scan_timestamp_seconds",
        "When each enabled provider's last scan ended, whatever its outcome (0: never).",
        labels=labels,
    )
    last_success = GaugeMetricFamily(
        "driftwatch_provider_last_successful_scan_timestamp_seconds",
        "When each enabled provider last had a scan whose units all succeeded without errors (0: never).",
        labels=labels,
    )
    successes = metrics.stored_values(_LAST_SUCCESS)
    enabled = Provider.objects.live().filter(enabled=True).values_list("id", "scan_interval_minutes", "last_scanned_at")
    for pk, minutes, last_scanned_at in enabled.order_by("id"):
        values = [str(pk), names.get(pk, "")]
        interval.add_metric(values, minutes * 60)
        last_scan.add_metric(values, last_scanned_at.timestamp() if last_scanned_at else 0)
        last_success.add_metric(values, successes.get(str(pk), 0))
    yield interval
    yield last_scan
    yield last_success
