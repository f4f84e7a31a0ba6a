"""Read-only query pieces over drifts, for pages of other apps (providers' API and admin count open drifts)."""

from django.db.models import OuterRef, QuerySet
from django.db.models.functions import Coalesce

from driftwatch.db import subquery_count

from .models import OPEN_STATUSES, Drift


def open_drifts_of(field: str) -> QuerySet:
    """The open drifts whose `field` (provider_id or resource_id) is the outer query's pk, for Exists()."""
    return Drift.objects.filter(**{field: OuterRef("pk")}, status__in=OPEN_STATUSES)


def open_drift_count(field: str) -> Coalesce:
    """How many open drifts have the outer row's pk as `field` (provider_id or resource_id): an annotation."""
    return subquery_count(open_drifts_of(field), field)
