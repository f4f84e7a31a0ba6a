"""What drifts and jobs tell the outbox: event bodies built from the rows being changed, written in bulk in
the transaction that changes them (see driftwatch.outbox; the notifications app delivers them)."""

from collections.abc import Iterable

from driftwatch import outbox
from driftwatch.api.serializers import iso_utc

from .models import DetectionJob, Drift, DriftStatus, JobStatus

DRIFT_DETECTED = "drift.detected"
DRIFT_STATUS_CHANGED = "drift.status_changed"
DRIFT_RESOLVED = "drift.resolved"
JOB_COMPLETED = "job.completed"
JOB_FAILED = "job.failed"


def drift_data(drift: Drift, *, resource_name: str, provider_name: str) -> dict:
    """A drift as the API's drift detail shows it (the fields a receiver needs to act without calling back)."""
    return {
        "id": drift.pk,
        "resource_id": drift.resource_id,
        "resource_name": resource_name,
        "resource_type": drift.resource_type,
        "provider_id": drift.provider_id,
        "provider_name": provider_name,
        "path": drift.path,
        "drift_type": drift.drift_type,
        "severity": drift.severity,
        "status": drift.status,
        "summary": drift.summary,
        "baseline_value": drift.baseline_value,
        "current_value": drift.current_value,
        "detected_at": iso_utc(drift.detected_at),
        "job_id": drift.job_id,
        "resolution": drift.resolution,
    }


def emit_detected(drifts: Iterable[Drift], *, resource_names: dict[int, str], provider_name: str, job_id, now) -> None:
    """One drift.detected per new drift of a scan batch, in one INSERT."""
    outbox.emit_many(
        (
            (
                DRIFT_DETECTED,
                {"drift": drift_data(d, resource_name=resource_names[d.resource_id], provider_name=provider_name)},
                job_id,
            )
            for d in drifts
        ),
        now=now,
    )


def emit_moves(moves: dict[int, str], to_status: str, *, actor, note: str, job_id, now) -> None:
    """drift.status_changed for each moved drift ({drift_id: from_status}), and drift.resolved when resolved."""
    drifts = Drift.objects.filter(pk__in=list(moves)).select_related("resource", "provider").order_by("pk")
    actor_name = actor.get_username() if actor is not None else None
    events = []
    for drift in drifts:
        data = drift_data(drift, resource_name=drift.resource.name, provider_name=drift.provider.name)
        change = {"from": moves[drift.pk], "to": to_status, "actor": actor_name, "note": note}
        events.append((DRIFT_STATUS_CHANGED, {"drift": data, **change}, job_id))
        if to_status == DriftStatus.RESOLVED:
            events.append((DRIFT_RESOLVED, {"drift": data, "resolution": drift.resolution, **change}, job_id))
    outbox.emit_many(events, now=now)


def emit_job_finished(job: DetectionJob) -> None:
    """job.completed (succeeded or partial) or job.failed, with the job's counters; call inside its final write."""
    duration = (job.finished_at - job.started_at).total_seconds() if job.finished_at else None
    data = {
        "job": {
            "id": job.pk,
            "status": job.status,
            "trigger": job.trigger,
            "provider_id": job.provider_id,
            "started_at": iso_utc(job.started_at),
            "finished_at": iso_utc(job.finished_at),
            "duration_seconds": round(duration, 3) if duration is not None else None,
            "resources_total": job.resources_total,
            "resources_scanned": job.resources_scanned,
            "drifts_new": job.drifts_new,
            "drifts_updated": job.drifts_updated,
            "drifts_resolved": job.drifts_resolved,
            "errors_count": len(job.errors or []),
        }
    }
    event_type = JOB_FAILED if job.status == JobStatus.FAILED else JOB_COMPLETED
    outbox.emit(event_type, data, job_id=job.pk, now=job.finished_at)
