"""Drift orchestration: the state machine, starting detection, and recording what a scan found."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from baselines import services as baseline_services
from baselines.models import BaselineSource
from providers.models import Provider, Resource, ScanScope

from . import diff as diff_engine
from . import rules
from .models import (
    OPEN_STATUSES,
    TRANSITIONS,
    DetectionJob,
    Drift,
    DriftEvent,
    DriftStatus,
    IgnoreRule,
    JobStatus,
    JobUnit,
    Resolution,
    UnitStatus,
)

logger = logging.getLogger(__name__)


# --- The state machine --------------------------------------------------------------------------------


@dataclass
class MoveResult:
    """Which drifts moved, and for the others their current status (why they could not)."""

    moved: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def move_drifts(
    drift_ids: Iterable[int],
    to_status: str,
    *,
    actor=None,
    note: str = "",
    resolution: str | None = None,
    expected: dict[int, str] | None = None,
    now=None,
) -> MoveResult:
    """Every drift status change goes through here: check the transition map, update, write one event.

    Rows are locked for the check (compare-and-swap): with `expected`, a drift whose status is no
    longer the one the caller saw is refused, so of two concurrent identical requests exactly one wins.
    """
    now = now or timezone.now()
    ids = list(dict.fromkeys(drift_ids))
    if to_status == DriftStatus.RESOLVED and resolution is None:
        resolution = Resolution.MANUAL
    user = actor if getattr(actor, "is_authenticated", False) else None
    result = MoveResult()
    with transaction.atomic():
        current = dict(Drift.objects.select_for_update().filter(pk__in=ids).values_list("pk", "status"))
        by_from: dict[str, list[int]] = {}
        for pk in ids:
            status = current.get(pk)
            if status is None:
                continue
            if (expected is not None and expected.get(pk) != status) or to_status not in TRANSITIONS[status]:
                result.refused[pk] = status
                continue
            by_from.setdefault(status, []).append(pk)
            result.moved.append(pk)
        if not result.moved:
            return result
        values = {"status": to_status, "updated_at": now}
        if to_status == DriftStatus.RESOLVED:
            values.update(resolved_at=now, resolved_by=user, resolution=resolution)
        Drift.objects.filter(pk__in=result.moved).update(**values)
        DriftEvent.objects.bulk_create(
            DriftEvent(drift_id=pk, from_status=from_status, to_status=to_status, actor=user, note=note, at=now)
            for from_status, pks in by_from.items()
            for pk in pks
        )
    return result


def resolve_with_baseline(drift: Drift, *, actor, note: str = "", expected_status: str | None = None) -> MoveResult:
    """Resolve a drift by accepting the resource's current configuration as its new baseline.

    In one transaction: the drift is resolved (baseline_captured), a new current baseline is
    captured (source resolve), and every other open drift of the resource is resolved with it.
    """
    with transaction.atomic():
        result = move_drifts(
            [drift.pk],
            DriftStatus.RESOLVED,
            actor=actor,
            note=note,
            resolution=Resolution.BASELINE_CAPTURED,
            expected={drift.pk: expected_status} if expected_status else None,
        )
        if not result.moved:
            return result
        capture_baseline_and_resolve(drift.resource, actor=actor, source=BaselineSource.RESOLVE, cause=drift)
    return result


def capture_baseline_and_resolve(resource: Resource, *, actor, source: str = BaselineSource.MANUAL, cause=None):
    """Capture the resource's current config as its baseline and resolve its open drifts, atomically."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        baseline = baseline_services.capture_baseline(resource, user=actor, source=source)
        others = list(
            Drift.objects.filter(resource_id=resource.pk, status__in=OPEN_STATUSES).values_list("pk", flat=True)
        )
        why = (
            f"Resolved because drift #{cause.pk} was resolved with a new baseline #{baseline.pk}."
            if cause is not None
            else f"Resolved because a new baseline #{baseline.pk} was captured."
        )
        move_drifts(others, DriftStatus.RESOLVED, actor=actor, note=why, resolution=Resolution.BASELINE_CAPTURED)
    return baseline


# --- Starting detection -------------------------------------------------------------------------------


class DetectionError(Exception):
    """A detection request that cannot start; `kind` maps to an HTTP status in the API."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind  # not_found | disabled | no_providers


def start_detection(*, trigger: str, provider_id: int | None = None, user=None) -> tuple[DetectionJob, bool]:
    """Start a job over one provider or all enabled ones; returns (job, created).

    When a running job already covers any requested provider, that job is returned instead:
    a provider is never scanned by two jobs at once (Provider.running_job is claimed by CAS).
    """
    from providers.collectors import scan_units

    from .tasks import scan_unit  # tasks import services; import late to keep the edge one-way

    for _attempt in range(3):
        providers = Provider.objects.live()
        if provider_id is not None:
            provider = providers.filter(pk=provider_id).first()
            if provider is None:
                raise DetectionError("not_found", f"Provider {provider_id} does not exist.")
            if not provider.enabled:
                raise DetectionError("disabled", f"Provider {provider_id} is disabled.")
            targets = [provider]
        else:
            targets = list(providers.filter(enabled=True))
            if not targets:
                raise DetectionError("no_providers", "There are no enabled providers to scan.")
        ids = [p.pk for p in targets]
        running = Provider.objects.filter(pk__in=ids, running_job__isnull=False).values_list("running_job", flat=True)
        existing = DetectionJob.objects.filter(pk__in=list(running), status=JobStatus.RUNNING).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                job = DetectionJob.objects.create(
                    trigger=trigger,
                    requested_by=user if getattr(user, "is_authenticated", False) else None,
                    provider=targets[0] if provider_id is not None else None,
                )
                claimed = Provider.objects.filter(pk__in=ids, running_job__isnull=True).update(running_job=job)
                if claimed != len(ids):
                    raise _LostRace
                units = JobUnit.objects.bulk_create(
                    JobUnit(job=job, provider=p, region=region, resource_type=resource_type)
                    for p in targets
                    for region, resource_type in scan_units(p.regions)
                )
                job.units_total = len(units)
                job.save(update_fields=["units_total"])
                unit_ids = [u.pk for u in units]
                transaction.on_commit(lambda ids=unit_ids: [scan_unit.delay(pk) for pk in ids])
            logger.info("detection job started", extra={"job_id": job.pk, "provider_ids": ids, "trigger": trigger})
            if not unit_ids:
                finalize_job(job.pk)
            return job, True
        except _LostRace:
            continue
    job = DetectionJob.objects.filter(status=JobStatus.RUNNING).first()
    if job is None:  # pragma: no cover - three lost races in a row and nothing running: give up loudly
        raise RuntimeError("could not claim providers for a detection job")
    return job, False


class _LostRace(Exception):
    """Another request claimed one of the providers between our check and our claim."""


# --- Running one unit -----------------------------------------------------------------------------------


class RetryableScanError(Exception):
    """A provider call failed in a way worth retrying the whole unit (connection, throttling)."""


_RETRYABLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "SlowDown",
    "TooManyRequestsException",
    "RequestThrottled",
    "ServiceUnavailable",
    "InternalError",
}


def is_retryable(exc: Exception) -> bool:
    """Throttling past botocore's own retries, and connection failures, merit another try."""
    from botocore.exceptions import ClientError, ReadTimeoutError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, BotoConnectionError | ReadTimeoutError):
        return True
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in _RETRYABLE_CODES
    return False


def describe_error(exc: Exception) -> str:
    """A short message for the job's error list; never includes credentials."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".strip()[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


@dataclass
class _Counts:
    total: int = 0
    scanned: int = 0
    new: int = 0
    updated: int = 0
    resolved: int = 0


def run_unit(unit_id: int, *, allow_retry: bool = False, batch_size: int | None = None) -> None:
    """Scan one (provider, region, resource_type) and record what changed; idempotent.

    A failing provider call fails the unit and changes nothing for its resources: no drift, no
    deletion, no baseline. The last unit of a job to finish finalizes the job.
    """
    from django.conf import settings

    from providers.collectors import COLLECTORS, GLOBAL_REGION
    from providers.services import aws_clients

    unit = JobUnit.objects.select_related("job", "provider").filter(pk=unit_id).first()
    if unit is None or unit.status != UnitStatus.PENDING or unit.job.status != JobStatus.RUNNING:
        return  # already done (redelivered task) or the job was reaped
    log = {
        "job_id": unit.job_id,
        "provider_id": unit.provider_id,
        "region": unit.region,
        "resource_type": unit.resource_type,
    }
    started = timezone.now()
    JobUnit.objects.filter(pk=unit.pk).update(started_at=started)
    try:
        clients = aws_clients(unit.provider)
        result = COLLECTORS[unit.resource_type](clients, unit.region)
    except Exception as exc:  # any provider failure is an error on the job, never a finding
        if allow_retry and is_retryable(exc):
            raise RetryableScanError(describe_error(exc)) from exc
        logger.warning("scan unit failed: %s", describe_error(exc), extra=log)
        _finish_unit(unit, UnitStatus.FAILED, _Counts(), errors=[describe_error(exc)])
        return

    counts = _Counts(total=len(result.resources) + len(result.failed))
    JobUnit.objects.filter(pk=unit.pk).update(resources_total=counts.total)
    _refresh_job_counters(unit.job_id)
    scope_known = ScanScope.objects.filter(
        provider_id=unit.provider_id, region=unit.region, resource_type=unit.resource_type
    ).exists()
    ignore_rules = list(IgnoreRule.objects.filter(Q(resource_type="") | Q(resource_type=unit.resource_type)))
    size = batch_size or settings.DRIFTWATCH_SCAN_BATCH_SIZE
    resources = result.resources
    for start in range(0, len(resources), size):
        batch = resources[start : start + size]
        with transaction.atomic():
            _record_batch(unit, batch, scope_known, ignore_rules, counts)
        counts.scanned += len(batch)
        JobUnit.objects.filter(pk=unit.pk).update(resources_scanned=counts.scanned)
        _refresh_job_counters(unit.job_id)

    region = None if unit.region == GLOBAL_REGION else unit.region
    with transaction.atomic():
        _record_vanished(unit, region, started, set(result.failed), counts)
        ScanScope.objects.get_or_create(
            provider_id=unit.provider_id,
            region=unit.region,
            resource_type=unit.resource_type,
            defaults={"first_completed_at": timezone.now()},
        )
        ScanScope.objects.filter(
            provider_id=unit.provider_id, region=unit.region, resource_type=unit.resource_type
        ).update(last_completed_at=timezone.now())
    errors = [f"{external_id}: {message}" for external_id, message in sorted(result.failed.items())]
    _finish_unit(unit, UnitStatus.SUCCEEDED, counts, errors=errors)
    logger.info("scan unit done: %d resources, %d new drifts", counts.scanned, counts.new, extra=log)


def _open_drifts_by_resource(resource_ids: list[int]) -> dict[int, dict[str, Drift]]:
    found: dict[int, dict[str, Drift]] = {}
    for d in Drift.objects.filter(resource_id__in=resource_ids, status__in=OPEN_STATUSES).only(
        "id",
        "resource_id",
        "path",
        "drift_type",
        "severity",
        "summary",
        "baseline_value",
        "current_value",
        "status",
    ):
        found.setdefault(d.resource_id, {})[d.path] = d
    return found


def _ignored(ignore_rules: list[IgnoreRule], resource: Resource, path: str, now) -> bool:
    return any(rule.matches(resource.resource_type, resource.name, path, now) for rule in ignore_rules)


def _record_batch(unit: JobUnit, batch: list, scope_known: bool, ignore_rules: list, counts: _Counts) -> None:
    """Upsert one batch of collected resources, baseline the new ones, and record their drifts."""
    from providers.services import upsert_resources

    now = timezone.now()
    resources, created_ids = upsert_resources(unit.provider_id, unit.resource_type, batch, now)
    by_id = {r.pk: r for r in resources}
    baselines = baseline_services.current_baselines(by_id)
    fresh = [r for r in resources if r.pk not in baselines]
    baselines.update(baseline_services.baseline_new(fresh, now))
    fresh_ids = {r.pk for r in fresh}
    open_drifts = _open_drifts_by_resource(list(by_id))

    findings: dict[int, list[dict]] = {}
    for resource in resources:
        baseline = baselines[resource.pk]
        if resource.pk in fresh_ids:
            # A resource found after its scope's first completed scan is itself a finding.
            changes = diff_engine.diff(None, resource.config) if scope_known and resource.pk in created_ids else []
        elif resource.config_hash == baseline.config_hash:
            changes = []
        else:
            changes = diff_engine.diff(baseline.config, resource.config)
        findings[resource.pk] = [c for c in changes if not _ignored(ignore_rules, resource, c["path"], now)]
    _apply_findings(unit, by_id, baselines, findings, open_drifts, counts, now)


def _record_vanished(unit: JobUnit, region, seen_before, failed_ids: set[str], counts: _Counts) -> None:
    """Resources of the scope the listing no longer returned: mark deleted and report them."""
    from providers.services import vanished_resources

    now = timezone.now()
    gone = list(vanished_resources(unit.provider_id, unit.resource_type, region, seen_before, failed_ids))
    if not gone:
        return
    ids = [r.pk for r in gone]
    Resource.objects.filter(pk__in=ids).update(deleted_at=now)
    by_id = {r.pk: r for r in gone}
    baselines = baseline_services.current_baselines(ids)
    findings = {r.pk: diff_engine.diff(baselines[r.pk].config, None) for r in gone if r.pk in baselines}
    open_drifts = _open_drifts_by_resource(ids)
    _apply_findings(unit, by_id, baselines, findings, open_drifts, counts, now, vanished=True)


def _is_appeared(drift: Drift) -> bool:
    # "Resource appeared" findings stay open until triaged: nothing "reverts" a new resource.
    return drift.path == "" and drift.baseline_value is None


def _apply_findings(unit, by_id, baselines, findings, open_drifts, counts: _Counts, now, vanished=False) -> None:
    """Create new drifts, update open ones, and resolve those whose attribute went back (bulk)."""
    to_create, to_update, reverted = [], [], []
    for resource_id, changes in findings.items():
        resource = by_id[resource_id]
        existing = open_drifts.get(resource_id, {})
        paths = set()
        for change in changes:
            paths.add(change["path"])
            verdict = rules.classify(resource.resource_type, change)
            drift = existing.get(change["path"])
            if drift is None:
                to_create.append(
                    Drift(
                        resource_id=resource_id,
                        provider_id=resource.provider_id,
                        resource_type=resource.resource_type,
                        baseline_id=baselines[resource_id].pk if resource_id in baselines else None,
                        job_id=unit.job_id,
                        path=change["path"],
                        drift_type=verdict.drift_type,
                        severity=verdict.severity,
                        summary=verdict.summary[:500],
                        baseline_value=change["baseline"],
                        current_value=change["current"],
                        diff=changes,
                        detected_at=now,
                        last_seen_at=now,
                        updated_at=now,
                    )
                )
                continue
            changed = (
                drift.current_value != change["current"]
                or drift.baseline_value != change["baseline"]
                or drift.severity != verdict.severity
                or drift.drift_type != verdict.drift_type
                or drift.summary != verdict.summary[:500]
            )
            drift.current_value, drift.baseline_value = change["current"], change["baseline"]
            drift.severity, drift.drift_type, drift.summary = (
                verdict.severity,
                verdict.drift_type,
                verdict.summary[:500],
            )
            drift.diff, drift.last_seen_at, drift.job_id = changes, now, unit.job_id
            if changed:
                drift.updated_at = now
                counts.updated += 1
            to_update.append(drift)
        if vanished:
            continue
        for path, drift in existing.items():
            if path not in paths and not _is_appeared(drift):
                reverted.append(drift.pk)

    created = Drift.objects.bulk_create(to_create)
    DriftEvent.objects.bulk_create(
        DriftEvent(drift_id=d.pk, from_status=None, to_status=DriftStatus.DETECTED, note="Detected by scan.", at=now)
        for d in created
    )
    counts.new += len(created)
    if to_update:
        Drift.objects.bulk_update(
            to_update,
            [
                "current_value",
                "baseline_value",
                "severity",
                "drift_type",
                "summary",
                "diff",
                "last_seen_at",
                "job_id",
                "updated_at",
            ],
        )
    if reverted:
        moved = move_drifts(
            reverted,
            DriftStatus.RESOLVED,
            resolution=Resolution.REVERTED,
            note="Resolved by scan: the attribute is back at its baseline value.",
            now=now,
        )
        counts.resolved += len(moved.moved)


# --- Finishing jobs ------------------------------------------------------------------------------------


def _refresh_job_counters(job_id: int) -> None:
    """Job counters are sums over its units, recomputed in one UPDATE (idempotent under re-runs)."""
    sums = JobUnit.objects.filter(job_id=OuterRef("pk")).values("job_id")

    def total(field_name: str):
        return Coalesce(Subquery(sums.annotate(s=Sum(field_name)).values("s")[:1]), 0)

    DetectionJob.objects.filter(pk=job_id).update(
        resources_total=total("resources_total"),
        resources_scanned=total("resources_scanned"),
        drifts_new=total("drifts_new"),
        drifts_updated=total("drifts_updated"),
        drifts_resolved=total("drifts_resolved"),
        units_done=Coalesce(
            Subquery(sums.filter(~Q(status=UnitStatus.PENDING)).annotate(c=Count("id")).values("c")[:1]), 0
        ),
    )


def _finish_unit(unit: JobUnit, status: str, counts: _Counts, errors: list[str]) -> None:
    """Mark the unit done (CAS from pending), then let whoever finishes last finalize the job."""
    done = JobUnit.objects.filter(pk=unit.pk, status=UnitStatus.PENDING).update(
        status=status,
        finished_at=timezone.now(),
        resources_total=counts.total,
        resources_scanned=counts.scanned,
        drifts_new=counts.new,
        drifts_updated=counts.updated,
        drifts_resolved=counts.resolved,
        error="\n".join(errors)[:5000],
    )
    if not done:
        return
    if errors:
        entries = [
            {
                "provider_id": unit.provider_id,
                "region": unit.region,
                "resource_type": unit.resource_type,
                "message": message,
            }
            for message in errors
        ]
        with transaction.atomic():
            job = DetectionJob.objects.select_for_update().only("errors").get(pk=unit.job_id)
            job.errors = (job.errors or []) + entries
            job.save(update_fields=["errors"])
    _refresh_job_counters(unit.job_id)
    # Counted after our own commit, so the last of two units finishing together always sees zero.
    if not JobUnit.objects.filter(job_id=unit.job_id, status=UnitStatus.PENDING).exists():
        finalize_job(unit.job_id)


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
        _refresh_job_counters(job_id)
        Provider.objects.filter(pk__in=units.values("provider_id")).update(last_scanned_at=now)
        Provider.objects.filter(running_job_id=job_id).update(running_job=None)
    logger.info("detection job finished: %s", final, extra={"job_id": job_id})
    return True


def reap_stale_jobs(max_age_minutes: int | None = None) -> list[int]:
    """Fail running jobs older than the timeout (their worker died); release their providers."""
    from django.conf import settings

    age = max_age_minutes or settings.DRIFTWATCH_JOB_TIMEOUT_MINUTES
    cutoff = timezone.now() - timezone.timedelta(minutes=age)
    reaped = []
    for job_id in DetectionJob.objects.filter(status=JobStatus.RUNNING, started_at__lt=cutoff).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            now = timezone.now()
            JobUnit.objects.filter(job_id=job_id, status=UnitStatus.PENDING).update(
                status=UnitStatus.FAILED, finished_at=now, error="Worker lost or timed out; reaped."
            )
            won = DetectionJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
                status=JobStatus.FAILED, finished_at=now
            )
            if won:
                job = DetectionJob.objects.select_for_update().get(pk=job_id)
                job.errors = (job.errors or []) + [
                    {
                        "provider_id": None,
                        "region": None,
                        "resource_type": None,
                        "message": f"Job did not finish within {age} minutes; marked failed by the reaper.",
                    }
                ]
                job.save(update_fields=["errors"])
                Provider.objects.filter(running_job_id=job_id).update(running_job=None)
                reaped.append(job_id)
        _refresh_job_counters(job_id)
    if reaped:
        logger.warning("reaped stale jobs %s", reaped)
    return reaped


def schedule_due_scans(now=None) -> list[int]:
    """Start a scheduled scan for each enabled provider whose own interval has elapsed."""
    now = now or timezone.now()
    started = []
    for provider in Provider.objects.live().filter(enabled=True, running_job__isnull=True):
        last = provider.last_scanned_at
        if last is not None and now - last < timezone.timedelta(minutes=provider.scan_interval_minutes):
            continue
        try:
            job, created = start_detection(trigger="schedule", provider_id=provider.pk)
        except (DetectionError, IntegrityError) as exc:
            logger.warning("scheduled scan not started: %s", exc, extra={"provider_id": provider.pk})
            continue
        if created:
            started.append(job.pk)
    return started


def fail_unit(unit_id: int, message: str) -> None:
    """Record a unit as failed from outside its run (time limit), finalizing the job if it was last."""
    unit = JobUnit.objects.filter(pk=unit_id).first()
    if unit is not None:
        _finish_unit(unit, UnitStatus.FAILED, _Counts(), errors=[message])
