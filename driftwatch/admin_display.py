"""Small HTML pieces the admin pages share: severity/status badges, pretty JSON, a progress bar."""

import json
from typing import Any

from django.utils.html import format_html

# CSS classes live in templates/admin/base_site.html; unknown values fall back to a neutral badge.
_KNOWN = {
    "critical",
    "high",
    "medium",
    "low",
    "detected",
    "investigating",
    "resolved",
    "running",
    "succeeded",
    "partial",
    "failed",
    "pending",
}


def badge(value: str | None, label: str | None = None) -> str:
    """A coloured pill for a severity, drift status or job status."""
    if not value:
        return "—"
    kind = value if value in _KNOWN else "neutral"
    return format_html('<span class="dw-badge dw-{}">{}</span>', kind, label or value)


def pretty_json(value: Any) -> str:
    """Indented JSON in a <pre>, for read-only config fields."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return format_html('<pre class="dw-json">{}</pre>', text)


def progress_bar(done: int, total: int, percent: int) -> str:
    """A CSS progress bar with the numbers written next to it."""
    return format_html(
        '<span class="dw-progress" title="{}%"><span style="width:{}%"></span></span> {}/{}',
        percent,
        max(0, min(100, percent)),
        done,
        total,
    )
