"""Celery tasks for notifications: thin, ids in, one service call each."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import dispatch, sending


@shared_task(
    name="notifications.dispatch",
    ignore_result=True,
    soft_time_limit=120,
    time_limit=150,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    max_retries=3,
)
def dispatch_events() -> None:
    """Outbox events -> deliveries; sent after commit by whoever emits, and by beat every few seconds."""
    dispatch.dispatch_events()


@shared_task(
    name="notifications.send_subscription",
    ignore_result=True,
    soft_time_limit=600,
    time_limit=660,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    max_retries=3,
)
def send_subscription(subscription_id: int) -> None:
    """Send one subscription's due deliveries in order; when the oldest waits for a retry, come back then
    (beat's sweep does too, should this message be lost)."""
    dispatch.sender_started(subscription_id)
    sending.send_pending(subscription_id)
    wait = sending.seconds_until_due(subscription_id)
    if wait is not None:
        dispatch.enqueue_senders([subscription_id], countdown=wait)


@shared_task(name="notifications.send_due", ignore_result=True, soft_time_limit=60, time_limit=90)
def send_due() -> None:
    """Beat tick: dispatch what was written while no nudge got through, then send what is due (retries
    included) for every subscription no worker is sending."""
    dispatch.dispatch_events()
    dispatch.enqueue_senders(sending.due_subscription_ids())
