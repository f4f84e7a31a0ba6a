"""Drift counts from the trigger-maintained DriftCount table, with COUNT(*) only as a fallback.

The triggers live in migration 0003 (PostgreSQL: statement-level with transition tables; SQLite: row
level). Filters on columns the table does not have (resource_id, detected_at) fall back to COUNT.
"""

from django.db import connection, transaction
from django.db.models import Q, Sum

from .models import DriftCount

KEY = ("provider_id", "resource_type", "severity", "drift_type", "status")

# filter name in the API -> DriftCount column (lists mean "any of")
_COUNTABLE = {
    "provider_id": "provider_id",
    "resource_type": "resource_type",
    "severity": "severity",
    "type": "drift_type",
    "status": "status",
}


def counter_filter(cleaned: dict) -> Q | None:
    """The DriftCount filter equivalent to the API's cleaned filters, or None when it cannot answer."""
    q = Q()
    for name, value in cleaned.items():
        if value in (None, "", []):
            continue
        column = _COUNTABLE.get(name)
        if column is None:
            return None
        q &= Q(**{f"{column}__in": value}) if isinstance(value, list) else Q(**{column: value})
    return q


def total(cleaned: dict) -> int | None:
    """Exact number of drifts matching the filters, or None when the counters cannot answer."""
    q = counter_filter(cleaned)
    if q is None:
        return None
    return DriftCount.objects.filter(q).aggregate(n=Sum("n"))["n"] or 0


def grouped(cleaned: dict) -> list[tuple[str, str, int]] | None:
    """(severity, status, n) rows for the summary, or None when the counters cannot answer."""
    q = counter_filter(cleaned)
    if q is None:
        return None
    rows = DriftCount.objects.filter(q).values_list("severity", "status").annotate(total=Sum("n"))
    return [(severity, status, n) for severity, status, n in rows]


def rebuild_counts() -> None:
    """Recompute every counter from drifts_drift (after a bulk load that bypassed triggers, or to repair)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Writers wait while we recount, so no change slips between the delete and the insert.
                cursor.execute("LOCK TABLE drifts_drift IN SHARE MODE")
            cursor.execute("DELETE FROM drifts_driftcount")
            cursor.execute(
                f"INSERT INTO drifts_driftcount ({', '.join(KEY)}, n) "
                f"SELECT {', '.join(KEY)}, COUNT(*) FROM drifts_drift GROUP BY {', '.join(KEY)}"
            )
