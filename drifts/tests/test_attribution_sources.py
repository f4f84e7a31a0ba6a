"""The two event sources: LookupEvents through botocore's Stubber (every request and response checked against
the service model; moto does not implement the call) and the trail bucket through moto's S3."""

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from devtools import cloudtrail_logs as ct
from devtools.fake_aws import ACCOUNT_ID, SeedClients
from drifts.attribution import sources
from drifts.attribution.ratelimit import RateLimiter

NOW = datetime(2026, 11, 29, 14, 30, tzinfo=UTC)
START, END = NOW - timedelta(hours=1), NOW


def cloudtrail_client():
    return boto3.client(
        "cloudtrail",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=sources.client_config(1),
    )


def lookup_event(record: dict) -> dict:
    """One entry of a LookupEvents answer, built from the log record it carries (as CloudTrail does)."""
    return {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": "false",
        "AccessKeyId": record["userIdentity"].get("accessKeyId", ""),
        "EventTime": datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")),
        "EventSource": record["eventSource"],
        "Username": record["userIdentity"].get("userName", "alice"),
        "Resources": [{"ResourceType": "AWS::S3::Bucket", "ResourceName": "data-lake"}],
        "CloudTrailEvent": json.dumps(record),
    }


def expected_params(token=None):
    params = {
        "LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
        "StartTime": START,
        "EndTime": END,
        "MaxResults": 50,
    }
    if token:
        params["NextToken"] = token
    return params


class CountingLimiter(RateLimiter):
    def __init__(self):
        super().__init__(1000)
        self.keys = []

    def acquire(self, key):
        self.keys.append(key)
        return 0.0


def make_source(client, limiter=None, **kw):
    return sources.LookupEventsSource(
        lambda region: client, limiter or CountingLimiter(), "acct-1", sleep=lambda s: None, now=lambda: NOW, **kw
    )


def put_pab(user: str, minutes_ago: int) -> dict:
    return ct.record(
        "PutBucketPublicAccessBlock",
        "s3.amazonaws.com",
        "us-east-1",
        ct.iam_user(user),
        {"bucketName": "data-lake"},
        when=NOW - timedelta(minutes=minutes_ago),
    )


# --- LookupEvents ----------------------------------------------------------------------------------------


def test_lookup_events_reads_every_page_of_write_events_under_the_rate_limit():
    client = cloudtrail_client()
    first, second = put_pab("alice", 3), put_pab("bob", 30)
    limiter = CountingLimiter()
    with Stubber(client) as stub:
        stub.add_response("lookup_events", {"Events": [lookup_event(first)], "NextToken": "page-2"}, expected_params())
        stub.add_response("lookup_events", {"Events": [lookup_event(second)]}, expected_params("page-2"))
        source = make_source(client, limiter)
        records, truncated = source.events("us-east-1", START, END)
        stub.assert_no_pending_responses()
    assert [r["eventID"] for r in records] == [first["eventID"], second["eventID"]]
    assert records[0]["userIdentity"]["userName"] == "alice"
    assert records[0]["resources"] == [{"ARN": "data-lake", "type": "AWS::S3::Bucket"}]
    assert not truncated and source.requests == 2
    assert limiter.keys == ["acct-1:us-east-1", "acct-1:us-east-1"]


def test_a_busy_window_stops_after_max_pages_and_says_so():
    client = cloudtrail_client()
    with Stubber(client) as stub:
        stub.add_response(
            "lookup_events", {"Events": [lookup_event(put_pab("a", 1))], "NextToken": "t2"}, expected_params()
        )
        stub.add_response(
            "lookup_events", {"Events": [lookup_event(put_pab("b", 2))], "NextToken": "t3"}, expected_params("t2")
        )
        records, truncated = make_source(client, max_pages=2).events("us-east-1", START, END)
    assert len(records) == 2 and truncated


def test_throttling_is_retried_quickly_under_the_limit_then_succeeds():
    client = cloudtrail_client()
    limiter = CountingLimiter()
    with Stubber(client) as stub:
        stub.add_client_error("lookup_events", "ThrottlingException", "Rate exceeded", 400)
        stub.add_client_error("lookup_events", "ThrottlingException", "Rate exceeded", 400)
        stub.add_response("lookup_events", {"Events": []}, expected_params())
        source = make_source(client, limiter, throttle_retries=4)
        assert source.events("us-east-1", START, END) == ([], False)
    assert source.requests == 3 and len(limiter.keys) == 3


def test_throttling_past_the_retries_is_unavailable():
    client = cloudtrail_client()
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_client_error("lookup_events", "ThrottlingException", "Rate exceeded", 400)
        source = make_source(client, throttle_retries=2)
        with pytest.raises(sources.AttributionUnavailable, match="throttled by cloudtrail:LookupEvents in us-east-1"):
            source.events("us-east-1", START, END)
    assert source.requests == 3


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("AccessDeniedException", 400, "access denied to cloudtrail:LookupEvents in us-east-1"),
        ("InternalFailure", 500, "failed with a server error (HTTP 500); not retried"),
        ("InvalidTimeRangeException", 400, "failed: InvalidTimeRangeException"),
    ],
)
def test_other_errors_fail_at_once_with_a_reason_in_our_words(code, status, reason):
    client = cloudtrail_client()
    with Stubber(client) as stub:
        stub.add_client_error("lookup_events", code, "<html>whatever the endpoint said</html>", status)
        source = make_source(client)
        with pytest.raises(sources.AttributionUnavailable) as raised:
            source.events("us-east-1", START, END)
    assert reason in raised.value.reason and "html" not in raised.value.reason
    assert source.requests == 1


def test_a_window_older_than_90_days_is_clipped_to_the_history_cloudtrail_keeps():
    client = cloudtrail_client()
    clipped = NOW - sources.HISTORY + timedelta(minutes=1)
    with Stubber(client) as stub:
        stub.add_response("lookup_events", {"Events": []}, {**expected_params(), "StartTime": clipped})
        make_source(client).events("us-east-1", NOW - timedelta(days=200), END)
        stub.assert_no_pending_responses()


def test_moto_which_lacks_lookup_events_fails_the_attempt_at_once(moto_server):
    client = boto3.client(
        "cloudtrail",
        region_name="us-east-1",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=sources.client_config(1),
    )
    source = sources.LookupEventsSource(lambda region: client, RateLimiter(1000), "acct")
    started = datetime.now(UTC)
    with pytest.raises(sources.AttributionUnavailable, match="server error"):
        source.events("us-east-1", datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC))
    assert datetime.now(UTC) - started < timedelta(seconds=5) and source.requests == 1


# --- the trail bucket ------------------------------------------------------------------------------------------


@pytest.fixture
def s3(moto_server):
    return SeedClients(moto_server)("s3")


@pytest.fixture
def bucket(s3):
    # A bucket of its own per test instead of a reset server: a reset reloads every moto backend.
    name = f"org-trail-logs-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.mark.parametrize("org_id", [None, "o-a1b2c3d4e5"], ids=["account-trail", "organization-trail"])
def test_the_bucket_source_reads_the_windows_gzipped_log_files_in_either_layout(s3, bucket, org_id):
    inside, other_region = put_pab("alice", 10), put_pab("bob", 12)
    other_region["awsRegion"] = "eu-west-1"
    write = lambda records, **kw: ct.write_log_file(s3, bucket, records, prefix="cloudtrail", org_id=org_id, **kw)  # noqa: E731
    write([inside], region="us-east-1", delivered=NOW - timedelta(minutes=5))
    write([other_region], region="eu-west-1", delivered=NOW - timedelta(minutes=5))
    # Delivered long before the window: never read. Another account's files: never read.
    write([put_pab("old", 600)], region="us-east-1", delivered=NOW - timedelta(hours=9, minutes=50))
    ct.write_log_file(
        s3, bucket, [put_pab("x", 1)], region="us-east-1", account="999988887777", prefix="cloudtrail", org_id=org_id
    )
    source = sources.TrailBucketSource(s3, bucket, "/cloudtrail/", ACCOUNT_ID, now=lambda: NOW)
    records, truncated = source.events("us-east-1", START, END)
    assert [r["eventID"] for r in records] == [inside["eventID"]] and not truncated
    assert source.objects_read == 1
    assert [r["eventID"] for r in source.events("eu-west-1", START, END)[0]] == [other_region["eventID"]]


def test_files_of_the_day_after_are_read_for_late_deliveries_and_duplicates_dropped(s3, bucket):
    late = put_pab("alice", 2)
    ct.write_log_file(s3, bucket, [late], region="us-east-1", delivered=NOW + timedelta(minutes=12))
    ct.write_log_file(s3, bucket, [late], region="us-east-1", delivered=NOW + timedelta(minutes=13))
    source = sources.TrailBucketSource(s3, bucket, "", ACCOUNT_ID, now=lambda: NOW + timedelta(hours=1))
    records, _ = source.events("us-east-1", START, END)
    assert [r["eventID"] for r in records] == [late["eventID"]]


def test_an_unreadable_log_file_is_skipped(s3, bucket):
    good = put_pab("alice", 2)
    ct.write_log_file(s3, bucket, [good], region="us-east-1", delivered=NOW)
    key = ct.log_key(ACCOUNT_ID, "us-east-1", NOW)
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(b"{not json"))
    records, _ = sources.TrailBucketSource(s3, bucket, "", ACCOUNT_ID, now=lambda: NOW).events("us-east-1", START, END)
    assert [r["eventID"] for r in records] == [good["eventID"]]


def test_a_bucket_without_the_accounts_logs_or_no_bucket_at_all_is_unavailable(s3, bucket):
    ct.write_log_file(s3, bucket, [put_pab("x", 1)], region="us-east-1", account="999988887777")
    with pytest.raises(sources.AttributionUnavailable, match=f"no CloudTrail log files for account {ACCOUNT_ID}"):
        sources.TrailBucketSource(s3, bucket, "", ACCOUNT_ID).events("us-east-1", START, END)
    with pytest.raises(sources.AttributionUnavailable, match="s3:ListBucket on no-such-bucket failed: NoSuchBucket"):
        sources.TrailBucketSource(s3, "no-such-bucket", "", ACCOUNT_ID).events("us-east-1", START, END)


def test_the_demo_delivers_its_changes_calls_to_the_trail_bucket(s3, bucket):
    estate = {"regions": ["us-east-1"], "s3_bucket": [{"id": bucket, "kind": "logs", "region": "us-east-1"}]}
    changes = [
        {
            "resource_type": "s3_bucket",
            "external_id": "arn:aws:s3:::locked",
            "region": "us-east-1",
            "path": "PublicAccessBlock.BlockPublicAcls",
            "current": False,
        },
        {
            "resource_type": "iam_role",
            "external_id": "arn:aws:iam::123456789012:role/app",
            "region": "global",
            "path": 'AttachedManagedPolicies["arn:aws:iam::aws:policy/AdministratorAccess"]',
            "current": "arn:aws:iam::aws:policy/AdministratorAccess",
        },
    ]
    keys = ct.log_changes(s3, estate, changes, when=NOW - timedelta(minutes=1))
    assert len(keys) == 1 and keys[0].startswith(f"AWSLogs/{ACCOUNT_ID}/CloudTrail/us-east-1/")
    records, _ = sources.TrailBucketSource(s3, bucket, "", ACCOUNT_ID, now=lambda: NOW).events("us-east-1", START, END)
    assert [(r["eventName"], r["userIdentity"]["type"]) for r in records] == [
        ("PutBucketPublicAccessBlock", "AssumedRole"),
        ("AttachRolePolicy", "IAMUser"),
    ]
