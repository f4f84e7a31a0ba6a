"""Triage: every drift status change, and resolving by accepting the current configuration as baseline."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from baselines import services as baseline_services
from baselines.models import BaselineSource
from providers.models import Resource

from .. import events
from ..models import OPEN_STATUSES, TRANSITIONS, Drift, DriftEvent, DriftStatus, Resolution


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
    job_id: int | None = None,
) -> MoveResult:
    """Every drift status change goes through here: check the transition map, update, write one event.

    Rows are locked for the check (compare-and-swap): with `expected`, a drift whose status is no
    longer the one the caller saw is refused, so of two concurrent identical requests exactly one wins.
    The outbox events (drift.status_changed, and drift.resolved) are written in the same transaction;
    `job_id` ties them to the scan that moved them.
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
        moves = {pk: from_status for from_status, pks in by_from.items() for pk in pks}
        events.emit_moves(moves, to_status, actor=user, note=note, job_id=job_id, now=now)
    return result


def resolve_with_baseline(drift: Drift, *, actor, note: str = "", expected_status: str | None = None) -> MoveResult:
    """Resolve a drift by accepting the resource's current configuration as its new baseline.

    In one transaction: the drift is resolved (baseline_captured), a new current baseline is
    captured (source resolve), and every other open drift of the resource is resolved with it.
    Raises baselines.services.DeclaredByCode, changing nothing, when a Terraform state declares the resource.
    """
    baseline_services.check_capturable(drift.resource_id)
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


def resolve_drifts_with_baseline(drift_ids: Iterable[int], actor) -> MoveResult:
    """Resolve several drifts with resolve_with_baseline, capturing each resource's baseline once.

    The first open drift of a resource captures its baseline, which resolves the resource's other open
    drifts too: those count as moved, and do not capture again.
    """
    drifts = Drift.objects.select_related("resource").filter(pk__in=list(drift_ids)).order_by("pk")
    result = MoveResult()
    captured: set[int] = set()
    for drift in drifts:
        if drift.resource_id in captured:
            # Resolved by its sibling's capture if it was open when the batch was read.
            if drift.status in OPEN_STATUSES:
                result.moved.append(drift.pk)
            else:
                result.refused[drift.pk] = drift.status
            continue
        try:
            one = resolve_with_baseline(drift, actor=actor, expected_status=drift.status)
        except baseline_services.DeclaredByCode:
            result.refused[drift.pk] = drift.status  # Terraform's baseline: only the code changes it
            continue
        if one.moved:
            result.moved.append(drift.pk)
            captured.add(drift.resource_id)
        else:
            result.refused[drift.pk] = one.refused.get(drift.pk, drift.status)
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
