"""The life of a detection job: each unit claimed under a lease, run, and finished whatever happens; the job
finalized by whoever finishes last; and a supervisor, run by beat, for the units nobody will finish.

A unit's lease is its attempt number: claiming it (pending -> running) adds one, a worker renews
lease_expires_at while it runs, and only the holder of the current attempt may finish it. So a message
delivered twice runs once, and a unit whose worker died or whose message was lost is sent again.
"""

import logging
import threading
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from providers import services as provider_services

from .. import events
from .. import metrics as drift_metrics
from ..models import UNFINISHED_UNIT_STATUSES, DetectionJob, JobStatus, JobUnit, UnitStatus
from . import attribution, scan, terraform
from .scan import UnitCounts, UnitOutcome

logger = logging.getLogger(__name__)


class RetryUnit(Exception):
    """A transient failure: run the unit again later, resuming the lease `attempt` still held."""

    def __init__(self, message: str, *, attempt: int | None) -> None:
        super().__init__(message)
        self.attempt = attempt


_TRANSIENT_AWS_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "SlowDown",
    "TooManyRequestsException",
    "RequestThrottled",
    "ServiceUnavailable",
    "InternalError",
}


def is_transient(exc: BaseException) -> bool:
    """Throttling past botocore's own retries, and lost connections (to AWS or the database), merit another try."""
    from botocore.exceptions import ClientError, ReadTimeoutError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, BotoConnectionError | ReadTimeoutError | OperationalError | InterfaceError):
        return True
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in _TRANSIENT_AWS_CODES
    return False


def describe_error(exc: BaseException) -> str:
    """A short message for the job's error list: the error's type and code, never credentials."""
    if isinstance(exc, SoftTimeLimitExceeded):
        return f"Timed out after {settings.DRIFTWATCH_UNIT_TIME_LIMIT} seconds."
    if isinstance(exc, OperationalError | InterfaceError):
        return f"Database unavailable ({type(exc).__name__})."
    return provider_services.describe_error(exc)[:500]


def error_code(exc: BaseException) -> str:
    """A bounded label for a failure: the AWS error code, else the exception's type."""
    from botocore.exceptions import ClientError

    if isinstance(exc, SoftTimeLimitExceeded):
        return "TimeLimitExceeded"
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")[:64]
    return type(exc).__name__


# --- Running one unit -----------------------------------------------------------------------------------


def scan_unit(unit_id: int, *, attempt: int | None = None, may_retry: bool = False, batch_size=None) -> None:
    """Run one unit start to finish: claim, scan and record, finish.

    On any exception the unit fails with the error recorded, and the job is finalized and its providers
    released when it was the last unit; a transient one raises RetryUnit instead while `may_retry`. If
    even recording the failure is impossible (the database is gone), the lease expires and the
    supervisor takes over. `attempt` resumes the lease of an earlier try of this same task.
    """
    held = None
    try:
        held = _claim(unit_id, attempt)
        if held is None:
            return  # done already (a redelivered message), held by a live worker, or its job was reaped
        unit = JobUnit.objects.select_related("provider").get(pk=unit_id)
        # The Terraform state unit reads the provider's state sources; every other unit scans AWS.
        run = terraform.refresh_unit if unit.resource_type == terraform.STATE_UNIT_TYPE else scan.collect_and_record
        with _Heartbeat(unit_id, held):
            outcome = run(unit, batch_size=batch_size, on_progress=lambda counts: _progress(unit, counts))
        _finish(unit, held, UnitStatus.SUCCEEDED, outcome)
        if outcome.counts.new:
            attribution.enqueue_unit(unit_id)  # its own task, after commit; never raises
        logger.info(
            "scan unit done: %d resources, %d new drifts",
            outcome.counts.scanned,
            outcome.counts.new,
            extra=_log_fields(unit),
        )
    except Exception as exc:
        if may_retry and is_transient(exc):
            # Before the claim (the database was unreachable), the lease we came with is still the one to resume.
            resume = held if held is not None else attempt
            _hold_for_retry(unit_id, resume)
            raise RetryUnit(describe_error(exc), attempt=resume) from exc
        logger.warning("scan unit failed: %s", describe_error(exc), extra={"unit_id": unit_id})
        if held is not None:
            unit = JobUnit.objects.get(pk=unit_id)
            _finish(unit, held, UnitStatus.FAILED, UnitOutcome(errors=[describe_error(exc)]), error_code(exc))


def _claim(unit_id: int, attempt: int | None) -> int | None:
    """Take the unit's lease; returns the new attempt number, or None when it is not ours to run."""
    now = timezone.now()
    claimable = Q(status=UnitStatus.PENDING) | Q(status=UnitStatus.RUNNING, lease_expires_at__lt=now)
    if attempt is not None:
        claimable |= Q(status=UnitStatus.RUNNING, attempt=attempt)
    with transaction.atomic():
        unit = (
            JobUnit.objects.select_for_update(of=("self",))
            .filter(claimable, pk=unit_id, job__status=JobStatus.RUNNING)
            .only("id", "attempt")
            .first()
        )
        if unit is None:
            return None
        JobUnit.objects.filter(pk=unit_id).update(
            status=UnitStatus.RUNNING,
            attempt=F("attempt") + 1,
            started_at=now,
            lease_expires_at=now + _lease(),
        )
    return unit.attempt + 1


def _lease() -> timedelta:
    return timedelta(seconds=settings.DRIFTWATCH_UNIT_LEASE_SECONDS)


def _hold_for_retry(unit_id: int, attempt: int | None) -> None:
    """Keep the lease through the retry's countdown, so the supervisor does not send the unit again."""
    if attempt is None:
        return
    delays = settings.DRIFTWATCH_UNIT_RETRY_DELAYS
    until = timezone.now() + timedelta(seconds=max(delays, default=0)) + _lease()
    try:
        JobUnit.objects.filter(pk=unit_id, attempt=attempt, status=UnitStatus.RUNNING).update(lease_expires_at=until)
    except DatabaseError:  # the database is what failed: the lease runs out and the retry resumes it anyway
        logger.warning("could not extend the lease of unit %s for its retry", unit_id)


class _Heartbeat:
    """Renews a running unit's lease from a thread: one AWS call of a scan may block for minutes."""

    def __init__(self, unit_id: int, attempt: int) -> None:
        self.unit_id, self.attempt = unit_id, attempt
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"unit-{unit_id}-lease", daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.DRIFTWATCH_UNIT_LEASE_SECONDS / 4):
                try:
                    JobUnit.objects.filter(pk=self.unit_id, attempt=self.attempt, status=UnitStatus.RUNNING).update(
                        lease_expires_at=timezone.now() + _lease()
                    )
                except DatabaseError as exc:
                    logger.warning("lease renewal of unit %s failed: %s", self.unit_id, type(exc).__name__)
                    connections["default"].close()  # reconnect on the next beat
        finally:
            connections.close_all()  # this thread's own connections


def _progress(unit: JobUnit, counts: UnitCounts) -> None:
    JobUnit.objects.filter(pk=unit.pk).update(resources_total=counts.total, resources_scanned=counts.scanned)
    refresh_job_counters(unit.job_id)


def _log_fields(unit: JobUnit) -> dict:
    return {
        "job_id": unit.job_id,
        "provider_id": unit.provider_id,
        "region": unit.region,
        "resource_type": unit.resource_type,
    }


def _finish(unit: JobUnit, attempt: int | None, status: str, outcome: UnitOutcome, code: str = "") -> None:
    """Mark the unit done if this attempt still holds it, then let whoever finishes last finalize the job.

    `code` labels a failure in the metrics (an AWS error code or an exception type)."""
    mine = Q(attempt=attempt) if attempt is not None else Q()
    counts = outcome.counts
    now = timezone.now()
    with transaction.atomic():
        done = JobUnit.objects.filter(mine, pk=unit.pk, status__in=UNFINISHED_UNIT_STATUSES).update(
            status=status,
            finished_at=now,
            lease_expires_at=None,
            resources_total=counts.total,
            resources_scanned=counts.scanned,
            drifts_new=counts.new,
            drifts_updated=counts.updated,
            drifts_resolved=counts.resolved,
            error="\n".join(outcome.errors)[:5000],
        )
        if done and outcome.errors:
            _add_job_errors(unit.job_id, [_error_entry(unit, message) for message in outcome.errors])
        if done:
            drift_metrics.record_unit_finished(
                unit.resource_type,
                status,
                started_at=unit.started_at,
                finished_at=now,
                scanned=counts.scanned,
                error_code=code,
            )
    if not done:
        return
    refresh_job_counters(unit.job_id)
    # Counted after our own commit, so the last of two units finishing together always sees zero.
    if not JobUnit.objects.filter(job_id=unit.job_id, status__in=UNFINISHED_UNIT_STATUSES).exists():
        finalize_job(unit.job_id)


def _error_entry(unit: JobUnit | None, message: str) -> dict:
    return {
        "provider_id": unit.provider_id if unit else None,
        "region": unit.region if unit else None,
        "resource_type": unit.resource_type if unit else None,
        "message": message,
    }


def _add_job_errors(job_id: int, entries: list[dict]) -> None:
    with transaction.atomic():
        job = DetectionJob.objects.select_for_update().only("errors").get(pk=job_id)
        job.errors = (job.errors or []) + entries
        job.save(update_fields=["errors"])


def fail_unit(unit_id: int, message: str, code: str = "Interrupted") -> None:
    """Fail an unfinished unit from outside its run, finalizing the job if it was the last one."""
    unit = JobUnit.objects.filter(pk=unit_id).first()
    if unit is not None:
        _finish(unit, None, UnitStatus.FAILED, UnitOutcome(errors=[message]), code)


# --- Sending units to workers ---------------------------------------------------------------------------


def enqueue_units(unit_ids: list[int]) -> int:
    """Send one message per unit; stops at the first broker failure (the supervisor sends the rest later).

    Returns how many were sent. Never raises for a broker that is down: a request must not fail, or a
    job be left half-started, because the queue is briefly unreachable.
    """
    from ..tasks import scan_unit as scan_unit_task  # the task module imports this one

    sent = []
    for pk in unit_ids:
        try:
            scan_unit_task.delay(pk)
        except Exception as exc:  # kombu's errors vary by transport; any of them means "not sent"
            logger.warning(
                "broker unavailable (%s): %d unit(s) wait for the supervisor",
                type(exc).__name__,
                len(unit_ids) - len(sent),
            )
            break
        sent.append(pk)
    if sent:
        JobUnit.objects.filter(pk__in=sent, status=UnitStatus.PENDING).update(enqueued_at=timezone.now())
    return len(sent)


# --- Finishing jobs ------------------------------------------------------------------------------------


def refresh_job_counters(job_id: int) -> None:
    """Job counters are sums over its units, recomputed in one UPDATE (idempotent under re-runs)."""
    sums = JobUnit.objects.filter(job_id=OuterRef("pk")).values("job_id")

    def total(field_name: str):
        return Coalesce(Subquery(sums.annotate(s=Sum(field_name)).values("s")[:1]), 0)

    finished = sums.exclude(status__in=UNFINISHED_UNIT_STATUSES).annotate(c=Count("id")).values("c")[:1]
    DetectionJob.objects.filter(pk=job_id).update(
        resources_total=total("resources_total"),
        resources_scanned=total("resources_scanned"),
        drifts_new=total("drifts_new"),
        drifts_updated=total("drifts_updated"),
        drifts_resolved=total("drifts_resolved"),
        units_done=Coalesce(Subquery(finished), 0),
    )


def finalize_job(job_id: int) -> bool:
    """Set the job's final status from its units and release its providers; only the first caller wins."""
    with transaction.atomic():
        units = JobUnit.objects.filter(job_id=job_id)
        failed = units.filter(status=UnitStatus.FAILED).count()
        total = units.count()
        has_errors = DetectionJob.objects.filter(pk=job_id).exclude(errors=[]).exists()
        if total and failed == total:
            final = JobStatus.FAILED
        elif failed or has_errors:
            final = JobStatus.PARTIAL
        else:
            final = JobStatus.SUCCEEDED
        now = timezone.now()
        won = DetectionJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(status=final, finished_at=now)
        if not won:
            return False
        refresh_job_counters(job_id)
        # A job that only read Terraform state did not scan the account: the schedule is not reset by it.
        scanned = set(units.exclude(resource_type=terraform.STATE_UNIT_TYPE).values_list("provider_id", flat=True))
        provider_services.release_scan_lock(job_id, scanned_provider_ids=scanned, now=now)
        trigger = DetectionJob.objects.filter(pk=job_id).values_list("trigger", flat=True).get()
        drift_metrics.record_scan_finished(trigger, final)
        # A provider's scan succeeded when every unit of it did, without per-resource errors.
        unclean = Count("id", filter=~Q(status=UnitStatus.SUCCEEDED) | ~Q(error=""))
        per_provider = units.values("provider_id").annotate(unclean=unclean).order_by()
        drift_metrics.record_provider_success([r["provider_id"] for r in per_provider if not r["unclean"]], now)
        events.emit_job_finished(DetectionJob.objects.get(pk=job_id))
    logger.info("detection job finished: %s", final, extra={"job_id": job_id})
    return True


# --- The supervisor: what nobody else will finish -------------------------------------------------------


def supervise_jobs(now=None) -> dict:
    """Beat tick: send again the units whose worker died or whose message was lost, fail the ones that
    keep killing their workers, and finalize jobs whose units are all done. Safe to run concurrently."""
    now = now or timezone.now()
    resend = _expired_leases(now) + _lost_messages(now)
    sent = enqueue_units(resend) if resend else 0
    finalized = [
        job_id
        for job_id in DetectionJob.objects.filter(status=JobStatus.RUNNING)
        .exclude(units__status__in=UNFINISHED_UNIT_STATUSES)
        .values_list("pk", flat=True)
        if finalize_job(job_id)
    ]
    if resend or finalized:
        logger.warning("supervisor: sent %d of %d unit(s) again, finalized jobs %s", sent, len(resend), finalized)
    return {"resent": sent, "finalized": finalized}


def _expired_leases(now) -> list[int]:
    """Running units whose lease ran out: back to pending (to be sent again), or failed past the limit."""
    resend = []
    expired = JobUnit.objects.filter(status=UnitStatus.RUNNING, lease_expires_at__lt=now, job__status=JobStatus.RUNNING)
    for unit in expired.only("id", "attempt", "job_id", "provider_id", "region", "resource_type", "started_at"):
        if unit.attempt >= settings.DRIFTWATCH_UNIT_MAX_ATTEMPTS:
            message = f"Worker lost while running this unit ({unit.attempt} attempts); giving up."
            _finish(unit, unit.attempt, UnitStatus.FAILED, UnitOutcome(errors=[message]), "WorkerLost")
            continue
        released = JobUnit.objects.filter(
            pk=unit.pk, status=UnitStatus.RUNNING, attempt=unit.attempt, lease_expires_at__lt=now
        ).update(status=UnitStatus.PENDING, lease_expires_at=None)
        if released:
            resend.append(unit.pk)
    return resend


def _lost_messages(now) -> list[int]:
    """Pending units sent (or due to be sent) long ago that no worker started, while the queue is empty."""
    cutoff = now - timedelta(seconds=settings.DRIFTWATCH_UNIT_QUEUE_TIMEOUT_SECONDS)
    stale = JobUnit.objects.filter(status=UnitStatus.PENDING, job__status=JobStatus.RUNNING).filter(
        Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True, job__started_at__lt=cutoff)
    )
    ids = list(stale.values_list("pk", flat=True)[:10000])
    if ids and _queue_backlog() > 0:
        return []  # messages are waiting: workers are behind, not lost
    return ids


def _queue_backlog() -> int:
    """Messages waiting in the scan queue; 0 when the broker cannot say (then sending again is the safe side)."""
    from driftwatch.celery import app

    try:
        with app.connection_for_read() as conn:
            declared = conn.default_channel.queue_declare(queue=app.conf.task_default_queue, passive=True)
            return declared.message_count
    except Exception:  # no such queue yet, or the broker is down: nothing is known to be waiting
        return 0


def reap_stale_jobs(max_age_minutes: int | None = None) -> list[int]:
    """Last resort: fail running jobs older than the timeout whatever their units say; release their providers."""
    age = max_age_minutes or settings.DRIFTWATCH_JOB_TIMEOUT_MINUTES
    cutoff = timezone.now() - timedelta(minutes=age)
    reaped = []
    for job_id in DetectionJob.objects.filter(status=JobStatus.RUNNING, started_at__lt=cutoff).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            now = timezone.now()
            JobUnit.objects.filter(job_id=job_id, status__in=UNFINISHED_UNIT_STATUSES).update(
                status=UnitStatus.FAILED,
                finished_at=now,
                lease_expires_at=None,
                error="Worker lost or timed out; reaped.",
            )
            won = DetectionJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
                status=JobStatus.FAILED, finished_at=now
            )
            if won:
                message = f"Job did not finish within {age} minutes; marked failed by the reaper."
                _add_job_errors(job_id, [_error_entry(None, message)])
                provider_services.release_scan_lock(job_id)
                trigger = DetectionJob.objects.filter(pk=job_id).values_list("trigger", flat=True).get()
                drift_metrics.record_scan_finished(trigger, JobStatus.FAILED)
                reaped.append(job_id)
                refresh_job_counters(job_id)  # the event carries the final counters
                events.emit_job_finished(DetectionJob.objects.get(pk=job_id))
        refresh_job_counters(job_id)
    if reaped:
        logger.warning("reaped stale jobs %s", reaped)
    return reaped
