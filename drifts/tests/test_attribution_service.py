"""The attribution service on PostgreSQL and Redis: retries for late events, failures recorded on the drift and
as a job warning (never changing the scan's result), one look-up per window under the shared rate limit, and
the task a unit hands its new drifts to."""

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import ANY, Stubber
from django.conf import settings

from devtools import cloudtrail_logs as ct
from devtools.fake_aws import SeedClients
from drifts.attribution import sources
from drifts.attribution.ratelimit import RateLimiter
from drifts.models import DetectionJob, Drift, JobUnit
from drifts.services import attribution, jobs
from driftwatch.celery import app
from driftwatch.models import MetricSeries
from driftwatch.tests.factories import make_drift, make_provider, make_resource
from providers.models import Resource, config_hash

pytestmark = pytest.mark.django_db

SG_CONFIG = {"GroupName": "web", "IngressRules": [], "EgressRules": [], "Tags": {}}


def pending_drift(resource, detected_at, **kw):
    return make_drift(
        resource,
        detected_at=detected_at,
        attribution_status="pending",
        attribution_next_at=detected_at,
        **kw,
    )


def previous_unit(provider, resource_type, region, started, job=None):
    job = job or DetectionJob.objects.create(trigger="cli", status="succeeded", started_at=started)
    return JobUnit.objects.create(
        job=job,
        provider=provider,
        region=region,
        resource_type=resource_type,
        status="succeeded",
        started_at=started,
        finished_at=started + timedelta(seconds=30),
    )


@pytest.fixture
def trail_bucket(moto_server):
    name = f"trail-{uuid.uuid4().hex[:12]}"
    SeedClients(moto_server)("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def bucket_provider(moto_server, trail_bucket):
    return make_provider(endpoint_url=moto_server, cloudtrail_bucket=trail_bucket)


@pytest.fixture
def logging_trail(moto_server, trail_bucket):
    """The trail has been delivering this account's events for a while (yesterday's unrelated call)."""
    yesterday = datetime.now(UTC) - timedelta(days=1)
    unrelated = ct.record(
        "CreateBucket", "s3.amazonaws.com", "us-east-1", ct.root(), {"bucketName": "x"}, when=yesterday
    )
    s3 = SeedClients(moto_server)("s3")
    ct.write_log_file(s3, trail_bucket, [unrelated], region="us-east-1", delivered=yesterday)


def pab_record(bucket_name, who, when):
    return ct.record(
        "PutBucketPublicAccessBlock", "s3.amazonaws.com", "us-east-1", who, {"bucketName": bucket_name}, when=when
    )


def test_an_event_that_arrives_late_is_found_on_a_later_try(moto_server, bucket_provider, trail_bucket, logging_trail):
    detected = datetime.now(UTC).replace(microsecond=0)
    resource = make_resource(bucket_provider)
    previous_unit(bucket_provider, "s3_bucket", "global", detected - timedelta(minutes=30))
    drift = pending_drift(resource, detected)

    first = attribution.attribute_provider(bucket_provider.pk, now=detected)
    drift.refresh_from_db()
    assert (first.claimed, first.pending, drift.attribution_status) == (1, 1, "pending")
    assert drift.attribution_next_at == detected + timedelta(seconds=300)
    assert drift.attribution_reason.startswith("attribution pending: no matching CloudTrail event yet")
    # Not due yet: the next run claims nothing.
    assert attribution.attribute_provider(bucket_provider.pk, now=detected + timedelta(seconds=60)).claimed == 0

    # CloudTrail delivers the event ten minutes after the call.
    s3 = SeedClients(moto_server)("s3")
    record = pab_record(resource.name, ct.sso_user("alice@example.com"), detected - timedelta(minutes=2))
    ct.write_log_file(s3, trail_bucket, [record], region="us-east-1", delivered=detected + timedelta(minutes=8))

    second = attribution.attribute_provider(bucket_provider.pk, now=detected + timedelta(seconds=301))
    drift.refresh_from_db()
    assert second.attributed == 1 and drift.attribution_status == "attributed"
    assert drift.changed_by["actor"].startswith("alice@example.com via AWSReservedSSO_")
    assert drift.changed_by["event_id"] == record["eventID"]
    assert drift.attribution_reason == "" and drift.attribution_next_at is None and drift.attribution_attempts == 2
    # Counted once, when it settled (not while pending), with its lag from detection.
    series = dict(MetricSeries.objects.filter(name__startswith="driftwatch_attribution").values_list("name", "value"))
    assert series == {
        "driftwatch_attributions_total": 1,
        "driftwatch_attribution_lag_seconds_bucket": 1,
        "driftwatch_attribution_lag_seconds_sum": 301,
        "driftwatch_attribution_lag_seconds_count": 1,
    }
    labels = set(MetricSeries.objects.filter(name="driftwatch_attributions_total").values_list("labels", flat=True))
    assert labels == {'{"outcome":"attributed"}'}
    assert MetricSeries.objects.filter(name="driftwatch_attribution_lag_seconds_bucket").count() == 8  # 600 .. +Inf


def test_nothing_found_by_the_last_retry_is_not_found_and_an_event_before_the_window_never_counts(
    moto_server, bucket_provider, trail_bucket, logging_trail
):
    detected = datetime.now(UTC).replace(microsecond=0)
    resource = make_resource(bucket_provider)
    previous_unit(bucket_provider, "s3_bucket", "global", detected - timedelta(minutes=30))
    drift = pending_drift(resource, detected)
    # The same call, an hour before the previous scan: outside the window.
    s3 = SeedClients(moto_server)("s3")
    old = pab_record(resource.name, ct.iam_user("mallory"), detected - timedelta(minutes=90))
    ct.write_log_file(s3, trail_bucket, [old], region="us-east-1", delivered=detected - timedelta(minutes=85))

    now = detected
    for delay in [*settings.DRIFTWATCH_ATTRIBUTION_RETRY_DELAYS, None]:
        assert attribution.attribute_provider(bucket_provider.pk, now=now).claimed == 1
        drift.refresh_from_db()
        if delay is not None:
            assert drift.attribution_status == "pending"
            assert drift.attribution_next_at == detected + timedelta(seconds=delay)
            now = drift.attribution_next_at
    assert drift.attribution_status == "not_found" and drift.changed_by is None
    assert drift.attribution_attempts == len(settings.DRIFTWATCH_ATTRIBUTION_RETRY_DELAYS) + 1
    assert drift.attribution_next_at is None
    assert attribution.due_provider_ids(now + timedelta(days=1)) == []


def test_a_failed_lookup_is_unavailable_on_the_drift_and_a_warning_on_the_job_never_a_changed_result(moto_server):
    # No trail bucket: LookupEvents, which moto answers with a 500.
    provider = make_provider(endpoint_url=moto_server)
    resource = make_resource(provider)
    detected = datetime.now(UTC)
    job = DetectionJob.objects.create(trigger="cli", status="succeeded", finished_at=detected)
    drift = pending_drift(resource, detected, job=job)

    started = time.monotonic()
    out = attribution.attribute_provider(provider.pk, now=detected)
    assert time.monotonic() - started < 10  # no botocore retry chain on a server error
    drift.refresh_from_db()
    job.refresh_from_db()
    reason = (
        "attribution unavailable: cloudtrail:LookupEvents in us-east-1 failed with a server error (HTTP 500); "
        "not retried"
    )
    assert out.unavailable == 1 and drift.attribution_status == "unavailable"
    assert drift.attribution_reason == reason and drift.changed_by is None and drift.attribution_next_at is None
    assert job.status == "succeeded" and job.errors == []
    assert job.warnings == [
        {"provider_id": provider.pk, "region": "global", "resource_type": "s3_bucket", "message": reason}
    ]
    # Another failure with the same reason does not repeat the warning.
    pending_drift(make_resource(provider), detected, job=job)
    attribution.attribute_provider(provider.pk, now=detected)
    job.refresh_from_db()
    assert len(job.warnings) == 1


def test_a_trail_bucket_without_this_accounts_logs_is_unavailable(bucket_provider):
    drift = pending_drift(make_resource(bucket_provider), datetime.now(UTC))
    attribution.attribute_provider(bucket_provider.pk)
    drift.refresh_from_db()
    assert drift.attribution_status == "unavailable"
    assert drift.attribution_reason.startswith(
        "attribution unavailable: no CloudTrail log files for account 123456789012 under s3://trail-"
    )


# --- one look-up per window, under the shared rate limit ----------------------------------------------------


def make_groups(provider, n):
    rows = [
        Resource(
            provider=provider,
            resource_type="ec2_security_group",
            external_id=f"sg-{i:017x}",
            name=f"web-{i}",
            region="us-east-1",
            config=SG_CONFIG,
            config_hash=config_hash(SG_CONFIG),
        )
        for i in range(n)
    ]
    return Resource.objects.bulk_create(rows)


def authorize_event(group_id, who, when):
    record = ct.record(
        "AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", "us-east-1", who, {"groupId": group_id}, when=when
    )
    return {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": "false",
        "EventTime": when,
        "EventSource": record["eventSource"],
        "CloudTrailEvent": __import__("json").dumps(record),
    }


def test_200_drifts_in_one_region_cost_a_handful_of_lookups_never_more_than_2_per_second():
    provider = make_provider(regions=["us-east-1"])
    detected = datetime.now(UTC).replace(microsecond=0)
    groups = make_groups(provider, 200)
    job = DetectionJob.objects.create(trigger="cli", status="succeeded")
    unit = JobUnit.objects.create(
        job=job, provider=provider, region="us-east-1", resource_type="ec2_security_group", status="succeeded"
    )
    Drift.objects.bulk_create(
        Drift(
            resource=g,
            provider=provider,
            resource_type=g.resource_type,
            job=job,
            path="IngressRules[#0123456789ab]",
            drift_type="security",
            severity="high",
            summary="Security group ingress rule added",
            current_value={"Source": "0.0.0.0/0"},
            detected_at=detected,
            attribution_status="pending",
            attribution_next_at=detected,
        )
        for g in groups
    )
    client = boto3.client(
        "cloudtrail",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=sources.client_config(1),
    )
    sent = []
    client.meta.events.register("before-call.cloudtrail.LookupEvents", lambda **kw: sent.append(time.monotonic()))
    events = [
        authorize_event(g.external_id, ct.iam_user(f"user-{i}"), detected - timedelta(minutes=1))
        for i, g in enumerate(groups[:120])
    ]
    params = {
        "LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
        "StartTime": ANY,
        "EndTime": ANY,
        "MaxResults": 50,
    }
    limiter = RateLimiter(2, redis_url=settings.CELERY_BROKER_URL, prefix=f"test:{uuid.uuid4().hex}:")
    with Stubber(client) as stub:
        stub.add_response("lookup_events", {"Events": events[:50], "NextToken": "2"}, params)
        stub.add_response("lookup_events", {"Events": events[50:100], "NextToken": "3"}, {**params, "NextToken": "2"})
        stub.add_response("lookup_events", {"Events": events[100:]}, {**params, "NextToken": "3"})
        source = sources.LookupEventsSource(lambda region: client, limiter, "acct")
        out = attribution.attribute_unit(unit.pk, now=detected, source_factory=lambda p: source)
        stub.assert_no_pending_responses()
    assert out.claimed == 200 and out.lookups == 1 and source.requests == 3
    assert (out.attributed, out.pending) == (120, 80)
    assert all(b - a >= 0.5 for a, b in zip(sent, sent[1:], strict=False)), sent
    by_group = dict(Drift.objects.values_list("resource__external_id", "changed_by__actor"))
    assert by_group[groups[7].external_id] == "user-7" and by_group[groups[150].external_id] is None


def test_the_shared_limit_holds_across_threads_with_their_own_connections():
    prefix = f"test:{uuid.uuid4().hex}:"
    stamps, lock = [], threading.Lock()

    def worker():
        limiter = RateLimiter(2, redis_url=settings.CELERY_BROKER_URL, prefix=prefix)  # a worker process each
        for _ in range(3):
            limiter.acquire("123456789012:us-east-1")
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert len(stamps) == 9
    # No one-second window holds three requests.
    assert all(stamps[i + 2] - stamps[i] >= 1.0 for i in range(len(stamps) - 2)), stamps
    # Another account or region has its own schedule: no wait.
    assert RateLimiter(2, redis_url=settings.CELERY_BROKER_URL, prefix=prefix).acquire("other:us-east-1") == 0


# --- the hand-over from a scan unit --------------------------------------------------------------------------


def test_a_unit_with_new_drifts_hands_them_to_the_attribution_task_after_commit(
    moto, django_capture_on_commit_callbacks
):
    s3 = SeedClients(moto)("s3")
    s3.create_bucket(Bucket="trail-logs")
    s3.create_bucket(Bucket="data-lake")
    provider = make_provider(endpoint_url=moto, cloudtrail_bucket="trail-logs")

    def run_unit():
        job = DetectionJob.objects.create(trigger="cli")
        unit = JobUnit.objects.create(job=job, provider=provider, region="global", resource_type="s3_bucket")
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            jobs.scan_unit(unit.pk)
        unit.refresh_from_db()
        # Only the attribution hand-over (the job's outbox events nudge the notifications dispatcher too).
        return unit, [c for c in callbacks if c.__qualname__.startswith("enqueue_unit.")]

    first, callbacks = run_unit()
    assert first.status == "succeeded" and callbacks == []  # nothing new: no attribution task

    s3.put_bucket_versioning(Bucket="data-lake", VersioningConfiguration={"Status": "Enabled"})
    record = ct.record(
        "PutBucketVersioning",
        "s3.amazonaws.com",
        "us-east-1",
        ct.root(),
        {"bucketName": "data-lake"},
        when=datetime.now(UTC),
    )
    ct.write_log_file(s3, "trail-logs", [record], region="us-east-1")
    app.conf.task_always_eager = True  # the task runs inline, as a worker would run it
    try:
        second, callbacks = run_unit()
    finally:
        app.conf.task_always_eager = False
    assert second.status == "succeeded" and second.drifts_new == 1 and len(callbacks) == 1
    drift = Drift.objects.get(job=second.job)
    assert drift.path == "Versioning" and drift.attribution_status == "attributed"
    assert (drift.changed_by["actor"], drift.changed_by["event_name"]) == ("root (123456789012)", "PutBucketVersioning")


def test_the_tick_sends_one_task_per_provider_with_due_drifts(bucket_provider, monkeypatch):
    now = datetime.now(UTC)
    pending_drift(make_resource(bucket_provider), now - timedelta(minutes=1))
    pending_drift(make_resource(bucket_provider), now - timedelta(minutes=1))
    later = make_provider()
    pending_drift(make_resource(later), now + timedelta(minutes=5))
    sent = []
    from drifts import tasks

    monkeypatch.setattr(tasks.attribute_provider, "delay", lambda provider_id: sent.append(provider_id))
    assert attribution.send_due(now) == 1 and sent == [bucket_provider.pk]


def test_without_a_bucket_setting_the_scanned_trails_bucket_answers_when_lookup_events_cannot(
    moto_server, trail_bucket, logging_trail
):
    provider = make_provider(endpoint_url=moto_server)  # no cloudtrail_bucket: LookupEvents, which moto lacks
    trail_config = {
        "Name": "org",
        "S3BucketName": trail_bucket,
        "S3KeyPrefix": None,
        "IsLogging": True,
        "IsMultiRegionTrail": True,
    }
    make_resource(
        provider,
        resource_type="cloudtrail_trail",
        name="org",
        config=trail_config,
        external_id="arn:aws:cloudtrail:us-east-1:123456789012:trail/org",
    )
    detected = datetime.now(UTC).replace(microsecond=0)
    bucket = make_resource(provider)
    previous_unit(provider, "s3_bucket", "global", detected - timedelta(minutes=30))
    drift = pending_drift(bucket, detected)
    record = pab_record(bucket.name, ct.assumed_role("terraform", "ci-991"), detected - timedelta(minutes=1))
    ct.write_log_file(SeedClients(moto_server)("s3"), trail_bucket, [record], region="us-east-1")

    out = attribution.attribute_provider(provider.pk, now=detected)
    drift.refresh_from_db()
    assert out.attributed == 1 and drift.changed_by["actor"] == "ci-991 via terraform"

    # With no trail logs there either, the drift says why both failed.
    other = make_provider(endpoint_url=moto_server)
    make_resource(
        other,
        resource_type="cloudtrail_trail",
        name="t",
        config={**trail_config, "S3BucketName": "nope-x1"},
        external_id="arn:aws:cloudtrail:us-east-1:123456789012:trail/t",
    )
    lost = pending_drift(make_resource(other), detected)
    attribution.attribute_provider(other.pk, now=detected)
    lost.refresh_from_db()
    assert lost.attribution_status == "unavailable"
    assert "LookupEvents in us-east-1 failed with a server error" in lost.attribution_reason
    assert "then s3:ListBucket on nope-x1 failed: NoSuchBucket" in lost.attribution_reason
