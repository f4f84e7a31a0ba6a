"""The `make run` demo: a local moto AWS account, seeded, registered as provider "demo", scanned twice.

Idempotent: a second run reuses the admin user, its token and the provider. moto keeps its state in
memory, so when the demo account is gone (moto restarted) it is seeded again and the provider is
re-baselined on the new account instead of reporting the whole re-creation as drift.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from baselines.models import BaselineSource
from drifts.models import OPEN_STATUSES, DetectionJob, Drift, DriftStatus, JobStatus, JobTrigger, JobUnit, UnitStatus
from drifts.services import detection, jobs, triage
from driftwatch.models import ApiToken, TokenScope
from providers.models import Provider, Resource, ScanScope

DEMO_PROVIDER = "demo"
DEMO_USER = "admin"
DEMO_TOKEN_NAME = "demo"
DEMO_REGIONS = ("us-east-1", "eu-west-1")
DEMO_PREFIX = "dw"
SEVERITY_ORDER = ("critical", "high", "medium", "low")

Say = Callable[[str], None]


class DemoError(Exception):
    """The demo could not be set up; the message says what to do."""


@dataclass
class DemoResult:
    """What the demo did, for the banner and for tests."""

    provider_id: int
    password: str | None
    token: str | None
    reseeded: bool
    job_ids: list[int]
    open_by_severity: dict[str, int]


def estate_file() -> Path:
    """Where the seeded estate (ids moto chose) is kept between runs."""
    return Path(settings.VAR_DIR) / "demo-estate.json"


def moto_ready(endpoint_url: str, timeout: float = 30.0, stop: threading.Event | None = None) -> None:
    """Wait until the moto server answers; DemoError after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stop is not None and stop.is_set():
            raise DemoError("stopped")
        try:
            with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=2) as response:
                response.read(1)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise DemoError(f"the demo AWS endpoint {endpoint_url} did not answer within {timeout:.0f}s")


def is_moto(endpoint_url: str) -> bool:
    """True when a moto server answers at endpoint_url."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=2) as response:
            json.loads(response.read())
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ensure_admin() -> tuple[object, str | None]:
    """The demo superuser; returns (user, password) with the password only when it was just created."""
    User = get_user_model()
    user = User.objects.filter(username=DEMO_USER).first()
    if user is not None:
        return user, None
    password = secrets.token_urlsafe(12)
    user = User.objects.create_superuser(username=DEMO_USER, email="", password=password)
    return user, password


def ensure_token(user) -> str | None:
    """An admin API token for the demo user; the raw value only when it was just issued."""
    if ApiToken.objects.active().filter(user=user, name=DEMO_TOKEN_NAME, scope=TokenScope.ADMIN).exists():
        return None
    return ApiToken.issue(user, name=DEMO_TOKEN_NAME, scope=TokenScope.ADMIN)[1]


def ensure_provider(endpoint_url: str) -> Provider:
    """The live provider named "demo", created or pointed at this endpoint; disabled until seeded."""
    from devtools.fake_aws import FAKE_ACCESS_KEY, FAKE_SECRET_KEY

    provider = Provider.objects.live().filter(name=DEMO_PROVIDER).first()
    if provider is None:
        provider = Provider(name=DEMO_PROVIDER, kind="aws", scan_interval_minutes=60)
    provider.regions = list(DEMO_REGIONS)
    provider.endpoint_url = endpoint_url
    provider.role_arn = None
    provider.external_id = None
    # Disabled while the account is (re)seeded, so a beat tick cannot scan a half-built account.
    provider.enabled = False
    provider.set_credentials({"access_key_id": FAKE_ACCESS_KEY, "secret_access_key": FAKE_SECRET_KEY})
    provider.save()
    return provider


DEMO_SUBSCRIPTION = "demo receiver"


def start_demo_receiver(user, say: Say) -> None:
    """A local webhook receiver (a thread of this process) and a subscription pointing at it, so a newcomer
    sees signed deliveries arrive: the secret is rotated at each start, since only this process needs it."""
    from devtools import webhook_receiver
    from notifications import services as notify_services
    from notifications.models import Subscription

    secret = {"value": ""}
    server = webhook_receiver.start(0, lambda: secret["value"], lambda text: say(text))
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    sub = Subscription.objects.filter(name=DEMO_SUBSCRIPTION).first()
    if sub is None:
        sub, secret["value"] = notify_services.create_subscription(
            {"name": DEMO_SUBSCRIPTION, "channel": "webhook", "url": url}, user
        )
    else:
        sub = notify_services.update_subscription(sub, {"url": url, "enabled": True}, user)
        secret["value"] = notify_services.rotate_secret(sub, user, grace_hours=0)[1]
    say(f"webhook receiver on {url}: subscription '{DEMO_SUBSCRIPTION}' (#{sub.pk}) sends it every drift event,")
    say("  signed (Standard Webhooks); each delivery is printed here with its signature check")


def release_interrupted_job(provider: Provider) -> None:
    """Fail what a previous, interrupted run left running, so a new scan can start."""
    job_id = provider.running_job_id
    if job_id is None:
        return
    pending = JobUnit.objects.filter(job_id=job_id, status=UnitStatus.PENDING).values_list("pk", flat=True)
    for unit_id in list(pending):
        jobs.fail_unit(unit_id, "Interrupted: the previous `make run` stopped before this unit ran.")
    if DetectionJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).exists():
        jobs.finalize_job(job_id)


def _saved_estate(endpoint_url: str) -> dict | None:
    try:
        saved = json.loads(estate_file().read_text())
    except (OSError, ValueError):
        return None
    return saved if saved.get("endpoint_url") == endpoint_url else None


def _estate_alive(endpoint_url: str, estate: dict) -> bool:
    """The seeded account is still in moto (it keeps state in memory only), seeded with today's scenarios."""
    from devtools.changes import SCENARIOS
    from devtools.fake_aws import fake_session

    if not {key for key, _ in SCENARIOS} <= set(estate.get("targets", {})):
        return False  # saved by an older version, before some resource types or drifts existed

    bucket = estate["targets"]["tag"]["id"]
    s3 = fake_session().client("s3", endpoint_url=endpoint_url)
    return any(b["Name"] == bucket for b in s3.list_buckets().get("Buckets", []))


def _save_estate(estate: dict) -> None:
    estate_file().write_text(json.dumps(estate, indent=1, sort_keys=True))


def rebaseline(provider: Provider) -> None:
    """The provider's account was re-created: close its findings and let the next scan baseline afresh."""
    now = timezone.now()
    with transaction.atomic():
        open_ids = list(Drift.objects.filter(provider=provider, status__in=OPEN_STATUSES).values_list("pk", flat=True))
        triage.move_drifts(
            open_ids, DriftStatus.RESOLVED, note="The demo AWS account was re-created by `make run`.", now=now
        )
        # The old resources died with the old moto state; marking them gone here (instead of letting
        # the scan report each as deleted) and forgetting the completed scopes makes the next scan a
        # quiet first scan of the new account.
        Resource.objects.filter(provider=provider, deleted_at__isnull=True).update(deleted_at=now)
        ScanScope.objects.filter(provider=provider).delete()


def accept_recreated(provider: Provider, say: Say) -> None:
    """After the first scan of a re-created account, accept what the re-creation changed as baseline.

    Resources that came back under the same id now point at new security group and key ids; that is
    the demo being rebuilt, not drift, so their current configuration becomes their baseline.
    """
    resource_ids = set(
        Drift.objects.filter(provider=provider, status__in=OPEN_STATUSES).values_list("resource_id", flat=True)
    )
    for resource in Resource.objects.filter(pk__in=resource_ids):
        triage.capture_baseline_and_resolve(resource, actor=None, source=BaselineSource.MANUAL)
    if resource_ids:
        say(f"re-baselined {len(resource_ids)} resources re-created with new ids")


def scan(provider: Provider, say: Say, timeout: float, stop: threading.Event | None = None) -> DetectionJob:
    """Start a scan through the worker and wait for it to finish."""
    job, created = detection.start_detection(trigger=JobTrigger.CLI, provider_id=provider.pk)
    say(f"scan job {job.pk} {'started' if created else 'already running'}; waiting for the worker...")
    deadline = time.monotonic() + timeout
    while True:
        job.refresh_from_db()
        if job.status != JobStatus.RUNNING:
            break
        if stop is not None and stop.is_set():
            raise DemoError("stopped")
        if time.monotonic() > deadline:
            raise DemoError(f"scan job {job.pk} still running after {timeout:.0f}s: is the Celery worker up?")
        time.sleep(0.5)
    say(
        f"scan job {job.pk} {job.status}: {job.resources_scanned} resources, {job.drifts_new} new, "
        f"{job.drifts_updated} updated, {job.drifts_resolved} resolved drifts"
    )
    for error in job.errors[:5]:
        say(f"  error: {error.get('region')}/{error.get('resource_type')}: {error.get('message')}")
    return job


def open_by_severity(provider: Provider) -> dict[str, int]:
    """Open drift counts of the provider by severity, most severe first."""
    counts = Counter(
        Drift.objects.filter(provider=provider, status__in=OPEN_STATUSES).values_list("severity", flat=True)
    )
    return {severity: counts[severity] for severity in SEVERITY_ORDER if counts[severity]}


def banner(base_url: str, password: str | None, token: str | None) -> list[str]:
    """The lines printed once: where to sign in, the API docs, the token and a curl line."""
    lines = [
        "=" * 72,
        "DriftWatch demo",
        f"  Admin:       {base_url}/admin/",
        f"  User:        {DEMO_USER}",
    ]
    if password:
        lines.append(f"  Password:    {password}   (shown once)")
    else:
        lines.append("  Password:    (set on the first run; change it: python manage.py changepassword admin)")
    lines.append(f"  API docs:    {base_url}/api/v1/docs/")
    if token:
        lines += [
            f"  API token:   {token}   (admin scope, shown once)",
            f'  Try:         curl -H "Authorization: Bearer {token}" {base_url}/api/v1/drifts',
        ]
    else:
        lines += [
            "  API token:   the demo token was printed on the first run; make another with",
            "               python manage.py create_api_token --user admin --scope admin",
            f'  Try:         curl -H "Authorization: Bearer $TOKEN" {base_url}/api/v1/drifts',
        ]
    lines.append("=" * 72)
    return lines


def _log_changes(endpoint_url: str, estate: dict, changes: list[dict], say: Say) -> None:
    """Deliver the changes' CloudTrail events to the trail's bucket, so attribution names who made them."""
    from devtools.cloudtrail_logs import log_changes
    from devtools.fake_aws import SeedClients

    try:
        log_changes(SeedClients(endpoint_url)("s3"), estate, changes)
    except Exception as exc:  # the demo goes on without attribution rather than stop
        say(f"could not write the demo's CloudTrail log files ({type(exc).__name__}); drifts stay unattributed")


def run_demo(
    endpoint_url: str,
    *,
    base_url: str,
    say: Say = print,
    stop: threading.Event | None = None,
    scale: int = 1,
    scan_timeout: float = 300.0,
) -> DemoResult:
    """Seed the demo account if needed, register it, print access details, then scan, change, scan."""
    from devtools.changes import apply_changes
    from devtools.estate import RESOURCE_TYPES, seed_estate
    from devtools.fake_aws import reset_moto

    user, password = ensure_admin()
    token = ensure_token(user)
    provider = ensure_provider(endpoint_url)
    release_interrupted_job(provider)
    for line in banner(base_url, password, token):
        say(line)
    start_demo_receiver(user, say)

    moto_ready(endpoint_url, stop=stop)
    estate = _saved_estate(endpoint_url)
    reseeded = estate is None or not _estate_alive(endpoint_url, estate)
    if reseeded:
        say(f"seeding the demo AWS account at {endpoint_url} ({', '.join(DEMO_REGIONS)})...")
        if Resource.objects.filter(provider=provider).exists():
            rebaseline(provider)
        reset_moto(endpoint_url)
        estate = seed_estate(endpoint_url, regions=DEMO_REGIONS, scale=scale, prefix=DEMO_PREFIX)
        estate["changes_applied"] = False
        _save_estate(estate)
        counted = sum(len(estate[resource_type]) for resource_type in RESOURCE_TYPES)
        say(f"seeded {counted} resources")
    else:
        say("the demo AWS account is still there; reusing it")
    Provider.objects.filter(pk=provider.pk).update(enabled=True)

    jobs = [scan(provider, say, scan_timeout, stop)]
    if reseeded:
        accept_recreated(provider, say)
    if not estate.get("changes_applied"):
        changes = apply_changes(endpoint_url, estate)
        estate["changes_applied"] = True
        _save_estate(estate)
        say(f"made {len(changes)} changes in the demo account: " + "; ".join(c["description"] for c in changes))
        _log_changes(endpoint_url, estate, changes, say)
        jobs.append(scan(provider, say, scan_timeout, stop))

    counts = open_by_severity(provider)
    total = sum(counts.values())
    detail = ", ".join(f"{n} {severity}" for severity, n in counts.items()) or "none"
    say(f"demo ready: {total} open drifts ({detail}); see {base_url}/admin/drifts/drift/ or the API")
    return DemoResult(provider.pk, password, token, reseeded, [j.pk for j in jobs], counts)
