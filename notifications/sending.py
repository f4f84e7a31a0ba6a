"""Sending: a subscription's pending deliveries, oldest first, by one worker at a time (a lease on the
subscription), so a receiver sees events in order and a slow one holds up nobody else.

At-least-once: a delivery that meets a timeout, a connection error, 429 or 5xx is retried on
DRIFTWATCH_NOTIFY_RETRY_DELAYS (with jitter; 429's Retry-After is honoured) and the deliveries behind it wait
for it; past the last delay it fails. 410 Gone disables the subscription; after
DRIFTWATCH_NOTIFY_PAUSE_AFTER_FAILURES failed attempts in a row it is paused; both are written to the audit
trail. Nothing secret is recorded: signatures are computed at each attempt and never stored.
"""

import json
import logging
import random
import smtplib
import time
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from driftwatch import outbound
from driftwatch.crypto import DecryptionError
from driftwatch.models import AuditEntry

from . import metrics as notification_metrics
from .models import Channel, Delivery, DeliveryStatus, Subscription
from .signing import signed_headers

logger = logging.getLogger(__name__)

USER_AGENT = "DriftWatch-Notifications/1"
EXCERPT_LIMIT = 200
_BATCH = 100


@dataclass
class Outcome:
    """What one attempt came to."""

    ok: bool
    retry: bool
    status: int | None = None
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None
    gone: bool = False


# --- Attempts, one per channel -------------------------------------------------------------------------


def attempt(sub: Subscription, delivery: Delivery, now=None) -> Outcome:
    """Send one delivery once and say how it went; never raises for what the receiver does."""
    try:
        if sub.channel == Channel.EMAIL:
            return _send_email(sub, delivery)
        return _send_http(sub, delivery, now or timezone.now())
    except DecryptionError as exc:
        return Outcome(ok=False, retry=False, error=str(exc)[:300])


def _send_http(sub: Subscription, delivery: Delivery, now) -> Outcome:
    body = delivery.body.encode()
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    if sub.channel == Channel.WEBHOOK:
        url = sub.url
        headers.update(signed_headers(sub.signing_secrets(now), delivery.message_id, int(now.timestamp()), body))
    else:
        url = sub.secret()  # a Slack incoming-webhook URL is the credential, stored encrypted
    try:
        response = outbound.request(
            "POST",
            url,
            headers=headers,
            body=body,
            timeout=settings.DRIFTWATCH_NOTIFY_TIMEOUT_SECONDS,
            max_bytes=64 * 1024,
        )
    except outbound.URLNotAllowed as exc:
        return Outcome(ok=False, retry=False, error=str(exc)[:300])
    except outbound.OutboundError as exc:
        return Outcome(ok=False, retry=True, error=str(exc)[:300])
    excerpt = _excerpt(response.body)
    status = response.status
    if 200 <= status < 300:
        return Outcome(ok=True, retry=False, status=status, excerpt=excerpt)
    error = f"The receiver answered HTTP {status}."
    if status == 410:
        return Outcome(ok=False, retry=False, status=status, excerpt=excerpt, error=error, gone=True)
    if status == 429 or status >= 500:
        retry_after = _retry_after(response.headers.get("retry-after"), now) if status == 429 else None
        return Outcome(ok=False, retry=True, status=status, excerpt=excerpt, error=error, retry_after=retry_after)
    return Outcome(ok=False, retry=False, status=status, excerpt=excerpt, error=error)


def _send_email(sub: Subscription, delivery: Delivery) -> Outcome:
    message = json.loads(delivery.body)
    email = EmailMultiAlternatives(
        subject=message["subject"],
        body=message["text"],
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(sub.email_to),
        headers={"X-DriftWatch-Delivery": delivery.message_id},
        connection=get_connection(timeout=settings.DRIFTWATCH_NOTIFY_TIMEOUT_SECONDS),
    )
    email.attach_alternative(message["html"], "text/html")
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused:
        return Outcome(ok=False, retry=False, error="The mail server refused every recipient.")
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(ok=False, retry=True, error=f"Mail server error: {type(exc).__name__}.")
    return Outcome(ok=True, retry=False)


def _excerpt(body: bytes) -> str:
    text = body[: EXCERPT_LIMIT * 4].decode("utf-8", errors="replace")
    return "".join(c if c.isprintable() else " " for c in text)[:EXCERPT_LIMIT]


def _retry_after(value: str | None, now) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None


def retry_delay(attempts: int, retry_after: float | None = None) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones; None when retries are exhausted."""
    delays = settings.DRIFTWATCH_NOTIFY_RETRY_DELAYS
    if attempts > len(delays):
        return None
    base = float(delays[attempts - 1])
    delay = base + random.uniform(0, base * settings.DRIFTWATCH_NOTIFY_RETRY_JITTER_PERCENT / 100)
    if retry_after is not None:
        delay = max(delay, min(retry_after, float(delays[-1])))
    return delay


# --- A subscription's queue ----------------------------------------------------------------------------


def _claim(sub_id: int, now) -> bool:
    until = now + timedelta(seconds=settings.DRIFTWATCH_NOTIFY_TIMEOUT_SECONDS * 3 + 30)
    return bool(
        Subscription.objects.filter(pk=sub_id)
        .filter(Q(sending_until__isnull=True) | Q(sending_until__lt=now))
        .update(sending_until=until)
    )


def _release(sub_id: int) -> None:
    Subscription.objects.filter(pk=sub_id).update(sending_until=None)


def send_pending(sub_id: int, *, now=None) -> int:
    """Send the subscription's due deliveries in order until one has to wait; returns how many were attempted.

    `now` fixes the clock (tests): a delivery is due when next_attempt_at <= now.
    """
    clock = (lambda: now) if now is not None else timezone.now
    if not _claim(sub_id, clock()):
        return 0  # another worker is sending this subscription's queue
    attempted = 0
    try:
        while True:
            sub = Subscription.objects.filter(pk=sub_id, enabled=True).first()
            if sub is None:
                break
            queue = list(
                Delivery.objects.filter(subscription_id=sub_id, status=DeliveryStatus.PENDING).order_by("id")[:_BATCH]
            )
            if not queue:
                break
            blocked = False
            attempted_now: list[Delivery] = []
            try:
                for delivery in queue:
                    at = clock()
                    if delivery.next_attempt_at and delivery.next_attempt_at > at:
                        blocked = True  # the oldest pending delivery waits for its retry; the rest wait behind it
                        break
                    outcome = _attempt(sub, delivery, at)
                    attempted_now.append(delivery)
                    attempted += 1
                    if not outcome.ok:
                        # Written at once: the failure streak and a pause must not wait for the batch.
                        _save(sub, attempted_now)
                        attempted_now = []
                        _record_health(sub, outcome)
                    elif sub.consecutive_failures:
                        _record_health(sub, outcome)
                    if not outcome.ok and (outcome.retry or outcome.gone or not sub.enabled):
                        blocked = True
                        break
                    if not sub.enabled:
                        blocked = True
                        break
            finally:
                # One write per batch: a worker lost mid-batch sends those deliveries again (at-least-once).
                _save(sub, attempted_now)
            _claim_renew(sub_id, clock())
            if blocked:
                break
    finally:
        _release(sub_id)
    return attempted


def _claim_renew(sub_id: int, now) -> None:
    until = now + timedelta(seconds=settings.DRIFTWATCH_NOTIFY_TIMEOUT_SECONDS * 3 + 30)
    Subscription.objects.filter(pk=sub_id).update(sending_until=until)


_RECORDED = [
    "status",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "response_status",
    "response_excerpt",
    "error",
    "duration_ms",
]


def _attempt(sub: Subscription, delivery: Delivery, now) -> Outcome:
    """One attempt, its result set on `delivery` (not saved): succeeded, retry at, or failed."""
    started = time.monotonic()
    outcome = attempt(sub, delivery, now)
    delivery.duration_ms = int((time.monotonic() - started) * 1000)
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_status = outcome.status
    delivery.response_excerpt = outcome.excerpt
    delivery.error = outcome.error
    if outcome.ok:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, None
    else:
        delay = retry_delay(delivery.attempts, outcome.retry_after) if outcome.retry else None
        if delay is None:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.next_attempt_at = now + timedelta(seconds=delay)
    return outcome


def _save(sub: Subscription, deliveries: list[Delivery]) -> None:
    """Record attempts (and count them). Without waiting for the flush to disk: a result lost in a database
    crash only means the delivery is sent again, which at-least-once allows (receivers dedupe on webhook-id)."""
    if not deliveries:
        return
    notification_metrics.record_attempts(sub.channel, deliveries)
    if connection.vendor != "postgresql":
        Delivery.objects.bulk_update(deliveries, _RECORDED)
        return
    # One UPDATE ... FROM (VALUES ...): Django's bulk_update builds a CASE per column and row, which costs
    # more than the HTTP calls it records.
    row = (
        "(%s::bigint, %s::varchar, %s::integer, %s::timestamptz, %s::timestamptz, %s::integer, %s::varchar, "
        "%s::varchar, %s::integer)"
    )
    params = []
    for d in deliveries:
        params += [
            d.pk,
            d.status,
            d.attempts,
            d.next_attempt_at,
            d.last_attempt_at,
            d.response_status,
            d.response_excerpt,
            d.error,
            d.duration_ms,
        ]
    table = Delivery._meta.db_table
    sql = (
        f"UPDATE {table} AS d SET status = v.status, attempts = v.attempts, next_attempt_at = v.next_attempt_at, "
        "last_attempt_at = v.last_attempt_at, response_status = v.response_status, "
        "response_excerpt = v.response_excerpt, error = v.error, duration_ms = v.duration_ms "
        f"FROM (VALUES {', '.join([row] * len(deliveries))}) AS v(id, status, attempts, next_attempt_at, "
        "last_attempt_at, response_status, response_excerpt, error, duration_ms) WHERE d.id = v.id"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(sql, params)


def _attempt_and_record(sub: Subscription, delivery: Delivery, now) -> Outcome:
    """One attempt, saved, with the subscription's health updated (the test button)."""
    outcome = _attempt(sub, delivery, now)
    _save(sub, [delivery])
    _record_health(sub, outcome)
    return outcome


def _record_health(sub: Subscription, outcome: Outcome) -> None:
    """Reset the failure streak on success; disable on 410; pause after too many failures in a row."""
    if outcome.ok:
        if sub.consecutive_failures:
            Subscription.objects.filter(pk=sub.pk).update(consecutive_failures=0)
            sub.consecutive_failures = 0
        return
    with transaction.atomic():
        Subscription.objects.filter(pk=sub.pk).update(consecutive_failures=F("consecutive_failures") + 1)
        sub.refresh_from_db(fields=["consecutive_failures", "enabled"])
        if outcome.gone:
            reason = "The receiver answered 410 Gone: disabled."
        elif sub.consecutive_failures >= settings.DRIFTWATCH_NOTIFY_PAUSE_AFTER_FAILURES:
            reason = f"Paused after {sub.consecutive_failures} failed attempts in a row."
        else:
            return
        if Subscription.objects.filter(pk=sub.pk, enabled=True).update(
            enabled=False, disabled_reason=reason, updated_at=timezone.now()
        ):
            sub.enabled, sub.disabled_reason = False, reason
            AuditEntry.record(None, "pause", sub, {"enabled": [True, False], "reason": reason})
            logger.warning("notification subscription %s disabled: %s", sub.pk, reason)


def seconds_until_due(sub_id: int, now=None) -> float | None:
    """Seconds until the subscription's oldest pending delivery is due, when it waits for a retry (else None)."""
    now = now or timezone.now()
    head = (
        Delivery.objects.filter(subscription_id=sub_id, status=DeliveryStatus.PENDING, subscription__enabled=True)
        .order_by("id")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if head is None or head <= now:
        return None
    return (head - now).total_seconds()


def due_subscription_ids(now=None) -> list[int]:
    """Enabled subscriptions whose oldest pending delivery is due and that no worker is sending."""
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now, subscription__enabled=True)
        .filter(Q(subscription__sending_until__isnull=True) | Q(subscription__sending_until__lt=now))
        .values_list("subscription_id", flat=True)
        .distinct()[:1000]
    )
