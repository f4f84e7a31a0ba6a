"""Who made each new drift's change: CloudTrail look-ups after a unit is recorded, in their own task.

Attribution never touches a scan: the scan only marks its new drifts `pending`; after the unit has
finished, a task claims them, reads the events of each (region, window) once and matches them all
client-side. A drift whose event has not arrived yet (CloudTrail delivers 5 to 15 minutes late) stays
pending and is tried again on DRIFTWATCH_ATTRIBUTION_RETRY_DELAYS after detection, by the beat tick. A
look-up that fails (access denied, no trail, a server error, throttling past its retries) marks the drift
`unavailable` with the reason, and the job gets a warning; the scan's result never changes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from driftwatch.outbound import OutboundError, guard_boto_client
from providers import services as provider_services
from providers.collectors import GLOBAL_REGION, GLOBAL_RESOURCE_TYPES
from providers.crypto import CredentialsError
from providers.models import Provider, Resource

from .. import metrics as drift_metrics
from ..attribution import catalogue, matcher, sources
from ..attribution.ratelimit import lookup_limiter
from ..models import AttributionStatus, DetectionJob, Drift, JobUnit, UnitStatus

logger = logging.getLogger(__name__)

# A claimed drift is due again after this long if its worker dies mid look-up.
CLAIM_LEASE = timedelta(minutes=10)
# At most this many drifts per task run; the rest stay due for the next run.
BATCH_LIMIT = 2000
UNAVAILABLE_PREFIX = "attribution unavailable: "


@dataclass
class AttributionOutcome:
    """What one run did, for logs and tests."""

    claimed: int = 0
    attributed: int = 0
    pending: int = 0
    not_found: int = 0
    unavailable: int = 0
    lookups: int = 0  # (region, window) look-ups made
    warnings: list[str] = field(default_factory=list)


# --- Entry points (tasks call these) ---------------------------------------------------------------------


def enqueue_unit(unit_id: int) -> None:
    """After a unit is recorded: attribute its new drifts in their own task, once the transaction commits.

    Never raises: a broker that is down leaves the drifts pending, and the beat tick sends them later.
    """
    if not settings.DRIFTWATCH_ATTRIBUTION_ENABLED:
        return
    from ..tasks import attribute_unit  # the task module imports this one

    def send() -> None:
        try:
            attribute_unit.delay(unit_id)
        except Exception as exc:  # kombu's errors vary by transport; the tick sends it later
            logger.warning("attribution not queued (%s); the tick will pick it up", type(exc).__name__)

    transaction.on_commit(send)


def attribute_unit(unit_id: int, *, now: datetime | None = None, source_factory=None) -> AttributionOutcome:
    """Attribute the pending drifts a unit recorded (its scope, in its job) that are due."""
    unit = JobUnit.objects.select_related("provider").filter(pk=unit_id).first()
    if unit is None:
        return AttributionOutcome()
    scope = Q(job_id=unit.job_id, provider_id=unit.provider_id, resource_type=unit.resource_type)
    if unit.region != GLOBAL_REGION:
        scope &= Q(resource__region=unit.region)
    return _run(unit.provider, scope, now or timezone.now(), source_factory)


def attribute_provider(provider_id: int, *, now: datetime | None = None, source_factory=None) -> AttributionOutcome:
    """Attribute every due pending drift of a provider (the beat tick's retries, and lost messages)."""
    provider = Provider.objects.filter(pk=provider_id).first()
    if provider is None:
        return AttributionOutcome()
    return _run(provider, Q(provider_id=provider_id), now or timezone.now(), source_factory)


def due_provider_ids(now: datetime | None = None) -> list[int]:
    """Providers with pending drifts whose look-up is due (the partial index drift_attribution_due_idx)."""
    now = now or timezone.now()
    due = Drift.objects.filter(attribution_status=AttributionStatus.PENDING, attribution_next_at__lte=now)
    return sorted(set(due.values_list("provider_id", flat=True)[:10000]))


def send_due(now: datetime | None = None) -> int:
    """Beat tick: one task per provider with due drifts; returns how many were sent."""
    from ..tasks import attribute_provider as task  # the task module imports this one

    if not settings.DRIFTWATCH_ATTRIBUTION_ENABLED:
        return 0
    sent = 0
    for provider_id in due_provider_ids(now):
        try:
            task.delay(provider_id)
        except Exception as exc:  # broker down: the next tick tries again
            logger.warning("attribution tick could not send (%s)", type(exc).__name__)
            break
        sent += 1
    return sent


def initial_fields(now: datetime) -> dict:
    """The attribution columns of a drift a scan creates: pending and due now (or off when disabled)."""
    if not settings.DRIFTWATCH_ATTRIBUTION_ENABLED:
        return {"attribution_status": AttributionStatus.NOT_ATTEMPTED}
    return {"attribution_status": AttributionStatus.PENDING, "attribution_next_at": now}


# --- One run ----------------------------------------------------------------------------------------------


def _claim(scope: Q, now: datetime) -> list[int]:
    """Take the due pending drifts of the scope (skipping rows another worker holds) for CLAIM_LEASE."""
    with transaction.atomic():
        ids = list(
            Drift.objects.filter(scope, attribution_status=AttributionStatus.PENDING, attribution_next_at__lte=now)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("attribution_next_at", "id")
            .values_list("pk", flat=True)[:BATCH_LIMIT]
        )
        if ids:
            Drift.objects.filter(pk__in=ids).update(attribution_next_at=now + CLAIM_LEASE)
    return ids


def _run(provider: Provider, scope: Q, now: datetime, source_factory) -> AttributionOutcome:
    outcome = AttributionOutcome()
    ids = _claim(scope, now)
    outcome.claimed = len(ids)
    if not ids:
        return outcome
    drifts = list(
        Drift.objects.filter(pk__in=ids)
        .select_related("resource")
        .only(
            "id",
            "job_id",
            "provider_id",
            "resource_type",
            "path",
            "baseline_value",
            "current_value",
            "detected_at",
            "attribution_attempts",
            "resource__external_id",
            "resource__name",
            "resource__region",
            "resource__config",
        )
    )
    try:
        source = (source_factory or build_source)(provider)
    except sources.AttributionUnavailable as exc:
        _record_unavailable(drifts, exc.reason, now, outcome)
        return outcome
    windows = _windows(drifts)
    by_region: dict[str, list[matcher.Target]] = defaultdict(list)
    for drift in drifts:
        by_region[_query_region(drift, provider)].append(_target(drift, windows))
    found: dict[int, matcher.Match] = {}
    truncated_regions: set[str] = set()
    failed: dict[int, str] = {}
    for region, targets in sorted(by_region.items()):
        start = min(t.not_before for t in targets)
        end = max(t.not_after for t in targets)
        try:
            records, truncated = source.events(region, start, end)
        except sources.AttributionUnavailable as exc:
            failed.update((t.key, exc.reason) for t in targets)
            continue
        except OutboundError as exc:  # the guard refused the connection; its text is ours
            failed.update((t.key, f"the outbound guard refused the call ({exc})"[:250]) for t in targets)
            continue
        except Exception as exc:
            # Anything else (a bug, an odd answer) must not leave the drifts claimed, to crash again later.
            logger.exception("attribution look-up failed", extra={"provider_id": provider.pk, "region": region})
            failed.update((t.key, f"unexpected error ({type(exc).__name__})") for t in targets)
            continue
        outcome.lookups += 1
        if truncated:
            truncated_regions.add(region)
        events = [e for e in (matcher.parse_record(r) for r in records) if e is not None]
        found.update(matcher.match(targets, events))
    by_id = {d.pk: d for d in drifts}
    _record_unavailable([by_id[pk] for pk in failed], None, now, outcome, reasons=failed)
    _record_results([d for d in drifts if d.pk not in failed], found, truncated_regions, provider, now, outcome)
    logger.info(
        "attribution: %d attributed, %d pending, %d not found, %d unavailable (%d look-ups)",
        outcome.attributed,
        outcome.pending,
        outcome.not_found,
        outcome.unavailable,
        outcome.lookups,
        extra={"provider_id": provider.pk},
    )
    return outcome


def build_source(provider: Provider):
    """LookupEvents, or the trail's bucket when the provider names one."""
    try:
        clients = provider_services.aws_clients(provider, max_attempts=1)
    except (OutboundError, CredentialsError, ValueError) as exc:
        raise sources.AttributionUnavailable(f"the provider's AWS settings cannot be used ({exc})"[:200]) from None
    except (ClientError, BotoCoreError) as exc:
        raise sources.AttributionUnavailable(sources._explain(exc, "sts:AssumeRole")) from None
    session, endpoint = clients.session, clients.endpoint_url
    if provider.cloudtrail_bucket:
        # Every connection through the outbound guard, as the scan's own clients.
        s3 = guard_boto_client(
            session.client(
                "s3", region_name=clients.default_region, endpoint_url=endpoint, config=sources.client_config(2)
            )
        )
        return sources.TrailBucketSource(
            s3, provider.cloudtrail_bucket, provider.cloudtrail_prefix, _account_id(provider, clients)
        )

    def cloudtrail(region: str) -> Any:
        return guard_boto_client(
            session.client("cloudtrail", region_name=region, endpoint_url=endpoint, config=sources.client_config(1))
        )

    # Per account and region, as AWS counts; until providers know their account id, per provider.
    account = getattr(provider, "account_id", None) or f"provider-{provider.pk}"
    lookup = sources.LookupEventsSource(
        cloudtrail,
        lookup_limiter(),
        account,
        max_pages=settings.DRIFTWATCH_ATTRIBUTION_MAX_PAGES,
        throttle_retries=settings.DRIFTWATCH_ATTRIBUTION_THROTTLE_RETRIES,
    )
    trails = scanned_trail_buckets(provider.pk)
    if not trails:
        return lookup

    def bucket_source(bucket: str, prefix: str):
        def make():
            s3 = guard_boto_client(
                session.client(
                    "s3", region_name=clients.default_region, endpoint_url=endpoint, config=sources.client_config(2)
                )
            )
            return sources.TrailBucketSource(s3, bucket, prefix, _account_id(provider, clients))

        return make

    return sources.FallbackSource(lookup, [bucket_source(bucket, prefix) for bucket, prefix in trails])


def scanned_trail_buckets(provider_id: int, limit: int = 3) -> list[tuple[str, str]]:
    """(bucket, prefix) of the provider's own trails as last scanned: logging, multi-region and org trails first."""
    configs = Resource.objects.filter(
        provider_id=provider_id, resource_type="cloudtrail_trail", deleted_at__isnull=True
    ).values_list("config", flat=True)[:100]
    ranked = sorted(
        (c for c in configs if isinstance(c, dict) and c.get("S3BucketName")),
        key=lambda c: (not c.get("IsLogging"), not c.get("IsMultiRegionTrail"), not c.get("IsOrganizationTrail")),
    )
    found: list[tuple[str, str]] = []
    for config in ranked:
        entry = (str(config["S3BucketName"]), str(config.get("S3KeyPrefix") or "").strip("/"))
        if entry not in found:
            found.append(entry)
    return found[:limit]


def _account_id(provider: Provider, clients) -> str:
    known = getattr(provider, "account_id", None)
    if known:
        return str(known)
    try:
        return str(clients.client("sts").get_caller_identity()["Account"])
    except (ClientError, BotoCoreError) as exc:
        raise sources.AttributionUnavailable(sources._explain(exc, "sts:GetCallerIdentity")) from None


# --- Windows and targets ------------------------------------------------------------------------------------


def _scope_region(drift: Drift) -> str:
    return GLOBAL_REGION if drift.resource_type in GLOBAL_RESOURCE_TYPES else drift.resource.region


def _windows(drifts: list[Drift]) -> dict[tuple[str, str, int], datetime | None]:
    """When the scope's previous successful unit started, per (type, scope region, provider).

    The change happened after that unit read the resource (it saw no difference) and before detection.
    """
    first_detected: dict[tuple[str, str, int], datetime] = {}
    for drift in drifts:
        key = (drift.resource_type, _scope_region(drift), drift.provider_id)
        first_detected[key] = min(first_detected.get(key, drift.detected_at), drift.detected_at)
    starts = {}
    for (resource_type, region, provider_id), detected in first_detected.items():
        previous = (
            JobUnit.objects.filter(
                provider_id=provider_id,
                resource_type=resource_type,
                region=region,
                status=UnitStatus.SUCCEEDED,
                finished_at__lt=detected,
            )
            .order_by("-finished_at")
            .values_list("started_at", flat=True)
            .first()
        )
        starts[(resource_type, region, provider_id)] = previous
    return starts


def _change_kind(drift: Drift) -> str:
    if drift.path == "":
        if drift.baseline_value is None:
            return catalogue.APPEARED
        if drift.current_value is None:
            return catalogue.DELETED
    return catalogue.CHANGED


def _target(drift: Drift, windows) -> matcher.Target:
    skew = timedelta(seconds=settings.DRIFTWATCH_ATTRIBUTION_SKEW_SECONDS)
    previous = windows.get((drift.resource_type, _scope_region(drift), drift.provider_id))
    start = previous if previous is not None else drift.detected_at - sources.HISTORY
    resource = drift.resource
    regional = drift.resource_type not in GLOBAL_RESOURCE_TYPES and resource.region != GLOBAL_REGION
    return matcher.Target(
        key=drift.pk,
        resource_type=drift.resource_type,
        external_id=resource.external_id,
        identifiers=frozenset(
            catalogue.resource_identifiers(drift.resource_type, resource.external_id, resource.name, resource.config)
        ),
        region=resource.region if regional else None,
        path=drift.path,
        change=_change_kind(drift),
        not_before=start - skew,
        not_after=drift.detected_at + skew,
    )


def _query_region(drift: Drift, provider: Provider) -> str:
    """The region whose events hold the change: us-east-1 for global services, else the resource's."""
    if drift.resource_type in catalogue.GLOBAL_SERVICE_TYPES:
        return catalogue.GLOBAL_SERVICE_REGION
    region = drift.resource.region
    if not region or region == GLOBAL_REGION:
        return (provider.regions or [catalogue.GLOBAL_SERVICE_REGION])[0]
    return region


# --- Writing results ----------------------------------------------------------------------------------------


def _record_results(drifts, found, truncated_regions, provider, now, outcome) -> None:
    delays = settings.DRIFTWATCH_ATTRIBUTION_RETRY_DELAYS
    for drift in drifts:
        drift.attribution_attempts += 1
        hit = found.get(drift.pk)
        if hit is not None:
            drift.attribution_status = AttributionStatus.ATTRIBUTED
            drift.changed_by = matcher.changed_by(hit)
            drift.attribution_event = hit.event.record
            drift.attribution_reason = ""
            drift.attribution_next_at = None
            outcome.attributed += 1
            continue
        tries_left = drift.attribution_attempts <= len(delays)
        if tries_left:
            due = drift.detected_at + timedelta(seconds=delays[drift.attribution_attempts - 1])
            drift.attribution_next_at = max(due, now)
            drift.attribution_status = AttributionStatus.PENDING
            drift.attribution_reason = (
                "attribution pending: no matching CloudTrail event yet (CloudTrail delivers events up to 15 "
                f"minutes late); next try at {drift.attribution_next_at:%Y-%m-%dT%H:%M:%SZ}"
            )
            outcome.pending += 1
        else:
            drift.attribution_status = AttributionStatus.NOT_FOUND
            drift.attribution_next_at = None
            drift.attribution_reason = "no matching CloudTrail write event between the previous scan and detection"
            if _query_region(drift, provider) in truncated_regions:
                drift.attribution_reason += (
                    f" (only the newest {settings.DRIFTWATCH_ATTRIBUTION_MAX_PAGES * sources.PAGE_SIZE}"
                    " events of a busy window were searched)"
                )
            outcome.not_found += 1
    Drift.objects.bulk_update(
        drifts,
        [
            "attribution_status",
            "attribution_reason",
            "attribution_attempts",
            "attribution_next_at",
            "changed_by",
            "attribution_event",
        ],
        batch_size=500,
    )
    drift_metrics.record_attributions(
        ((d.attribution_status, d.detected_at) for d in drifts if d.attribution_status != AttributionStatus.PENDING),
        now,
    )


def _record_unavailable(drifts, reason, now, outcome, reasons=None) -> None:
    """Mark drifts unavailable with their reason, and warn each of their jobs once per reason and scope."""
    if not drifts:
        return
    warnings: dict[int, dict[tuple, dict]] = defaultdict(dict)
    for drift in drifts:
        why = reasons[drift.pk] if reasons else reason
        drift.attribution_attempts += 1
        drift.attribution_status = AttributionStatus.UNAVAILABLE
        drift.attribution_reason = (UNAVAILABLE_PREFIX + why)[:300]
        drift.attribution_next_at = None
        outcome.unavailable += 1
        if drift.job_id is not None:
            entry = {
                "provider_id": drift.provider_id,
                "region": _scope_region(drift),
                "resource_type": drift.resource_type,
                "message": drift.attribution_reason,
            }
            warnings[drift.job_id][_warning_key(entry)] = entry
    Drift.objects.bulk_update(
        drifts, ["attribution_status", "attribution_reason", "attribution_attempts", "attribution_next_at"]
    )
    drift_metrics.record_attributions(((AttributionStatus.UNAVAILABLE, d.detected_at) for d in drifts), now)
    for job_id, entries in warnings.items():
        added = add_job_warnings(job_id, list(entries.values()))
        outcome.warnings.extend(e["message"] for e in added)


def add_job_warnings(job_id: int, entries: list[dict]) -> list[dict]:
    """Append warnings to a job (each at most once); they never change its status."""
    with transaction.atomic():
        job = DetectionJob.objects.select_for_update().only("warnings").filter(pk=job_id).first()
        if job is None:
            return []
        existing = {_warning_key(w) for w in job.warnings or [] if isinstance(w, dict)}
        new = [e for e in entries if _warning_key(e) not in existing]
        if new:
            job.warnings = (job.warnings or []) + new
            job.save(update_fields=["warnings"])
    return new


def _warning_key(entry: dict) -> tuple:
    # Named fields, not dict order: JSONB gives keys back in its own order.
    return tuple(entry.get(name) for name in ("provider_id", "region", "resource_type", "message"))
