"""manage.py detect: start a drift scan (the same entry point as the API and the schedule)."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from drifts.models import DetectionJob, JobStatus, JobTrigger
from drifts.services import detection


class Command(BaseCommand):
    help = "Start a drift detection scan over all enabled providers, or one with --provider."

    def add_arguments(self, parser):
        parser.add_argument("--provider", type=int, default=None, help="Scan only this provider id.")
        parser.add_argument("--wait", action="store_true", help="Wait for the job to finish, with progress.")
        parser.add_argument("--timeout", type=int, default=3600, help="Seconds to wait with --wait.")

    def handle(self, *args, provider, wait, timeout, **options):
        try:
            job, created = detection.start_detection(trigger=JobTrigger.CLI, provider_id=provider)
        except detection.DetectionError as exc:
            raise CommandError(str(exc)) from None
        verb = "started" if created else "already running"
        self.stdout.write(f"Drift detection scan {verb}: job {job.pk}")
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while True:
            job = DetectionJob.objects.get(pk=job.pk)
            self._progress(job)
            if job.status != JobStatus.RUNNING:
                break
            if time.monotonic() > deadline:
                raise CommandError(f"job {job.pk} still running after {timeout}s")
            time.sleep(0.5)
        if sys.stdout.isatty():
            self.stdout.write("")
        self.stdout.write(
            f"job {job.pk} {job.status}: {job.resources_scanned} resources, {job.drifts_new} new, "
            f"{job.drifts_updated} updated, {job.drifts_resolved} resolved drifts"
        )
        for error in job.errors:
            self.stdout.write(f"  error: {error.get('region')}/{error.get('resource_type')}: {error.get('message')}")
        if job.status == JobStatus.FAILED:
            raise CommandError(f"job {job.pk} failed")

    def _progress(self, job) -> None:
        width = 30
        filled = int(width * job.percent / 100)
        bar = "#" * filled + "-" * (width - filled)
        text = f"[{bar}] {job.percent:3d}%  units {job.units_done}/{job.units_total}  resources {job.resources_scanned}"
        if sys.stdout.isatty():
            self.stdout.write("\r" + text, ending="")
            self.stdout.flush()
        elif text != getattr(self, "_last_progress", None):
            # Not a terminal (CI, logs): one line per change instead of carriage returns.
            self.stdout.write(text)
        self._last_progress = text
