"""Baseline capture: the only code that writes Baseline rows."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from driftwatch.models import AuditEntry

from .models import Baseline, BaselineSource


def current_baselines(resource_ids: Iterable[int]) -> dict[int, Baseline]:
    """The current baseline of each resource that has one, in one query."""
    rows = Baseline.objects.filter(resource_id__in=list(resource_ids), is_current=True).only(
        "id",
        "resource_id",
        "config",
        "config_hash",
        "captured_at",
        "source",
        "state_source_id",
        "address",
        "serial",
        "declared_by",
    )
    return {b.resource_id: b for b in rows}


def baseline_first_seen(resources, now=None) -> dict[int, Baseline]:
    """First-seen baselines (source discovered) for resources that have none; one bulk insert."""
    now = now or timezone.now()
    created = Baseline.objects.bulk_create(
        [
            Baseline(
                resource_id=r.pk,
                config=r.config,
                config_hash=r.config_hash,
                captured_at=now,
                source=BaselineSource.DISCOVERED,
                is_current=True,
            )
            for r in resources
        ]
    )
    return {b.resource_id: b for b in created}


class DeclaredByCode(Exception):
    """The resource's baseline is what a Terraform state declares: only the code (a new serial) changes it."""

    def __init__(self, resource_id: int, address: str, state_name: str) -> None:
        super().__init__(
            f"Resource {resource_id} is managed by Terraform ({address} in state source {state_name!r}); its "
            "baseline is what the code declares. Change the code (a new state serial replaces the baseline), "
            "or add an ignore rule for the difference."
        )
        self.resource_id, self.address = resource_id, address


def check_capturable(resource_id: int) -> None:
    """Raise DeclaredByCode when the resource's current baseline comes from a Terraform state."""
    declared = (
        Baseline.objects.filter(resource_id=resource_id, is_current=True, source=BaselineSource.TERRAFORM)
        .select_related("state_source")
        .only("address", "state_source__name")
        .first()
    )
    if declared is not None:
        name = declared.state_source.name if declared.state_source_id else "(deleted)"
        raise DeclaredByCode(resource_id, declared.address, name)


def capture_baseline(resource, *, user=None, source: str = BaselineSource.MANUAL) -> Baseline:
    """Make the resource's current configuration its current baseline; the old one stays as history.

    Writes one audit row (action "capture"), whoever asked: the API, the admin, or a triage resolve.
    Raises DeclaredByCode for a resource a Terraform state declares: never overwrite the code's word.
    """
    with transaction.atomic():
        current = Baseline.objects.select_for_update().filter(resource_id=resource.pk, is_current=True)
        check_capturable(resource.pk)
        previous_id = current.values_list("pk", flat=True).first()
        current.update(is_current=False)
        baseline = Baseline.objects.create(
            resource_id=resource.pk,
            config=resource.config,
            config_hash=resource.config_hash,
            captured_at=timezone.now(),
            captured_by=user if getattr(user, "is_authenticated", False) else None,
            source=source,
            is_current=True,
        )
        changes = {
            "resource_id": resource.pk,
            "source": source,
            "config_hash": baseline.config_hash,
            "previous_baseline_id": previous_id,
        }
        AuditEntry.record(user, "capture", baseline, changes)
    return baseline
