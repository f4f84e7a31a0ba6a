"""Subscriptions and deliveries, for the API and the admin alike: create, update, delete, rotate the signing
secret, send a test ping, redeliver. Each change writes its audit row; no secret ever goes into one."""

from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from driftwatch import outbox
from driftwatch.models import AuditEntry

from . import dispatch
from .models import PING, Channel, Delivery, DeliveryStatus, Subscription
from .signing import generate_secret

# What a new subscription receives when the request does not say.
DEFAULT_EVENT_TYPES = {
    Channel.WEBHOOK: ["drift.detected", "drift.status_changed", "drift.resolved"],
    Channel.SLACK: ["drift.detected"],
    Channel.EMAIL: ["drift.detected"],
}
DEFAULT_MIN_SEVERITY = {Channel.WEBHOOK: "", Channel.SLACK: "high", Channel.EMAIL: "high"}
_AUDITED = (
    "name",
    "url",
    "email_to",
    "event_types",
    "min_severity",
    "drift_types",
    "provider_ids",
    "resource_types",
    "batch_by_job",
    "immediate_critical",
    "enabled",
)


class NameTaken(Exception):
    """Another subscription has this name."""


def _snapshot(sub: Subscription) -> dict:
    return {name: getattr(sub, name) for name in _AUDITED}


def redact_slack_url(url: str) -> str:
    """What is shown of a Slack incoming-webhook URL: scheme, host and the start of the path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path[:10]}…"


@transaction.atomic
def create_subscription(values: dict, actor) -> tuple[Subscription, str | None]:
    """Create a subscription; returns it with its new signing secret (webhooks), which is shown only once."""
    channel = values["channel"]
    values.setdefault("event_types", DEFAULT_EVENT_TYPES[channel])
    values.setdefault("min_severity", DEFAULT_MIN_SEVERITY[channel])
    url = values.pop("url", "")
    sub = Subscription(**values, created_by=actor if getattr(actor, "is_authenticated", False) else None)
    secret = None
    if channel == Channel.WEBHOOK:
        sub.url = url
        secret = generate_secret()
        sub.set_secret(secret)
    elif channel == Channel.SLACK:
        sub.url = redact_slack_url(url)
        sub.set_secret(url)
    try:
        with transaction.atomic():
            sub.save()
    except IntegrityError:
        raise NameTaken(f"A subscription named {values['name']!r} already exists.") from None
    AuditEntry.record(actor, "create", sub, _snapshot(sub))
    return sub, secret


@transaction.atomic
def update_subscription(sub: Subscription, values: dict, actor) -> Subscription:
    """Change any of the settings; a Slack URL given is stored encrypted; re-enabling clears the failure streak."""
    sub = Subscription.objects.select_for_update().get(pk=sub.pk)
    before = _snapshot(sub)
    url = values.pop("url", None)
    if url is not None:
        if sub.channel == Channel.SLACK:
            sub.url = redact_slack_url(url)
            sub.set_secret(url)
        else:
            sub.url = url
    for name, value in values.items():
        setattr(sub, name, value)
    if values.get("enabled") and not before["enabled"]:
        sub.disabled_reason, sub.consecutive_failures = "", 0
    sub.updated_at = timezone.now()
    try:
        with transaction.atomic():
            sub.save()
    except IntegrityError:
        raise NameTaken(f"A subscription named {values.get('name')!r} already exists.") from None
    AuditEntry.record(actor, "update", sub, AuditEntry.diff(before, _snapshot(sub)))
    return sub


@transaction.atomic
def delete_subscription(sub: Subscription, actor) -> None:
    AuditEntry.record(actor, "delete", sub, {"name": sub.name, "channel": sub.channel})
    sub.delete()


@transaction.atomic
def rotate_secret(sub: Subscription, actor, *, grace_hours: int | None = None) -> tuple[Subscription, str]:
    """A new signing secret; the old one keeps signing alongside it for the grace period (0: stops at once)."""
    sub = Subscription.objects.select_for_update().get(pk=sub.pk)
    hours = settings.DRIFTWATCH_NOTIFY_ROTATION_GRACE_HOURS if grace_hours is None else grace_hours
    secret = generate_secret()
    if hours > 0:
        sub.previous_secret_encrypted = sub.secret_encrypted
        sub.previous_secret_expires_at = timezone.now() + timedelta(hours=hours)
    else:
        sub.previous_secret_encrypted, sub.previous_secret_expires_at = "", None
    sub.set_secret(secret)
    sub.updated_at = timezone.now()
    sub.save()
    AuditEntry.record(actor, "rotate_secret", sub, {"grace_hours": hours})
    return sub, secret


def send_test(sub: Subscription, actor) -> Delivery:
    """Send a ping to this subscription now (the one place a request waits on a receiver: it asked to)."""
    with transaction.atomic():
        now = timezone.now()
        event = outbox.emit(PING, {"message": "Test notification from DriftWatch.", "subscription_id": sub.pk}, now=now)
        event.dispatched_at = now
        event.save(update_fields=["dispatched_at"])
        delivery = dispatch.single_delivery(sub, event, now)
        delivery.save()
        AuditEntry.record(actor, "test", sub)
    from .sending import _attempt_and_record  # one attempt, recorded like any other

    sub = Subscription.objects.get(pk=sub.pk)
    _attempt_and_record(sub, delivery, timezone.now())
    if delivery.status == DeliveryStatus.PENDING:
        # A test is not retried: the answer is what the caller wanted.
        Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
    return delivery


def redeliver(deliveries, actor, *, now=None) -> int:
    """Queue finished deliveries again (same body, same webhook-id, a fresh attempt count); returns how many."""
    now = now or timezone.now()
    ids = list(deliveries.exclude(status=DeliveryStatus.PENDING).values_list("pk", flat=True))
    with transaction.atomic():
        count = Delivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, error="", response_status=None
        )
        per_sub: dict[int, int] = {}
        for sub_id in Delivery.objects.filter(pk__in=ids).values_list("subscription_id", flat=True):
            per_sub[sub_id] = per_sub.get(sub_id, 0) + 1
        for sub in Subscription.objects.filter(pk__in=list(per_sub)):
            AuditEntry.record(actor, "redeliver", sub, {"deliveries": per_sub[sub.pk]})
        sub_ids = sorted(per_sub)
        transaction.on_commit(lambda: dispatch.enqueue_senders(sub_ids))
    return count
