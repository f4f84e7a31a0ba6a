"""Celery tasks: thin interfaces that take ids and call one service each."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import services

_UNIT_LIMIT = settings.DRIFTWATCH_UNIT_TIME_LIMIT


@shared_task(
    bind=True,
    name="drifts.scan_unit",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=_UNIT_LIMIT,
    time_limit=_UNIT_LIMIT + 60,
    max_retries=3,
    # Lost database connections are worth another try; everything else is recorded on the job.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
)
def scan_unit(self, unit_id: int) -> None:
    """Scan one (provider, region, resource_type) of a detection job."""
    try:
        services.run_unit(unit_id, allow_retry=self.request.retries < self.max_retries)
    except services.RetryableScanError as exc:
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 300)) from exc
    except SoftTimeLimitExceeded:
        services.fail_unit(unit_id, f"Timed out after {_UNIT_LIMIT} seconds.")


@shared_task(name="drifts.schedule_due_scans", ignore_result=True, time_limit=120)
def schedule_due_scans() -> None:
    """Beat tick: start scans for providers whose interval has elapsed."""
    services.schedule_due_scans()


@shared_task(name="drifts.reap_stale_jobs", ignore_result=True, time_limit=120)
def reap_stale_jobs() -> None:
    """Beat tick: fail jobs whose workers died."""
    services.reap_stale_jobs()
