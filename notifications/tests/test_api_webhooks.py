"""GET/POST/PATCH/DELETE /api/v1/webhooks and its actions: secrets shown once, never listed; URLs through the
guard; test pings, rotation, the delivery log and redelivery; errors in the API's format."""

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from driftwatch import outbox
from driftwatch.models import AuditEntry

from ..models import Delivery, Subscription
from ..sending import send_pending
from .helpers import dispatch, drift_data, subscribe
from .receivers import Answer

pytestmark = pytest.mark.django_db


def create(api, **body):
    body.setdefault("name", "ops hooks")
    body.setdefault("channel", "webhook")
    return api.post("/api/v1/webhooks", body, format="json")


def test_create_shows_the_secret_once_and_never_again(api, read_api, receiver):
    response = create(api, url=receiver.url)
    assert response.status_code == 201, response.json()
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert body["url"] == f"http://127.0.0.1:{receiver.port}/hook"
    assert body["event_types"] == ["drift.detected", "drift.status_changed", "drift.resolved"]
    assert body["min_severity"] is None and body["enabled"] is True
    for client in (api, read_api):
        listed = client.get("/api/v1/webhooks").json()
        assert listed["meta"]["total"] == 1 and "secret" not in listed["data"][0]
        detail = client.get(f"/api/v1/webhooks/{body['id']}")
        assert detail.status_code == 200 and secret not in detail.content.decode()
    assert AuditEntry.objects.filter(action="create", object_id=str(body["id"])).exists()


def test_slack_url_is_write_only_and_defaults_are_new_high_and_critical(api, receiver):
    body = create(api, name="slack", channel="slack", url=receiver.url).json()
    assert body["secret"] is None
    assert body["url"].endswith("…") and body["url"] != receiver.url
    assert body["event_types"] == ["drift.detected"] and body["min_severity"] == "high"
    assert Subscription.objects.get(pk=body["id"]).secret() == receiver.url


def test_email_subscription_needs_recipients(api):
    response = create(api, name="mail", channel="email")
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    assert "email_to" in response.json()["error"]["details"]
    ok = create(api, name="mail", channel="email", email_to=["ops@example.test"], min_severity="critical")
    assert ok.status_code == 201 and ok.json()["url"] is None and ok.json()["min_severity"] == "critical"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/hook",
        "http://user:pass@127.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "not a url",
    ],
)
def test_urls_the_guard_refuses_are_a_400(api, url):
    response = create(api, url=url)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error" and "url" in response.json()["error"]["details"]
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"event_types": ["drift.exploded"]},
        {"event_types": []},
        {"min_severity": "urgent"},
        {"provider_ids": ["one"]},
        {"batch_by_job": "yes"},
        {"secret": "whsec_mine"},
        {"channel": "pager"},
    ],
)
def test_bad_bodies_are_a_400(api, receiver, body):
    response = create(api, url=receiver.url, **body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"


def test_a_duplicate_name_is_a_400(api, receiver):
    assert create(api, url=receiver.url).status_code == 201
    response = create(api, url=receiver.url)
    assert response.status_code == 400 and "name" in response.json()["error"]["details"]


def test_read_tokens_may_list_but_not_change(read_api, api, receiver):
    assert create(read_api, url=receiver.url).status_code == 403
    sub_id = create(api, url=receiver.url).json()["id"]
    assert read_api.patch(f"/api/v1/webhooks/{sub_id}", {"enabled": False}, format="json").status_code == 403
    assert read_api.delete(f"/api/v1/webhooks/{sub_id}").status_code == 403
    assert read_api.post(f"/api/v1/webhooks/{sub_id}/test", {}, format="json").status_code == 403
    assert read_api.post(f"/api/v1/webhooks/{sub_id}/rotate-secret", {}, format="json").status_code == 403
    assert read_api.get(f"/api/v1/webhooks/{sub_id}/deliveries").status_code == 200


def test_anonymous_requests_are_a_401(anon_api):
    assert anon_api.get("/api/v1/webhooks").status_code == 401


def test_patch_changes_filters_and_refuses_a_channel_change(api, receiver):
    sub_id = create(api, url=receiver.url).json()["id"]
    response = api.patch(
        f"/api/v1/webhooks/{sub_id}", {"min_severity": "critical", "drift_types": ["security"]}, format="json"
    )
    assert response.status_code == 200 and response.json()["min_severity"] == "critical"
    assert response.json()["drift_types"] == ["security"]
    refused = api.patch(f"/api/v1/webhooks/{sub_id}", {"channel": "slack"}, format="json")
    assert refused.status_code == 400
    assert api.get("/api/v1/webhooks/999999").status_code == 404
    assert api.delete(f"/api/v1/webhooks/{sub_id}").status_code == 204
    assert not Subscription.objects.exists()


def test_the_test_button_sends_a_signed_ping_and_shows_the_result(api, receiver):
    created = create(api, url=receiver.url).json()
    response = api.post(f"/api/v1/webhooks/{created['id']}/test", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["delivery"]["event_type"] == "ping"
    assert body["delivery"]["response_status"] == 200 and body["delivery"]["status"] == "succeeded"
    (request,) = receiver.received
    envelope = Webhook(created["secret"]).verify(request.body, request.headers)
    assert envelope["type"] == "ping"


def test_a_failing_test_shows_the_status_but_not_what_the_receiver_said(api, receiver):
    receiver.answer(Answer(500, body=b"stack trace with internal-hostname.corp"))
    created = create(api, url=receiver.url).json()
    body = api.post(f"/api/v1/webhooks/{created['id']}/test", {}, format="json").json()
    assert body["ok"] is False and body["delivery"]["response_status"] == 500
    assert body["delivery"]["status"] == "failed"  # a test is not retried
    listing = api.get(f"/api/v1/webhooks/{created['id']}/deliveries").content.decode()
    assert "internal-hostname" not in listing and "internal-hostname" not in str(body)
    assert Delivery.objects.get().response_excerpt.startswith("stack trace")  # kept for the admin


def test_rotate_secret_returns_the_new_secret_and_both_sign(api, receiver):
    created = create(api, url=receiver.url).json()
    response = api.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", {"grace_hours": 1}, format="json")
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new.startswith("whsec_") and new != created["secret"]
    assert response.json()["previous_secret_expires_at"] is not None
    api.post(f"/api/v1/webhooks/{created['id']}/test", {}, format="json")
    (request,) = receiver.received
    Webhook(created["secret"]).verify(request.body, request.headers)
    Webhook(new).verify(request.body, request.headers)
    slack = create(api, name="slack", channel="slack", url=receiver.url).json()
    conflict = api.post(f"/api/v1/webhooks/{slack['id']}/rotate-secret", {}, format="json")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "no_signing_secret"
    bad = api.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", {"grace_hours": -1}, format="json")
    assert bad.status_code == 400


def test_deliveries_filter_by_status_and_redeliver(api, receiver, user, django_assert_max_num_queries):
    created = create(api, url=receiver.url, event_types=["drift.detected"]).json()
    receiver.answer(Answer(400), Answer(400))
    for i in range(5):
        outbox.emit("drift.detected", drift_data(i))
    dispatch()
    send_pending(created["id"])
    url = f"/api/v1/webhooks/{created['id']}/deliveries"
    with django_assert_max_num_queries(8):
        failed = api.get(url, {"status": "failed"}).json()
    assert failed["meta"]["total"] == 2 and {d["status"] for d in failed["data"]} == {"failed"}
    assert api.get(url, {"status": "succeeded"}).json()["meta"]["total"] == 3
    assert api.get(url, {"status": "bogus"}).status_code == 400
    one = failed["data"][0]
    response = api.post(f"{url}/{one['id']}/redeliver", {}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert api.post(f"{url}/{one['id']}/redeliver", {}, format="json").status_code == 409
    assert api.post(f"{url}/999999/redeliver", {}, format="json").status_code == 404
    send_pending(created["id"])
    assert Delivery.objects.get(pk=one["id"]).status == "succeeded"
    since = timezone.now().replace(year=2000).isoformat()
    again = api.post(f"/api/v1/webhooks/{created['id']}/redeliver-failed", {"since": since}, format="json")
    assert again.status_code == 202 and again.json() == {"redelivered": 1}
    send_pending(created["id"])
    assert not Delivery.objects.filter(status="failed").exists()
    # The redelivered message keeps its webhook-id, so a receiver can tell it already processed it.
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids.count(one["message_id"]) == 2
    assert AuditEntry.objects.filter(action="redeliver").count() == 2


def test_list_costs_a_constant_number_of_queries(api, receiver, user, django_assert_max_num_queries):
    for i in range(25):
        subscribe(user, name=f"hook-{i}", url=receiver.url)
    with django_assert_max_num_queries(6):
        body = api.get("/api/v1/webhooks", {"per_page": 100}).json()
    assert body["meta"]["total"] == 25
