"""The `make run` demo's webhook receiver: a newcomer sees signed deliveries arrive and verify."""

import time

import pytest

from devtools.demo import DEMO_SUBSCRIPTION, start_demo_receiver

from .. import services
from ..models import Subscription

pytestmark = pytest.mark.django_db


def _wait(lines: list[str], count: int) -> None:
    deadline = time.time() + 10
    while len([line for line in lines if line.startswith("webhook received")]) < count and time.time() < deadline:
        time.sleep(0.05)


def test_the_demo_receiver_prints_each_signed_delivery_and_survives_a_restart(user):
    lines: list[str] = []
    start_demo_receiver(user, lines.append)
    sub = Subscription.objects.get(name=DEMO_SUBSCRIPTION)
    assert any("webhook receiver on http://127.0.0.1:" in line for line in lines)
    assert services.send_test(sub, user).status == "succeeded"
    _wait(lines, 1)
    assert "webhook received (signature ok): ping: Test notification from DriftWatch." in lines
    # A second `make run`: same subscription, new port and secret, still verified.
    lines.clear()
    start_demo_receiver(user, lines.append)
    assert Subscription.objects.filter(name=DEMO_SUBSCRIPTION).count() == 1
    sub.refresh_from_db()
    assert services.send_test(sub, user).status == "succeeded"
    _wait(lines, 1)
    assert "webhook received (signature ok): ping: Test notification from DriftWatch." in lines
