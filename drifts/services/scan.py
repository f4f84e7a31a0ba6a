"""Recording one unit's scan: collect, upsert the resources, baseline new ones, and open, update or
resolve their drifts, in bulk per batch. Idempotent: running a unit again changes nothing it recorded."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from baselines import services as baseline_services
from baselines.models import BaselineSource
from baselines.terraform.mapping import MAPPED_TYPES
from providers import services as provider_services
from providers.collectors import COLLECTORS, GLOBAL_REGION
from providers.models import Resource

from .. import declared as declared_compare
from .. import diff as diff_engine
from .. import events, rules
from .. import metrics as drift_metrics
from ..models import (
    OPEN_STATUSES,
    Drift,
    DriftEvent,
    DriftStatus,
    IgnoreRule,
    JobUnit,
    ManagedBy,
    Resolution,
    Severity,
    TerraformFinding,
)
from .attribution import initial_fields as attribution_fields
from .triage import move_drifts

# What a scan may change on an open drift when it sees it again.
_RESCANNED_FIELDS = [
    "current_value",
    "baseline_value",
    "severity",
    "drift_type",
    "summary",
    "diff",
    "last_seen_at",
    "job_id",
    "updated_at",
    "managed_by",
    "state_source_id",
    "tf_address",
    "tf_serial",
    "tf_finding",
]


@dataclass
class UnitCounts:
    """What one unit read and recorded; the job's counters are sums of these."""

    total: int = 0
    scanned: int = 0
    new: int = 0
    updated: int = 0
    resolved: int = 0


@dataclass
class UnitOutcome:
    counts: UnitCounts = field(default_factory=UnitCounts)
    # Per-resource failures: the unit succeeded, these resources were left as they were.
    errors: list[str] = field(default_factory=list)


def collect_and_record(
    unit: JobUnit, *, batch_size: int | None = None, on_progress: Callable[[UnitCounts], None] | None = None
) -> UnitOutcome:
    """Scan one (provider, region, resource_type) and record what changed.

    A failing provider call raises before anything is written for the unit: no drift, no deletion, no
    baseline. Resources the collector could not read are kept as they were and reported as errors.
    """
    started = timezone.now()
    clients = provider_services.aws_clients(unit.provider)
    try:
        result = COLLECTORS[unit.resource_type](clients, unit.region)
    finally:
        # Counted whether the collector succeeded or not: failing calls and throttles are the ones to see.
        drift_metrics.record_aws_usage(
            clients.calls_by_operation.items(), clients.attempts_by_operation, clients.throttles_by_operation
        )
    recorder = _Recorder(unit)
    recorder.counts.total = len(result.resources) + len(result.failed)
    progress = on_progress or (lambda counts: None)
    progress(recorder.counts)
    size = batch_size or settings.DRIFTWATCH_SCAN_BATCH_SIZE
    for start in range(0, len(result.resources), size):
        batch = result.resources[start : start + size]
        with transaction.atomic():
            recorder.lock()
            recorder.record_batch(batch)
        recorder.counts.scanned += len(batch)
        progress(recorder.counts)
    with transaction.atomic():
        recorder.lock()
        recorder.record_vanished(seen_before=started, kept_external_ids=set(result.failed))
        provider_services.complete_scope(unit.provider_id, unit.region, unit.resource_type, timezone.now())
        recorder.record_missing()
        recorder.record_unmanaged()
    errors = [f"{external_id}: {message}" for external_id, message in sorted(result.failed.items())]
    return UnitOutcome(recorder.counts, errors)


def lock_scope(provider_id: int, resource_type: str) -> None:
    """Serialize writers of one provider's resources of one type until the transaction ends.

    A scan unit's batches and a Terraform state being applied both rewrite baselines and drifts of the
    same resources; a transaction-scoped advisory lock keeps them from interleaving (PostgreSQL only).
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [provider_id, resource_type])


class _Recorder:
    """Turns collected resources of one unit into resource rows, baselines and drifts.

    `unit` is a JobUnit, or anything with its provider_id, region, resource_type and job_id (a Terraform
    state being applied records its findings through the same code).
    """

    def __init__(self, unit: JobUnit) -> None:
        self.unit = unit
        self.counts = UnitCounts()
        # Before its scope's first completed scan, resources are baselined quietly; after it, a new
        # resource is itself a finding.
        self.scope_known = provider_services.scope_completed(unit.provider_id, unit.region, unit.resource_type)
        self.ignore_rules = list(IgnoreRule.objects.active().for_type(unit.resource_type))

    def reports_unmanaged(self) -> bool:
        """Whether this unit reports unmanaged resources: the provider asks for it, the type is compared
        with Terraform, and some state of the provider was applied (else everything would be unmanaged)."""
        if not hasattr(self, "_reports_unmanaged"):
            provider = getattr(self.unit, "provider", None)
            self._reports_unmanaged = bool(
                provider is not None
                and provider.report_unmanaged
                and self.unit.resource_type in MAPPED_TYPES
                and provider.state_sources.filter(last_applied_at__isnull=False).exists()
            )
        return self._reports_unmanaged

    def lock(self) -> None:
        lock_scope(self.unit.provider_id, self.unit.resource_type)

    def record_batch(self, batch: list) -> None:
        """Upsert one batch, baseline the new resources, and record each resource's differences."""
        now = timezone.now()
        resources, created_ids = provider_services.upsert_resources(
            self.unit.provider_id, self.unit.resource_type, batch, now
        )
        by_id = {r.pk: r for r in resources}
        baselines = baseline_services.current_baselines(by_id)
        fresh = [r for r in resources if r.pk not in baselines]
        baselines.update(baseline_services.baseline_first_seen(fresh, now))
        fresh_ids = {r.pk for r in fresh}
        findings = {}
        for resource in resources:
            baseline = baselines[resource.pk]
            if resource.pk in fresh_ids:
                # With unmanaged reporting on, a new resource no state declares is reported as unmanaged
                # (record_unmanaged, at the end of the unit) instead of as "appeared".
                appeared = self.scope_known and resource.pk in created_ids and not self.reports_unmanaged()
                changes = diff_engine.diff(None, resource.config) if appeared else []
            else:
                changes = changes_from_baseline(baseline, resource.config, resource.config_hash)
            findings[resource.pk] = self.unignored(resource, changes)
        open_drifts = _open_drifts_by_resource(list(by_id))
        self._record_findings(by_id, baselines, findings, open_drifts, now)
        self._resolve_reverted(findings, open_drifts, now)

    def record_vanished(self, *, seen_before, kept_external_ids: set[str]) -> None:
        """Resources of the scope the listing no longer returned: mark them deleted and report them."""
        region = None if self.unit.region == GLOBAL_REGION else self.unit.region
        gone = list(
            provider_services.vanished_resources(
                self.unit.provider_id, self.unit.resource_type, region, seen_before, kept_external_ids
            )
        )
        if not gone:
            return
        now = timezone.now()
        ids = [r.pk for r in gone]
        provider_services.mark_resources_deleted(ids, now)
        baselines = baseline_services.current_baselines(ids)
        findings = {r.pk: diff_engine.diff(baselines[r.pk].config, None) for r in gone if r.pk in baselines}
        self._record_findings({r.pk: r for r in gone}, baselines, findings, _open_drifts_by_resource(ids), now)

    def record_missing(self) -> None:
        """Resources a Terraform state declares that the scope's completed listing did not find: missing."""
        region = None if self.unit.region == GLOBAL_REGION else self.unit.region
        declared_gone = Resource.objects.filter(
            provider_id=self.unit.provider_id,
            resource_type=self.unit.resource_type,
            deleted_at__isnull=False,
            baselines__is_current=True,
            baselines__source=BaselineSource.TERRAFORM,
        ).exclude(drifts__status__in=OPEN_STATUSES, drifts__path=diff_engine.ROOT)
        if region is not None:
            declared_gone = declared_gone.filter(region=region)
        gone = list(declared_gone.only("id", "provider_id", "resource_type", "name", "region"))
        if not gone:
            return
        ids = [r.pk for r in gone]
        baselines = baseline_services.current_baselines(ids)
        findings = {r.pk: diff_engine.diff(baselines[r.pk].config, None) for r in gone if r.pk in baselines}
        self._record_findings(
            {r.pk: r for r in gone}, baselines, findings, _open_drifts_by_resource(ids), timezone.now()
        )

    def record_unmanaged(self) -> None:
        """With report_unmanaged on: live resources of the scope that no Terraform state of the provider
        declares, reported once each (a resolved report is not raised again)."""
        if not self.reports_unmanaged():
            return
        region = None if self.unit.region == GLOBAL_REGION else self.unit.region
        candidates = (
            Resource.objects.filter(
                provider_id=self.unit.provider_id, resource_type=self.unit.resource_type, deleted_at__isnull=True
            )
            .exclude(baselines__is_current=True, baselines__source=BaselineSource.TERRAFORM)
            .exclude(drifts__tf_finding=TerraformFinding.UNMANAGED)
            .exclude(drifts__status__in=OPEN_STATUSES, drifts__path=diff_engine.ROOT)
        )
        if self.unit.resource_type == "ec2_security_group":
            # Every VPC has a "default" group AWS creates and nobody can delete: not someone's unmanaged change.
            candidates = candidates.exclude(config__GroupName="default")
        if region is not None:
            candidates = candidates.filter(region=region)
        now = timezone.now()
        label = rules.RESOURCE_LABELS.get(self.unit.resource_type, self.unit.resource_type)
        created = Drift.objects.bulk_create(
            Drift(
                resource_id=resource.pk,
                provider_id=resource.provider_id,
                resource_type=resource.resource_type,
                job_id=self.unit.job_id,
                path=diff_engine.ROOT,
                drift_type="configuration",
                severity=Severity.LOW,
                summary=f"{label} {resource.name} is not managed by any Terraform state"[:500],
                baseline_value=None,
                current_value=None,
                diff=[],
                detected_at=now,
                last_seen_at=now,
                updated_at=now,
                tf_finding=TerraformFinding.UNMANAGED,
            )
            for resource in candidates.only("id", "provider_id", "resource_type", "name")
        )
        DriftEvent.objects.bulk_create(
            DriftEvent(
                drift_id=d.pk,
                from_status=None,
                to_status=DriftStatus.DETECTED,
                note="Detected by scan: no Terraform state declares this resource.",
                at=now,
            )
            for d in created
        )
        self.counts.new += len(created)

    def unignored(self, resource, changes: list) -> list:
        """The changes no active ignore rule silences."""
        return [c for c in changes if not self._ignored(resource, c["path"])]

    def _ignored(self, resource, path: str) -> bool:
        return any(rule.matches(resource.resource_type, resource.name, path) for rule in self.ignore_rules)

    def _record_findings(self, by_id, baselines, findings, open_drifts, now) -> None:
        """Open a drift for each new difference and refresh the open ones seen again (bulk)."""
        to_create, to_update = [], []
        for resource_id, changes in findings.items():
            resource = by_id[resource_id]
            existing = open_drifts.get(resource_id, {})
            for change in changes:
                verdict = rules.classify(resource.resource_type, change)
                drift = existing.get(change["path"])
                if drift is None:
                    baseline = baselines.get(resource_id)
                    to_create.append(self._new_drift(resource, baseline, change, verdict, changes, now))
                else:
                    drift.resource = resource
                    self._refresh(drift, change, verdict, changes, now, baselines.get(resource_id))
                    to_update.append(drift)
        created = Drift.objects.bulk_create(to_create)
        DriftEvent.objects.bulk_create(
            DriftEvent(drift_id=d.pk, from_status=None, to_status=DriftStatus.DETECTED, note=self.detected_note, at=now)
            for d in created
        )
        events.emit_detected(
            created,
            resource_names={d.resource_id: by_id[d.resource_id].name for d in created},
            provider_name=self.unit.provider.name,
            job_id=self.unit.job_id,
            now=now,
        )
        self.counts.new += len(created)
        if to_update:
            Drift.objects.bulk_update(to_update, _RESCANNED_FIELDS)

    def _new_drift(self, resource, baseline, change: dict, verdict, changes: list, now) -> Drift:
        verdict = _terraform_verdict(resource, baseline, change, verdict)
        return Drift(
            resource_id=resource.pk,
            provider_id=resource.provider_id,
            resource_type=resource.resource_type,
            baseline_id=baseline.pk if baseline is not None else None,
            job_id=self.unit.job_id,
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
            **attribution_fields(now),
            **_terraform_fields(baseline, change),
        )

    def _refresh(self, drift: Drift, change: dict, verdict, changes: list, now, baseline=None) -> None:
        """Bring an open drift up to what the scan saw (updated_at moves only when a reader sees a change)."""
        verdict = _terraform_verdict(drift.resource, baseline, change, verdict)
        for name, value in _terraform_fields(baseline, change).items():
            setattr(drift, name, value)
        seen = (change["current"], change["baseline"], verdict.severity, verdict.drift_type, verdict.summary[:500])
        changed = seen != (drift.current_value, drift.baseline_value, drift.severity, drift.drift_type, drift.summary)
        drift.current_value, drift.baseline_value, drift.severity, drift.drift_type, drift.summary = seen
        drift.diff, drift.last_seen_at, drift.job_id = changes, now, self.unit.job_id
        if changed:
            drift.updated_at = now
            self.counts.updated += 1

    detected_note = "Detected by scan."

    def _resolve_reverted(
        self,
        findings,
        open_drifts,
        now,
        *,
        resolution: str = Resolution.REVERTED,
        note: str = "Resolved by scan: the attribute is back at its baseline value.",
        include_appeared: bool = False,
    ) -> None:
        """Open drifts whose attribute is back at its baseline value are resolved (as reverted, by default)."""
        reverted = []
        for resource_id, changes in findings.items():
            still_differs = {c["path"] for c in changes}
            reverted.extend(
                drift.pk
                for path, drift in open_drifts.get(resource_id, {}).items()
                if path not in still_differs and (include_appeared or not _is_appeared(drift))
            )
        if not reverted:
            return
        moved = move_drifts(
            reverted,
            DriftStatus.RESOLVED,
            resolution=resolution,
            note=note,
            now=now,
            job_id=getattr(self.unit, "job_id", None),
        )
        self.counts.resolved += len(moved.moved)


def changes_from_baseline(baseline, live_config: dict, live_hash: str | None = None) -> list:
    """What differs between a resource's baseline and its live document.

    A Terraform baseline holds only what the code declares: the live document is compared on those keys,
    with differences of form dropped. Any other baseline is a whole snapshot, compared whole.
    """
    if baseline.source == BaselineSource.TERRAFORM:
        return declared_compare.compare(baseline.config, live_config)
    if live_hash is not None and baseline.config_hash == live_hash:
        return []
    return diff_engine.diff(baseline.config, live_config)


def _terraform_fields(baseline, change: dict) -> dict:
    """The Terraform trace of a finding against a Terraform baseline: which state, address and serial."""
    if baseline is None or baseline.source != BaselineSource.TERRAFORM:
        return {}
    missing = diff_engine.is_root(change["path"]) and change["op"] == "removed"
    return {
        "managed_by": ManagedBy.TERRAFORM,
        "state_source_id": baseline.state_source_id,
        "tf_address": declaring_address(baseline, change["path"])[:1024],
        "tf_serial": baseline.serial,
        "tf_finding": TerraformFinding.MISSING if missing else TerraformFinding.NONE,
    }


def declaring_address(baseline, path: str) -> str:
    """The Terraform address that declares a path: the split resource that wrote it, else the resource."""
    declared_by = baseline.declared_by or {}
    if declared_by:
        try:
            parts = diff_engine.split_path(path)
        except ValueError:
            parts = []
        for end in range(len(parts), 0, -1):
            found = declared_by.get(diff_engine.format_path(parts[:end]))
            if found:
                return found
    return baseline.address


def _terraform_verdict(resource, baseline, change: dict, verdict):
    """A declared resource that does not exist is high, whatever the catalogue says of a deletion."""
    if baseline is None or baseline.source != BaselineSource.TERRAFORM:
        return verdict
    if not (diff_engine.is_root(change["path"]) and change["op"] == "removed"):
        return verdict
    label = rules.RESOURCE_LABELS.get(resource.resource_type, resource.resource_type)
    summary = f"{label} {resource.name} is declared at {baseline.address} but does not exist"
    return rules.Classification(drift_type="configuration", severity=Severity.HIGH, summary=summary)


def _open_drifts_by_resource(resource_ids: list[int]) -> dict[int, dict[str, Drift]]:
    found: dict[int, dict[str, Drift]] = {}
    rows = Drift.objects.filter(resource_id__in=resource_ids, status__in=OPEN_STATUSES).only(
        "id", "resource_id", "path", "drift_type", "severity", "summary", "baseline_value", "current_value", "status"
    )
    for drift in rows:
        found.setdefault(drift.resource_id, {})[drift.path] = drift
    return found


def _is_appeared(drift: Drift) -> bool:
    # "Resource appeared" findings stay open until triaged: nothing "reverts" a new resource.
    return drift.path == "" and drift.baseline_value is None
