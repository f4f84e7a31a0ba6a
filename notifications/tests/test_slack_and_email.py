"""Slack and email: one digest per scan per subscription, within Slack's limits whatever the findings say;
email as plain text and HTML through Django's email framework, and through a real SMTP server on loopback."""

import email
import json

import pytest
from django.core import mail

from driftwatch import outbox

from ..render import SLACK_MAX_BLOCKS, SLACK_SECTION_LIMIT
from ..sending import send_pending
from .helpers import dispatch, drift_data, job_data, scan_events, subscribe

pytestmark = pytest.mark.django_db

SEVERITIES = ["critical"] * 5 + ["high"] * 195 + ["medium"] * 150 + ["low"] * 150  # a 500-change scan


def _all_texts(block) -> list[str]:
    texts = []
    if isinstance(block, dict):
        for key, value in block.items():
            if key == "text" and isinstance(value, str):
                texts.append(value)
            else:
                texts.extend(_all_texts(value))
    elif isinstance(block, list):
        for item in block:
            texts.extend(_all_texts(item))
    return texts


def assert_within_slack_limits(message: dict) -> None:
    assert len(message["blocks"]) <= SLACK_MAX_BLOCKS
    for block in message["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SLACK_SECTION_LIMIT
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if "accessory" in block:
            assert len(block["accessory"]["text"]["text"]) <= 75


def test_a_500_change_scan_is_one_slack_digest_within_limits(receiver, user):
    sub, secret = subscribe(user, name="slack", channel="slack", url=receiver.url)
    assert secret is None and sub.url != receiver.url and sub.secret() == receiver.url  # the URL is the secret
    assert sub.event_types == ["drift.detected"] and sub.min_severity == "high"  # the default
    scan_events(42, SEVERITIES)
    (delivery,) = dispatch()
    assert delivery.event_type == "digest" and delivery.job_id == 42
    send_pending(sub.pk)
    (request,) = receiver.received
    message = json.loads(request.body)
    assert_within_slack_limits(message)
    text = "\n".join(_all_texts(message))
    # Only what passes the filter (high and critical) counts: 200 findings, the 10 most severe listed first.
    assert "200 finding(s) in scan #42" in text
    assert "5 critical" in text and "195 high" in text and "medium" not in message["text"]
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert "CRITICAL" in sections[1]["text"]["text"] and "HIGH" in sections[-2]["text"]["text"]
    assert "and 190 more" in sections[-1]["text"]["text"]
    assert sections[-1]["accessory"]["url"].startswith("https://driftwatch.example.test/admin/drifts/drift/?")
    assert "webhook-signature" not in request.headers  # Slack is not signed: its URL is the credential


def test_huge_findings_still_fit_slack_limits(receiver, user):
    sub, _ = subscribe(user, name="slack", channel="slack", url=receiver.url, min_severity="low")
    events = [
        (
            "drift.detected",
            drift_data(i, severity="critical", job_id=7, summary="s" * 500, current_value="x" * 20000),
            7,
        )
        for i in range(80)
    ]
    outbox.emit_many(events + [("job.completed", job_data(7), 7)])
    (delivery,) = dispatch()
    assert_within_slack_limits(json.loads(delivery.body))


def test_an_unchanged_rescan_sends_no_digest(receiver, user):
    subscribe(user, name="slack", channel="slack", url=receiver.url)
    scan_events(43, [])
    assert dispatch() == []


def test_findings_below_the_minimum_send_no_digest(receiver, user):
    subscribe(user, name="slack", channel="slack", url=receiver.url)
    scan_events(44, ["low", "medium"])
    assert dispatch() == []


def test_a_critical_finding_may_go_at_once_too_but_only_once(receiver, user):
    sub, _ = subscribe(user, name="slack", channel="slack", url=receiver.url, immediate_critical=True)
    scan_events(45, ["critical", "high", "high"])
    deliveries = dispatch()
    assert [d.event_type for d in deliveries] == ["drift.detected", "digest"]
    assert "CRITICAL" in deliveries[0].body
    assert dispatch() == deliveries  # dispatching again sends nothing twice


def test_a_status_change_outside_a_scan_is_sent_on_its_own(receiver, user):
    subscribe(user, name="slack", channel="slack", url=receiver.url, event_types=["drift.status_changed"])
    outbox.emit(
        "drift.status_changed", {**drift_data(1), "from": "detected", "to": "investigating", "actor": "bob", "note": ""}
    )
    (delivery,) = dispatch()
    message = json.loads(delivery.body)
    assert_within_slack_limits(message)
    assert "Changed by: bob" in "\n".join(_all_texts(message))


def test_webhooks_get_one_delivery_per_event_or_one_batch_per_job(receiver, second_receiver, user):
    per_event, _ = subscribe(user, name="events", url=receiver.url, event_types=["drift.detected"])
    batched, _ = subscribe(
        user, name="batch", url=second_receiver.url, event_types=["drift.detected"], batch_by_job=True
    )
    scan_events(46, ["low"] * 30)
    deliveries = dispatch()
    assert sum(d.subscription_id == per_event.pk for d in deliveries) == 30
    (batch,) = [d for d in deliveries if d.subscription_id == batched.pk]
    body = json.loads(batch.body)
    assert body["type"] == "batch" and body["data"]["job"]["id"] == 46 and len(body["data"]["events"]) == 30
    assert all(e["type"] == "drift.detected" for e in body["data"]["events"])


def test_email_digest_has_text_and_html_through_django_email(user):
    sub, _ = subscribe(user, name="mail", channel="email", email_to=["ops@example.test"])
    scan_events(47, ["critical", "high"])
    (delivery,) = dispatch()
    send_pending(sub.pk)
    (message,) = mail.outbox
    assert message.to == ["ops@example.test"]
    assert message.subject.startswith("DriftWatch: 2 finding(s) in scan #47")
    assert "[CRITICAL]" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "<strong>[CRITICAL]</strong>" in html
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"


def test_email_reaches_a_real_smtp_server(smtp_receiver, user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_receiver.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    sub, _ = subscribe(user, name="mail", channel="email", email_to=["ops@example.test", "sec@example.test"])
    scan_events(48, ["critical"])
    dispatch()
    send_pending(sub.pk)
    (envelope,) = smtp_receiver.messages
    assert sorted(envelope.rcpt_tos) == ["ops@example.test", "sec@example.test"]
    parsed = email.message_from_bytes(envelope.content)
    assert parsed["Subject"].startswith("DriftWatch: 1 finding(s) in scan #48")
    kinds = {part.get_content_type() for part in parsed.walk()}
    assert {"text/plain", "text/html"} <= kinds


def test_an_smtp_server_that_is_down_means_a_retry(user, settings):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    sub, _ = subscribe(user, name="mail", channel="email", email_to=["ops@example.test"])
    scan_events(49, ["critical"])
    (delivery,) = dispatch()
    send_pending(sub.pk)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.error.startswith("Mail server error")
