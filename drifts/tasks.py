"""Celery tasks: thin interfaces that take ids and call one service each."""

from celery import shared_task
from django.conf import settings

from .services import attribution, detection, jobs

_UNIT_LIMIT = settings.DRIFTWATCH_UNIT_TIME_LIMIT


@shared_task(
    bind=True,
    name="drifts.scan_unit",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=_UNIT_LIMIT,
    time_limit=_UNIT_LIMIT + 60,
    max_retries=None,  # bounded by DRIFTWATCH_UNIT_RETRY_DELAYS below
)
def scan_unit(self, unit_id: int, attempt: int | None = None) -> None:
    """Scan one (provider, region, resource_type) of a detection job.

    Transient failures (throttling, lost connections to AWS or the database) are retried on the schedule
    of DRIFTWATCH_UNIT_RETRY_DELAYS, resuming the unit's lease; past it the unit fails like any error.
    """
    delays = settings.DRIFTWATCH_UNIT_RETRY_DELAYS
    retries = self.request.retries
    try:
        jobs.scan_unit(unit_id, attempt=attempt, may_retry=retries < len(delays))
    except jobs.RetryUnit as exc:
        raise self.retry(
            exc=exc, countdown=delays[retries], kwargs={"unit_id": unit_id, "attempt": exc.attempt}
        ) from exc


@shared_task(name="drifts.supervise_jobs", ignore_result=True, time_limit=120)
def supervise_jobs() -> None:
    """Beat tick: re-send lost units, finalize finished jobs."""
    jobs.supervise_jobs()


@shared_task(name="drifts.schedule_due_scans", ignore_result=True, time_limit=120)
def schedule_due_scans() -> None:
    """Beat tick: start scans for providers whose interval has elapsed."""
    detection.schedule_due_scans()


@shared_task(name="drifts.reap_stale_jobs", ignore_result=True, time_limit=120)
def reap_stale_jobs() -> None:
    """Beat tick: fail jobs that outlived the job timeout whatever their units say."""
    jobs.reap_stale_jobs()


# Attribution waits on CloudTrail's rate limit, never on a scan: bounded, and never retried by Celery (the
# service retries throttling itself and the beat tick retries what is still pending).
_ATTRIBUTION_LIMIT = 300


@shared_task(
    name="drifts.attribute_unit",
    ignore_result=True,
    soft_time_limit=_ATTRIBUTION_LIMIT,
    time_limit=_ATTRIBUTION_LIMIT + 60,
)
def attribute_unit(unit_id: int) -> None:
    """Find who made the changes behind the new drifts a unit recorded (CloudTrail)."""
    attribution.attribute_unit(unit_id)


@shared_task(
    name="drifts.attribute_provider",
    ignore_result=True,
    soft_time_limit=_ATTRIBUTION_LIMIT,
    time_limit=_ATTRIBUTION_LIMIT + 60,
)
def attribute_provider(provider_id: int) -> None:
    """Try again the provider's pending attributions that are due."""
    attribution.attribute_provider(provider_id)


@shared_task(name="drifts.attribution_tick", ignore_result=True, time_limit=120)
def attribution_tick() -> None:
    """Beat tick: send the due pending attributions (late CloudTrail events, lost messages)."""
    attribution.send_due()
