"""Small builders for the notification tests."""

from driftwatch import outbox
from driftwatch.models import OutboxEvent

from .. import services
from ..dispatch import dispatch_events
from ..models import Delivery


def subscribe(user=None, **values):
    values.setdefault("name", f"sub-{values.get('channel', 'webhook')}-{len(values)}")
    values.setdefault("channel", "webhook")
    sub, secret = services.create_subscription(values, user)
    return sub, secret


def drift_data(i: int, *, severity: str = "high", summary: str | None = None, provider_id: int = 1, **kw) -> dict:
    """An event body shaped like drifts.events.drift_data (for dispatch tests that need no real drift)."""
    return {
        "drift": {
            "id": 1000 + i,
            "resource_id": 2000 + i,
            "resource_name": f"bucket-{i}",
            "resource_type": kw.pop("resource_type", "s3_bucket"),
            "provider_id": provider_id,
            "provider_name": "prod",
            "path": "PublicAccessBlock.BlockPublicAcls",
            "drift_type": kw.pop("drift_type", "security"),
            "severity": severity,
            "status": "detected",
            "summary": summary or f"S3 bucket BlockPublicAcls changed from true to false ({i})",
            "baseline_value": True,
            "current_value": False,
            "detected_at": "2024-01-15T14:30:00Z",
            "job_id": kw.pop("job_id", None),
            "resolution": None,
            **kw,
        }
    }


def job_data(job_id: int, *, status: str = "succeeded", drifts_new: int = 0, provider_id: int | None = 1) -> dict:
    return {
        "job": {
            "id": job_id,
            "status": status,
            "trigger": "cli",
            "provider_id": provider_id,
            "started_at": "2024-01-15T14:29:00Z",
            "finished_at": "2024-01-15T14:30:00Z",
            "duration_seconds": 60.0,
            "resources_total": 10,
            "resources_scanned": 10,
            "drifts_new": drifts_new,
            "drifts_updated": 0,
            "drifts_resolved": 0,
            "errors_count": 0,
        }
    }


def scan_events(job_id: int, severities: list[str]) -> list[OutboxEvent]:
    """A scan's worth of drift.detected events, then its job.completed."""
    events = [("drift.detected", drift_data(i, severity=s, job_id=job_id), job_id) for i, s in enumerate(severities)]
    events.append(("job.completed", job_data(job_id, drifts_new=len(severities)), job_id))
    return outbox.emit_many(events)


def dispatch() -> list[Delivery]:
    dispatch_events()
    return list(Delivery.objects.order_by("id"))
