"""The collectors against a seeded moto server, through real boto3 over HTTP.

The estate is seeded once for this module and never mutated here: failures are injected on the client
side with botocore event handlers, so every test sees the same AWS state.
"""

import json
from dataclasses import asdict

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError

from devtools.estate import seed_estate
from devtools.fake_aws import ACCOUNT_ID, READONLY_POLICY_ARN, aws_clients, fake_session, reset_moto
from providers.collectors import COLLECTORS, GLOBAL_RESOURCE_TYPES, scan_units
from providers.collectors.base import CollectResult

REGIONS = ("us-east-1", "eu-west-1")
LISTING_OPERATIONS = {
    "s3_bucket": ("s3", "ListBuckets"),
    "ec2_security_group": ("ec2", "DescribeSecurityGroups"),
    "iam_role": ("iam", "ListRoles"),
    "rds_instance": ("rds", "DescribeDBInstances"),
    "kms_key": ("kms", "ListKeys"),
    "cloudtrail_trail": ("cloudtrail", "DescribeTrails"),
    "ec2_instance": ("ec2", "DescribeInstances"),
    "ebs_volume": ("ec2", "DescribeVolumes"),
    "ebs_snapshot": ("ec2", "DescribeSnapshots"),
    "lambda_function": ("lambda", "ListFunctions"),
    "iam_user": ("iam", "ListUsers"),
    "iam_policy": ("iam", "ListPolicies"),
    "sqs_queue": ("sqs", "ListQueues"),
    "sns_topic": ("sns", "ListTopics"),
    "elbv2_load_balancer": ("elastic-load-balancing-v2", "DescribeLoadBalancers"),
    "eks_cluster": ("eks", "ListClusters"),
    "dynamodb_table": ("dynamodb", "ListTables"),
    "secretsmanager_secret": ("secrets-manager", "ListSecrets"),
}
KEY_POLICY = {
    "Id": "key-default-1",
    "Statement": [
        {
            "Action": ["kms:*"],
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT_ID}:root"]},
            "Resource": ["*"],
            "Sid": "Enable IAM User Permissions",
        }
    ],
    "Version": "2012-10-17",
}


@pytest.fixture(scope="module")
def estate(moto_server: str) -> dict:
    reset_moto(moto_server)
    return seed_estate(moto_server, regions=REGIONS)


@pytest.fixture
def clients(moto_server: str, estate: dict):
    return aws_clients(moto_server)


def find(estate: dict, resource_type: str, kind: str, region: str = "us-east-1") -> dict:
    return next(r for r in estate[resource_type] if r["kind"] == kind and r["region"] in (region, "global"))


def collect_type(clients, resource_type: str, regions=REGIONS) -> CollectResult:
    """Every unit of one type merged, as a scan of REGIONS would run them."""
    merged = CollectResult()
    for region, unit_type in scan_units(list(regions)):
        if unit_type == resource_type:
            result = COLLECTORS[resource_type](clients, region)
            merged.resources.extend(result.resources)
            merged.failed.update(result.failed)
    return merged


def docs(result: CollectResult) -> dict:
    return {r.external_id: r.config for r in result.resources}


def resource(result: CollectResult, external_id: str):
    return next(r for r in result.resources if r.external_id == external_id)


def error_response(code: str, status: int, message: str):
    return (
        AWSResponse("https://injected.invalid/", status, {}, None),
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
    )


def inject_error(clients, service: str, operation: str, code: str, *, status=403, message="Access Denied", when=None):
    """Make `operation` fail with an AWS error (for calls whose params match `when`) on every client."""
    key = "dw-inject-" + operation

    def mark(params, context, **kwargs):
        context[key] = when is None or when(params)

    def answer(context, **kwargs):
        if context.get(key):
            return error_response(code, status, message)
        return None

    # Session-level handlers are copied into every client the AwsClients creates afterwards.
    clients.session.events.register(f"before-parameter-build.{service}.{operation}", mark)
    clients.session.events.register(f"before-call.{service}.{operation}", answer)


# --- documents -------------------------------------------------------------------------------------


def test_every_seeded_resource_is_collected_once_with_its_name_and_region(clients, estate):
    for resource_type in COLLECTORS:
        result = collect_type(clients, resource_type)
        assert result.failed == {}, resource_type
        got = {(r.external_id, r.name, r.region) for r in result.resources}
        expected = {(r["external_id"], r["name"], r["region"]) for r in estate[resource_type]}
        assert got == expected, resource_type
        assert len(result.resources) == len(got), f"{resource_type} collected twice"


def test_documents_are_plain_json_with_sorted_keys(clients, estate):
    def keys_sorted(value) -> bool:
        if isinstance(value, dict):
            return list(value) == sorted(value) and all(keys_sorted(v) for v in value.values())
        if isinstance(value, list):
            return all(keys_sorted(v) for v in value)
        return True

    for resource_type in COLLECTORS:
        for r in collect_type(clients, resource_type).resources:
            assert json.loads(json.dumps(r.config)) == r.config  # no datetimes or other non-JSON values
            assert keys_sorted(r.config), (resource_type, r.external_id)
            assert isinstance(r.config["Tags"], dict)


def test_s3_bucket_documents(clients, estate):
    locked = find(estate, "s3_bucket", "locked")
    # moto's ACL owner id is not the ListBuckets owner id, so ask the ACL itself.
    s3 = fake_session().client("s3", endpoint_url=clients.endpoint_url)
    owner = s3.get_bucket_acl(Bucket=locked["id"])["Owner"]["ID"]
    owner_grant = {"Grantee": {"ID": owner, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}
    no_block = {
        "BlockPublicAcls": False,
        "BlockPublicPolicy": False,
        "IgnorePublicAcls": False,
        "RestrictPublicBuckets": False,
    }
    result = COLLECTORS["s3_bucket"](clients, "global")
    assert result.failed == {}
    got = docs(result)

    assert got[locked["external_id"]] == {
        "Acl": {"Grants": [owner_grant]},
        "Encryption": {
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]
        },
        "Logging": None,
        "Policy": None,
        "PublicAccessBlock": {key: True for key in no_block},
        "Tags": {"Name": "locked-us-east-1-0", "env": "prod"},
        "Versioning": "Enabled",
    }
    assert resource(result, locked["external_id"]).name == "locked-us-east-1-0"  # Name tag wins

    app = find(estate, "s3_bucket", "app", "eu-west-1")
    name = app["id"]
    assert got[app["external_id"]] == {
        "Acl": {"Grants": [owner_grant]},
        "Encryption": None,
        "Logging": {"TargetBucket": "dw-0-logs-eu-west-1", "TargetPrefix": "app/"},
        "Policy": {
            "Statement": [
                {
                    "Action": ["s3:*"],
                    "Condition": {"Bool": {"aws:SecureTransport": ["false"]}},
                    "Effect": "Deny",
                    "Principal": "*",
                    "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                    "Sid": "DenyInsecureTransport",
                }
            ],
            "Version": "2012-10-17",
        },
        "PublicAccessBlock": no_block,
        "Tags": {"env": "prod", "owner": "team-a"},
        "Versioning": "Disabled",
    }
    app_resource = resource(result, app["external_id"])
    assert (app_resource.name, app_resource.region) == (name, "eu-west-1")

    logs = got[find(estate, "s3_bucket", "logs")["external_id"]]
    assert logs["Versioning"] == "Suspended"
    assert logs["Encryption"]["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {
        "KMSMasterKeyID": find(estate, "kms_key", "app")["external_id"],
        "SSEAlgorithm": "aws:kms",
    }
    assert {
        "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"},
        "Permission": "READ_ACP",
    } in logs["Acl"]["Grants"]

    plain = find(estate, "s3_bucket", "plain")
    assert got[plain["external_id"]] == {
        "Acl": {"Grants": [owner_grant]},
        "Encryption": None,
        "Logging": None,
        "Policy": None,
        "PublicAccessBlock": no_block,
        "Tags": {},
        "Versioning": "Disabled",
    }


def test_security_group_documents_expand_one_rule_per_source(clients, estate):
    result = COLLECTORS["ec2_security_group"](clients, "us-east-1")
    got = docs(result)
    web, db, mgmt, default = (find(estate, "ec2_security_group", k) for k in ("web", "db", "mgmt", "default"))
    allow_all_out = [{"Description": None, "FromPort": None, "IpProtocol": "-1", "Source": "0.0.0.0/0", "ToPort": None}]
    assert got[web["external_id"]] == {
        "Description": "web tier",
        "EgressRules": allow_all_out,
        "GroupName": "dw-web-0",
        "IngressRules": [
            {
                "Description": "https",
                "FromPort": 443,
                "IpProtocol": "tcp",
                "Source": "0.0.0.0/0",
                "ToPort": 443,
            },
            {"Description": None, "FromPort": 443, "IpProtocol": "tcp", "Source": "::/0", "ToPort": 443},
            {"Description": None, "FromPort": 80, "IpProtocol": "tcp", "Source": "0.0.0.0/0", "ToPort": 80},
        ],
        "Tags": {"Name": "web-0", "env": "prod"},
        "VpcId": web["vpc_id"],
    }
    assert got[db["external_id"]] == {
        "Description": "database tier",
        "EgressRules": [
            {"Description": None, "FromPort": 443, "IpProtocol": "tcp", "Source": "0.0.0.0/0", "ToPort": 443}
        ],
        "GroupName": "dw-db-0",
        "IngressRules": [
            {
                "Description": "from web",
                "FromPort": 5432,
                "IpProtocol": "tcp",
                "Source": web["id"],
                "ToPort": 5432,
            },
            {
                "Description": None,
                "FromPort": 5432,
                "IpProtocol": "tcp",
                "Source": db["prefix_list_id"],
                "ToPort": 5432,
            },
        ],
        "Tags": {},
        "VpcId": db["vpc_id"],
    }
    assert got[mgmt["external_id"]]["IngressRules"] == [
        {"Description": None, "FromPort": -1, "IpProtocol": "icmp", "Source": "10.0.0.0/8", "ToPort": -1}
    ]
    assert got[default["external_id"]] == {
        "Description": "default VPC security group",
        "EgressRules": allow_all_out,
        "GroupName": "default",
        "IngressRules": [],
        "Tags": {},
        "VpcId": default["vpc_id"],
    }
    assert resource(result, web["external_id"]).name == "web-0"
    assert resource(result, db["external_id"]).name == "dw-db-0"
    assert {r.region for r in result.resources} == {"us-east-1"}


def test_iam_role_documents_skip_service_linked_roles(clients, estate):
    result = COLLECTORS["iam_role"](clients, "global")
    assert result.failed == {}
    got = docs(result)
    assert not any("aws-service-role" in arn for arn in got)
    app, deploy, worker = (find(estate, "iam_role", k) for k in ("app", "deploy", "worker"))
    assert got[app["external_id"]] == {
        "AssumeRolePolicyDocument": {
            "Statement": [
                {
                    "Action": ["sts:AssumeRole"],
                    "Effect": "Allow",
                    "Principal": {"Service": ["ec2.amazonaws.com"]},
                }
            ],
            "Version": "2012-10-17",
        },
        "AttachedManagedPolicies": sorted([app["managed_policy_arn"], READONLY_POLICY_ARN]),
        "InlinePolicies": {
            "s3-read": {
                "Statement": [
                    {
                        "Action": ["s3:GetObject", "s3:ListBucket"],
                        "Effect": "Allow",
                        "Resource": ["arn:aws:s3:::dw-data", "arn:aws:s3:::dw-data/*"],
                    }
                ],
                "Version": "2012-10-17",
            }
        },
        "MaxSessionDuration": 7200,
        "Path": "/",
        "PermissionsBoundary": None,
        "RoleName": "dw-app-0",
        "Tags": {"env": "prod", "team": "platform"},
    }
    deploy_doc = got[deploy["external_id"]]
    assert deploy_doc["Path"] == "/ci/"
    assert deploy_doc["PermissionsBoundary"] == READONLY_POLICY_ARN
    assert deploy_doc["AttachedManagedPolicies"] == []
    assert sorted(deploy_doc["InlinePolicies"]) == ["deploy-ecr", "deploy-logs"]
    assert deploy_doc["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": ["dw-external"]}
    }
    worker_resource = resource(result, worker["external_id"])
    assert (worker_resource.name, worker_resource.region) == ("worker-role-0", "global")
    assert worker_resource.config["InlinePolicies"] == {}


def test_rds_instance_documents(clients, estate):
    result = COLLECTORS["rds_instance"](clients, "us-east-1")
    got = docs(result)
    pg, mysql = find(estate, "rds_instance", "pg"), find(estate, "rds_instance", "mysql")
    db_sg, mgmt_sg = (
        find(estate, "ec2_security_group", "db")["id"],
        find(estate, "ec2_security_group", "mgmt")["id"],
    )
    assert got[pg["external_id"]] == {
        "AllocatedStorage": 20,
        "AutoMinorVersionUpgrade": True,
        "BackupRetentionPeriod": 7,
        "DBInstanceClass": "db.t3.micro",
        "DBInstanceIdentifier": "dw-pg-0",
        "DeletionProtection": False,
        "Engine": "postgres",
        "EngineVersion": "9.3.3",  # moto's default, meaningless
        "IAMDatabaseAuthenticationEnabled": True,
        "KmsKeyId": find(estate, "kms_key", "app")["external_id"],
        "MultiAZ": False,
        "PubliclyAccessible": False,
        "StorageEncrypted": True,
        "StorageType": "gp3",
        "Tags": {"env": "prod"},
        "VpcSecurityGroups": [db_sg],
    }
    mysql_doc = got[mysql["external_id"]]
    assert mysql_doc["VpcSecurityGroups"] == sorted([db_sg, mgmt_sg])
    assert (mysql_doc["MultiAZ"], mysql_doc["DeletionProtection"], mysql_doc["StorageEncrypted"]) == (
        True,
        True,
        False,
    )
    assert mysql_doc["KmsKeyId"] is None
    assert resource(result, mysql["external_id"]).name == "mysql-0"
    assert "DBInstanceStatus" not in mysql_doc


def test_kms_key_documents(clients, estate):
    result = COLLECTORS["kms_key"](clients, "us-east-1")
    assert result.failed == {}
    got = docs(result)
    app, data, sign, retired = (find(estate, "kms_key", k) for k in ("app", "data", "sign", "retired"))
    assert got[app["external_id"]] == {
        "Aliases": ["alias/dw-app-0"],
        "Description": "dw application key 0",
        "KeyId": app["id"],
        "KeyRotationEnabled": True,
        "KeySpec": "SYMMETRIC_DEFAULT",
        "KeyState": "Enabled",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "Policy": KEY_POLICY,
        "Tags": {"env": "prod"},
    }
    assert resource(result, app["external_id"]).name == "dw-app-0"  # first alias without "alias/"
    assert got[data["external_id"]]["Aliases"] == ["alias/dw-backup-0", "alias/dw-data-0"]
    assert got[data["external_id"]]["KeyRotationEnabled"] is False
    assert resource(result, data["external_id"]).name == "data-key-0"  # Name tag beats the aliases
    # Rotation does not apply to asymmetric keys: null, never a made-up False.
    assert got[sign["external_id"]]["KeyRotationEnabled"] is None
    assert (got[sign["external_id"]]["KeySpec"], got[sign["external_id"]]["KeyUsage"]) == (
        "RSA_2048",
        "SIGN_VERIFY",
    )
    assert resource(result, sign["external_id"]).name == sign["id"]  # no tag, no alias: the key id
    assert got[retired["external_id"]]["KeyState"] == "PendingDeletion"
    assert clients.calls_by_operation["kms.GetKeyRotationStatus"] == 3  # not asked for the signing key


def test_kms_collects_no_aws_managed_key_and_creates_none(clients, estate):
    kms = fake_session().client("kms", region_name="us-east-1", endpoint_url=clients.endpoint_url)
    aliases = kms.list_aliases()["Aliases"]
    aws_alias_targets = {a["TargetKeyId"] for a in aliases if a["AliasName"].startswith("alias/aws/")}
    assert aws_alias_targets, "moto should pre-create the alias/aws/* aliases"
    before = {k["KeyId"] for k in kms.list_keys()["Keys"]}

    result = COLLECTORS["kms_key"](clients, "us-east-1")

    after = {k["KeyId"] for k in kms.list_keys()["Keys"]}
    assert after == before
    collected = {r.config["KeyId"] for r in result.resources}
    assert collected == {r["id"] for r in estate["kms_key"] if r["region"] == "us-east-1"}
    assert not collected & aws_alias_targets
    assert not any(a.startswith("alias/aws/") for r in result.resources for a in r.config["Aliases"])
    assert clients.calls_by_operation["kms.ListAliases"] == 1  # once per region, not per key


def test_cloudtrail_documents_and_each_trail_seen_once_across_regions(clients, estate):
    us = COLLECTORS["cloudtrail_trail"](clients, "us-east-1")
    eu = COLLECTORS["cloudtrail_trail"](clients, "eu-west-1")
    org, local_us = find(estate, "cloudtrail_trail", "org"), find(estate, "cloudtrail_trail", "local")
    local_eu = find(estate, "cloudtrail_trail", "local", "eu-west-1")
    assert set(docs(us)) == {org["external_id"], local_us["external_id"]}
    assert set(docs(eu)) == {local_eu["external_id"]}  # the multi-region trail is not repeated here
    assert docs(us)[org["external_id"]] == {
        "CloudWatchLogsLogGroupArn": None,
        "IncludeGlobalServiceEvents": True,
        "IsLogging": True,
        "IsMultiRegionTrail": True,
        "IsOrganizationTrail": False,
        "KmsKeyId": None,
        "LogFileValidationEnabled": True,
        "Name": "dw-org-0",
        "S3BucketName": "dw-0-logs-us-east-1",
        "S3KeyPrefix": None,
        "Tags": {"env": "prod"},
    }
    eu_doc = docs(eu)[local_eu["external_id"]]
    assert eu_doc["IsLogging"] is False
    assert (eu_doc["S3KeyPrefix"], eu_doc["IncludeGlobalServiceEvents"]) == ("local", False)
    assert resource(eu, local_eu["external_id"]).region == "eu-west-1"
    assert set(eu_doc) == set(docs(us)[org["external_id"]])


def test_two_collections_of_an_unchanged_estate_are_identical(moto_server, estate):
    def snapshot():
        clients = aws_clients(moto_server)
        return {t: [asdict(r) for r in collect_type(clients, t).resources] for t in COLLECTORS}

    first = snapshot()
    second = snapshot()  # GetTrailStatus times have moved on by now; the documents must not
    assert first == second
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_calls_counter_counts_every_api_call(clients, estate):
    result = COLLECTORS["s3_bucket"](clients, "global")
    buckets = len(result.resources)
    # ListBuckets, then per bucket: location, ACL, encryption, logging, policy, PAB, versioning, tagging.
    assert clients.calls == 1 + 8 * buckets
    assert clients.calls_by_operation["s3.ListBuckets"] == 1
    assert clients.calls_by_operation["s3.GetBucketAcl"] == buckets
    assert clients.attempts == clients.calls  # nothing was retried
    before = clients.calls
    COLLECTORS["ec2_security_group"](clients, "eu-west-1")
    assert clients.calls == before + 1


# --- failures ---------------------------------------------------------------------------------------


def test_access_denied_on_a_bucket_detail_puts_that_bucket_in_failed(clients, estate):
    app = find(estate, "s3_bucket", "app")
    inject_error(clients, "s3", "GetBucketPolicy", "AccessDenied", when=lambda p: p.get("Bucket") == app["id"])

    result = COLLECTORS["s3_bucket"](clients, "global")

    assert set(result.failed) == {app["external_id"]}
    assert "AccessDenied" in result.failed[app["external_id"]]
    assert "GetBucketPolicy" in result.failed[app["external_id"]]
    assert app["external_id"] not in docs(result)
    assert len(result.resources) == len(estate["s3_bucket"]) - 1


@pytest.mark.parametrize(
    ("resource_type", "region", "service", "operation"),
    [
        ("iam_role", "global", "iam", "GetRolePolicy"),
        ("iam_role", "global", "iam", "ListAttachedRolePolicies"),
        ("kms_key", "us-east-1", "kms", "GetKeyPolicy"),
        ("kms_key", "us-east-1", "kms", "DescribeKey"),
        ("cloudtrail_trail", "us-east-1", "cloudtrail", "GetTrailStatus"),
        ("s3_bucket", "global", "s3", "GetBucketLocation"),
    ],
)
def test_access_denied_on_a_detail_call_is_a_failure_never_a_value(
    clients, estate, resource_type, region, service, operation
):
    inject_error(clients, service, operation, "AccessDenied")
    result = COLLECTORS[resource_type](clients, region)
    seeded = {r["external_id"] for r in estate[resource_type] if region == "global" or r["region"] == region}
    expected_failed = seeded
    if operation == "GetRolePolicy":  # only roles with inline policies call it
        expected_failed = {r["external_id"] for r in estate["iam_role"] if r["kind"] in ("app", "deploy")}
    assert set(result.failed) == expected_failed
    assert {r.external_id for r in result.resources} == seeded - expected_failed
    assert all("AccessDenied" in message and operation in message for message in result.failed.values())


def test_not_configured_answers_are_values_but_other_errors_are_not(clients, estate):
    plain = find(estate, "s3_bucket", "plain")
    inject_error(
        clients,
        "s3",
        "GetBucketEncryption",
        "InternalError",
        status=500,
        message="We encountered an internal error",
        when=lambda p: p.get("Bucket") == plain["id"],
    )
    result = COLLECTORS["s3_bucket"](clients, "global")
    # The bucket has no encryption (a value, None elsewhere) but this time AWS did not say so.
    assert set(result.failed) == {plain["external_id"]}
    assert all(r.config["Encryption"] is None for r in result.resources if "plain" in r.external_id)


def test_kms_rotation_is_null_only_where_aws_says_it_does_not_apply(clients, estate):
    retired, app = find(estate, "kms_key", "retired"), find(estate, "kms_key", "app")
    targets = {retired["id"], app["id"]}
    inject_error(
        clients,
        "kms",
        "GetKeyRotationStatus",
        "KMSInvalidStateException",
        status=400,
        message="is pending deletion",
        when=lambda p: p.get("KeyId") in targets,
    )
    result = COLLECTORS["kms_key"](clients, "us-east-1")
    # PendingDeletion: rotation does not apply, so null. An Enabled key answering so is a failure.
    assert docs(result)[retired["external_id"]]["KeyRotationEnabled"] is None
    assert set(result.failed) == {app["external_id"]}
    assert "KMSInvalidStateException" in result.failed[app["external_id"]]


class _Body:
    """Just enough of a urllib3 response for botocore to read an injected body."""

    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **kwargs):
        yield self.body


def test_throttling_is_retried_and_the_collect_succeeds(clients, estate):
    locked = find(estate, "s3_bucket", "locked")
    throttled = []

    def slow_down(request, **kwargs):
        if f"/{locked['id']}" in request.url and len(throttled) < 3:
            throttled.append(request.url)
            body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            return AWSResponse(request.url, 503, {"Content-Type": "application/xml"}, _Body(body))
        return None

    clients.session.events.register("before-send.s3.GetBucketVersioning", slow_down)

    result = COLLECTORS["s3_bucket"](clients, "global")

    assert len(throttled) == 3
    assert result.failed == {}
    assert docs(result)[locked["external_id"]]["Versioning"] == "Enabled"
    assert clients.attempts == clients.calls + 3  # the three throttled attempts were retried


@pytest.mark.parametrize("resource_type", sorted(COLLECTORS))
def test_a_failed_listing_raises(clients, estate, resource_type):
    service, operation = LISTING_OPERATIONS[resource_type]
    inject_error(clients, service, operation, "AccessDenied")
    region = "global" if resource_type in GLOBAL_RESOURCE_TYPES else "us-east-1"
    with pytest.raises(ClientError) as excinfo:
        COLLECTORS[resource_type](clients, region)
    assert excinfo.value.response["Error"]["Code"] == "AccessDenied"


def test_kms_alias_listing_failure_raises(clients, estate):
    inject_error(clients, "kms", "ListAliases", "AccessDenied")
    with pytest.raises(ClientError):
        COLLECTORS["kms_key"](clients, "us-east-1")


def test_an_unreachable_endpoint_raises(estate):
    clients = aws_clients("http://127.0.0.1:9", max_attempts=0)
    with pytest.raises(EndpointConnectionError):
        COLLECTORS["ec2_security_group"](clients, "us-east-1")
