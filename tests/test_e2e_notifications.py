"""Notifications end to end on a real stack: a Celery worker on Redis scans moto; a signed webhook receiver, a
Slack receiver and a receiver that fails at first, all real HTTP servers on loopback.

Every new drift arrives signed and verifiable, Slack gets exactly one digest per scan, the failing receiver
gets its deliveries once it recovers, and an unchanged rescan sends nothing.
"""

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from standardwebhooks.webhooks import Webhook

from devtools.changes import apply_changes
from devtools.estate import seed_estate
from devtools.fake_aws import FAKE_ENV
from notifications.models import Delivery
from notifications.tests.receivers import Answer, HttpReceiver

from .test_e2e_worker import _database_url, _run_scan, _tail, broker_url  # noqa: F401 - fixture

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def notify_worker(broker_url, tmp_path):  # noqa: F811 - the fixture imported above
    """A worker with embedded beat (the notification sweep) and short retry delays."""
    with running_worker(broker_url, tmp_path) as log_path:
        yield log_path


@contextlib.contextmanager
def running_worker(broker: str, tmp_path: Path):
    """A worker with embedded beat on `broker` and the test database, until the block ends."""
    env = {
        **os.environ,
        **FAKE_ENV,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": "" if broker.startswith("filesystem") else broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DRIFTWATCH_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "driftwatch.settings",
        "PYTHONUNBUFFERED": "1",
        "DRIFTWATCH_NOTIFY_RETRY_DELAYS": "2,3,5,10",
        "DRIFTWATCH_NOTIFY_SWEEP_SECONDS": "1",
        "DRIFTWATCH_SUPERVISE_SECONDS": "5",
        "DRIFTWATCH_OUTBOUND_ALLOW_HTTP": "true",
        "DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS": "127.0.0.1,localhost,::1",
    }
    argv = [
        "-A",
        "driftwatch",
        "worker",
        "-B",
        "--concurrency",
        "2",
        "-Q",
        "celery",
        "-l",
        "info",
        "-s",
        str(tmp_path / "beat-schedule"),
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--hostname",
        f"e2e-notify-{os.getpid()}@%h",
    ]
    command = [sys.executable, "-m", "celery", *argv]
    log_path = tmp_path / "worker.log"
    connection.close()
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start (exit code {process.poll()}):\n{_tail(log_path)}")
            time.sleep(0.2)
        yield log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def receivers():
    started = [HttpReceiver().start() for _ in range(3)]
    yield started
    for r in started:
        r.stop()


def _wait(predicate, timeout: float, log_path: Path, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}\n{_tail(log_path)}")


def test_a_scan_notifies_webhooks_and_slack_once_and_a_failing_receiver_catches_up(
    api, moto, notify_worker, receivers, settings
):
    settings.DRIFTWATCH_OUTBOUND_ALLOW_HTTP = True
    settings.DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1", "localhost", "::1"]
    hooks, slack, flaky = receivers
    flaky.answer(Answer(503), Answer(503), Answer(503))
    estate = seed_estate(moto, regions=("us-east-1",))
    provider = api.post(
        "/api/v1/providers",
        {
            "name": "moto",
            "kind": "aws",
            "regions": ["us-east-1"],
            "endpoint_url": moto,
            "credentials": {"access_key_id": "testing", "secret_access_key": "testing"},
        },
        format="json",
    ).json()["id"]
    secret = api.post(
        "/api/v1/webhooks",
        {"name": "hooks", "channel": "webhook", "url": hooks.url, "event_types": ["drift.detected"]},
        format="json",
    ).json()["secret"]
    flaky_secret = api.post(
        "/api/v1/webhooks",
        {"name": "flaky", "channel": "webhook", "url": flaky.url, "event_types": ["drift.detected"]},
        format="json",
    ).json()["secret"]
    created = api.post(
        "/api/v1/webhooks",
        {"name": "slack", "channel": "slack", "url": slack.url, "min_severity": "low"},
        format="json",
    )
    assert created.status_code == 201, created.content

    first = _run_scan(api, provider, notify_worker)
    assert first["status"] == "succeeded", first["errors"]
    changes = apply_changes(moto, estate)
    second = _run_scan(api, provider, notify_worker)
    assert second["counters"]["drifts_new"] == len(changes)
    drift_ids = {d["id"] for d in api.get("/api/v1/drifts", {"per_page": 100}).json()["data"]}
    assert len(drift_ids) == len(changes)

    hooks.wait_for(len(changes), timeout=60)
    got = {}
    for request in hooks.received:
        envelope = Webhook(secret).verify(request.body, request.headers)
        assert envelope["type"] == "drift.detected"
        got[envelope["data"]["drift"]["id"]] = envelope
    assert set(got) == drift_ids

    slack.wait_for(1, timeout=60)
    (digest,) = slack.received
    message = json.loads(digest.body)
    assert f"{len(changes)} finding(s) in scan #{second['id']}" in message["text"]

    # The flaky receiver answered 503 three times; retries bring every drift to it, in order, signed.
    flaky.wait_for(3 + len(changes), timeout=90)
    _wait(
        lambda: not Delivery.objects.filter(subscription__name="flaky", status="pending").exists(),
        30,
        notify_worker,
        "the flaky receiver's deliveries to settle",
    )
    delivered = [r for r in flaky.received[3:]]
    ids = [Webhook(flaky_secret).verify(r.body, r.headers)["data"]["drift"]["id"] for r in delivered]
    # In the subscription's queue order (event order as dispatched). Not drift-id order: units run in
    # parallel, and a unit that commits later dispatches later whatever its drifts' ids.
    queued = Delivery.objects.filter(subscription__name="flaky").order_by("id").values_list("body", flat=True)
    assert set(ids) == drift_ids and ids == [json.loads(body)["data"]["drift"]["id"] for body in queued]

    # An unchanged rescan: nothing more arrives anywhere.
    counts = (len(hooks.received), len(slack.received), len(flaky.received))
    third = _run_scan(api, provider, notify_worker)
    assert third["counters"]["drifts_new"] == 0
    time.sleep(4)
    assert (len(hooks.received), len(slack.received), len(flaky.received)) == counts


def test_a_change_made_while_the_broker_is_down_is_delivered_once_it_is_back(api, receiver_pair, tmp_path, settings):
    from celery import current_app

    from drifts.models import Drift
    from driftwatch.tests.factories import make_drift, make_provider, make_resource

    from .faults import RedisServer

    settings.DRIFTWATCH_OUTBOUND_ALLOW_HTTP = True
    settings.DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1", "localhost", "::1"]
    hooks = receiver_pair
    redis = RedisServer()
    conf = current_app.conf
    saved = (conf.broker_url, conf.broker_transport_options)
    conf.broker_url, conf.broker_transport_options = redis.url, {"visibility_timeout": 3600}
    current_app._pool = None
    current_app.amqp._producer_pool = None
    try:
        secret = api.post(
            "/api/v1/webhooks", {"name": "hooks", "channel": "webhook", "url": hooks.url}, format="json"
        ).json()["secret"]
        drift = make_drift(make_resource(make_provider()))
        redis.stop()  # the broker is down when the change is made
        started = time.monotonic()
        response = api.patch(f"/api/v1/drifts/{drift.pk}", {"status": "investigating"}, format="json")
        assert response.status_code == 200, response.content
        assert time.monotonic() - started < 2, "a change must not wait on the broker"
        assert Drift.objects.get(pk=drift.pk).status == "investigating"
        time.sleep(2)
        assert hooks.received == []
        redis.start()  # back, empty: the nudge was lost; beat's sweep finds the event in the outbox
        with running_worker(redis.url, tmp_path) as log_path:
            try:
                (request,) = hooks.wait_for(1, timeout=60)
            except AssertionError:
                pytest.fail(_tail(log_path))
        envelope = Webhook(secret).verify(request.body, request.headers)
        assert envelope["type"] == "drift.status_changed" and envelope["data"]["drift"]["id"] == drift.pk
    finally:
        redis.stop()
        conf.broker_url, conf.broker_transport_options = saved
        current_app._pool = None
        current_app.amqp._producer_pool = None


@pytest.fixture
def receiver_pair():
    r = HttpReceiver().start()
    yield r
    r.stop()
