"""The Celery app. Beat schedules live here, in code, one comment each."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "driftwatch.settings")

app = Celery("driftwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _beat_schedule(sender: Celery, **kwargs) -> None:
    """Set once Celery reads its configuration, not at import: a settings module that imports
    driftwatch.settings (bench.settings, a deployment's own) would otherwise be read half-built."""
    from django.conf import settings

    sender.conf.beat_schedule = {
        # Send again the units whose worker died or whose message was lost; finalize jobs whose units are done.
        "supervise-jobs": {"task": "drifts.supervise_jobs", "schedule": float(settings.DRIFTWATCH_SUPERVISE_SECONDS)},
        # Start a scan for every enabled provider whose own interval has elapsed.
        "schedule-due-scans": {"task": "drifts.schedule_due_scans", "schedule": 60.0},
        # Last resort: fail jobs older than DRIFTWATCH_JOB_TIMEOUT_MINUTES whatever their units say.
        "reap-stale-jobs": {"task": "drifts.reap_stale_jobs", "schedule": 300.0},
        # Attribution retries: pending drifts whose CloudTrail event had not arrived at detection, and lost sends.
        "attribution-tick": {"task": "drifts.attribution_tick", "schedule": 60.0},
        # Dispatch outbox events no nudge reached a worker for (broker down), and send deliveries that are due.
        "notifications-send-due": {
            "task": "notifications.send_due",
            "schedule": float(settings.DRIFTWATCH_NOTIFY_SWEEP_SECONDS),
        },
    }
