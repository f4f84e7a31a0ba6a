"""Queueing senders: a scan's burst of events queues one sender per subscription, not one per event."""

import pytest

from driftwatch import outbox

from .. import dispatch, tasks
from ..models import Delivery, Subscription
from .helpers import drift_data, subscribe
from .receivers import Answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """The sender messages handed to the broker: (subscription id, countdown)."""
    sent = []
    monkeypatch.setattr(
        tasks.send_subscription, "apply_async", lambda args, countdown=None: sent.append((args[0], countdown))
    )
    return sent


def test_a_burst_of_dispatch_rounds_queues_one_sender_until_it_starts(receiver, user, queued):
    sub, _ = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    for n in range(20):  # one dispatch round per scan unit's nudge, as a scan of 20 units makes
        outbox.emit("drift.detected", drift_data(n))
        dispatch.enqueue_senders([sub.pk, sub.pk])
    assert queued == [(sub.pk, None)]

    # The sender starts: events committed from now on need a sender of their own.
    dispatch.sender_started(sub.pk)
    dispatch.enqueue_senders([sub.pk])
    assert queued == [(sub.pk, None), (sub.pk, None)]


def test_a_sender_waiting_for_a_retry_holds_off_others_and_a_lost_message_only_waits_for_the_mark(
    receiver, user, queued
):
    sub, _ = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    dispatch.enqueue_senders([sub.pk], countdown=600)
    dispatch.enqueue_senders([sub.pk])
    assert queued == [(sub.pk, 600)]
    mark = Subscription.objects.get(pk=sub.pk).sender_queued_until
    # The message was lost (a broker restart): once the mark expires, the sweep queues a sender again.
    Subscription.objects.filter(pk=sub.pk).update(sender_queued_until=mark.replace(year=2000))
    dispatch.enqueue_senders([sub.pk])
    assert queued == [(sub.pk, 600), (sub.pk, None)]


def test_the_task_drops_the_mark_sends_and_queues_itself_only_for_a_retry(receiver, user, queued):
    sub, _ = subscribe(user, name="hooks", url=receiver.url, event_types=["drift.detected"])
    outbox.emit("drift.detected", drift_data(1))
    dispatch.dispatch_events()
    receiver.answer(Answer(503))
    tasks.send_subscription(sub.pk)
    ((sub_id, countdown),) = queued[-1:]
    assert sub_id == sub.pk and 8 < countdown <= 11  # the first retry delay, 10 s with jitter
    queued.clear()
    Subscription.objects.filter(pk=sub.pk).update(sender_queued_until=None)
    receiver.answer(Answer(200))
    Delivery.objects.update(next_attempt_at=None)
    tasks.send_subscription(sub.pk)
    assert queued == [] and Delivery.objects.get().status == "succeeded"
