"""From Terraform attributes to DriftWatch documents, per Terraform type, on real-shaped state."""

import json

import pytest

from baselines.terraform.mapping import element_ident, map_instances
from baselines.terraform.state import parse_state
from drifts import diff
from drifts.declared import compare
from drifts.tests import tf_estate

IDS = {
    "SG_WEB": "sg-0123456789abcdef0",
    "VPC": "vpc-0a1b2c3d",
    "KMS_KEY": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "KMS_POLICY": json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    ),
    "RDS_ENGINE_VERSION": "16.3",
    "RDS_STORAGE_TYPE": "gp2",
}


@pytest.fixture(scope="module")
def declared():
    result = map_instances(parse_state(tf_estate.render(IDS)).instances)
    assert result.warnings == [] and dict(result.unsupported) == {}
    return {d.address: d for d in result.declared}


def test_s3_split_resources_land_on_the_buckets_document(declared):
    logs = declared["module.storage.aws_s3_bucket.logs"]
    assert (logs.resource_type, logs.external_id, logs.region) == ("s3_bucket", "arn:aws:s3:::tf-logs", "us-east-1")
    assert logs.document == {
        "Encryption": {
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]
        },
        "PublicAccessBlock": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        "Tags": {"env": "prod", "team": "platform"},
        "Versioning": "Enabled",
    }
    assert logs.declared_by == {
        "Versioning": "module.storage.aws_s3_bucket_versioning.logs",
        "PublicAccessBlock": "module.storage.aws_s3_bucket_public_access_block.logs",
        "Encryption": "module.storage.aws_s3_bucket_server_side_encryption_configuration.logs",
    }


def test_a_bucket_policy_resource_lands_on_policy_normalized(declared):
    data0 = declared["module.storage.aws_s3_bucket.data[0]"]
    assert data0.document["Policy"]["Statement"][0]["Action"] == ["s3:GetObject"]
    assert data0.declared_by == {"Policy": "module.storage.aws_s3_bucket_policy.data[0]"}


def test_deprecated_inline_bucket_arguments_and_null_tags_declare_nothing(declared):
    # aws_s3_bucket.data[1] has refreshed inline versioning and tags null: not what the code wrote.
    assert declared["module.storage.aws_s3_bucket.data[1]"].document == {}


def test_security_group_rules_from_three_places_make_one_set(declared):
    web = declared["module.network.aws_security_group.web"]
    assert (web.resource_type, web.external_id, web.region) == ("ec2_security_group", IDS["SG_WEB"], "us-east-1")
    ssh = {
        "Description": "ssh from the office",
        "FromPort": 22,
        "IpProtocol": "tcp",
        "Source": "10.0.0.0/8",
        "ToPort": 22,
    }
    http = {"Description": None, "FromPort": 80, "IpProtocol": "tcp", "Source": "10.1.0.0/16", "ToPort": 80}
    https = {"Description": "https", "FromPort": 443, "IpProtocol": "tcp", "Source": "0.0.0.0/0", "ToPort": 443}
    assert web.document["IngressRules"] == sorted([ssh, http, https], key=diff.canonical_json)
    all_out = {"Description": None, "FromPort": None, "IpProtocol": "-1", "Source": "0.0.0.0/0", "ToPort": None}
    assert web.document["EgressRules"] == [all_out]
    assert web.document["GroupName"] == "web" and web.document["VpcId"] == IDS["VPC"]
    assert web.declared_by == {
        f"IngressRules[{element_ident(ssh)}]": "module.network.aws_security_group_rule.ssh",
        f"IngressRules[{element_ident(http)}]": 'module.network.aws_vpc_security_group_ingress_rule.http["internal"]',
    }


def test_element_names_agree_with_the_diff_engine():
    for value in ({"a": 1}, ["x"], "alias/x", 22):
        assert element_ident(value) == diff.element_ident(value)


def test_role_policy_and_attachment_land_on_the_role(declared):
    role = declared["aws_iam_role.app"]
    assert role.external_id == "arn:aws:iam::123456789012:role/tf-app"
    assert role.document["AttachedManagedPolicies"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert role.document["InlinePolicies"]["read-data"]["Statement"][0]["Action"] == ["s3:GetObject", "s3:ListBucket"]
    assert role.document["PermissionsBoundary"] is None and role.document["MaxSessionDuration"] == 3600
    assert role.declared_by["InlinePolicies.read-data"] == "aws_iam_role_policy.app_read"


def test_kms_key_with_its_alias(declared):
    key = declared['aws_kms_key.main["data"]']
    assert key.document["Aliases"] == ["alias/tf-data"]
    assert key.document["KeyRotationEnabled"] is True and key.document["KeyState"] == "Enabled"
    assert "KeyUsage" not in key.document  # fixed at creation: cannot drift
    assert key.declared_by == {'Aliases["alias/tf-data"]': 'aws_kms_alias.main["data"]'}


def test_db_instance_without_its_password(declared):
    db = declared["aws_db_instance.orders"]
    assert db.external_id == "arn:aws:rds:us-east-1:123456789012:db:tf-orders"
    assert db.document["PubliclyAccessible"] is False and db.document["VpcSecurityGroups"] == [IDS["SG_WEB"]]
    assert "KmsKeyId" not in db.document  # computed and empty: not declared
    assert "hunter2" not in json.dumps(db.document)


def test_cloudtrail_maps_flags_and_empty_optionals_to_null():
    attrs = {
        "arn": "arn:aws:cloudtrail:eu-west-1:123456789012:trail/org",
        "name": "org",
        "s3_bucket_name": "trail-logs",
        "s3_key_prefix": "",
        "kms_key_id": "",
        "cloud_watch_logs_group_arn": "",
        "is_multi_region_trail": True,
        "include_global_service_events": True,
        "enable_log_file_validation": True,
        "is_organization_trail": False,
        "enable_logging": True,
        "tags": {},
        "tags_all": {},
    }
    from baselines.terraform.state import Instance

    (trail,) = map_instances([Instance("aws_cloudtrail.org", "", "aws_cloudtrail", "org", None, 0, attrs)]).declared
    assert (trail.resource_type, trail.region) == ("cloudtrail_trail", "eu-west-1")
    assert trail.document == {
        "CloudWatchLogsLogGroupArn": None,
        "IncludeGlobalServiceEvents": True,
        "IsLogging": True,
        "IsMultiRegionTrail": True,
        "IsOrganizationTrail": False,
        "KmsKeyId": None,
        "LogFileValidationEnabled": True,
        "Name": "org",
        "S3BucketName": "trail-logs",
        "S3KeyPrefix": None,
    }


def test_a_split_resource_whose_bucket_is_elsewhere_declares_that_part_only():
    from baselines.terraform.state import Instance

    versioning = Instance(
        "aws_s3_bucket_versioning.shared",
        "",
        "aws_s3_bucket_versioning",
        "shared",
        None,
        0,
        {"bucket": "shared-bucket", "versioning_configuration": [{"status": "Enabled", "mfa_delete": ""}]},
    )
    (bucket,) = map_instances([versioning]).declared
    assert (bucket.external_id, bucket.document) == ("arn:aws:s3:::shared-bucket", {"Versioning": "Enabled"})


def test_unsupported_types_are_counted_not_mapped():
    from baselines.terraform.state import Instance

    result = map_instances([Instance("aws_instance.web", "", "aws_instance", "web", None, 1, {"id": "i-1"})])
    assert result.declared == [] and result.unsupported == {"aws_instance": 1}


def test_a_policy_that_is_not_json_is_a_warning_and_the_rest_still_maps():
    from baselines.terraform.state import Instance

    bad = Instance(
        "aws_s3_bucket_policy.p", "", "aws_s3_bucket_policy", "p", None, 0, {"bucket": "b1", "policy": "{no"}
    )
    good = Instance("aws_s3_bucket.b", "", "aws_s3_bucket", "b", None, 0, {"bucket": "b1", "tags": {"a": "1"}})
    result = map_instances([good, bad])
    assert [d.document for d in result.declared] == [{"Tags": {"a": "1"}}]
    assert result.warnings and result.warnings[0].startswith("aws_s3_bucket_policy.p:")


def test_live_document_equal_in_form_only_is_no_change(declared):
    live = {
        "Acl": {"Grants": []},
        "Encryption": None,
        "Logging": None,
        "Policy": None,
        "PublicAccessBlock": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        "Tags": {"Name": "data-0", "env": "prod"},
        "Versioning": "Disabled",
    }
    policy = declared["module.storage.aws_s3_bucket.data[0]"].document["Policy"]
    typed = json.loads(json.dumps(policy).replace('"true"', "true"))  # AWS answered a boolean
    live["Policy"] = typed
    assert compare(declared["module.storage.aws_s3_bucket.data[0]"].document, live) == []


def test_an_adopted_default_security_group_maps_like_any_group():
    from baselines.terraform.state import Instance

    attrs = {
        "arn": "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0def",
        "id": "sg-0def",
        "name": "default",
        "description": "default VPC security group",
        "vpc_id": "vpc-1",
        "ingress": [],
        "egress": [],
        "tags": {},
        "tags_all": {},
    }
    (group,) = map_instances(
        [Instance("aws_default_security_group.d", "", "aws_default_security_group", "d", None, 1, attrs)]
    ).declared
    assert (group.resource_type, group.external_id, group.region) == ("ec2_security_group", "sg-0def", "eu-west-1")
    # No rules in the state: the rules are not declared, so a rule added live is not compared.
    assert group.document == {"Description": "default VPC security group", "GroupName": "default", "VpcId": "vpc-1"}


def test_attributes_of_an_unexpected_shape_are_skipped_with_a_warning():
    from baselines.terraform.state import Instance

    odd = Instance(
        "aws_security_group.odd", "", "aws_security_group", "odd", None, 1, {"id": "sg-1", "ingress": ["not a block"]}
    )
    rule = Instance(
        "aws_security_group_rule.r",
        "",
        "aws_security_group_rule",
        "r",
        None,
        2,
        {"security_group_id": "sg-2", "cidr_blocks": 5},
    )
    result = map_instances([odd, rule])
    assert [w.split(":")[0] for w in result.warnings] == ["aws_security_group.odd", "aws_security_group_rule.r"]
