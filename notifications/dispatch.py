"""The dispatcher: undispatched outbox events become deliveries, one subscription at a time in event order.

Webhooks get one delivery per event. Subscriptions that digest (Slack, email, webhooks in batch mode) get
nothing for a scan's individual findings: when the job's job.completed / job.failed event comes through,
they get one message for the whole job (a critical finding may also go out at once, when asked for).
One dispatcher runs at a time (an advisory lock), so deliveries are created in event order.
"""

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from driftwatch.models import OutboxEvent

from . import render
from .models import (
    DRIFT_EVENT_TYPES,
    JOB_END_EVENT_TYPES,
    PING,
    SEVERITY_RANK,
    Channel,
    Delivery,
    Subscription,
)

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x4E4F54494659  # "NOTIFY": the dispatcher's advisory lock
BATCH = 500
# How long a queued sender's mark holds off queueing another (past any countdown): a lost message delays
# sending by at most this much.
QUEUED_MARK_SECONDS = 60


def wants(sub: Subscription, event_type: str, data: dict) -> bool:
    """True when the subscription's event types and filters let this event through."""
    if event_type not in sub.event_types:
        return False
    drift = data.get("drift")
    if drift is not None:
        if sub.min_severity and SEVERITY_RANK.get(drift["severity"], -1) < SEVERITY_RANK[sub.min_severity]:
            return False
        if sub.drift_types and drift["drift_type"] not in sub.drift_types:
            return False
        if sub.resource_types and drift["resource_type"] not in sub.resource_types:
            return False
        if sub.provider_ids and drift["provider_id"] not in sub.provider_ids:
            return False
    job = data.get("job")
    if job is not None and sub.provider_ids and job.get("provider_id") not in (None, *sub.provider_ids):
        return False
    return True


def dispatch_events(*, limit: int = BATCH, max_rounds: int = 100, now=None) -> int:
    """Turn undispatched events into deliveries; returns how many deliveries were made."""
    made = 0
    for _ in range(max_rounds):
        done, count = _dispatch_round(limit, now)
        made += count
        if done:
            break
    return made


def _dispatch_round(limit: int, now) -> tuple[bool, int]:
    now = now or timezone.now()
    with transaction.atomic():
        if not _lock():
            return True, 0  # another dispatcher is at it and will drain the queue
        events = list(OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("id")[:limit])
        if not events:
            return True, 0
        subs = list(Subscription.objects.filter(enabled=True).order_by("id"))
        job_events: dict[int, list[OutboxEvent]] = {}
        deliveries = []
        for event in events:
            for sub in subs:
                deliveries.extend(_deliveries_for(sub, event, job_events, now))
        insert_deliveries(deliveries)
        OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=now)
        sub_ids = sorted({d.subscription_id for d in deliveries})
        if sub_ids:
            transaction.on_commit(lambda: enqueue_senders(sub_ids))
    return len(events) < limit, len(deliveries)


def insert_deliveries(deliveries: list[Delivery]) -> None:
    """Write new deliveries in event order. On PostgreSQL with COPY: Django's bulk_create sends its rows as
    text arrays (UNNEST), and quoting every JSON body into an array literal, in Python, cost more than the
    rest of dispatching together (profiled: a third of it). Rows are written in list order, so ids follow
    event order as with bulk_create."""
    if not deliveries:
        return
    if connection.vendor != "postgresql":
        Delivery.objects.bulk_create(deliveries)
        return
    fields = [f for f in Delivery._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {Delivery._meta.db_table} ({columns}) FROM STDIN") as copy:
            for delivery in deliveries:
                copy.write_row([f.get_db_prep_save(f.pre_save(delivery, True), connection) for f in fields])


def _lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: writers are serialized by the database
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
        return cursor.fetchone()[0]


def _deliveries_for(sub: Subscription, event: OutboxEvent, job_events: dict, now) -> list[Delivery]:
    if event.type == PING:
        return []  # pings go to one subscription, by the test button
    if event.type in JOB_END_EVENT_TYPES and sub.is_digest:
        digest = _job_digest(sub, event, job_events, now)
        return [digest] if digest else []
    if not wants(sub, event.type, event.data):
        return []
    if event.type in DRIFT_EVENT_TYPES and event.job_id and sub.is_digest:
        # A scan's finding: it goes out with the job's digest. A critical new finding may also go at once.
        drift = event.data["drift"]
        immediate = sub.immediate_critical and event.type == "drift.detected" and drift["severity"] == "critical"
        if not (immediate and sub.channel != Channel.WEBHOOK):
            return []
    return [single_delivery(sub, event, now)]


def single_delivery(sub: Subscription, event: OutboxEvent, now) -> Delivery:
    """One event for one subscription, rendered for its channel."""
    env = render.envelope(event)
    if sub.channel == Channel.WEBHOOK:
        body = env
    elif sub.channel == Channel.SLACK:
        body = render.slack_event(env)
    else:
        body = render.email_event(env)
    return Delivery(
        subscription=sub,
        event=event,
        event_type=event.type,
        job_id=event.job_id,
        body=render.dumps(body),
        next_attempt_at=now,
        created_at=now,
    )


def _job_digest(sub: Subscription, job_event: OutboxEvent, job_events: dict, now) -> Delivery | None:
    """One message for a job: its findings that pass the subscription's filters (None when there are none
    and the subscription does not ask for the job's end itself)."""
    if job_event.job_id not in job_events:
        job_events[job_event.job_id] = list(
            OutboxEvent.objects.filter(job_id=job_event.job_id, type__in=DRIFT_EVENT_TYPES).order_by("id")
        )
    matching = [render.envelope(e) for e in job_events[job_event.job_id] if wants(sub, e.type, e.data)]
    job_wanted = wants(sub, job_event.type, job_event.data)
    if not matching and not job_wanted:
        return None
    job_env = render.envelope(job_event)
    provider_id = job_event.data["job"].get("provider_id")
    if sub.channel == Channel.WEBHOOK:
        events = matching + ([job_env] if job_wanted else [])
        body = {
            "type": "batch",
            "timestamp": job_env["timestamp"],
            "id": f"batch_{job_event.pk}",
            "data": {"job": job_env["data"]["job"], "events": events},
        }
        kind = "batch"
    else:
        drifts = [e for e in matching if e["type"] == "drift.detected"] or matching
        if not matching:
            body = render.slack_event(job_env) if sub.channel == Channel.SLACK else render.email_event(job_env)
            kind = job_event.type
        elif sub.channel == Channel.SLACK:
            body, kind = render.slack_digest(job_env, drifts, provider_id), "digest"
        else:
            body, kind = render.email_digest(job_env, drifts, provider_id), "digest"
    return Delivery(
        subscription=sub,
        event=job_event,
        event_type=kind,
        job_id=job_event.job_id,
        body=render.dumps(body),
        next_attempt_at=now,
        created_at=now,
    )


def enqueue_senders(subscription_ids, *, countdown: float | None = None) -> None:
    """Ask workers to send these subscriptions' deliveries (after `countdown` seconds, for a retry).

    At most one sender is queued per subscription: a scan's burst of events (one nudge per unit) would
    otherwise queue a sender per event, all but the first finding nothing to do, in front of the scan's own
    work. The mark is taken atomically and dropped by the sender as it starts, so events committed after
    that start queue a new one; a lost message only waits for the mark to expire and beat's sweep.
    A broker error is logged (the sweep sends later).
    """
    from . import tasks  # tasks import the services; sending a task from here closes the loop

    ids = sorted(set(subscription_ids))
    if not ids:
        return
    now = timezone.now()
    hold = timedelta(seconds=(countdown or 0) + QUEUED_MARK_SECONDS)
    marked = []
    for sub_id in ids:  # one small UPDATE each, in id order: no lock-order deadlock between dispatchers
        if (
            Subscription.objects.filter(pk=sub_id)
            .filter(Q(sender_queued_until__isnull=True) | Q(sender_queued_until__lt=now))
            .update(sender_queued_until=now + hold)
        ):
            marked.append(sub_id)
    for sub_id in marked:
        try:
            tasks.send_subscription.apply_async((sub_id,), countdown=countdown)
        except Exception as exc:  # broker down: the due-deliveries sweep picks them up once the mark expires
            logger.warning("could not enqueue notification sender: %s", type(exc).__name__)
            Subscription.objects.filter(pk__in=marked).update(sender_queued_until=None)
            return


def sender_started(sub_id: int) -> None:
    """A queued sender runs: events from now on need a new one."""
    Subscription.objects.filter(pk=sub_id).update(sender_queued_until=None)
