"""pytest fixtures and moto estate seeding shared by tests, the demo and the benchmarks (no Django).

Load as a plugin (`pytest_plugins = ["providers.testing"]` or `-p providers.testing`) to get:
  moto_server  session: a ThreadedMotoServer on 127.0.0.1, fake credentials in the environment
  moto         function: the same endpoint with all moto state reset first
  moto_clients function: an AwsClients (fake credentials) on a freshly reset server
`seed_estate`, `apply_changes` and `revert_changes` work against any moto endpoint, inside or outside pytest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config

from providers.collectors.base import AwsClients, canonical_json
from providers.collectors.s3 import bucket_arn

FAKE_ACCESS_KEY = "testing"
FAKE_SECRET_KEY = "testing"
ACCOUNT_ID = "123456789012"  # moto's default account
ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
READONLY_POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"

# Set for the whole test session so nothing can reach a real account or the instance metadata service.
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_KEY,
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",  # AdministratorAccess & co. exist only with this
}
# Removed for the session: any of them would make boto3 look for real credentials or another endpoint.
SCRUBBED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
)


# --- sessions and clients -----------------------------------------------------------------------


def fake_session(region: str = "us-east-1") -> boto3.Session:
    """A boto3 Session with static fake credentials that reads no config or credentials file."""
    # (instance var, env var, default, conversion): no env var, so AWS_PROFILE/AWS_CONFIG_FILE are ignored.
    core = botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
        }
    )
    core.set_credentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY)
    return boto3.Session(botocore_session=core, region_name=region)


def aws_clients(endpoint_url: str, **kw: Any) -> AwsClients:
    """An AwsClients for a moto endpoint, with static fake credentials."""
    return AwsClients(fake_session(kw.get("default_region", "us-east-1")), endpoint_url=endpoint_url, **kw)


def reset_moto(endpoint_url: str) -> None:
    """Wipe every moto backend (all services, all regions)."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Start one moto server for the session; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    saved = {key: os.environ.get(key) for key in (*FAKE_ENV, *SCRUBBED_ENV)}
    for key in SCRUBBED_ENV:
        os.environ.pop(key, None)
    os.environ.update(FAKE_ENV)  # before start: moto reads MOTO_IAM_LOAD_MANAGED_POLICIES per backend
    werkzeug_logger = logging.getLogger("werkzeug")
    saved_level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.WARNING)  # one access-log line per request drowns test output
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug_logger.setLevel(saved_level)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def moto(moto_server: str) -> str:
    """The moto endpoint with all state reset for this test."""
    reset_moto(moto_server)
    return moto_server


@pytest.fixture
def moto_clients(moto: str) -> AwsClients:
    """An AwsClients pointed at a freshly reset moto server."""
    return aws_clients(moto)


# --- estate seeding -------------------------------------------------------------------------------

_SEED_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})  # moto can 500 under load


class _Seeder:
    """Creates clients lazily for one endpoint; seeding is serial on purpose."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self.session = fake_session()
        self._clients: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str = "us-east-1") -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.session.client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=_SEED_CONFIG
            )
        return self._clients[key]


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _record(resource_type: str, external_id: str, name: str, region: str, **extra: Any) -> dict:
    return {
        "resource_type": resource_type,
        "external_id": external_id,
        "name": name,
        "region": region,
        **extra,
    }


def trust_policy(principal: dict, condition: dict | None = None) -> str:
    """An sts:AssumeRole trust policy for a principal."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _seed_iam(c: _Seeder, prefix: str, scale: int, out: dict) -> None:
    iam = c("iam")
    # One service-linked role: present in ListRoles, never collected.
    iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")
    for i in range(scale):
        policy_arn = iam.create_policy(
            PolicyName=f"{prefix}-app-policy-{i}",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
                }
            ),
        )["Policy"]["Arn"]

        app = f"{prefix}-app-{i}"
        role = iam.create_role(
            RoleName=app,
            AssumeRolePolicyDocument=trust_policy({"Service": "ec2.amazonaws.com"}),
            MaxSessionDuration=7200,
            Tags=_tag_list({"env": "prod", "team": "platform"}),
        )["Role"]
        iam.attach_role_policy(RoleName=app, PolicyArn=READONLY_POLICY_ARN)
        iam.attach_role_policy(RoleName=app, PolicyArn=policy_arn)
        # Statement as a lone object and unsorted lists: the collector must normalize both.
        iam.put_role_policy(
            RoleName=app,
            PolicyName="s3-read",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": {
                        "Effect": "Allow",
                        "Action": ["s3:ListBucket", "s3:GetObject"],
                        "Resource": [f"arn:aws:s3:::{prefix}-data/*", f"arn:aws:s3:::{prefix}-data"],
                    },
                }
            ),
        )
        out["iam_role"].append(
            _record("iam_role", role["Arn"], app, "global", id=app, kind="app", managed_policy_arn=policy_arn)
        )

        deploy = f"{prefix}-deploy-{i}"
        role = iam.create_role(
            RoleName=deploy,
            Path="/ci/",
            AssumeRolePolicyDocument=trust_policy(
                {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                {"StringEquals": {"sts:ExternalId": "dw-external"}},
            ),
            PermissionsBoundary=READONLY_POLICY_ARN,
            Tags=_tag_list({"env": "ci"}),
        )["Role"]
        for policy_name, action in (("deploy-ecr", "ecr:*"), ("deploy-logs", "logs:PutLogEvents")):
            iam.put_role_policy(
                RoleName=deploy,
                PolicyName=policy_name,
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
                    }
                ),
            )
        out["iam_role"].append(_record("iam_role", role["Arn"], deploy, "global", id=deploy, kind="deploy"))

        worker = f"{prefix}-worker-{i}"
        role = iam.create_role(
            RoleName=worker,
            AssumeRolePolicyDocument=trust_policy({"Service": "lambda.amazonaws.com"}),
            Tags=_tag_list({"Name": f"worker-role-{i}"}),
        )["Role"]
        out["iam_role"].append(_record("iam_role", role["Arn"], f"worker-role-{i}", "global", id=worker, kind="worker"))


def _seed_region(c: _Seeder, region: str, prefix: str, scale: int, out: dict, first: bool) -> None:
    s3, ec2, rds, kms, cloudtrail = (c(s, region) for s in ("s3", "ec2", "rds", "kms", "cloudtrail"))
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}

    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    default_sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    out["ec2_security_group"].append(
        _record("ec2_security_group", default_sg, "default", region, id=default_sg, kind="default", vpc_id=vpc_id)
    )
    prefix_list = ec2.create_managed_prefix_list(
        PrefixListName=f"{prefix}-corp", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": "10.0.0.0/8"}]
    )["PrefixList"]["PrefixListId"]

    for i in range(scale):
        # --- KMS (first: buckets and databases use these keys)
        # KeyUsage given explicitly: moto leaves it out of KeyMetadata otherwise (AWS never does).
        app_key = kms.create_key(
            Description=f"{prefix} application key {i}",
            KeyUsage="ENCRYPT_DECRYPT",
            Tags=[{"TagKey": "env", "TagValue": "prod"}],
        )["KeyMetadata"]
        kms.create_alias(AliasName=f"alias/{prefix}-app-{i}", TargetKeyId=app_key["KeyId"])
        kms.enable_key_rotation(KeyId=app_key["KeyId"])
        data_key = kms.create_key(
            Description=f"{prefix} data key {i}",
            KeyUsage="ENCRYPT_DECRYPT",
            Tags=[{"TagKey": "Name", "TagValue": f"data-key-{i}"}],
        )["KeyMetadata"]
        kms.create_alias(AliasName=f"alias/{prefix}-data-{i}", TargetKeyId=data_key["KeyId"])
        kms.create_alias(AliasName=f"alias/{prefix}-backup-{i}", TargetKeyId=data_key["KeyId"])
        sign_key = kms.create_key(Description=f"{prefix} signing key {i}", KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")[
            "KeyMetadata"
        ]
        retired_key = kms.create_key(Description=f"{prefix} retired key {i}", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
        kms.schedule_key_deletion(KeyId=retired_key["KeyId"], PendingWindowInDays=7)
        for kind, meta, name in (
            ("app", app_key, f"{prefix}-app-{i}"),
            ("data", data_key, f"data-key-{i}"),
            ("sign", sign_key, sign_key["KeyId"]),
            ("retired", retired_key, retired_key["KeyId"]),
        ):
            out["kms_key"].append(_record("kms_key", meta["Arn"], name, region, id=meta["KeyId"], kind=kind))

        # --- S3
        logs = f"{prefix}-{i}-logs-{region}"
        s3.create_bucket(Bucket=logs, ACL="log-delivery-write", **location)
        s3.put_bucket_versioning(Bucket=logs, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_versioning(Bucket=logs, VersioningConfiguration={"Status": "Suspended"})
        s3.put_bucket_encryption(
            Bucket=logs,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": app_key["Arn"],
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        s3.put_bucket_tagging(Bucket=logs, Tagging={"TagSet": _tag_list({"env": "prod", "purpose": "logs"})})

        locked = f"{prefix}-{i}-locked-{region}"
        s3.create_bucket(Bucket=locked, **location)
        s3.put_public_access_block(
            Bucket=locked,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_versioning(Bucket=locked, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=locked,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_bucket_tagging(
            Bucket=locked, Tagging={"TagSet": _tag_list({"Name": f"locked-{region}-{i}", "env": "prod"})}
        )

        app = f"{prefix}-{i}-app-{region}"
        s3.create_bucket(Bucket=app, **location)
        s3.put_bucket_logging(
            Bucket=app, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "app/"}}
        )
        s3.put_bucket_policy(
            Bucket=app,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [f"arn:aws:s3:::{app}/*", f"arn:aws:s3:::{app}"],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            ),
        )
        s3.put_bucket_tagging(Bucket=app, Tagging={"TagSet": _tag_list({"owner": "team-a", "env": "prod"})})

        plain = f"{prefix}-{i}-plain-{region}"
        s3.create_bucket(Bucket=plain, **location)

        for kind, bucket, name in (
            ("logs", logs, logs),
            ("locked", locked, f"locked-{region}-{i}"),
            ("app", app, app),
            ("plain", plain, plain),
        ):
            out["s3_bucket"].append(_record("s3_bucket", bucket_arn(bucket), name, region, id=bucket, kind=kind))

        # --- EC2 security groups
        web = ec2.create_security_group(
            GroupName=f"{prefix}-web-{i}",
            Description="web tier",
            VpcId=vpc_id,
            TagSpecifications=[
                {"ResourceType": "security-group", "Tags": _tag_list({"Name": f"web-{i}", "env": "prod"})}
            ],
        )["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=web,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}],
                    "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                },
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            ],
        )
        db = ec2.create_security_group(GroupName=f"{prefix}-db-{i}", Description="database tier", VpcId=vpc_id)[
            "GroupId"
        ]
        ec2.authorize_security_group_ingress(
            GroupId=db,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 5432,
                    "ToPort": 5432,
                    "UserIdGroupPairs": [{"GroupId": web, "Description": "from web"}],
                    "PrefixListIds": [{"PrefixListId": prefix_list}],
                }
            ],
        )
        # Replace the allow-all egress with HTTPS only.
        ec2.revoke_security_group_egress(
            GroupId=db, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        )
        ec2.authorize_security_group_egress(
            GroupId=db,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        )
        mgmt = ec2.create_security_group(GroupName=f"{prefix}-mgmt-{i}", Description="management", VpcId=vpc_id)[
            "GroupId"
        ]
        ec2.authorize_security_group_ingress(
            GroupId=mgmt,
            IpPermissions=[
                {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
            ],
        )
        for kind, group_id, name in (
            ("web", web, f"web-{i}"),
            ("db", db, f"{prefix}-db-{i}"),
            ("mgmt", mgmt, f"{prefix}-mgmt-{i}"),
        ):
            out["ec2_security_group"].append(
                _record(
                    "ec2_security_group",
                    group_id,
                    name,
                    region,
                    id=group_id,
                    kind=kind,
                    vpc_id=vpc_id,
                    prefix_list_id=prefix_list,
                )
            )

        # --- RDS
        pg = f"{prefix}-pg-{i}"
        instance = rds.create_db_instance(
            DBInstanceIdentifier=pg,
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            StorageType="gp3",
            MasterUsername="dwadmin",
            MasterUserPassword="not-a-secret-1",
            VpcSecurityGroupIds=[db],
            PubliclyAccessible=False,  # moto leaves the attribute out entirely when not given
            StorageEncrypted=True,
            KmsKeyId=app_key["Arn"],
            BackupRetentionPeriod=7,
            EnableIAMDatabaseAuthentication=True,
            Tags=_tag_list({"env": "prod"}),
        )["DBInstance"]
        out["rds_instance"].append(_record("rds_instance", instance["DBInstanceArn"], pg, region, id=pg, kind="pg"))
        my = f"{prefix}-my-{i}"
        instance = rds.create_db_instance(
            DBInstanceIdentifier=my,
            Engine="mysql",
            DBInstanceClass="db.t3.small",
            AllocatedStorage=50,
            MasterUsername="dwadmin",
            MasterUserPassword="not-a-secret-1",
            VpcSecurityGroupIds=[db, mgmt],
            PubliclyAccessible=False,
            MultiAZ=True,
            DeletionProtection=True,
            Tags=_tag_list({"Name": f"mysql-{i}"}),
        )["DBInstance"]
        out["rds_instance"].append(
            _record("rds_instance", instance["DBInstanceArn"], f"mysql-{i}", region, id=my, kind="mysql")
        )

        # --- CloudTrail
        if first:
            org = f"{prefix}-org-{i}"
            trail = cloudtrail.create_trail(
                Name=org,
                S3BucketName=logs,
                IsMultiRegionTrail=True,
                EnableLogFileValidation=True,
                IncludeGlobalServiceEvents=True,
                TagsList=_tag_list({"env": "prod"}),
            )
            cloudtrail.start_logging(Name=org)
            out["cloudtrail_trail"].append(
                _record("cloudtrail_trail", trail["TrailARN"], org, region, id=org, kind="org")
            )
        local = f"{prefix}-local-{region}-{i}"
        trail = cloudtrail.create_trail(
            Name=local, S3BucketName=logs, S3KeyPrefix="local", IncludeGlobalServiceEvents=False
        )
        out["cloudtrail_trail"].append(
            _record("cloudtrail_trail", trail["TrailARN"], local, region, id=local, kind="local")
        )


RESOURCE_TYPES = (
    "s3_bucket",
    "ec2_security_group",
    "iam_role",
    "rds_instance",
    "kms_key",
    "cloudtrail_trail",
)


def seed_estate(
    endpoint_url: str, regions: Sequence[str] = ("us-east-1", "eu-west-1"), scale: int = 1, prefix: str = "dw"
) -> dict:
    """Create a realistic estate of every collected type in moto (serially) and describe what was made.

    Per region and per unit of `scale`: 4 buckets (logs, locked, app, plain), 3 security groups (web, db,
    mgmt) besides the default one, 2 DB instances, 4 KMS keys (app, data, sign, retired) and a
    single-region trail; plus, in the first region, a multi-region trail with logging on. Per unit of
    scale, 3 IAM roles (app, deploy, worker) and once a service-linked role that is never collected.
    The result maps each resource type to records {resource_type, external_id, name (the expected
    collected name), region, id (natural id), kind, ...} and "targets" to the records apply_changes edits.
    Expects a reset server (names are fixed by prefix, region and index).
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    c = _Seeder(endpoint_url)
    estate: dict[str, Any] = {
        "endpoint_url": endpoint_url,
        "account_id": ACCOUNT_ID,
        "regions": list(regions),
        "scale": scale,
        "prefix": prefix,
        **{resource_type: [] for resource_type in RESOURCE_TYPES},
    }
    _seed_iam(c, prefix, scale, estate)
    for index, region in enumerate(regions):
        _seed_region(c, region, prefix, scale, estate, first=index == 0)

    def pick(resource_type: str, kind: str) -> dict:
        return next(r for r in estate[resource_type] if r["kind"] == kind)

    estate["targets"] = {
        "public_access_block": pick("s3_bucket", "locked"),
        "open_ssh": pick("ec2_security_group", "web"),
        "admin_role": pick("iam_role", "app"),
        "public_db": pick("rds_instance", "pg"),
        "rotation": pick("kms_key", "app"),
        "logging": pick(
            "cloudtrail_trail",
            "org" if any(r["kind"] == "org" for r in estate["cloudtrail_trail"]) else "local",
        ),
        "tag": pick("s3_bucket", "app"),
    }
    return estate


# --- drift scenarios -------------------------------------------------------------------------------

SSH_FROM_ANYWHERE = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
SSH_RULE = {"Description": None, "FromPort": 22, "IpProtocol": "tcp", "Source": "0.0.0.0/0", "ToPort": 22}
APP_BUCKET_TAGS = {"owner": "team-a", "env": "prod"}


def element_path(path: str, element: Any) -> str:
    """The drifts.diff path of a list element: `[<json>]` for a scalar, `[#<sha256 prefix>]` otherwise."""
    text = canonical_json(element)
    ident = "#" + hashlib.sha256(text.encode()).hexdigest()[:12] if isinstance(element, dict | list) else text
    return f"{path}[{ident}]"


def _change(target: dict, path: str, op: str, baseline: Any, current: Any, description: str) -> dict:
    return {
        "resource_type": target["resource_type"],
        "external_id": target["external_id"],
        "region": target["region"],
        "path": path,
        "op": op,
        "baseline": baseline,
        "current": current,
        "description": description,
    }


def apply_changes(endpoint_url: str, estate: dict) -> list[dict]:
    """Make one realistic drift on each of seven seeded resources; returns what changed and where.

    Each change is {resource_type, external_id, region, path, op, baseline, current, description}, with
    path/op/baseline/current spelled as drifts.diff reports them (a list element is named by identity,
    e.g. `IngressRules[#...]`, `AttachedManagedPolicies["arn:..."]`).
    """
    c = _Seeder(endpoint_url)
    t = estate["targets"]
    changes = []

    bucket = t["public_access_block"]
    c("s3", bucket["region"]).put_public_access_block(
        Bucket=bucket["id"],
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    changes.append(
        _change(bucket, "PublicAccessBlock.BlockPublicAcls", "changed", True, False, "BlockPublicAcls turned off")
    )

    group = t["open_ssh"]
    c("ec2", group["region"]).authorize_security_group_ingress(GroupId=group["id"], IpPermissions=[SSH_FROM_ANYWHERE])
    changes.append(
        _change(
            group,
            element_path("IngressRules", SSH_RULE),
            "added",
            None,
            SSH_RULE,
            "SSH (tcp/22) opened to 0.0.0.0/0",
        )
    )

    role = t["admin_role"]
    c("iam").attach_role_policy(RoleName=role["id"], PolicyArn=ADMIN_POLICY_ARN)
    changes.append(
        _change(
            role,
            element_path("AttachedManagedPolicies", ADMIN_POLICY_ARN),
            "added",
            None,
            ADMIN_POLICY_ARN,
            "AdministratorAccess attached",
        )
    )

    db = t["public_db"]
    c("rds", db["region"]).modify_db_instance(
        DBInstanceIdentifier=db["id"], PubliclyAccessible=True, ApplyImmediately=True
    )
    changes.append(_change(db, "PubliclyAccessible", "changed", False, True, "DB instance made publicly accessible"))

    key = t["rotation"]
    c("kms", key["region"]).disable_key_rotation(KeyId=key["id"])
    changes.append(_change(key, "KeyRotationEnabled", "changed", True, False, "automatic key rotation disabled"))

    trail = t["logging"]
    was_logging = trail["kind"] == "org"  # the multi-region trail is seeded logging, local ones are not
    client = c("cloudtrail", trail["region"])
    if was_logging:
        client.stop_logging(Name=trail["external_id"])
    else:
        client.start_logging(Name=trail["external_id"])
    changes.append(_change(trail, "IsLogging", "changed", was_logging, not was_logging, "trail logging switched"))

    tagged = t["tag"]
    c("s3", tagged["region"]).put_bucket_tagging(
        Bucket=tagged["id"], Tagging={"TagSet": _tag_list({**APP_BUCKET_TAGS, "owner": "team-b"})}
    )
    changes.append(_change(tagged, "Tags.owner", "changed", "team-a", "team-b", "tag owner changed"))
    return changes


def revert_changes(endpoint_url: str, estate: dict) -> None:
    """Undo apply_changes so the estate collects exactly as seeded again."""
    c = _Seeder(endpoint_url)
    t = estate["targets"]

    bucket = t["public_access_block"]
    c("s3", bucket["region"]).put_public_access_block(
        Bucket=bucket["id"],
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    group = t["open_ssh"]
    c("ec2", group["region"]).revoke_security_group_ingress(GroupId=group["id"], IpPermissions=[SSH_FROM_ANYWHERE])
    role = t["admin_role"]
    c("iam").detach_role_policy(RoleName=role["id"], PolicyArn=ADMIN_POLICY_ARN)
    db = t["public_db"]
    c("rds", db["region"]).modify_db_instance(
        DBInstanceIdentifier=db["id"], PubliclyAccessible=False, ApplyImmediately=True
    )
    key = t["rotation"]
    c("kms", key["region"]).enable_key_rotation(KeyId=key["id"])
    trail = t["logging"]
    client = c("cloudtrail", trail["region"])
    if trail["kind"] == "org":
        client.start_logging(Name=trail["external_id"])
    else:
        client.stop_logging(Name=trail["external_id"])
    tagged = t["tag"]
    c("s3", tagged["region"]).put_bucket_tagging(Bucket=tagged["id"], Tagging={"TagSet": _tag_list(APP_BUCKET_TAGS)})
