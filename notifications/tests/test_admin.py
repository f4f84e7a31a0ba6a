"""The notifications admin: create with the secret shown once, the API's URL checks, test, rotate, resume,
and the delivery log with its redeliver action."""

import pytest

from driftwatch import outbox
from driftwatch.models import AuditEntry

from ..models import Delivery, Subscription
from ..sending import send_pending
from .helpers import dispatch, drift_data, subscribe
from .receivers import Answer

pytestmark = pytest.mark.django_db

SUBS = "/admin/notifications/subscription/"
DELIVERIES = "/admin/notifications/delivery/"


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _form(**values):
    data = {
        "name": "ops",
        "channel": "webhook",
        "url": "",
        "email_to": "",
        "min_severity": "",
        "provider_ids": "",
        "resource_types": "",
        "enabled": "on",
    }
    data.update(values)
    return data


def test_creating_a_webhook_shows_its_secret_once(admin_client, receiver):
    response = admin_client.post(f"{SUBS}add/", _form(url=receiver.url), follow=True)
    assert response.status_code == 200
    (sub,) = Subscription.objects.all()
    shown = [m for m in _messages(response) if "whsec_" in m]
    assert len(shown) == 1 and sub.secret() in shown[0]
    assert sub.event_types == ["drift.detected", "drift.status_changed", "drift.resolved"]
    page = admin_client.get(f"{SUBS}{sub.pk}/change/").content.decode()
    assert sub.secret() not in page
    assert AuditEntry.objects.filter(action="create", object_id=str(sub.pk)).exists()


def test_the_admin_refuses_what_the_api_refuses(admin_client):
    response = admin_client.post(f"{SUBS}add/", _form(url="http://169.254.169.254/latest/"))
    assert response.status_code == 200 and not Subscription.objects.exists()
    assert "url" in response.context["adminform"].form.errors
    response = admin_client.post(f"{SUBS}add/", _form(channel="email"))
    assert "email_to" in response.context["adminform"].form.errors


def test_slack_url_is_never_rendered_back(admin_client, receiver):
    admin_client.post(f"{SUBS}add/", _form(name="slack", channel="slack", url=receiver.url + "/T0/B0/secretpart"))
    sub = Subscription.objects.get()
    assert sub.secret().endswith("secretpart")
    assert "secretpart" not in admin_client.get(f"{SUBS}{sub.pk}/change/").content.decode()
    assert "secretpart" not in admin_client.get(SUBS).content.decode()
    # Saving without a URL keeps the stored one.
    admin_client.post(f"{SUBS}{sub.pk}/change/", _form(name="slack-2", channel="slack"), follow=True)
    sub.refresh_from_db()
    assert sub.name == "slack-2" and sub.secret().endswith("secretpart")


def test_test_rotate_and_resume_actions(admin_client, receiver, user):
    sub, _ = subscribe(user, name="ops", url=receiver.url)
    Subscription.objects.filter(pk=sub.pk).update(enabled=False, disabled_reason="Paused after 10 failed attempts.")
    data = {"_selected_action": [str(sub.pk)], "index": "0"}
    response = admin_client.post(SUBS, {**data, "action": "send_test_ping"}, follow=True)
    assert any("ping delivered" in m for m in _messages(response)) and len(receiver.received) == 1
    response = admin_client.post(SUBS, {**data, "action": "rotate_secret"}, follow=True)
    assert any("new signing secret whsec_" in m for m in _messages(response))
    admin_client.post(SUBS, {**data, "action": "resume"}, follow=True)
    sub.refresh_from_db()
    assert sub.enabled and sub.disabled_reason == "" and sub.previous_secret_expires_at is not None
    listing = admin_client.get(SUBS).content.decode()
    assert "enabled" in listing and "log" in listing


def test_the_delivery_log_shows_failures_and_redelivers(admin_client, receiver, user):
    sub, _ = subscribe(user, name="ops", url=receiver.url, event_types=["drift.detected"])
    receiver.answer(Answer(400, body=b"schema mismatch"))
    outbox.emit("drift.detected", drift_data(1))
    (delivery,) = dispatch()
    send_pending(sub.pk)
    listing = admin_client.get(DELIVERIES, {"status__exact": "failed"}).content.decode()
    assert "dw-failed" in listing and "The receiver answered HTTP 400." in listing
    detail = admin_client.get(f"{DELIVERIES}{delivery.pk}/change/").content.decode()
    assert "schema mismatch" in detail  # the excerpt is for admins only
    response = admin_client.post(
        DELIVERIES, {"action": "redeliver", "_selected_action": [str(delivery.pk)], "index": "0"}, follow=True
    )
    assert any("1 delivery(ies) queued again" in m for m in _messages(response))
    send_pending(sub.pk)
    assert Delivery.objects.get(pk=delivery.pk).status == "succeeded"
