"""Terraform state as the desired state, end to end: moto's estate, a state file in moto's S3 read with the
provider's own session, scans run the way a worker runs them, and what a user then sees."""

import json

import pytest

from baselines.models import Baseline, StateSource
from drifts import rules
from drifts.diff import element_ident
from drifts.models import Drift, DriftEvent, JobUnit
from drifts.services import detection, jobs
from drifts.services.terraform import STATE_UNIT_TYPE
from drifts.tests import tf_estate
from driftwatch.tests.factories import make_provider
from providers.models import Resource

pytestmark = pytest.mark.django_db

STATE_BUCKET = "tf-state"
STATE_KEY = "envs/prod/terraform.tfstate"
SSH_RULE = {
    "Description": "ssh from the office",
    "FromPort": 22,
    "IpProtocol": "tcp",
    "Source": "10.0.0.0/8",
    "ToPort": 22,
}
RDP_RULE = {"Description": None, "FromPort": 3389, "IpProtocol": "tcp", "Source": "0.0.0.0/0", "ToPort": 3389}


def scan(provider):
    job, created = detection.start_detection(trigger="cli", provider_id=provider.pk)
    assert created
    for unit in JobUnit.objects.filter(job=job).order_by("id"):
        jobs.scan_unit(unit.pk)
    job.refresh_from_db()
    return job


def put_state(endpoint, body: bytes, key: str = STATE_KEY) -> None:
    tf_estate.client(endpoint, "s3").put_object(Bucket=STATE_BUCKET, Key=key, Body=body)


@pytest.fixture
def ids(moto):
    ids = tf_estate.seed(moto)
    tf_estate.client(moto, "s3").create_bucket(Bucket=STATE_BUCKET)
    put_state(moto, tf_estate.render(ids, serial=1))
    return ids


@pytest.fixture
def tf_provider(moto, ids):
    provider = make_provider(regions=["us-east-1"], endpoint_url=moto)
    provider.set_credentials({"access_key_id": "testing", "secret_access_key": "testing"})
    provider.save()
    return provider


@pytest.fixture
def source(tf_provider):
    return StateSource.objects.create(
        provider=tf_provider, name="prod", kind="s3", bucket=STATE_BUCKET, key="envs/*/terraform.tfstate"
    )


def open_drifts() -> dict[tuple[str, str], Drift]:
    return {
        (d.resource.name, d.path): d
        for d in Drift.objects.exclude(status="resolved").select_related("resource").order_by("id")
    }


def live(endpoint, service):
    return tf_estate.client(endpoint, service)


def test_first_scan_with_a_state_reports_only_the_declared_resource_that_does_not_exist(tf_provider, source):
    job = scan(tf_provider)
    assert job.status == "succeeded", job.errors
    assert JobUnit.objects.filter(job=job, resource_type=STATE_UNIT_TYPE).count() == 1
    drifts = open_drifts()
    assert list(drifts) == [("tf-ghost", "")]
    ghost = drifts[("tf-ghost", "")]
    assert (ghost.severity, ghost.drift_type, ghost.tf_finding) == ("high", "configuration", "missing")
    assert (ghost.managed_by, ghost.state_source_id, ghost.tf_address, ghost.tf_serial) == (
        "terraform",
        source.pk,
        "aws_s3_bucket.ghost",
        1,
    )
    assert ghost.summary == "S3 bucket tf-ghost is declared at aws_s3_bucket.ghost but does not exist"
    logs = Baseline.objects.get(resource__name="tf-logs", is_current=True)
    assert (logs.source, logs.address, logs.serial, logs.state_key) == (
        "terraform",
        "module.storage.aws_s3_bucket.logs",
        1,
        STATE_KEY,
    )
    assert logs.declared_by["Versioning"] == "module.storage.aws_s3_bucket_versioning.logs"
    # Only declared keys: tf-data-1 declares no tags, no versioning, nothing but its existence.
    assert Baseline.objects.get(resource__name="tf-data-1", is_current=True).config == {}
    # The unmanaged bucket got an ordinary snapshot baseline.
    assert Baseline.objects.get(resource__name="nobody-manages-me", is_current=True).source == "discovered"
    source.refresh_from_db()
    assert source.last_status == "ok" and source.heads[STATE_KEY]["serial"] == 1
    # The sensitive attribute never reaches the database.
    stored = json.dumps(list(Baseline.objects.values_list("config", flat=True))) + json.dumps(source.heads)
    assert "hunter2" not in stored


def test_declared_changes_are_found_with_their_address_and_undeclared_ones_are_not(moto, ids, tf_provider, source):
    scan(tf_provider)
    s3, ec2, kms, rds, iam = (live(moto, s) for s in ("s3", "ec2", "kms", "rds", "iam"))
    s3.put_public_access_block(
        Bucket="tf-logs",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_versioning(Bucket="tf-logs", VersioningConfiguration={"Status": "Suspended"})
    # Undeclared: tf-data-1 declares neither tags nor versioning.
    s3.put_bucket_tagging(Bucket="tf-data-1", Tagging={"TagSet": [{"Key": "owner", "Value": "someone"}]})
    s3.put_bucket_versioning(Bucket="tf-data-1", VersioningConfiguration={"Status": "Enabled"})
    # Same policy, other form: compact JSON, statement keys reordered, a scalar Action.
    s3.put_bucket_policy(Bucket="tf-data-0", Policy=json.dumps(tf_estate.DATA_POLICY, separators=(",", ":")))
    ec2.authorize_security_group_ingress(
        GroupId=ids["SG_WEB"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    ec2.revoke_security_group_ingress(
        GroupId=ids["SG_WEB"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh from the office"}],
            }
        ],
    )
    kms.disable_key_rotation(KeyId=ids["KMS_KEY"])
    rds.modify_db_instance(DBInstanceIdentifier="tf-orders", PubliclyAccessible=True, ApplyImmediately=True)
    iam.attach_role_policy(RoleName="tf-app", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")

    job = scan(tf_provider)
    assert job.status == "succeeded", job.errors
    found = {
        key: (d.severity, d.drift_type, d.tf_address, d.managed_by)
        for key, d in open_drifts().items()
        if key != ("tf-ghost", "")
    }
    ssh = "IngressRules[" + element_ident(SSH_RULE) + "]"
    rdp = "IngressRules[" + element_ident(RDP_RULE) + "]"
    versioning = rules.classify(
        "s3_bucket", {"path": "Versioning", "op": "changed", "baseline": "Enabled", "current": "Suspended"}
    )
    assert found == {
        ("tf-logs", "PublicAccessBlock.BlockPublicAcls"): (
            "critical",
            "security",
            "module.storage.aws_s3_bucket_public_access_block.logs",
            "terraform",
        ),
        ("tf-logs", "Versioning"): (
            versioning.severity,
            versioning.drift_type,
            "module.storage.aws_s3_bucket_versioning.logs",
            "terraform",
        ),
        ("web", ssh): ("medium", "configuration", "module.network.aws_security_group_rule.ssh", "terraform"),
        ("web", rdp): ("high", "security", "module.network.aws_security_group.web", "terraform"),
        ("tf-data", "KeyRotationEnabled"): ("high", "compliance", 'aws_kms_key.main["data"]', "terraform"),
        ("tf-orders", "PubliclyAccessible"): ("critical", "security", "aws_db_instance.orders", "terraform"),
        ("tf-app", 'AttachedManagedPolicies["arn:aws:iam::aws:policy/AdministratorAccess"]'): (
            "critical",
            "security",
            "aws_iam_role.app",
            "terraform",
        ),
    }
    rdp_drift = Drift.objects.get(resource__name="web", path=rdp)
    assert rdp_drift.current_value["FromPort"] == 3389 and rdp_drift.baseline_value is None
    assert Drift.objects.get(resource__name="web", path=ssh).baseline_value["FromPort"] == 22
    assert all(
        d.tf_serial == 1 and d.state_source_id == source.pk for d in Drift.objects.filter(managed_by="terraform")
    )


def test_a_new_serial_resolves_what_it_absorbed_and_keeps_the_rest(moto, ids, tf_provider, source):
    scan(tf_provider)
    s3 = live(moto, "s3")
    s3.put_bucket_versioning(Bucket="tf-logs", VersioningConfiguration={"Status": "Suspended"})
    live(moto, "kms").disable_key_rotation(KeyId=ids["KMS_KEY"])
    scan(tf_provider)
    versioning = Drift.objects.get(resource__name="tf-logs", path="Versioning", status="detected")
    rotation = Drift.objects.get(path="KeyRotationEnabled", status="detected")

    # The code now says Suspended (terraform apply -refresh-only, or a code change): serial 2.
    put_state(moto, tf_estate.render(ids, serial=2, logs_versioning="Suspended"))
    job = scan(tf_provider)
    assert job.status == "succeeded", job.errors

    versioning.refresh_from_db()
    assert (versioning.status, versioning.resolution, versioning.resolved_by_id) == (
        "resolved",
        "baseline_captured",
        None,
    )
    event = DriftEvent.objects.filter(drift=versioning, to_status="resolved").get()
    assert "state serial 2" in event.note and event.actor_id is None
    rotation.refresh_from_db()
    assert rotation.status == "detected" and rotation.tf_serial == 2
    current = Baseline.objects.get(resource__name="tf-logs", is_current=True)
    assert (current.serial, current.config["Versioning"]) == (2, "Suspended")
    assert Baseline.objects.filter(resource__name="tf-logs", source="terraform").count() == 2  # history kept


@pytest.mark.slow  # each scan here costs ~15 s of moto; the service tests cover the logic fast
def test_an_unchanged_state_is_not_parsed_again(moto, ids, tf_provider, source, monkeypatch):
    scan(tf_provider)
    from drifts.services import terraform

    def explode(*args, **kwargs):
        raise AssertionError("parsed an unchanged state")

    monkeypatch.setattr(terraform, "parse_state", explode)
    job = scan(tf_provider)
    assert job.status == "succeeded", job.errors
    source.refresh_from_db()
    assert source.last_status == "unchanged"
    # Same serial and lineage under a new ETag (re-uploaded): peeked, not parsed.
    put_state(moto, tf_estate.render(ids, serial=1) + b"\n")
    job = scan(tf_provider)
    assert job.status == "succeeded", job.errors
    source.refresh_from_db()
    assert source.last_status == "unchanged"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda text: text[: len(text) // 2], "ends early"),
        # The parser's own tests cover these fast; here they run through S3 and a scan with the slow suite.
        pytest.param(
            lambda text: text.replace(b'"version": 4', b'"version": 3', 1),
            "State format version 3 is not supported",
            marks=pytest.mark.slow,
        ),
        pytest.param(lambda text: b"{not json" + text, "not valid JSON", marks=pytest.mark.slow),
    ],
)
def test_an_invalid_state_is_an_error_on_the_source_and_the_job_and_changes_no_baseline(
    moto, ids, tf_provider, source, body, message
):
    scan(tf_provider)
    before = sorted(Baseline.objects.filter(is_current=True).values_list("id", flat=True))
    put_state(moto, body(tf_estate.render(ids, serial=7, logs_versioning="Suspended")))
    job = scan(tf_provider)
    assert job.status in ("partial", "failed")
    state_unit = JobUnit.objects.get(job=job, resource_type=STATE_UNIT_TYPE)
    assert state_unit.status == "failed" and message in state_unit.error
    assert any(message in e["message"] for e in job.errors)
    source.refresh_from_db()
    assert source.last_status == "error" and message in source.last_error
    assert sorted(Baseline.objects.filter(is_current=True).values_list("id", flat=True)) == before
    assert Baseline.objects.filter(serial=7).count() == 0


@pytest.mark.slow  # each scan here costs ~15 s of moto; the service tests cover the logic fast
def test_a_state_over_the_size_limit_is_refused_before_it_is_read(moto, ids, tf_provider, source, settings):
    scan(tf_provider)
    settings.DRIFTWATCH_TF_STATE_MAX_BYTES = 2048
    put_state(moto, tf_estate.render(ids, serial=8))
    job = scan(tf_provider)
    unit = JobUnit.objects.get(job=job, resource_type=STATE_UNIT_TYPE)
    assert unit.status == "failed" and "the limit is 2048 bytes" in unit.error
    assert Baseline.objects.filter(serial=8).count() == 0


def test_unmanaged_resources_are_reported_once_when_enabled(moto, ids, tf_provider, source):
    scan(tf_provider)
    assert not Drift.objects.filter(tf_finding="unmanaged").exists()  # off by default: adding a state is quiet
    tf_provider.report_unmanaged = True
    tf_provider.save(update_fields=["report_unmanaged"])
    scan(tf_provider)
    unmanaged = Drift.objects.filter(tf_finding="unmanaged").select_related("resource")
    names = {d.resource.name for d in unmanaged}
    assert "nobody-manages-me" in names and STATE_BUCKET in names
    assert names.isdisjoint({"tf-logs", "tf-data-0", "tf-data-1", "web", "tf-app", "tf-orders"})
    assert "default" not in names  # the VPC's default group: AWS's, not someone's unmanaged change
    one = unmanaged.get(resource__name="nobody-manages-me")
    assert (one.severity, one.drift_type, one.path) == ("low", "configuration", "")
    count = unmanaged.count()
    scan(tf_provider)
    assert Drift.objects.filter(tf_finding="unmanaged").count() == count  # once, not per scan
    Drift.objects.filter(pk=one.pk).update(status="resolved", resolution="manual", resolved_at=one.detected_at)
    live(moto, "s3").create_bucket(Bucket="late-arrival")
    scan(tf_provider)
    assert Drift.objects.filter(tf_finding="unmanaged", resource__name="nobody-manages-me").count() == 1
    # A bucket created after the first scan is reported once, as unmanaged (not also as "appeared").
    late = Drift.objects.filter(resource__name="late-arrival")
    assert [(d.tf_finding, d.severity) for d in late] == [("unmanaged", "low")]


@pytest.mark.slow  # each scan here costs ~15 s of moto; the service tests cover the logic fast
def test_a_resource_dropped_from_the_state_goes_back_to_a_snapshot_and_its_drifts_close(moto, ids, tf_provider, source):
    scan(tf_provider)
    live(moto, "kms").disable_key_rotation(KeyId=ids["KMS_KEY"])
    scan(tf_provider)
    state = json.loads(tf_estate.render(ids, serial=3))
    state["resources"] = [r for r in state["resources"] if r["type"] not in ("aws_kms_key", "aws_kms_alias")]
    put_state(moto, json.dumps(state).encode())
    scan(tf_provider)
    rotation = Drift.objects.get(path="KeyRotationEnabled")
    assert rotation.status == "resolved" and rotation.resolution == "baseline_captured"
    key = Resource.objects.get(resource_type="kms_key", external_id__endswith=ids["KMS_KEY"])
    current = key.baselines.get(is_current=True)
    assert current.source == "discovered" and current.config == key.config
