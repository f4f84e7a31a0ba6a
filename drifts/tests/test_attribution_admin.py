"""Attribution in the admin: the drift page's "changed by" line with the raw event folded below it, the list's
actor column and filter, job warnings, and the trail bucket settings of a provider."""

import pytest

from devtools import cloudtrail_logs as ct
from drifts.models import DetectionJob
from driftwatch.tests.factories import make_drift, make_provider
from providers.models import Provider

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/drifts/drift/"


def attributed(resource, actor: str, path: str):
    record = ct.record("PutBucketPolicy", "s3.amazonaws.com", "us-east-1", ct.iam_user(actor), {"bucketName": "b"})
    changed_by = {
        "actor": actor,
        "actor_arn": record["userIdentity"]["arn"],
        "actor_type": "IAMUser",
        "event_name": "PutBucketPolicy",
        "event_id": record["eventID"],
        "event_time": record["eventTime"],
        "source_ip": "203.0.113.9",
        "user_agent": "aws-cli/2.17.0",
        "confidence": "exact",
    }
    return make_drift(
        resource, path=path, changed_by=changed_by, attribution_event=record, attribution_status="attributed"
    )


def test_the_drift_page_names_who_and_folds_the_raw_event_below(admin_client, resource):
    drift = attributed(resource, "alice", "Policy")
    page = admin_client.get(f"{CHANGELIST}{drift.pk}/change/").content.decode()
    assert 'id="dw-changed-by"' in page and "Changed by <strong>alice</strong>" in page
    assert "<code>PutBucketPolicy</code>" in page and "from 203.0.113.9" in page
    assert '<details id="dw-cloudtrail-event"' in page and drift.changed_by["event_id"] in page
    assert "arn:aws:iam::123456789012:user/alice" in page  # the raw record, pretty-printed


def test_a_drift_without_an_actor_says_why(admin_client, resource):
    drift = make_drift(
        resource,
        attribution_status="unavailable",
        attribution_reason="attribution unavailable: access denied to cloudtrail:LookupEvents in us-east-1",
    )
    page = admin_client.get(f"{CHANGELIST}{drift.pk}/change/").content.decode()
    assert "Changed by: unavailable — attribution unavailable: access denied" in page
    assert "dw-cloudtrail-event" not in page


def test_the_list_shows_and_filters_by_actor(admin_client, resource):
    alice = attributed(resource, "alice", "Policy")
    bob = attributed(resource, "bob", "Acl")
    listing = admin_client.get(CHANGELIST).content.decode()
    assert "changed by" in listing and "?changed_by=alice" in listing and "?changed_by=bob" in listing
    filtered = admin_client.get(CHANGELIST + "?changed_by=ALI")
    assert filtered.status_code == 200
    ids = [d.pk for d in filtered.context["cl"].result_list]
    assert ids == [alice.pk] and bob.pk not in ids


def test_job_page_lists_warnings_apart_from_errors(admin_client, provider):
    job = DetectionJob.objects.create(
        trigger="cli",
        status="succeeded",
        warnings=[
            {
                "provider_id": provider.pk,
                "region": "global",
                "resource_type": "s3_bucket",
                "message": "attribution unavailable: access denied to cloudtrail:LookupEvents in us-east-1",
            }
        ],
    )
    page = admin_client.get(f"/admin/drifts/detectionjob/{job.pk}/change/").content.decode()
    assert "warnings" in page and "attribution unavailable: access denied" in page


def test_provider_admin_sets_the_trail_bucket_with_the_apis_validation(admin_client):
    provider = make_provider()
    url = f"/admin/providers/provider/{provider.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert "CloudTrail attribution" in page and 'name="cloudtrail_bucket"' in page
    form = {
        "name": provider.name,
        "kind": "aws",
        "regions": "us-east-1",
        "enabled": "on",
        "scan_interval_minutes": "60",
        "max_concurrency": "8",
        "endpoint_url": "",
        "role_arn": "",
        "external_id": "",
        "cloudtrail_bucket": "Bad_Bucket",
        "cloudtrail_prefix": "",
    }
    refused = admin_client.post(url, form)
    assert refused.status_code == 200 and Provider.objects.get(pk=provider.pk).cloudtrail_bucket == ""
    saved = admin_client.post(url, {**form, "cloudtrail_bucket": "org-trail-logs", "cloudtrail_prefix": "/ct/"})
    assert saved.status_code == 302
    provider.refresh_from_db()
    assert (provider.cloudtrail_bucket, provider.cloudtrail_prefix) == ("org-trail-logs", "ct")
