"""Terraform state as the desired state: reading a provider's state sources, and applying a state.

Applying a state (a new serial, or a new lineage) replaces the Terraform baselines it declares, then
compares each declared resource's live document with what the code now says: drifts that match are
resolved (baseline_captured, by the system, "state serial N"), new differences open drifts. Resources
the previous serial declared and this one does not go back to a snapshot baseline. A state that cannot
be read or parsed changes no baseline: the error goes on the source, and on the job when a scan read it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from baselines.models import Baseline, BaselineSource, StateReadStatus, StateSource, StateSourceKind
from baselines.terraform import sources as state_sources
from baselines.terraform.mapping import Declared, map_instances
from baselines.terraform.state import StateError, StateHead, parse_state, peek_head
from driftwatch.models import AuditEntry
from providers.collectors import GLOBAL_REGION, GLOBAL_RESOURCE_TYPES
from providers.models import Provider, Resource, config_hash

from ..models import JobUnit, Resolution
from . import scan
from .scan import UnitCounts, UnitOutcome

logger = logging.getLogger(__name__)

# The resource type of the job unit that reads a provider's state sources (one per provider and job).
STATE_UNIT_TYPE = "terraform_state"


class StateApplyError(Exception):
    """A state that was not applied; `code` names the reason, the message is safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class ApplyOutcome:
    """What applying one state file did."""

    key: str
    status: str  # "applied" or "unchanged"
    serial: int | None = None
    lineage: str = ""
    declared: int = 0
    unsupported: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    counts: UnitCounts = field(default_factory=UnitCounts)
    retired: int = 0

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "status": self.status,
            "serial": self.serial,
            "lineage": self.lineage,
            "declared": self.declared,
            "unsupported": self.unsupported,
            "warnings": self.warnings[:50],
            "drifts_new": self.counts.new,
            "drifts_updated": self.counts.updated,
            "drifts_resolved": self.counts.resolved,
            "retired": self.retired,
        }


@dataclass
class _Scope:
    """What the scan recorder needs to know about where findings belong (a JobUnit's fields)."""

    provider_id: int
    region: str
    resource_type: str
    job_id: int | None
    provider: Provider | None = None


# --- reading sources --------------------------------------------------------------------------------


def refresh_source(source: StateSource, *, job_id: int | None = None) -> list[ApplyOutcome]:
    """Read an S3 or HTTP source and apply each of its state files that changed.

    Raises StateApplyError (recorded on the source) when the source cannot be read or a file is invalid;
    files applied before the bad one stay applied (each file is its own state).
    """
    try:
        files = state_sources.read(source)
    except state_sources.StateSourceError as exc:
        _record_error(source, str(exc))
        raise StateApplyError(exc.code, str(exc)) from None
    outcomes = [apply_state(source, f.data, key=f.key, etag=f.etag, job_id=job_id) for f in files if f.data is not None]
    outcomes += [ApplyOutcome(f.key, "unchanged") for f in files if f.data is None]
    if source.is_glob:
        # A state file deleted from the bucket declares nothing any more.
        present = {f.key for f in files}
        for key in sorted(set(source.heads or {}) - present):
            outcomes.append(_forget_file(source, key, job_id=job_id))
    _record_read(source, any(o.status == "applied" for o in outcomes))
    return outcomes


def refresh_unit(unit: JobUnit, **_ignored) -> UnitOutcome:
    """The job unit that reads every enabled S3/HTTP state source of the unit's provider."""
    outcome = UnitOutcome()
    readable = StateSource.objects.filter(
        provider_id=unit.provider_id, enabled=True, kind__in=[StateSourceKind.S3, StateSourceKind.HTTP]
    ).select_related("provider")
    failures = 0
    sources_seen = 0
    for source in readable.order_by("name", "id"):
        sources_seen += 1
        try:
            results = refresh_source(source, job_id=unit.job_id)
        except StateApplyError as exc:
            failures += 1
            outcome.errors.append(f"state source {source.name!r}: {exc}")
            continue
        for result in results:
            outcome.counts.total += result.declared
            outcome.counts.scanned += result.declared
            outcome.counts.new += result.counts.new
            outcome.counts.updated += result.counts.updated
            outcome.counts.resolved += result.counts.resolved
    if sources_seen and failures == sources_seen:
        raise StateApplyError("unreadable", "; ".join(outcome.errors)[:2000])
    return outcome


def _record_error(source: StateSource, message: str) -> None:
    now = timezone.now()
    StateSource.objects.filter(pk=source.pk).update(
        last_status=StateReadStatus.ERROR, last_error=message[:2000], last_read_at=now
    )
    source.last_status, source.last_error, source.last_read_at = StateReadStatus.ERROR, message[:2000], now
    logger.warning("terraform state source %s: %s", source.pk, message)


def _record_read(source: StateSource, applied: bool) -> None:
    now = timezone.now()
    status = StateReadStatus.OK if applied else StateReadStatus.UNCHANGED
    StateSource.objects.filter(pk=source.pk).update(last_status=status, last_error="", last_read_at=now)
    source.last_status, source.last_error, source.last_read_at = status, "", now


# --- applying one state file ----------------------------------------------------------------------


def apply_upload(source: StateSource, data: bytes, *, actor=None) -> ApplyOutcome:
    """Apply a state posted to an upload source; raises StateApplyError (recorded on the source)."""
    outcome = apply_state(source, data, key="", etag="")
    _record_read(source, outcome.status == "applied")
    AuditEntry.record(actor, "upload", source, {"serial": outcome.serial, "status": outcome.status})
    return outcome


def apply_state(source: StateSource, data: bytes, *, key: str = "", etag: str = "", job_id=None) -> ApplyOutcome:
    """Parse one state file and, when its serial or lineage is new, make it the source of its baselines."""
    known = (source.heads or {}).get(key) or {}
    head = peek_head(data)
    if head is not None and _same(head, known):
        _remember(source, key, {**known, "etag": etag or known.get("etag", "")})
        return ApplyOutcome(key, "unchanged", head.serial, head.lineage)
    try:
        parsed = parse_state(data, max_bytes=settings.DRIFTWATCH_TF_STATE_MAX_BYTES)
    except StateError as exc:
        _record_error(source, f"{key + ': ' if key else ''}{exc}")
        raise StateApplyError(exc.code, str(exc)) from None
    head = parsed.head
    if _same(head, known):
        _remember(source, key, {**known, "etag": etag or known.get("etag", "")})
        return ApplyOutcome(key, "unchanged", head.serial, head.lineage)
    if known.get("lineage") == head.lineage and head.serial < known.get("serial", -1):
        message = (
            f"{key + ': ' if key else ''}serial {head.serial} is older than serial {known['serial']} already "
            f"applied for lineage {head.lineage}; not applied."
        )
        _record_error(source, message)
        raise StateApplyError("stale_serial", message)
    provider = source.provider
    mapping = map_instances(parsed.instances, default_region=(provider.regions or ["us-east-1"])[0])
    outcome = ApplyOutcome(
        key,
        "applied",
        head.serial,
        head.lineage,
        declared=len(mapping.declared),
        unsupported=dict(mapping.unsupported),
        warnings=mapping.warnings,
    )
    _apply_declarations(source, key, head, mapping.declared, outcome, job_id=job_id)
    _remember(
        source,
        key,
        {
            "serial": head.serial,
            "lineage": head.lineage,
            "etag": etag,
            "terraform_version": parsed.terraform_version,
            "resources": len(mapping.declared),
            "applied_at": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        applied=True,
    )
    logger.info(
        "terraform state applied: serial %s, %d resources, %d new drifts, %d resolved",
        head.serial,
        outcome.declared,
        outcome.counts.new,
        outcome.counts.resolved,
        extra={"state_source_id": source.pk, "provider_id": source.provider_id},
    )
    return outcome


def _same(head: StateHead, known: dict) -> bool:
    return bool(known) and known.get("serial") == head.serial and known.get("lineage") == head.lineage


def _remember(source: StateSource, key: str, head: dict, *, applied: bool = False) -> None:
    """Record a file's head in the source, under a row lock (glob sources apply several files)."""
    with transaction.atomic():
        row = StateSource.objects.select_for_update().only("heads").get(pk=source.pk)
        heads = dict(row.heads or {})
        heads[key] = head
        values = {"heads": heads}
        if applied:
            values["last_applied_at"] = timezone.now()
        StateSource.objects.filter(pk=source.pk).update(**values)
    source.heads = heads


def _forget_file(source: StateSource, key: str, *, job_id) -> ApplyOutcome:
    outcome = ApplyOutcome(key, "applied", lineage="")
    head = StateHead(4, (source.heads.get(key) or {}).get("serial", 0), "")
    _apply_declarations(source, key, head, [], outcome, job_id=job_id, why="its state file was deleted")
    with transaction.atomic():
        row = StateSource.objects.select_for_update().only("heads").get(pk=source.pk)
        heads = {k: v for k, v in (row.heads or {}).items() if k != key}
        StateSource.objects.filter(pk=source.pk).update(heads=heads)
    source.heads = heads
    return outcome


def _apply_declarations(
    source: StateSource, key: str, head: StateHead, declared: list[Declared], outcome: ApplyOutcome, *, job_id, why=""
) -> None:
    """One transaction per resource type (under the scan's lock for that type): baselines, then findings."""
    by_type: dict[str, list[Declared]] = defaultdict(list)
    for item in declared:
        by_type[item.resource_type].append(item)
    previous_types = set(
        Baseline.objects.filter(state_source=source, state_key=key, is_current=True, source=BaselineSource.TERRAFORM)
        .values_list("resource__resource_type", flat=True)
        .distinct()
    )
    for resource_type in sorted(set(by_type) | previous_types):
        with transaction.atomic():
            scan.lock_scope(source.provider_id, resource_type)
            _apply_type(source, key, head, resource_type, by_type.get(resource_type, []), outcome, job_id, why)


def _apply_type(source, key, head, resource_type, declared, outcome, job_id, why) -> None:
    now = timezone.now()
    provider_id = source.provider_id
    # Two addresses may name one resource (a bucket in two states is a mistake, in one state a typo):
    # the first wins, the others are reported.
    unique: dict[str, Declared] = {}
    for item in declared:
        if item.external_id in unique:
            outcome.warnings.append(f"{item.address}: declares the same resource as {unique[item.external_id].address}")
            continue
        unique[item.external_id] = item
    resources = {
        r.external_id: r
        for r in Resource.objects.filter(
            provider_id=provider_id, resource_type=resource_type, external_id__in=list(unique)
        ).only(
            "id", "provider_id", "resource_type", "external_id", "name", "region", "config", "config_hash", "deleted_at"
        )
    }
    # A declared resource never seen live gets a row that is already "gone": a scan that finds it revives it.
    placeholders = [
        Resource(
            provider_id=provider_id,
            resource_type=resource_type,
            external_id=external_id,
            name=item.name,
            region=GLOBAL_REGION if resource_type in GLOBAL_RESOURCE_TYPES else item.region,
            config={},
            config_hash=config_hash({}),
            first_seen_at=now,
            last_seen_at=now,
            deleted_at=now,
        )
        for external_id, item in unique.items()
        if external_id not in resources
    ]
    for row in Resource.objects.bulk_create(placeholders):
        resources[row.external_id] = row
    by_id = {resources[external_id].pk: (resources[external_id], item) for external_id, item in unique.items()}

    # Baselines: a new current Terraform baseline per declared resource (the old one stays as history).
    current = {
        b.resource_id: b
        for b in Baseline.objects.filter(resource_id__in=list(by_id), is_current=True).only(
            "id", "resource_id", "config_hash", "source", "state_source_id", "state_key", "address"
        )
    }
    Baseline.objects.filter(pk__in=[b.pk for b in current.values()]).update(is_current=False)
    baselines = {
        b.resource_id: b
        for b in Baseline.objects.bulk_create(
            Baseline(
                resource_id=resource_id,
                config=item.document,
                config_hash=config_hash(item.document),
                captured_at=now,
                source=BaselineSource.TERRAFORM,
                is_current=True,
                state_source_id=source.pk,
                state_key=key,
                address=item.address[:1024],
                serial=head.serial,
                declared_by=item.declared_by,
            )
            for resource_id, (_resource, item) in by_id.items()
        )
    }

    scope = _Scope(provider_id, GLOBAL_REGION, resource_type, job_id, source.provider)
    recorder = scan._Recorder(scope)
    recorder.detected_note = f"Detected against Terraform state serial {head.serial} ({source.name})."
    findings: dict[int, list] = {}
    known_scopes = _completed_scopes(provider_id, resource_type)
    for resource_id, (resource, _item) in by_id.items():
        baseline = baselines[resource_id]
        if resource.deleted_at is None:
            changes = scan.changes_from_baseline(baseline, resource.config)
        elif _scope_of(resource) in known_scopes:
            changes = scan.diff_engine.diff(baseline.config, None)  # a completed scan did not find it: missing
        else:
            changes = []  # never scanned where it lives: unknown yet; the scan of that scope will say
        findings[resource_id] = recorder.unignored(resource, changes)
    open_drifts = scan._open_drifts_by_resource(list(by_id))
    resources_by_id = {resource_id: resource for resource_id, (resource, _item) in by_id.items()}
    recorder._record_findings(resources_by_id, baselines, findings, open_drifts, now)
    recorder._resolve_reverted(
        findings,
        open_drifts,
        now,
        resolution=Resolution.BASELINE_CAPTURED,
        note=f"Resolved by Terraform state serial {head.serial} ({source.name}): the code now declares what is live.",
        include_appeared=True,
    )
    outcome.retired += _retire(source, key, head, resource_type, set(by_id), recorder, now, why)
    outcome.counts.new += recorder.counts.new
    outcome.counts.updated += recorder.counts.updated
    outcome.counts.resolved += recorder.counts.resolved


def _completed_scopes(provider_id: int, resource_type: str) -> set[str]:
    from providers.models import ScanScope

    return set(
        ScanScope.objects.filter(provider_id=provider_id, resource_type=resource_type).values_list("region", flat=True)
    )


def _scope_of(resource: Resource) -> str:
    return GLOBAL_REGION if resource.resource_type in GLOBAL_RESOURCE_TYPES else resource.region


def _retire(source, key, head, resource_type, kept_ids: set[int], recorder, now, why: str) -> int:
    """Resources this file declared before and no longer does: back to a snapshot baseline, drifts resolved."""
    stale = list(
        Baseline.objects.filter(
            state_source=source,
            state_key=key,
            is_current=True,
            source=BaselineSource.TERRAFORM,
            resource__resource_type=resource_type,
        )
        .exclude(resource_id__in=kept_ids)
        .select_related("resource")
        .only("id", "resource_id", "resource__id", "resource__config", "resource__config_hash", "resource__deleted_at")
    )
    if not stale:
        return 0
    Baseline.objects.filter(pk__in=[b.pk for b in stale]).update(is_current=False)
    # A live resource keeps a baseline: how it is now (so it stays quiet until it changes again).
    Baseline.objects.bulk_create(
        Baseline(
            resource_id=b.resource_id,
            config=b.resource.config,
            config_hash=b.resource.config_hash,
            captured_at=now,
            source=BaselineSource.DISCOVERED,
            is_current=True,
        )
        for b in stale
        if b.resource.deleted_at is None
    )
    ids = [b.resource_id for b in stale]
    open_drifts = scan._open_drifts_by_resource(ids)
    reason = why or f"no longer declared by Terraform state serial {head.serial} ({source.name})"
    recorder._resolve_reverted(
        {resource_id: [] for resource_id in ids},
        open_drifts,
        now,
        resolution=Resolution.BASELINE_CAPTURED,
        note=f"Resolved: the resource is {reason}." if not why else f"Resolved: {why}.",
        include_appeared=True,
    )
    return len(stale)


def forget_source(source: StateSource) -> None:
    """Before a source is deleted: its resources go back to snapshot baselines and its drifts are resolved."""
    for key in sorted(set(source.heads or {}) | {""}):
        outcome = ApplyOutcome(key, "applied")
        head = StateHead(4, ((source.heads or {}).get(key) or {}).get("serial", 0), "")
        _apply_declarations(
            source, key, head, [], outcome, job_id=None, why=f"state source {source.name!r} was deleted"
        )
