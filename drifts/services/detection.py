"""Starting detection: a job over one provider or all enabled ones, on request or on each provider's schedule."""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from baselines.models import StateSource, StateSourceKind
from providers import services as provider_services
from providers.collectors import GLOBAL_REGION, scan_units
from providers.models import Provider

from .. import metrics as drift_metrics
from ..models import DetectionJob, JobStatus, JobUnit
from . import jobs
from .terraform import STATE_UNIT_TYPE

logger = logging.getLogger(__name__)


class DetectionError(Exception):
    """A detection request that cannot start; `code` names the reason in the API's error format."""

    code = "detection_error"


class ProviderNotFound(DetectionError):
    code = "not_found"


class ProviderDisabled(DetectionError):
    code = "disabled"


class NoProviders(DetectionError):
    code = "no_providers"


class _LostRace(Exception):
    """Another request claimed one of the providers between our check and our claim."""


def _targets(provider_id: int | None) -> list[Provider]:
    providers = Provider.objects.live()
    if provider_id is None:
        targets = list(providers.filter(enabled=True))
        if not targets:
            raise NoProviders("There are no enabled providers to scan.")
        return targets
    provider = providers.filter(pk=provider_id).first()
    if provider is None:
        raise ProviderNotFound(f"Provider {provider_id} does not exist.")
    if not provider.enabled:
        raise ProviderDisabled(f"Provider {provider_id} is disabled.")
    return [provider]


def _units(provider: Provider, with_state: set[int], terraform_only: bool) -> list[tuple[str, str]]:
    """A provider's units: its Terraform state unit (when it has S3/HTTP sources), then its scan units."""
    state = [(GLOBAL_REGION, STATE_UNIT_TYPE)] if provider.pk in with_state else []
    return state if terraform_only else state + scan_units(provider.regions)


def _providers_with_state(provider_ids: list[int]) -> set[int]:
    return set(
        StateSource.objects.filter(
            provider_id__in=provider_ids, enabled=True, kind__in=[StateSourceKind.S3, StateSourceKind.HTTP]
        ).values_list("provider_id", flat=True)
    )


def _create_job(
    targets: list[Provider], *, trigger: str, user, single: bool, terraform_only: bool = False
) -> tuple[DetectionJob, list[int]]:
    """The job, its scan lock on every target, and its units, in one transaction; raises _LostRace."""
    with transaction.atomic():
        job = DetectionJob.objects.create(
            trigger=trigger,
            requested_by=user if getattr(user, "is_authenticated", False) else None,
            provider=targets[0] if single else None,
        )
        if not provider_services.lock_for_scan([p.pk for p in targets], job.pk):
            raise _LostRace
        with_state = _providers_with_state([p.pk for p in targets])
        units = JobUnit.objects.bulk_create(
            JobUnit(job=job, provider=p, region=region, resource_type=resource_type)
            for p in targets
            for region, resource_type in _units(p, with_state, terraform_only)
        )
        job.units_total = len(units)
        job.save(update_fields=["units_total"])
        drift_metrics.record_scan_started(trigger)
        unit_ids = [u.pk for u in units]
        # Sent after the commit, so a worker never looks for a unit that is not there yet. A broker that
        # is down does not fail the request: the units wait, and the supervisor sends them when it is back.
        transaction.on_commit(lambda: jobs.enqueue_units(unit_ids))
    return job, unit_ids


def start_detection(
    *, trigger: str, provider_id: int | None = None, user=None, terraform_only: bool = False
) -> tuple[DetectionJob, bool]:
    """Start a job over one provider or all enabled ones; returns (job, created).

    terraform_only: the job reads the providers' Terraform state sources and scans nothing else.

    When a running job already covers any requested provider, that job is returned instead:
    a provider is never scanned by two jobs at once (its scan lock is claimed by compare-and-swap).
    """
    for _attempt in range(3):
        targets = _targets(provider_id)
        running = Provider.objects.filter(pk__in=[p.pk for p in targets], running_job_id__isnull=False)
        existing = DetectionJob.objects.filter(
            pk__in=list(running.values_list("running_job_id", flat=True)), status=JobStatus.RUNNING
        ).first()
        if existing is not None:
            return existing, False
        try:
            job, unit_ids = _create_job(
                targets, trigger=trigger, user=user, single=provider_id is not None, terraform_only=terraform_only
            )
        except _LostRace:
            continue
        logger.info(
            "detection job started",
            extra={"job_id": job.pk, "provider_ids": [p.pk for p in targets], "trigger": trigger},
        )
        if not unit_ids:
            jobs.finalize_job(job.pk)
        return job, True
    job = DetectionJob.objects.filter(status=JobStatus.RUNNING).first()
    if job is None:  # pragma: no cover - three lost races in a row and nothing running: give up loudly
        raise RuntimeError("could not claim providers for a detection job")
    return job, False


def schedule_due_scans(now=None) -> list[int]:
    """Start a scheduled scan for each enabled provider whose own interval has elapsed."""
    now = now or timezone.now()
    started = []
    for provider in Provider.objects.live().filter(enabled=True, running_job_id__isnull=True):
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
