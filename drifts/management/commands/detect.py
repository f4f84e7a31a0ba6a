"""manage.py detect: start a drift scan (the same entry point as the API and the schedule).

For pipelines, `--fail-on SEVERITY` waits for the scan and exits 0 when it found nothing at or above that
severity, 1 when it did, and 2 when the scan itself failed, was partial, or could not start or finish.
"""

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from drifts.models import OPEN_STATUSES, DetectionJob, Drift, JobStatus, JobTrigger, Severity
from drifts.services import detection

# Exit codes with --fail-on.
EXIT_CLEAN, EXIT_FOUND, EXIT_SCAN_FAILED = 0, 1, 2
SEVERITY_ORDER = list(Severity.values)  # most severe first


def at_or_above(severity: str) -> list[str]:
    """The severities counted by --fail-on severity: critical for critical, critical and high for high, ..."""
    return SEVERITY_ORDER[: SEVERITY_ORDER.index(severity) + 1]


class Command(BaseCommand):
    help = "Start a drift detection scan over all enabled providers, or one with --provider."

    def add_arguments(self, parser):
        parser.add_argument("--provider", type=int, default=None, help="Scan only this provider id.")
        parser.add_argument("--wait", action="store_true", help="Wait for the job to finish, with progress.")
        parser.add_argument("--timeout", type=int, default=3600, help="Seconds to wait with --wait.")
        parser.add_argument(
            "--fail-on",
            choices=SEVERITY_ORDER,
            default=None,
            help="Wait (implies --wait), then exit 1 if the scan found open drifts at or above this severity, "
            "2 if the scan failed or was partial, 0 otherwise.",
        )

    def handle(self, *args, provider, wait, timeout, fail_on, **options):
        # With --fail-on every way of not getting a verdict is exit 2, never 1 ("found something").
        failed = EXIT_SCAN_FAILED if fail_on else 1
        try:
            job, created = detection.start_detection(trigger=JobTrigger.CLI, provider_id=provider)
        except detection.DetectionError as exc:
            raise CommandError(str(exc), returncode=failed) from None
        wait = wait or bool(fail_on)
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
                raise CommandError(f"job {job.pk} still running after {timeout}s", returncode=failed)
            time.sleep(0.5)
        if sys.stdout.isatty():
            self.stdout.write("")
        self.stdout.write(
            f"job {job.pk} {job.status}: {job.resources_scanned} resources, {job.drifts_new} new, "
            f"{job.drifts_updated} updated, {job.drifts_resolved} resolved drifts"
        )
        for error in job.errors:
            self.stdout.write(f"  error: {error.get('region')}/{error.get('resource_type')}: {error.get('message')}")
        if fail_on:
            self._verdict(job, fail_on)
        elif job.status == JobStatus.FAILED:
            raise CommandError(f"job {job.pk} failed")

    def _verdict(self, job: DetectionJob, fail_on: str) -> None:
        """Print what the scan found by severity; raise the exit code --fail-on asks for."""
        # What this scan saw: the open drifts it opened or saw again (each carries the job that last saw it).
        found = dict(
            Drift.objects.filter(job_id=job.pk, status__in=OPEN_STATUSES)
            .values_list("severity")
            .annotate(n=Count("id"))
            .order_by()
        )
        self.stdout.write("open findings: " + ", ".join(f"{s} {found.get(s, 0)}" for s in SEVERITY_ORDER))
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(
                f"job {job.pk} {job.status}: no verdict on a scan that did not complete", returncode=EXIT_SCAN_FAILED
            )
        serious = sum(found.get(s, 0) for s in at_or_above(fail_on))
        if serious:
            raise CommandError(f"{serious} open finding(s) at or above {fail_on}", returncode=EXIT_FOUND)
        self.stdout.write(f"no open findings at or above {fail_on}")

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
