"""Scans of the newer resource types against moto in server mode: quiet when nothing changed, exact when
something did, and silent (an error, never a drift or a deletion) when AWS would not answer."""

import pytest
from botocore.exceptions import ClientError

from devtools.changes import apply_changes, revert_changes
from devtools.estate import seed_estate
from drifts.models import DetectionJob, Drift, JobUnit
from drifts.services import detection, jobs
from driftwatch.tests.factories import make_provider
from providers.models import Resource

pytestmark = pytest.mark.django_db

REGIONS = ["us-east-1"]
NEW_TYPES = (
    "ec2_instance",
    "ebs_volume",
    "ebs_snapshot",
    "lambda_function",
    "iam_user",
    "iam_policy",
    "sqs_queue",
    "sns_topic",
    "elbv2_load_balancer",
    "eks_cluster",
    "dynamodb_table",
    "secretsmanager_secret",
)

# scenario: (drift type, severity, how the summary starts)
# fmt: off
EXPECTED = {
    "imdsv1": ("security", "high", "EC2 instance metadata HttpTokens changed from required to optional"),
    "public_ip": ("security", "high", "EC2 instance PublicIpAssociated changed from false to true"),
    "instance_tag": ("configuration", "low", 'EC2 instance tag env changed from "prod" to "staging"'),
    "volume_tag": ("configuration", "low", 'EBS volume tag backup added: "skip"'),
    "public_snapshot": ("security", "critical",
                        "EBS snapshot public create-volume permission changed from false to true"),
    "function_url_open": ("security", "critical", "Lambda function URL AuthType changed from AWS_IAM to NONE"),
    "function_public": ("security", "critical",
                        "Lambda function policy statement added: Allow lambda:InvokeFunction on arn:aws:lambda:"),
    "queue_public": ("security", "critical", "SQS queue policy statement added: Allow sqs:SendMessage on arn:aws:sqs:"),
    "topic_public": ("security", "critical", "SNS topic policy statement added: Allow sns:Subscribe on arn:aws:sns:"),
    "login_profile": ("security", "high", "IAM user LoginProfile changed from false to true"),
    "new_access_key": ("security", "high", "IAM user access key added: "),
    "mfa_removed": ("security", "high", "IAM user MFA device removed: arn:aws:iam::123456789012:mfa/dw-alice-0"),
    "policy_admin": ("security", "critical", "IAM policy document statement added: Allow * on *"),
    "plain_http_listener": ("security", "high", "Load balancer listener 8080 added: HTTP 8080 -> forward"),
    "weak_tls": ("security", "medium", "Load balancer listener 443 SslPolicy changed from "
                 "ELBSecurityPolicy-TLS13-1-2-2021-06 to ELBSecurityPolicy-2016-08"),
    "eks_open": ("security", "critical", "EKS cluster public endpoint CIDR added: 0.0.0.0/0"),
    "pitr_off": ("compliance", "medium",
                 'DynamoDB table PointInTimeRecoveryStatus changed from "ENABLED" to "DISABLED"'),
    "table_unprotected": ("compliance", "medium",
                          "DynamoDB table DeletionProtectionEnabled changed from true to false"),
    "rotation_off": ("compliance", "medium", "Secret RotationEnabled changed from true to false"),
    "secret_public": ("security", "critical",
                      "Secret resource policy statement added: Allow secretsmanager:GetSecretValue on * for *"),
}
# fmt: on

# One detail call per type that reads per resource (the listing-only types fail on their listing).
DETAIL_CALLS = {
    "ec2_instance": "ec2.DescribeInstances",
    "ebs_volume": "ec2.DescribeVolumes",
    "ebs_snapshot": "ec2.DescribeSnapshotAttribute",
    "lambda_function": "lambda.GetPolicy",
    "iam_user": "iam.GetLoginProfile",
    "iam_policy": "iam.GetPolicyVersion",
    "sqs_queue": "sqs.GetQueueAttributes",
    "sns_topic": "sns.GetTopicAttributes",
    "elbv2_load_balancer": "elastic-load-balancing-v2.DescribeListeners",
    "eks_cluster": "eks.DescribeCluster",
    "dynamodb_table": "dynamodb.DescribeContinuousBackups",
    "secretsmanager_secret": "secrets-manager.GetResourcePolicy",
}
LISTING_ONLY = {"ec2_instance", "ebs_volume"}


def scan(provider) -> DetectionJob:
    job, created = detection.start_detection(trigger="cli", provider_id=provider.pk)
    assert created
    for unit in JobUnit.objects.filter(job=job).order_by("id"):
        jobs.scan_unit(unit.pk)
    job.refresh_from_db()
    return job


@pytest.fixture
def estate(moto):
    return seed_estate(moto, regions=REGIONS)


@pytest.fixture
def aws_provider(moto, estate):
    provider = make_provider(regions=REGIONS, endpoint_url=moto)
    provider.set_credentials({"access_key_id": "testing", "secret_access_key": "testing"})
    provider.save()
    return provider


def open_drifts() -> dict:
    return {
        (d.resource.external_id, d.path): d for d in Drift.objects.exclude(status="resolved").select_related("resource")
    }


def test_quiet_baseline_and_rescan_then_each_change_found_with_its_verdict_then_reverted(moto, aws_provider, estate):
    # One test for the whole story: seeding the estate is the expensive part.
    job = scan(aws_provider)
    assert job.status == "succeeded" and job.errors == []
    for resource_type in NEW_TYPES:
        stored = set(
            Resource.objects.filter(provider=aws_provider, resource_type=resource_type).values_list(
                "external_id", flat=True
            )
        )
        assert stored == {r["external_id"] for r in estate[resource_type]}, resource_type
    hashes = dict(Resource.objects.values_list("pk", "config_hash"))
    assert Drift.objects.count() == 0
    again = scan(aws_provider)
    assert again.status == "succeeded" and again.drifts_new == 0 and Drift.objects.count() == 0
    assert dict(Resource.objects.values_list("pk", "config_hash")) == hashes  # nothing volatile leaks in

    changes = apply_changes(moto, estate)
    job = scan(aws_provider)
    assert job.status == "succeeded", job.errors

    found = open_drifts()
    assert set(found) == {(c["external_id"], c["path"]) for c in changes}
    assert job.drifts_new == len(changes)
    assert set(EXPECTED) <= {c["scenario"] for c in changes}
    for change in changes:
        drift = found[(change["external_id"], change["path"])]
        assert drift.resource.resource_type == change["resource_type"]
        assert (drift.baseline_value, drift.current_value) == (change["baseline"], change["current"])
        if change["scenario"] in EXPECTED:
            drift_type, severity, summary = EXPECTED[change["scenario"]]
            assert (drift.drift_type, drift.severity) == (drift_type, severity), change["scenario"]
            assert drift.summary.startswith(summary), (change["scenario"], drift.summary)

    revert_changes(moto, estate)
    job = scan(aws_provider)
    assert job.drifts_resolved == len(changes) and job.drifts_new == 0
    assert open_drifts() == {}
    assert set(Drift.objects.values_list("resolution", flat=True)) == {"reverted"}


def test_a_failing_read_on_a_new_type_is_an_error_never_a_drift_or_a_deletion(moto, aws_provider, estate, monkeypatch):
    import providers.services

    scan(aws_provider)
    changes = apply_changes(moto, estate)

    def deny(model, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, model.name)

    real = providers.services.aws_clients

    def denying(provider):
        clients = real(provider)
        for call in DETAIL_CALLS.values():
            clients.session.events.register(f"before-call.{call}", deny)
        return clients

    monkeypatch.setattr(providers.services, "aws_clients", denying)
    job = scan(aws_provider)

    assert job.status == "partial"
    for resource_type in NEW_TYPES:
        unit = JobUnit.objects.get(job=job, resource_type=resource_type)
        if resource_type in LISTING_ONLY:
            assert unit.status == "failed" and "AccessDenied" in unit.error, resource_type
        else:
            errors = [e for e in job.errors if e["resource_type"] == resource_type]
            assert errors and all("AccessDenied" in e["message"] for e in errors), resource_type
    new_type_drifts = [d for d in open_drifts().values() if d.resource.resource_type in NEW_TYPES]
    assert new_type_drifts == []
    assert not Resource.objects.filter(resource_type__in=NEW_TYPES, deleted_at__isnull=False).exists()
    # The classic types still report their changes in the same job.
    classic = {(c["external_id"], c["path"]) for c in changes if c["resource_type"] not in NEW_TYPES}
    assert classic and classic <= set(open_drifts())
