"""Whole scans against moto in server mode: baselining, drift, revert, deletion and provider faults."""

import pytest
from botocore.exceptions import ClientError

from baselines.models import Baseline
from devtools.changes import apply_changes, revert_changes
from devtools.estate import seed_estate
from drifts.models import DetectionJob, Drift, JobUnit
from drifts.services import detection, jobs, triage
from driftwatch.tests.factories import make_provider
from providers.models import Resource

pytestmark = pytest.mark.django_db

REGIONS = ["us-east-1", "eu-west-1"]

# The catalogue's verdict for each change apply_changes makes (by the path it reports).
EXPECTED = {
    "PublicAccessBlock.BlockPublicAcls": (
        "security",
        "critical",
        "S3 bucket BlockPublicAcls changed from true to false",
    ),
    "PubliclyAccessible": ("security", "critical", "RDS instance PubliclyAccessible changed from false to true"),
    "KeyRotationEnabled": ("compliance", "high", "KMS key KeyRotationEnabled changed from true to false"),
    "Tags.owner": ("configuration", "low", 'S3 bucket tag owner changed from "team-a" to "team-b"'),
}


def scan(provider, **kw) -> DetectionJob:
    """Start a job and run its units inline, the way a worker would."""
    job, created = detection.start_detection(trigger="cli", provider_id=provider.pk)
    assert created
    for unit in JobUnit.objects.filter(job=job).order_by("id"):
        jobs.scan_unit(unit.pk, **kw)
    job.refresh_from_db()
    return job


@pytest.fixture
def regions(request):
    # One region keeps most tests quick; tests about regions ask for two with the `two_regions` marker.
    return REGIONS if request.node.get_closest_marker("two_regions") else REGIONS[:1]


@pytest.fixture
def estate(moto, regions):
    return seed_estate(moto, regions=regions)


@pytest.fixture
def aws_provider(moto, estate, regions):
    provider = make_provider(regions=regions, endpoint_url=moto)
    provider.set_credentials({"access_key_id": "testing", "secret_access_key": "testing"})
    provider.save()
    return provider


def open_drifts():
    return {d.path: d for d in Drift.objects.exclude(status="resolved").select_related("resource")}


def test_first_scan_baselines_everything_and_reports_nothing(aws_provider, estate):
    job = scan(aws_provider)
    assert job.status == "succeeded", job.errors
    assert job.errors == []
    expected_count = sum(
        len(estate[t])
        for t in ("s3_bucket", "ec2_security_group", "iam_role", "rds_instance", "kms_key", "cloudtrail_trail")
    )
    resources = Resource.objects.filter(provider=aws_provider)
    # The default security groups moto creates are collected too.
    assert resources.count() >= expected_count
    assert job.resources_scanned == resources.count() == job.resources_total
    assert Baseline.objects.filter(resource__provider=aws_provider, is_current=True).count() == resources.count()
    assert set(Baseline.objects.values_list("source", flat=True)) == {"discovered"}
    assert Drift.objects.count() == 0
    aws_provider.refresh_from_db()
    assert aws_provider.running_job_id is None and aws_provider.last_scanned_at is not None

    again = scan(aws_provider)
    assert again.status == "succeeded" and Drift.objects.count() == 0 and again.drifts_new == 0


@pytest.mark.two_regions
def test_changes_become_exactly_the_catalogued_drifts_and_revert_resolves_them(moto, aws_provider, estate):
    scan(aws_provider)
    changes = apply_changes(moto, estate)
    job = scan(aws_provider)
    assert job.status == "succeeded", job.errors

    found = open_drifts()
    assert set(found) == {c["path"] for c in changes}
    assert job.drifts_new == len(changes)
    for change in changes:
        drift = found[change["path"]]
        assert drift.resource.external_id == change["external_id"]
        assert (drift.baseline_value, drift.current_value) == (change["baseline"], change["current"])
        assert drift.job_id == job.pk and drift.status == "detected"
        if change["path"] in EXPECTED:
            assert (drift.drift_type, drift.severity, drift.summary) == EXPECTED[change["path"]]
    by_type = {d.resource.resource_type: d for d in found.values()}
    assert (by_type["ec2_security_group"].drift_type, by_type["ec2_security_group"].severity) == ("security", "high")
    assert (by_type["iam_role"].drift_type, by_type["iam_role"].severity) == ("security", "critical")
    trail = by_type["cloudtrail_trail"]
    assert trail.drift_type == "security" or trail.severity in {"low", "critical"}
    assert all(d.events.count() == 1 for d in found.values())

    # Scanning again changes nothing: the open drifts are seen again, not duplicated.
    job = scan(aws_provider)
    assert job.drifts_new == 0 and job.drifts_updated == 0
    assert set(open_drifts()) == set(found)

    revert_changes(moto, estate)
    job = scan(aws_provider)
    assert job.drifts_resolved == len(changes)
    assert open_drifts() == {}
    for drift in Drift.objects.all():
        assert drift.resolution == "reverted" and drift.resolved_by is None
        last = drift.events.order_by("-id").first()
        assert (last.from_status, last.to_status, last.actor_id) == ("detected", "resolved", None)


def test_a_resolved_drift_is_never_reopened(moto, aws_provider, estate):
    scan(aws_provider)
    apply_changes(moto, estate)
    scan(aws_provider)
    drift = Drift.objects.get(path="PubliclyAccessible")
    triage.move_drifts([drift.pk], "resolved")
    scan(aws_provider)
    assert Drift.objects.filter(path="PubliclyAccessible").count() == 2
    fresh = Drift.objects.filter(path="PubliclyAccessible").exclude(pk=drift.pk).get()
    assert fresh.status == "detected"
    drift.refresh_from_db()
    assert drift.status == "resolved" and drift.resolution == "manual"


def test_deleted_and_new_resources_after_first_scan(moto, aws_provider, estate):
    import boto3

    scan(aws_provider)
    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1")
    plain = next(b for b in estate["s3_bucket"] if b["kind"] == "plain")
    s3.delete_bucket(Bucket=plain["id"])
    s3.create_bucket(Bucket="brand-new-bucket")
    job = scan(aws_provider)

    gone = Drift.objects.get(resource__external_id=plain["external_id"])
    assert (gone.path, gone.drift_type, gone.severity) == ("", "configuration", "high")
    assert gone.current_value is None and gone.baseline_value is not None
    assert gone.diff == [{"path": "", "op": "removed", "baseline": gone.baseline_value, "current": None}]
    assert Resource.objects.get(external_id=plain["external_id"]).deleted_at is not None
    new = Drift.objects.get(resource__external_id="arn:aws:s3:::brand-new-bucket")
    assert (new.path, new.drift_type, new.severity) == ("", "configuration", "low")
    assert new.baseline_value is None
    assert job.drifts_new == 2

    # The new resource's finding is not "reverted" by the next scan; the deletion stays reported.
    scan(aws_provider)
    assert Drift.objects.exclude(status="resolved").count() == 2


def _inject(monkeypatch, event: str, handler):
    import providers.services

    real = providers.services.aws_clients

    def wrapped(provider):
        clients = real(provider)
        clients.session.events.register(event, handler)
        return clients

    monkeypatch.setattr(providers.services, "aws_clients", wrapped)


def test_access_denied_on_a_detail_call_is_an_error_not_a_drift(moto, aws_provider, estate, monkeypatch):
    scan(aws_provider)
    apply_changes(moto, estate)

    def deny(**kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "GetPublicAccessBlock")

    _inject(monkeypatch, "before-call.s3.GetPublicAccessBlock", deny)
    job = scan(aws_provider)
    assert job.status == "partial"
    assert any(e["resource_type"] == "s3_bucket" and "AccessDenied" in e["message"] for e in job.errors)
    paths = set(open_drifts())
    assert "PublicAccessBlock.BlockPublicAcls" not in paths
    assert "Tags.owner" not in paths  # the whole bucket was unreadable: nothing about it is reported
    assert "PubliclyAccessible" in paths  # other units still report
    assert Resource.objects.filter(resource_type="s3_bucket", deleted_at__isnull=False).count() == 0


def test_a_failing_listing_fails_the_unit_and_deletes_nothing(moto, aws_provider, estate, monkeypatch):
    scan(aws_provider)
    before = Resource.objects.filter(deleted_at__isnull=True).count()

    def deny(**kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no ListRoles"}}, "ListRoles")

    _inject(monkeypatch, "before-call.iam.ListRoles", deny)
    job = scan(aws_provider)
    assert job.status == "partial"
    failed = JobUnit.objects.get(job=job, resource_type="iam_role")
    assert failed.status == "failed" and "AccessDenied" in failed.error
    assert Resource.objects.filter(deleted_at__isnull=True).count() == before
    assert Drift.objects.count() == 0


@pytest.mark.two_regions
def test_a_failing_region_is_partial_and_silent(moto, aws_provider, estate, monkeypatch):
    scan(aws_provider)
    apply_changes(moto, estate)
    import providers.services

    real = providers.services.aws_clients

    def broken_region(provider):
        clients = real(provider)
        original = clients.client

        def client(service, region=None):
            if region == "eu-west-1":
                raise ClientError(
                    {"Error": {"Code": "UnrecognizedClientException", "Message": "bad region"}}, "Describe"
                )
            return original(service, region)

        clients.client = client
        return clients

    monkeypatch.setattr(providers.services, "aws_clients", broken_region)
    job = scan(aws_provider)
    assert job.status == "partial"
    failed_units = JobUnit.objects.filter(job=job, status="failed")
    assert failed_units.exists() and {u.region for u in failed_units} <= {"eu-west-1", "global"}
    assert not Resource.objects.filter(region="eu-west-1", deleted_at__isnull=False).exists()


def test_throttling_is_survived_not_reported(moto, aws_provider, estate, monkeypatch):
    from botocore.awsrequest import AWSResponse

    scan(aws_provider)
    remaining = {"n": 3}

    class _Raw:
        def stream(self, **kw):
            yield b""

    def slow_down(request, **kwargs):
        if remaining["n"] > 0:
            remaining["n"] -= 1
            body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            response = AWSResponse(request.url, 503, {}, _Raw())
            response._content = body
            return response
        return None

    _inject(monkeypatch, "before-send.s3.GetBucketVersioning", slow_down)
    job = scan(aws_provider)
    assert remaining["n"] == 0
    assert job.status == "succeeded" and job.errors == [] and Drift.objects.count() == 0


def test_units_are_idempotent(moto, aws_provider, estate):
    scan(aws_provider)
    apply_changes(moto, estate)
    job, _ = detection.start_detection(trigger="cli", provider_id=aws_provider.pk)
    units = list(JobUnit.objects.filter(job=job))
    for unit in units:
        jobs.scan_unit(unit.pk)
    state = sorted(Drift.objects.values_list("resource_id", "path", "status", "current_value"))
    for unit in units:
        JobUnit.objects.filter(pk=unit.pk).update(status="pending")
        jobs.scan_unit(unit.pk)  # a redelivered task
    assert sorted(Drift.objects.values_list("resource_id", "path", "status", "current_value")) == state


def test_ignore_rules_silence_matching_changes(moto, aws_provider, estate):
    from drifts.models import IgnoreRule

    scan(aws_provider)
    IgnoreRule.objects.create(resource_type="s3_bucket", path_glob="Tags.*", reason="tags are managed elsewhere")
    apply_changes(moto, estate)
    scan(aws_provider)
    paths = set(open_drifts())
    assert "Tags.owner" not in paths and "PubliclyAccessible" in paths


def test_an_expired_ignore_rule_silences_nothing(moto, aws_provider, estate):
    from django.utils import timezone

    from drifts.models import IgnoreRule

    scan(aws_provider)
    rule = IgnoreRule.objects.create(resource_type="s3_bucket", path_glob="Tags.*", reason="until last week")
    IgnoreRule.objects.filter(pk=rule.pk).update(expires_at=timezone.now() - timezone.timedelta(days=1))
    apply_changes(moto, estate)
    scan(aws_provider)
    assert "Tags.owner" in set(open_drifts())


def test_small_batches_give_the_same_result(moto, aws_provider, estate):
    scan(aws_provider, batch_size=2)
    changes = apply_changes(moto, estate)
    scan(aws_provider, batch_size=2)
    assert set(open_drifts()) == {c["path"] for c in changes}


def test_stale_jobs_are_reaped_and_release_providers(aws_provider):
    from django.utils import timezone

    job, _ = detection.start_detection(trigger="cli", provider_id=aws_provider.pk)
    DetectionJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timezone.timedelta(hours=5))
    assert jobs.reap_stale_jobs(60) == [job.pk]
    job.refresh_from_db()
    aws_provider.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None and aws_provider.running_job_id is None
    assert not JobUnit.objects.filter(job=job, status="pending").exists()
    # A new scan may start now.
    assert detection.start_detection(trigger="cli", provider_id=aws_provider.pk)[1] is True


def test_schedule_starts_only_due_providers(aws_provider):
    from django.utils import timezone

    fresh = make_provider(regions=["us-east-1"], last_scanned_at=timezone.now())
    started = detection.schedule_due_scans()
    assert len(started) == 1
    job = DetectionJob.objects.get(pk=started[0])
    assert job.provider_id == aws_provider.pk and job.trigger == "schedule"
    assert fresh.pk not in set(JobUnit.objects.values_list("provider_id", flat=True))
    assert detection.schedule_due_scans() == []  # already running
