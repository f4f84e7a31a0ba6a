"""The collectors of the newer types against a seeded moto server, through real boto3 over HTTP.

The estate (one region) is seeded once for this module and never mutated: failures are injected on the
client side. Where moto cannot produce a shape (a user's permissions boundary, a function without a URL
or policy), botocore's Stubber answers instead, validated against the service model.
"""

import json
import re
from pathlib import Path

import pytest
from botocore.stub import Stubber

from devtools.estate import seed_estate
from devtools.fake_aws import ACCOUNT_ID, READONLY_POLICY_ARN, aws_clients, reset_moto
from providers.collectors import COLLECTORS, scan_units
from providers.collectors.sns import mask_endpoint

from .test_collectors import docs, find, inject_error, resource

REGION = "us-east-1"
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


@pytest.fixture(scope="module")
def estate(moto_server: str) -> dict:
    reset_moto(moto_server)
    return seed_estate(moto_server, regions=(REGION,))


@pytest.fixture
def clients(moto_server: str, estate: dict):
    return aws_clients(moto_server)


def collect(clients, resource_type: str):
    return COLLECTORS[resource_type](clients, "global" if resource_type.startswith("iam_") else REGION)


def key_arn(estate: dict) -> str:
    return find(estate, "kms_key", "app")["external_id"]


# --- documents -------------------------------------------------------------------------------------


def test_ec2_instance_document(clients, estate):
    result = collect(clients, "ec2_instance")
    app = find(estate, "ec2_instance", "app")
    root, data = find(estate, "ebs_volume", "root"), find(estate, "ebs_volume", "data")
    web = find(estate, "ec2_security_group", "web")
    profile = find(estate, "iam_role", "app")["instance_profile_arn"]
    doc = docs(result)[app["external_id"]]
    assert doc == {
        "BlockDeviceMappings": [
            {"DeviceName": "/dev/sda1", "VolumeId": root["id"]},
            {"DeviceName": "/dev/sdf", "VolumeId": data["id"]},
        ],
        "EbsOptimized": False,
        "IamInstanceProfile": profile,
        "ImageId": "ami-12c6146b",
        "InstanceType": "t3.micro",
        "MetadataOptions": {
            "HttpEndpoint": "enabled",
            "HttpProtocolIpv6": "disabled",
            "HttpPutResponseHopLimit": 1,
            "HttpTokens": "required",
            "InstanceMetadataTags": "disabled",
        },
        "PublicIpAssociated": False,
        "RootDeviceName": "/dev/sda1",
        "SecurityGroups": [web["id"]],
        "SourceDestCheck": True,
        "SubnetId": doc["SubnetId"],
        "Tags": {"Name": "app-0", "env": "prod"},
        "VpcId": web["vpc_id"],
    }
    assert doc["SubnetId"].startswith("subnet-")
    assert resource(result, app["external_id"]).name == "app-0"
    assert clients.calls_by_operation["ec2.DescribeInstances"] == 1  # everything comes with the listing


def test_ebs_volume_documents(clients, estate):
    got = docs(collect(clients, "ebs_volume"))
    app = find(estate, "ec2_instance", "app")
    data, root = find(estate, "ebs_volume", "data"), find(estate, "ebs_volume", "root")
    assert got[data["external_id"]] == {
        "Attachments": [app["id"]],
        "AvailabilityZone": got[data["external_id"]]["AvailabilityZone"],
        "Encrypted": True,
        "Iops": 3000,
        "KmsKeyId": key_arn(estate),
        "MultiAttachEnabled": None,
        "Size": 20,
        "SnapshotId": None,
        "Tags": {"Name": "data-0"},
        "Throughput": 125,
        "VolumeType": "gp3",
    }
    assert (got[root["external_id"]]["Encrypted"], got[root["external_id"]]["Attachments"]) == (False, [app["id"]])
    assert set(got) == {data["external_id"], root["external_id"]}


def test_ebs_snapshots_are_only_the_accounts_own(clients, estate):
    result = collect(clients, "ebs_snapshot")
    snapshot = find(estate, "ebs_snapshot", "data")
    # moto lists ~1,300 snapshots of other owners behind its AMIs; none of them is collected or described.
    assert set(docs(result)) == {snapshot["external_id"]}
    assert clients.calls_by_operation["ec2.DescribeSnapshotAttribute"] == 1
    assert docs(result)[snapshot["external_id"]] == {
        "CreateVolumePermission": {"Public": False, "UserIds": []},
        "Description": "dw data 0 nightly",
        "Encrypted": True,
        "KmsKeyId": None,  # moto does not copy the volume's key onto the snapshot
        "StorageTier": "standard",
        "Tags": {"env": "prod"},
        "VolumeId": find(estate, "ebs_volume", "data")["id"],
        "VolumeSize": 20,
    }


def test_lambda_function_document_holds_variable_names_never_values(clients, estate):
    result = collect(clients, "lambda_function")
    function = find(estate, "lambda_function", "api")
    arn = function["external_id"]
    assert docs(result)[arn] == {
        "Architectures": ["x86_64"],
        "DeadLetterConfig": None,
        "EnvironmentVariables": ["DB_PASSWORD", "STAGE"],
        "FileSystemConfigs": [],
        "FunctionUrlConfig": {
            "AuthType": "AWS_IAM",
            "Cors": {"AllowMethods": ["GET"], "AllowOrigins": ["https://admin.example.com", "https://app.example.com"]},
            "InvokeMode": "Buffered",
        },
        "Handler": "app.handler",
        "KMSKeyArn": key_arn(estate),
        "Layers": [],
        "MemorySize": 256,
        "PackageType": "Zip",
        "Policy": {
            "Id": "default",
            "Statement": [
                {
                    "Action": ["lambda:InvokeFunction"],
                    "Condition": {
                        "ArnLike": {"AWS:SourceArn": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/dw-nightly-0"]}
                    },
                    "Effect": "Allow",
                    "Principal": {"Service": ["events.amazonaws.com"]},
                    "Resource": [arn],
                    "Sid": "nightly",
                }
            ],
            "Version": "2012-10-17",
        },
        "Role": find(estate, "iam_role", "worker")["external_id"],
        "Runtime": "python3.12",
        "Tags": {"env": "prod", "team": "api"},
        "Timeout": 30,
        "TracingConfig": "Active",
        "VpcConfig": None,
    }
    assert "not-a-secret" not in json.dumps([r.config for r in result.resources])


def test_iam_user_documents(clients, estate):
    result = collect(clients, "iam_user")
    assert result.failed == {}
    ci, alice = find(estate, "iam_user", "ci"), find(estate, "iam_user", "console")
    policy_arn = find(estate, "iam_policy", "app")["external_id"]
    assert docs(result)[ci["external_id"]] == {
        "AccessKeys": [{"AccessKeyId": ci["access_key_id"], "Status": "Active"}],
        "AttachedManagedPolicies": [policy_arn],
        "Groups": ["dw-deployers"],
        "InlinePolicies": {
            "push-images": {
                "Statement": [{"Action": ["ecr:BatchGetImage", "ecr:PutImage"], "Effect": "Allow", "Resource": ["*"]}],
                "Version": "2012-10-17",
            }
        },
        "LoginProfile": False,
        "MFADevices": [],
        "Path": "/automation/",
        "PermissionsBoundary": None,
        "Tags": {"env": "ci"},
        "UserName": "dw-ci-0",
    }
    alice_doc = docs(result)[alice["external_id"]]
    assert (alice_doc["LoginProfile"], alice_doc["MFADevices"], alice_doc["AccessKeys"]) == (
        True,
        [alice["mfa_serial"]],
        [],
    )
    assert alice_doc["AttachedManagedPolicies"] == [READONLY_POLICY_ARN]
    assert resource(result, alice["external_id"]).name == "alice-0"


def test_iam_policy_documents_are_the_accounts_own_default_versions(clients, estate):
    result = collect(clients, "iam_policy")
    app = find(estate, "iam_policy", "app")
    # Scope=Local: none of the ~1,000 AWS-managed policies moto loads is listed or read.
    assert set(docs(result)) == {app["external_id"]}
    assert clients.calls_by_operation["iam.GetPolicyVersion"] == 1
    assert docs(result)[app["external_id"]] == {
        "Description": None,
        "Document": {
            "Statement": [{"Action": ["sqs:*"], "Effect": "Allow", "Resource": ["*"]}],
            "Version": "2012-10-17",
        },
        "Path": "/",
        "PolicyName": "dw-app-policy-0",
        "Tags": {},
    }


def test_sqs_queue_documents(clients, estate):
    got = docs(collect(clients, "sqs_queue"))
    orders, dlq = find(estate, "sqs_queue", "orders"), find(estate, "sqs_queue", "dlq")
    topic = find(estate, "sns_topic", "alerts")["external_id"]
    assert got[orders["external_id"]] == {
        "ContentBasedDeduplication": None,
        "DeduplicationScope": None,
        "DelaySeconds": 0,
        "FifoQueue": False,
        "FifoThroughputLimit": None,
        "KmsDataKeyReusePeriodSeconds": None,
        "KmsMasterKeyId": None,
        "MaximumMessageSize": got[orders["external_id"]]["MaximumMessageSize"],
        "MessageRetentionPeriod": 345600,
        "Policy": {
            "Statement": [
                {
                    "Action": ["sqs:SendMessage"],
                    "Condition": {"ArnEquals": {"aws:SourceArn": [topic]}},
                    "Effect": "Allow",
                    "Principal": {"Service": ["sns.amazonaws.com"]},
                    "Resource": [orders["external_id"]],
                    "Sid": "FromAlerts",
                }
            ],
            "Version": "2012-10-17",
        },
        "ReceiveMessageWaitTimeSeconds": 0,
        "RedriveAllowPolicy": None,
        "RedrivePolicy": {"deadLetterTargetArn": dlq["external_id"], "maxReceiveCount": 5},
        "SqsManagedSseEnabled": True,
        "Tags": {"env": "prod"},
        "VisibilityTimeout": 60,
    }
    assert isinstance(got[orders["external_id"]]["MaximumMessageSize"], int)
    assert (got[dlq["external_id"]]["Policy"], got[dlq["external_id"]]["RedrivePolicy"]) == (None, None)


def test_sns_topic_document_masks_email_endpoints(clients, estate):
    got = docs(collect(clients, "sns_topic"))
    topic = find(estate, "sns_topic", "alerts")
    doc = got[topic["external_id"]]
    assert doc["Subscriptions"] == [
        {"Endpoint": find(estate, "sqs_queue", "orders")["external_id"], "Protocol": "sqs"},
        {"Endpoint": "o***@example.com", "Protocol": "email"},
    ]
    assert "oncall" not in json.dumps(doc)
    assert (doc["KmsMasterKeyId"], doc["DisplayName"], doc["FifoTopic"]) == (key_arn(estate), "Alerts", False)
    # AWS's default topic policy: "AWS": "*" narrowed by AWS:SourceOwner, kept as AWS wrote it.
    [statement] = doc["Policy"]["Statement"]
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceOwner": [ACCOUNT_ID]}}
    assert "SubscriptionsConfirmed" not in doc and "SubscriptionsPending" not in doc


@pytest.mark.parametrize(
    ("protocol", "endpoint", "masked"),
    [
        ("email", "oncall@example.com", "o***@example.com"),
        ("email-json", "a@b.example", "a***@b.example"),
        ("sms", "+15555550123", "***0123"),
        ("https", "https://hooks.example.com/x", "https://hooks.example.com/x"),
        ("sqs", None, None),
    ],
)
def test_mask_endpoint(protocol, endpoint, masked):
    assert mask_endpoint(protocol, endpoint) == masked


def test_elbv2_load_balancer_document(clients, estate):
    balancer = find(estate, "elbv2_load_balancer", "web")
    doc = docs(collect(clients, "elbv2_load_balancer"))[balancer["external_id"]]
    assert doc["Listeners"] == {
        "443": {
            "AlpnPolicy": [],
            "Certificates": [balancer["certificate_arn"]],
            "DefaultActions": [{"TargetGroupArn": balancer["target_group_arn"], "Type": "forward"}],
            "Port": 443,
            "Protocol": "HTTPS",
            "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        },
        "80": {
            "AlpnPolicy": [],
            "Certificates": [],
            "DefaultActions": [
                {"RedirectConfig": {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}, "Type": "redirect"}
            ],
            "Port": 80,
            "Protocol": "HTTP",
            "SslPolicy": None,  # moto reports one for HTTP listeners; HTTP negotiates no TLS
        },
    }
    assert doc["AccessLogs"] == {"Bucket": find(estate, "s3_bucket", "logs")["id"], "Enabled": True, "Prefix": "alb"}
    assert (doc["DeletionProtection"], doc["Scheme"], doc["Type"]) == (True, "internet-facing", "application")
    assert doc["SecurityGroups"] == [find(estate, "ec2_security_group", "web")["id"]]
    assert len(doc["Subnets"]) == 2 and doc["Subnets"] == sorted(doc["Subnets"])
    assert "State" not in doc and doc["Tags"] == {"env": "prod"}


def test_eks_cluster_document(clients, estate):
    cluster = find(estate, "eks_cluster", "main")
    doc = docs(collect(clients, "eks_cluster"))[cluster["external_id"]]
    assert doc == {
        "Tags": {"env": "prod"},
        "accessConfig": {"authenticationMode": None},
        "encryptionConfig": [{"keyArn": key_arn(estate), "resources": ["secrets"]}],
        "logging": ["api", "audit"],
        "name": "dw-eks-0",
        "resourcesVpcConfig": {
            "endpointPrivateAccess": True,
            "endpointPublicAccess": True,
            "publicAccessCidrs": ["203.0.113.0/24"],
            "securityGroupIds": cluster["security_group_ids"],
            "subnetIds": sorted(cluster["subnet_ids"]),
            "vpcId": None,  # moto leaves it out
        },
        "roleArn": find(estate, "iam_role", "app")["external_id"],
        "version": "1.29",
    }


def test_dynamodb_table_document(clients, estate):
    table = find(estate, "dynamodb_table", "orders")
    assert docs(collect(clients, "dynamodb_table"))[table["external_id"]] == {
        "BillingMode": "PAY_PER_REQUEST",
        "DeletionProtectionEnabled": True,
        "GlobalSecondaryIndexes": [],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "PointInTimeRecoveryStatus": "ENABLED",
        "ProvisionedThroughput": None,
        "Replicas": [],
        "SSEDescription": {"KMSMasterKeyArn": key_arn(estate), "SSEType": "KMS"},
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "TableClass": "STANDARD",
        "TableName": "dw-orders-0",
        "Tags": {"env": "prod"},
        "TimeToLive": {"AttributeName": "expires_at", "TimeToLiveStatus": "ENABLED"},
    }


def test_secret_document_never_holds_the_value(clients, estate):
    result = collect(clients, "secretsmanager_secret")
    secret = find(estate, "secretsmanager_secret", "db")
    assert docs(result)[secret["external_id"]] == {
        "Description": "database credentials",
        "KmsKeyId": key_arn(estate),
        "Name": "dw/db-0",
        "PrimaryRegion": None,
        "ResourcePolicy": {
            "Statement": [
                {
                    "Action": ["secretsmanager:GetSecretValue"],
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT_ID}:root"]},
                    "Resource": ["*"],
                }
            ],
            "Version": "2012-10-17",
        },
        "RotationEnabled": True,
        "RotationLambdaARN": secret["rotation_function_arn"],
        "RotationRules": {"AutomaticallyAfterDays": 30, "Duration": None, "ScheduleExpression": None},
        "Tags": {"env": "prod"},
    }
    assert "not-a-secret" not in json.dumps(docs(result))
    assert "secretsmanager.GetSecretValue" not in clients.calls_by_operation


# --- failures: recorded under the id the resource is stored as, never a value ----------------------


@pytest.mark.parametrize(
    ("resource_type", "service", "operation"),
    [
        ("ebs_snapshot", "ec2", "DescribeSnapshotAttribute"),
        ("lambda_function", "lambda", "GetFunctionUrlConfig"),
        ("lambda_function", "lambda", "ListTags"),
        ("iam_user", "iam", "GetLoginProfile"),
        ("iam_user", "iam", "ListMFADevices"),
        ("iam_policy", "iam", "GetPolicyVersion"),
        ("sqs_queue", "sqs", "GetQueueAttributes"),
        ("sns_topic", "sns", "ListSubscriptionsByTopic"),
        ("elbv2_load_balancer", "elastic-load-balancing-v2", "DescribeLoadBalancerAttributes"),
        ("eks_cluster", "eks", "DescribeCluster"),
        ("dynamodb_table", "dynamodb", "DescribeTimeToLive"),
        ("secretsmanager_secret", "secrets-manager", "GetResourcePolicy"),
    ],
)
def test_access_denied_on_a_detail_call_is_a_failure_under_the_resources_own_id(
    clients, estate, resource_type, service, operation
):
    inject_error(clients, service, operation, "AccessDenied")
    result = collect(clients, resource_type)
    assert set(result.failed) == {r["external_id"] for r in estate[resource_type]}
    assert result.resources == []
    assert all("AccessDenied" in message and operation in message for message in result.failed.values())


@pytest.mark.parametrize(
    ("operation", "not_configured"),
    [("GetFunctionUrlConfig", "ResourceNotFoundException"), ("GetPolicy", "ResourceNotFoundException")],
)
def test_a_missing_url_or_policy_is_a_value_but_other_errors_are_failures(clients, estate, operation, not_configured):
    function = find(estate, "lambda_function", "api")
    inject_error(clients, "lambda", operation, not_configured, status=404, message="not found")
    got = docs(collect(clients, "lambda_function"))
    key = "FunctionUrlConfig" if operation == "GetFunctionUrlConfig" else "Policy"
    assert got[function["external_id"]][key] is None


def test_a_login_profile_answer_other_than_no_such_entity_is_a_failure(clients, estate):
    inject_error(clients, "iam", "GetLoginProfile", "ServiceFailure", status=500, message="try again")
    result = collect(clients, "iam_user")
    assert set(result.failed) == {r["external_id"] for r in estate["iam_user"]}


# --- shapes moto cannot produce: botocore's Stubber, validated against the service model -----------


def test_iam_user_permissions_boundary_is_read_from_get_user(clients):
    # moto does not implement PutUserPermissionsBoundary (500), so GetUser's boundary cannot come from it.
    iam = clients.client("iam")
    arn = f"arn:aws:iam::{ACCOUNT_ID}:user/bounded"
    user = {"Path": "/", "UserName": "bounded", "UserId": "AIDAEXAMPLE0000000001", "Arn": arn}
    with Stubber(iam) as stub:
        stub.add_response("list_users", {"Users": [{**user, "CreateDate": "2024-01-01T00:00:00Z"}]})
        stub.add_response(
            "get_user",
            {
                "User": {
                    **user,
                    "CreateDate": "2024-01-01T00:00:00Z",
                    "PasswordLastUsed": "2024-06-01T00:00:00Z",
                    "PermissionsBoundary": {
                        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                        "PermissionsBoundaryArn": READONLY_POLICY_ARN,
                    },
                    "Tags": [{"Key": "team", "Value": "a"}],
                }
            },
            {"UserName": "bounded"},
        )
        stub.add_client_error("get_login_profile", "NoSuchEntity", http_status_code=404)
        stub.add_response("list_mfa_devices", {"MFADevices": []})
        stub.add_response(
            "list_access_keys",
            {
                "AccessKeyMetadata": [
                    {"UserName": "bounded", "AccessKeyId": "AKIAEXAMPLE000000002", "Status": "Inactive"},
                    {"UserName": "bounded", "AccessKeyId": "AKIAEXAMPLE000000001", "Status": "Active"},
                ]
            },
        )
        stub.add_response("list_groups_for_user", {"Groups": []})
        stub.add_response("list_attached_user_policies", {"AttachedPolicies": []})
        stub.add_response("list_user_policies", {"PolicyNames": []})
        result = COLLECTORS["iam_user"](clients, "global")
        stub.assert_no_pending_responses()
    assert result.failed == {}
    doc = docs(result)[arn]
    assert doc["PermissionsBoundary"] == READONLY_POLICY_ARN
    assert doc["LoginProfile"] is False
    assert doc["AccessKeys"] == [
        {"AccessKeyId": "AKIAEXAMPLE000000001", "Status": "Active"},
        {"AccessKeyId": "AKIAEXAMPLE000000002", "Status": "Inactive"},
    ]
    assert "PasswordLastUsed" not in json.dumps(doc)


def test_lambda_function_in_a_vpc_with_layers_and_no_url_or_policy(clients):
    client = clients.client("lambda", REGION)
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:vpc-fn"
    layers = [f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:b:3", f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:a:1"]
    function = {
        "FunctionName": "vpc-fn",
        "FunctionArn": arn,
        "Runtime": "nodejs20.x",
        "Role": f"arn:aws:iam::{ACCOUNT_ID}:role/fn",
        "Handler": "index.handler",
        "MemorySize": 128,
        "Timeout": 3,
        "CodeSha256": "abc",
        "LastModified": "2024-01-01T00:00:00.000+0000",
        "VpcConfig": {"SubnetIds": ["subnet-b", "subnet-a"], "SecurityGroupIds": ["sg-1"], "VpcId": "vpc-1"},
        "Layers": [{"Arn": layer, "CodeSize": 10} for layer in layers],
        "Architectures": ["arm64"],
        "PackageType": "Zip",
    }
    with Stubber(client) as stub:
        stub.add_response("list_functions", {"Functions": [function]})
        stub.add_client_error("get_function_url_config", "ResourceNotFoundException", http_status_code=404)
        stub.add_client_error("get_policy", "ResourceNotFoundException", http_status_code=404)
        stub.add_response("list_tags", {"Tags": {}}, {"Resource": arn})
        result = COLLECTORS["lambda_function"](clients, REGION)
        stub.assert_no_pending_responses()
    doc = docs(result)[arn]
    assert (doc["FunctionUrlConfig"], doc["Policy"], doc["TracingConfig"]) == (None, None, "PassThrough")
    assert doc["VpcConfig"] == {
        "Ipv6AllowedForDualStack": None,
        "SecurityGroupIds": ["sg-1"],
        "SubnetIds": ["subnet-a", "subnet-b"],
    }
    assert doc["Layers"] == layers  # layer order decides which file wins: kept as AWS gives it
    assert doc["Architectures"] == ["arm64"]
    assert "CodeSha256" not in doc and "LastModified" not in doc


def test_ebs_snapshot_shared_with_accounts_and_public(clients):
    ec2 = clients.client("ec2", REGION)
    sts = clients.client("sts")
    snapshot = {
        "SnapshotId": "snap-0123456789abcdef0",
        "OwnerId": ACCOUNT_ID,
        "VolumeId": "vol-1",
        "VolumeSize": 8,
        "Encrypted": False,
        "State": "completed",
        "Progress": "100%",
        "StartTime": "2024-01-01T00:00:00Z",
        "Description": "",
    }
    other = {**snapshot, "SnapshotId": "snap-0fedcba9876543210", "OwnerId": "999999999999"}
    with Stubber(ec2) as ec2_stub, Stubber(sts) as sts_stub:
        sts_stub.add_response(
            "get_caller_identity",
            {"Account": ACCOUNT_ID, "Arn": f"arn:aws:iam::{ACCOUNT_ID}:user/dw", "UserId": "AIDAEXAMPLE"},
        )
        ec2_stub.add_response("describe_snapshots", {"Snapshots": [snapshot, other]})
        ec2_stub.add_response(
            "describe_snapshot_attribute",
            {
                "SnapshotId": snapshot["SnapshotId"],
                "CreateVolumePermissions": [{"UserId": "222222222222"}, {"Group": "all"}, {"UserId": "111111111111"}],
            },
            {"SnapshotId": snapshot["SnapshotId"], "Attribute": "createVolumePermission"},
        )
        result = COLLECTORS["ebs_snapshot"](clients, REGION)
        ec2_stub.assert_no_pending_responses()
    assert set(docs(result)) == {snapshot["SnapshotId"]}  # another owner's snapshot is never described
    assert docs(result)[snapshot["SnapshotId"]]["CreateVolumePermission"] == {
        "Public": True,
        "UserIds": ["111111111111", "222222222222"],
    }


# --- every new type, whole -------------------------------------------------------------------------


def test_every_new_type_collects_every_seeded_resource_and_nothing_else(clients, estate):
    for resource_type in NEW_TYPES:
        result = collect(clients, resource_type)
        assert result.failed == {}, resource_type
        assert {(r.external_id, r.name, r.region) for r in result.resources} == {
            (r["external_id"], r["name"], r["region"]) for r in estate[resource_type]
        }, resource_type


# --- the documented read-only policy ---------------------------------------------------------------

OPERATIONS_MD = Path(__file__).resolve().parents[2] / "docs" / "operations.md"

# botocore's service id (as the call counter spells it) -> the IAM service prefix
IAM_PREFIX = {"elastic-load-balancing-v2": "elasticloadbalancing", "secrets-manager": "secretsmanager"}
# API operations authorised by an IAM action of another name
IAM_ACTION = {
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
}


def documented_actions() -> set[str]:
    text = OPERATIONS_MD.read_text()
    block = re.search(r"### 1\. The permissions policy.*?```json\n(.*?)```", text, re.S).group(1)
    [statement] = json.loads(block)["Statement"]
    assert statement["Effect"] == "Allow" and statement["Resource"] == "*"
    return set(statement["Action"])


def test_the_documented_read_only_policy_lists_exactly_the_calls_the_collectors_make(clients, estate):
    for region, resource_type in scan_units([REGION]):
        assert COLLECTORS[resource_type](clients, region).failed == {}, resource_type
    called = set()
    for operation in clients.calls_by_operation:
        service, name = operation.split(".", 1)
        action = f"{IAM_PREFIX.get(service, service)}:{name}"
        called.add(IAM_ACTION.get(action, action))
    called.add("sts:GetCallerIdentity")  # the connection check, made outside the collectors
    assert documented_actions() == called
    assert all(not action.split(":")[1].startswith(("Put", "Create", "Delete", "Update")) for action in called)


# --- pagination ------------------------------------------------------------------------------------


def test_queues_are_read_across_pages(clients, estate, monkeypatch):
    # (moto ignores MaxItems on ListUsers and MaxResults on DescribeVolumes/DescribeSnapshots: one page.)
    from providers.collectors import sqs

    monkeypatch.setattr(sqs, "PAGE_SIZE", 1)

    queues = collect(clients, "sqs_queue")

    assert {r.external_id for r in queues.resources} == {r["external_id"] for r in estate["sqs_queue"]}
    assert clients.calls_by_operation["sqs.ListQueues"] == 2  # one queue per page
