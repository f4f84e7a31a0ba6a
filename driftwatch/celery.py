"""The Celery app. Beat schedules live here, in code, one comment each."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "driftwatch.settings")

app = Celery("driftwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from django.conf import settings  # noqa: E402 - after DJANGO_SETTINGS_MODULE is set

app.conf.beat_schedule = {
    # Send again the units whose worker died or whose message was lost; finalize jobs whose units are done.
    "supervise-jobs": {"task": "drifts.supervise_jobs", "schedule": float(settings.DRIFTWATCH_SUPERVISE_SECONDS)},
    # Start a scan for every enabled provider whose own interval has elapsed.
    "schedule-due-scans": {"task": "drifts.schedule_due_scans", "schedule": 60.0},
    # Last resort: fail jobs older than DRIFTWATCH_JOB_TIMEOUT_MINUTES whatever their units say.
    "reap-stale-jobs": {"task": "drifts.reap_stale_jobs", "schedule": 300.0},
    # Dispatch outbox events no nudge reached a worker for (broker down), and send deliveries that are due.
    "notifications-send-due": {
        "task": "notifications.send_due",
        "schedule": float(settings.DRIFTWATCH_NOTIFY_SWEEP_SECONDS),
    },
}
