"""The admin index summary: a handful of aggregate queries, whatever the size of the tables."""

from datetime import datetime, time, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from providers.models import Provider

from .models import OPEN_STATUSES, Drift, DriftStatus, Severity

CHART_DAYS = 30
# Horizontal step of one bar in the SVG chart (viewBox units); the chart is CHART_DAYS * BAR_STEP wide.
BAR_STEP = 20


def dashboard_context(now=None) -> dict:
    """Open drifts by severity and status, newest critical findings, scans per provider, drifts per day."""
    now = now or timezone.now()
    return {
        "matrix": _open_matrix(),
        "critical": list(
            Drift.objects.filter(severity=Severity.CRITICAL, status__in=OPEN_STATUSES)
            .select_related("resource", "provider")
            .only(
                "id", "summary", "status", "detected_at", "resource__name", "resource__resource_type", "provider__name"
            )
            .order_by("-detected_at", "-id")[:8]
        ),
        "providers": _providers(now),
        "chart": _per_day(now),
    }


def _open_matrix() -> dict:
    # One GROUP BY over open drifts, served by drift_severity_status_idx.
    counts = {
        (row["severity"], row["status"]): row["n"]
        for row in Drift.objects.filter(status__in=OPEN_STATUSES)
        .values("severity", "status")
        .annotate(n=Count("id"))
        .order_by()
    }
    statuses = [DriftStatus.DETECTED, DriftStatus.INVESTIGATING]
    rows = []
    for severity in Severity:
        cells = [
            {"status": status.value, "count": counts.get((severity.value, status.value), 0)} for status in statuses
        ]
        rows.append(
            {
                "severity": severity.value,
                "label": severity.label,
                "cells": cells,
                "total": sum(c["count"] for c in cells),
            }
        )
    columns = [sum(row["cells"][i]["count"] for row in rows) for i in range(len(statuses))]
    return {
        "statuses": [{"value": s.value, "label": s.label} for s in statuses],
        "rows": rows,
        "column_totals": columns,
        "total": sum(columns),
    }


def _providers(now) -> list[dict]:
    out = []
    for provider in Provider.objects.live().order_by("name", "id")[:20]:
        next_scan = None
        if provider.enabled:
            last = provider.last_scanned_at
            next_scan = last + timedelta(minutes=provider.scan_interval_minutes) if last else now
        out.append(
            {"provider": provider, "next_scan": next_scan, "overdue": next_scan is not None and next_scan <= now}
        )
    return out


def _per_day(now) -> dict:
    today = timezone.localdate(now)
    start = today - timedelta(days=CHART_DAYS - 1)
    since = datetime.combine(start, time.min, tzinfo=timezone.get_current_timezone())
    counts = {
        row["day"]: row["n"]
        for row in Drift.objects.filter(detected_at__gte=since)
        .annotate(day=TruncDate("detected_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
    }
    days = [start + timedelta(days=i) for i in range(CHART_DAYS)]
    peak = max([counts.get(d, 0) for d in days] + [0])
    bars = []
    for i, day in enumerate(days):
        count = counts.get(day, 0)
        # Percent of the tallest bar; a non-zero day always shows at least a sliver.
        height = max(3, round(100 * count / peak)) if count else 0
        bars.append({"day": day, "count": count, "height": height, "x": i * BAR_STEP + 2, "y": 112 - height})
    return {
        "bars": bars,
        "peak": peak,
        "width": CHART_DAYS * BAR_STEP,
        "bar_width": BAR_STEP - 4,
        "total": sum(b["count"] for b in bars),
        "start": start,
        "end": today,
    }
