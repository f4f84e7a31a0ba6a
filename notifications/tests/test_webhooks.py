"""Webhook deliveries to a real HTTP receiver on loopback: signed the Standard Webhooks way (checked with the
standardwebhooks library), replay-resistant, rotatable, retried with backoff, in order, never after a rollback."""

import base64
import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families as parse
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from drifts.services import triage
from driftwatch import metrics, outbox
from driftwatch.models import AuditEntry

from ..models import Delivery, Subscription
from ..sending import send_pending
from .helpers import dispatch, drift_data, subscribe
from .receivers import Answer

pytestmark = pytest.mark.django_db


def test_a_drift_move_arrives_signed_and_verifies_with_standardwebhooks(receiver, drift, user):
    sub, secret = subscribe(user, name="hooks", url=receiver.url)
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    triage.move_drifts([drift.pk], "investigating", actor=user, note="on it")
    (delivery,) = dispatch()
    assert send_pending(sub.pk) == 1
    (request,) = receiver.received
    envelope = Webhook(secret).verify(request.body, request.headers)
    assert set(envelope) == {"type", "timestamp", "id", "data"}
    assert envelope["type"] == "drift.status_changed"
    assert envelope["data"]["from"] == "detected" and envelope["data"]["to"] == "investigating"
    assert envelope["data"]["actor"] == "alice" and envelope["data"]["note"] == "on it"
    body = envelope["data"]["drift"]
    assert body["id"] == drift.pk and body["summary"] == drift.summary
    assert body["links"]["admin"] == f"https://driftwatch.example.test/admin/drifts/drift/{drift.pk}/change/"
    assert body["links"]["api"] == f"https://driftwatch.example.test/api/v1/drifts/{drift.pk}"
    assert request.headers["webhook-id"] == delivery.message_id
    assert request.headers["content-type"] == "application/json"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 1, 200)
    assert delivery.duration_ms is not None and delivery.next_attempt_at is None


def test_a_tampered_body_or_timestamp_fails_verification(receiver, drift, user):
    sub, secret = subscribe(user, name="hooks", url=receiver.url)
    triage.move_drifts([drift.pk], "resolved", actor=user)
    dispatch()
    send_pending(sub.pk)
    request = receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body.replace(b"resolved", b"detected"), request.headers)
    # A replayer cannot freshen the timestamp: it is part of what is signed.
    fresh = {**request.headers, "webhook-timestamp": str(int(request.headers["webhook-timestamp"]) + 1)}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body, fresh)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(request.body, request.headers)


def test_a_delivery_replayed_past_the_tolerance_is_rejected(receiver, user):
    sub, secret = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    outbox.emit("drift.detected", drift_data(1))
    dispatch()
    # Signed six minutes ago: what a receiver sees when a captured delivery is replayed later.
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=6))
    send_pending(sub.pk, now=timezone.now() - timedelta(minutes=6))
    request = receiver.received[0]
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(request.body, request.headers)


def test_rotation_signs_with_both_secrets_during_the_grace_period_then_only_the_new(receiver, user):
    from .. import services

    sub, old = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    sub, new = services.rotate_secret(sub, user, grace_hours=2)
    assert new != old and new.startswith("whsec_")
    outbox.emit("drift.detected", drift_data(1))
    outbox.emit("drift.detected", drift_data(2))
    dispatch()
    now = timezone.now()
    send_pending(sub.pk, now=now)
    first, second = receiver.received
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(first.body, first.headers)  # receivers still on the old secret keep working
    Webhook(new).verify(first.body, first.headers)  # and those that switched already too
    # Past the grace period only the new secret signs.
    receiver.received.clear()
    outbox.emit("drift.detected", drift_data(3))
    dispatch()
    later = now + timedelta(hours=2, seconds=1)
    Delivery.objects.filter(status="pending").update(next_attempt_at=later - timedelta(minutes=1))
    send_pending(sub.pk, now=later)
    (third,) = receiver.received
    assert len(third.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(third.body, {**third.headers, "webhook-timestamp": str(int(timezone.now().timestamp()))})
    assert AuditEntry.objects.filter(action="rotate_secret", object_id=str(sub.pk)).exists()


def test_failures_are_retried_with_backoff_and_the_same_webhook_id(receiver, user):
    sub, secret = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    receiver.answer(Answer(503), Answer(500))
    outbox.emit("drift.detected", drift_data(1))
    (delivery,) = dispatch()
    t0 = timezone.now()
    send_pending(sub.pk, now=t0)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 503)
    assert delivery.error == "The receiver answered HTTP 503."
    assert t0 + timedelta(seconds=10) <= delivery.next_attempt_at <= t0 + timedelta(seconds=11)
    assert send_pending(sub.pk, now=t0 + timedelta(seconds=9)) == 0  # not due yet
    t1 = delivery.next_attempt_at
    send_pending(sub.pk, now=t1)
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and t1 + timedelta(seconds=60) <= delivery.next_attempt_at <= t1 + timedelta(
        seconds=66
    )
    send_pending(sub.pk, now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status, delivery.error) == ("succeeded", 3, 200, "")
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {delivery.message_id} and len(receiver.received) == 3
    for request in receiver.received:
        Webhook(secret).verify(request.body, request.headers)


def test_retries_stop_after_the_last_delay(receiver, user, settings):
    settings.DRIFTWATCH_NOTIFY_RETRY_DELAYS = [1, 2]
    sub, _ = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    receiver.default = Answer(502)
    outbox.emit("drift.detected", drift_data(1))
    (delivery,) = dispatch()
    now = timezone.now()
    for _ in range(3):
        send_pending(sub.pk, now=now)
        delivery.refresh_from_db()
        now = delivery.next_attempt_at or now
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)


def test_attempts_are_counted_by_channel_and_outcome_and_the_backlog_is_a_gauge(receiver, user, settings):
    settings.DRIFTWATCH_NOTIFY_RETRY_DELAYS = [1]
    sub, _ = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    receiver.answer(Answer(503), Answer(200), Answer(500), Answer(500))
    outbox.emit("drift.detected", drift_data(1))
    outbox.emit("drift.detected", drift_data(2))
    first, second = dispatch()

    def scrape():
        text = metrics.exposition().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in parse(text) for s in f.samples}

    before = scrape()
    assert before[("driftwatch_notification_deliveries_pending", (("channel", "webhook"),))] == 2
    now = timezone.now()
    for _ in range(4):  # 503 (retrying), 200, then the second: 500 (retrying), 500 (gave up)
        send_pending(sub.pk, now=now)
        now += timedelta(seconds=5)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("succeeded", "failed")

    after = scrape()

    def attempts(outcome):
        key = ("driftwatch_notification_attempts_total", (("channel", "webhook"), ("outcome", outcome)))
        return after[key] - before.get(key, 0)

    assert (attempts("succeeded"), attempts("retrying"), attempts("failed")) == (1, 2, 1)
    assert after[("driftwatch_notification_attempts_total", (("channel", "slack"), ("outcome", "failed")))] == 0
    count = ("driftwatch_notification_attempt_duration_seconds_count", (("channel", "webhook"),))
    assert after[count] - before.get(count, 0) == 4
    assert after[("driftwatch_notification_deliveries_pending", (("channel", "webhook"),))] == 0


def test_429_waits_at_least_retry_after(receiver, user):
    sub, _ = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    receiver.answer(Answer(429, headers={"Retry-After": "120"}))
    outbox.emit("drift.detected", drift_data(1))
    (delivery,) = dispatch()
    t0 = timezone.now()
    send_pending(sub.pk, now=t0)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at >= t0 + timedelta(seconds=120)


def test_a_connection_refused_is_retried(user):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    sub, _ = subscribe(user, name="hooks", url=f"http://127.0.0.1:{port}/hook", event_types=["drift.detected"])
    outbox.emit("drift.detected", drift_data(1))
    (delivery,) = dispatch()
    send_pending(sub.pk)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.response_status is None
    assert delivery.error  # DriftWatch's own message (the guard's), never what a server said


def test_a_4xx_other_than_429_and_410_fails_without_retry(receiver, user):
    sub, _ = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    receiver.answer(Answer(400, body=b"bad payload, secret-token-xyz"))
    outbox.emit("drift.detected", drift_data(1))
    outbox.emit("drift.detected", drift_data(2))
    first, second = dispatch()
    send_pending(sub.pk)
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, first.attempts, first.response_status) == ("failed", 1, 400)
    assert second.status == "succeeded"  # a refused delivery does not hold up the queue


def test_410_disables_the_subscription_and_says_so_in_the_audit_trail(receiver, user):
    sub, _ = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    receiver.answer(Answer(410))
    outbox.emit("drift.detected", drift_data(1))
    outbox.emit("drift.detected", drift_data(2))
    first, second = dispatch()
    send_pending(sub.pk)
    sub.refresh_from_db(), first.refresh_from_db(), second.refresh_from_db()
    assert not sub.enabled and "410" in sub.disabled_reason
    assert first.status == "failed" and second.status == "pending" and len(receiver.received) == 1
    audit = AuditEntry.objects.get(action="pause", object_id=str(sub.pk))
    assert audit.changes["enabled"] == [True, False]
    outbox.emit("drift.detected", drift_data(3))
    assert dispatch() == [first, second]  # a disabled subscription gets no new deliveries


def test_consecutive_failures_pause_the_subscription(receiver, user, settings):
    settings.DRIFTWATCH_NOTIFY_PAUSE_AFTER_FAILURES = 3
    sub, _ = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    receiver.default = Answer(500)
    outbox.emit("drift.detected", drift_data(1))
    (delivery,) = dispatch()
    now = timezone.now()
    for _ in range(3):
        send_pending(sub.pk, now=now)
        now += timedelta(days=1)
    sub.refresh_from_db(), delivery.refresh_from_db()
    assert not sub.enabled and sub.disabled_reason == "Paused after 3 failed attempts in a row."
    assert delivery.status == "pending"  # kept for when an admin resumes the subscription
    assert AuditEntry.objects.filter(action="pause", object_id=str(sub.pk)).count() == 1


def test_deliveries_of_one_subscription_arrive_in_event_order_even_after_a_failure(receiver, user):
    sub, _ = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    receiver.answer(Answer(503))
    for i in range(5):
        outbox.emit("drift.detected", drift_data(i))
    deliveries = dispatch()
    t0 = timezone.now()
    send_pending(sub.pk, now=t0)
    assert len(receiver.received) == 1  # the rest wait behind the one being retried
    send_pending(sub.pk, now=t0 + timedelta(seconds=12))
    ids = [json.loads(r.body)["data"]["drift"]["id"] for r in receiver.received]
    assert ids == [1000, 1000, 1001, 1002, 1003, 1004]
    assert all(d.status == "succeeded" for d in Delivery.objects.filter(pk__in=[d.pk for d in deliveries]))


def test_nothing_is_delivered_for_a_rolled_back_change(receiver, drift, user):
    subscribe(user, name="hooks", url=receiver.url)
    with pytest.raises(RuntimeError), transaction.atomic():
        triage.move_drifts([drift.pk], "investigating", actor=user)
        raise RuntimeError("rolled back")
    assert dispatch() == []


def test_filters_choose_what_a_subscription_receives(receiver, user):
    sub, _ = subscribe(
        user,
        name="hooks",
        url=receiver.url,
        event_types=["drift.detected"],
        min_severity="high",
        drift_types=["security"],
        provider_ids=[1],
        resource_types=["s3_bucket"],
    )
    outbox.emit("drift.detected", drift_data(1, severity="critical"))  # in
    outbox.emit("drift.detected", drift_data(2, severity="medium"))  # below the minimum
    outbox.emit("drift.detected", drift_data(3, drift_type="compliance"))  # another type
    outbox.emit("drift.detected", drift_data(4, provider_id=2))  # another provider
    outbox.emit("drift.detected", drift_data(5, resource_type="iam_role"))  # another resource type
    outbox.emit("drift.resolved", drift_data(6))  # not subscribed
    (delivery,) = dispatch()
    assert json.loads(delivery.body)["data"]["drift"]["id"] == 1001


def test_no_secret_is_stored_in_clear_or_in_deliveries_or_the_audit_trail(receiver, user):
    sub, secret = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    outbox.emit("drift.detected", drift_data(1))
    dispatch()
    send_pending(sub.pk)
    raw = Subscription.objects.filter(pk=sub.pk).values().get()
    assert secret not in json.dumps(raw, default=str)
    for d in Delivery.objects.values():
        assert secret not in json.dumps(d, default=str)
    for entry in AuditEntry.objects.values("changes"):
        assert secret not in json.dumps(entry["changes"])
