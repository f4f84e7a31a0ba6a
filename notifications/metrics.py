"""Notification metrics: every delivery attempt by channel and outcome, its duration, and the backlog.

Attempts are counted when they are recorded (one metrics write per batch, like the deliveries themselves);
the backlog gauge reads the partial index on pending deliveries at scrape time.
"""

from collections import Counter
from collections.abc import Iterable, Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from driftwatch import metrics

from .models import Channel, Delivery, DeliveryStatus

# succeeded; retrying (failed this time, another attempt is scheduled); failed (gave up).
OUTCOMES = ("succeeded", "retrying", "failed")

ATTEMPTS = metrics.counter(
    "driftwatch_notification_attempts_total",
    "Notification delivery attempts, by channel (webhook, slack, email) and outcome (succeeded; retrying: "
    "failed, another attempt is scheduled; failed: gave up).",
    ("channel", "outcome"),
    initial=[(channel, outcome) for channel in Channel.values for outcome in OUTCOMES],
)
ATTEMPT_DURATION = metrics.histogram(
    "driftwatch_notification_attempt_duration_seconds",
    "Wall time of one delivery attempt, by channel.",
    ("channel",),
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def outcome_of(delivery: Delivery) -> str:
    if delivery.status == DeliveryStatus.SUCCEEDED:
        return "succeeded"
    return "retrying" if delivery.status == DeliveryStatus.PENDING else "failed"


def record_attempts(channel: str, deliveries: Iterable[Delivery]) -> None:
    """The attempts just recorded on these deliveries (one each)."""
    deliveries = list(deliveries)
    changes = []
    for outcome, n in Counter(outcome_of(d) for d in deliveries).items():
        changes += ATTEMPTS.inc(n, channel=channel, outcome=outcome)
    changes += ATTEMPT_DURATION.observe_many([(d.duration_ms or 0) / 1000 for d in deliveries], channel=channel)
    metrics.write(changes)


def collect() -> Iterator[Metric]:
    backlog = GaugeMetricFamily(
        "driftwatch_notification_deliveries_pending",
        "Deliveries waiting for their first attempt or a retry, by channel (enabled subscriptions only).",
        labels=("channel",),
    )
    counts = dict(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, subscription__enabled=True)
        .values_list("subscription__channel")
        .annotate(n=Count("id"))
        .order_by()
    )
    for channel in Channel.values:
        backlog.add_metric([channel], counts.get(channel, 0))
    yield backlog
