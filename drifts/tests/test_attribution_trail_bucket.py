"""Attribution end to end through moto: scans, real gzipped CloudTrail log files in the trail bucket (single-
account and organization layouts), and the changed_by each drift ends with."""

from datetime import UTC, datetime, timedelta

import pytest

from devtools import cloudtrail_logs as ct
from devtools.changes import SCENARIOS, apply_changes
from devtools.estate import seed_estate
from devtools.fake_aws import ACCOUNT_ID, SeedClients
from drifts.models import DetectionJob, Drift, JobUnit
from drifts.services import attribution, detection, jobs
from driftwatch.tests.factories import make_provider

pytestmark = pytest.mark.django_db

ORG_ID = "o-a1b2c3d4e5"


def scan(provider) -> DetectionJob:
    job, created = detection.start_detection(trigger="cli", provider_id=provider.pk)
    assert created
    for unit in JobUnit.objects.filter(job=job).order_by("id"):
        jobs.scan_unit(unit.pk)
    job.refresh_from_db()
    return job


def attribute(job, now=None) -> attribution.AttributionOutcome:
    total = attribution.AttributionOutcome()
    for unit in JobUnit.objects.filter(job=job).order_by("id"):
        out = attribution.attribute_unit(unit.pk, now=now)
        for name in ("claimed", "attributed", "pending", "not_found", "unavailable", "lookups"):
            setattr(total, name, getattr(total, name) + getattr(out, name))
    return total


@pytest.fixture
def estate(moto):
    return seed_estate(moto, regions=["us-east-1"])


@pytest.fixture
def logs_bucket(estate):
    return next(r for r in estate["s3_bucket"] if r["kind"] == "logs")["id"]


def make_aws_provider(moto, **kw):
    provider = make_provider(regions=["us-east-1"], endpoint_url=moto, **kw)
    provider.set_credentials({"access_key_id": "testing", "secret_access_key": "testing"})
    provider.save()
    return provider


# One identity type per change, as the hidden estate's people would make them.
IDENTITIES = {
    "public_access_block": (ct.sso_user("alice@example.com", "AdministratorAccess"), "AssumedRole"),
    "open_ssh": (ct.iam_user("bob"), "IAMUser"),
    "admin_role": (ct.assumed_role("deploy-pipeline", "gha-run-4711"), "AssumedRole"),
    "public_db": (ct.root(), "Root"),
    "rotation": (ct.aws_service("cloudformation.amazonaws.com"), "AWSService"),
    "logging": (ct.identity_center_user("carol-7f3a"), "IdentityCenterUser"),
}
EXPECTED_ACTOR = {
    "public_access_block": "alice@example.com via AWSReservedSSO_AdministratorAccess_0123456789abcdef",
    "open_ssh": "bob",
    "admin_role": "gha-run-4711 via deploy-pipeline",
    "public_db": f"root ({ACCOUNT_ID})",
    "rotation": "cloudformation.amazonaws.com",
    "logging": "carol-7f3a",
}
EXPECTED_EVENT = {
    "public_access_block": "PutBucketPublicAccessBlock",
    "open_ssh": "AuthorizeSecurityGroupIngress",
    "admin_role": "AttachRolePolicy",
    "public_db": "ModifyDBInstance",
    "rotation": "DisableKeyRotation",
    "logging": "StopLogging",
}


def test_each_drift_names_the_actor_and_event_from_the_trail_bucket(moto, estate, logs_bucket):
    org_id = ORG_ID  # an organization trail's layout; the single-account layout is covered in test_attribution_sources
    provider = make_aws_provider(moto, cloudtrail_bucket=logs_bucket, cloudtrail_prefix="trail/")
    scan(provider)
    before_window = datetime.now(UTC) - timedelta(hours=2)
    changes = apply_changes(moto, estate)
    by_key = dict(zip([key for key, _ in SCENARIOS], changes, strict=True))
    now = datetime.now(UTC)
    s3 = SeedClients(moto)("s3")
    by_region: dict[str, list] = {}
    for key, (identity, _type) in IDENTITIES.items():
        rec = ct.change_record(by_key[key], identity, when=now - timedelta(seconds=5))
        by_region.setdefault(rec["awsRegion"], []).append(rec)
    # The tag change was made outside the window (before the previous scan): it must not be attributed.
    tag = ct.change_record(by_key["tag"], ct.iam_user("mallory"), when=before_window)
    # A read in the window names the locked bucket too: reads never explain a change.
    read = ct.record(
        "GetBucketPublicAccessBlock",
        "s3.amazonaws.com",
        "us-east-1",
        ct.iam_user("auditor"),
        {"bucketName": by_key["public_access_block"]["external_id"].removeprefix("arn:aws:s3:::")},
        when=now,
        read_only=True,
    )
    for region, records in by_region.items():
        ct.write_log_file(s3, logs_bucket, records, region=region, prefix="trail", org_id=org_id)
    ct.write_log_file(s3, logs_bucket, [read], region="us-east-1", prefix="trail", org_id=org_id)
    ct.write_log_file(
        s3, logs_bucket, [tag], region="us-east-1", prefix="trail", org_id=org_id, delivered=before_window
    )

    job = scan(provider)
    assert job.status == "succeeded" and job.drifts_new == len(changes)
    drifts = {d.path: d for d in Drift.objects.select_related("resource")}
    assert {d.attribution_status for d in drifts.values()} == {"pending"}

    out = attribute(job)
    assert out.claimed == len(changes) and out.unavailable == 0
    # The scenarios given an event above, and the one outside the window. (The other scenarios of the demo
    # estate, on the newer resource types, get no event here: they stay pending, as they should.)
    for key, change in by_key.items():
        if key not in IDENTITIES and key != "tag":
            drift = Drift.objects.get(pk=drifts[change["path"]].pk)
            assert drift.attribution_status == "pending" and drift.changed_by is None
            continue
        drift = Drift.objects.get(pk=drifts[change["path"]].pk)
        if key == "tag":
            assert drift.attribution_status == "pending" and drift.changed_by is None
            assert drift.attribution_reason.startswith("attribution pending:")
            continue
        assert drift.attribution_status == "attributed", (key, drift.attribution_reason)
        who = drift.changed_by
        assert who["actor"] == EXPECTED_ACTOR[key]
        assert who["event_name"] == EXPECTED_EVENT[key]
        assert who["actor_type"] == IDENTITIES[key][1]
        assert who["confidence"] == "exact"
        assert drift.attribution_event["eventID"] == who["event_id"]
    job.refresh_from_db()
    assert job.status == "succeeded" and job.warnings == []
