"""The outbox: events written in the caller's transaction, handed to the notifications dispatcher after commit.

Any app may emit (the kit imports no domain app; the dispatcher task is sent by name). Emitting never waits
on the network in a way that matters: the dispatcher is nudged after commit at most once a second per
process, a broker that is down costs nothing (beat runs the dispatcher every few seconds anyway).
"""

import logging
import threading
import time
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from .models import OutboxEvent

logger = logging.getLogger(__name__)

DISPATCH_TASK = "notifications.dispatch"
_KICK_INTERVAL = 1.0
_last_kick = 0.0
_kick_lock = threading.Lock()


def emit(event_type: str, data: dict, *, job_id: int | None = None, now=None) -> OutboxEvent:
    """Write one event in the current transaction."""
    return emit_many([(event_type, data, job_id)], now=now)[0]


def emit_many(events: Iterable[tuple[str, dict, int | None]], *, now=None) -> list[OutboxEvent]:
    """Write (type, data, job_id) events in one INSERT in the current transaction; nudge the dispatcher after commit."""
    now = now or timezone.now()
    rows = [OutboxEvent(type=t, data=d, job_id=j, created_at=now) for t, d, j in events]
    if not rows:
        return []
    created = OutboxEvent.objects.bulk_create(rows)
    transaction.on_commit(kick_dispatcher)
    return created


def kick_dispatcher() -> None:
    """Ask a worker to dispatch now, from a background thread (the caller never waits on the broker); at
    most once a second per process. A lost nudge costs only latency: beat runs the dispatcher anyway."""
    global _last_kick
    with _kick_lock:
        now = time.monotonic()
        if now - _last_kick < _KICK_INTERVAL:
            return
        _last_kick = now
    threading.Thread(target=_send_dispatch, name="outbox-kick", daemon=True).start()


def _send_dispatch() -> None:
    from .celery import app  # the Celery app reads settings at import time; load it only when sending

    try:
        app.send_task(DISPATCH_TASK, ignore_result=True)
    except Exception as exc:  # broker down: beat's dispatch tick picks the events up once it is back
        logger.warning("could not nudge the notification dispatcher: %s", type(exc).__name__)
