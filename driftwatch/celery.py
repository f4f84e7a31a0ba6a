"""The Celery app. Beat schedules live here, in code, one comment each."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "driftwatch.settings")

app = Celery("driftwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Start a scan for every enabled provider whose own interval has elapsed.
    "schedule-due-scans": {"task": "drifts.schedule_due_scans", "schedule": 60.0},
    # Fail jobs whose workers died, so no job stays "running" forever.
    "reap-stale-jobs": {"task": "drifts.reap_stale_jobs", "schedule": 300.0},
}
