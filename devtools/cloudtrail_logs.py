"""CloudTrail records and log files as CloudTrail writes them, for moto's S3 (no Django).

moto records no CloudTrail events. These helpers build records in CloudTrail's log-file format
(eventVersion 1.09: userIdentity, eventTime, eventSource, eventName, requestParameters, ...) for each
identity type, and write them gzipped under the real key layout:
  <prefix>/AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail_<region>_<time>_<id>.json.gz
  <prefix>/AWSLogs/<org id>/<account>/CloudTrail/...   (an organization trail)
`change_records` turns what devtools.changes.apply_changes did into the calls that did it.
"""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from devtools.fake_aws import ACCOUNT_ID

# --- userIdentity blocks, one per identity type -----------------------------------------------------------


def iam_user(name: str, account: str = ACCOUNT_ID) -> dict:
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + uuid.uuid5(uuid.NAMESPACE_DNS, name).hex[:16].upper(),
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": "AKIA" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:16].upper(),
        "userName": name,
    }


def assumed_role(role: str, session: str, account: str = ACCOUNT_ID, path: str = "/") -> dict:
    role_id = "AROA" + uuid.uuid5(uuid.NAMESPACE_DNS, role).hex[:16].upper()
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": "ASIA" + uuid.uuid5(uuid.NAMESPACE_URL, role + session).hex[:16].upper(),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account}:role{path}{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-11-29T08:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def sso_user(email: str, permission_set: str = "AdministratorAccess", account: str = ACCOUNT_ID) -> dict:
    """An IAM Identity Center user: an AWSReservedSSO_* role whose session name is the person's user name."""
    role = f"AWSReservedSSO_{permission_set}_0123456789abcdef"
    return assumed_role(role, email, account, path="/aws-reserved/sso.amazonaws.com/")


def root(account: str = ACCOUNT_ID) -> dict:
    return {
        "type": "Root",
        "principalId": account,
        "arn": f"arn:aws:iam::{account}:root",
        "accountId": account,
        "accessKeyId": "ASIAROOTSESSION00001",
    }


def aws_service(service: str) -> dict:
    return {"type": "AWSService", "invokedBy": service}


def identity_center_user(user_id: str, account: str = ACCOUNT_ID) -> dict:
    return {
        "type": "IdentityCenterUser",
        "accountId": account,
        "onBehalfOf": {
            "userId": user_id,
            "identityStoreArn": "arn:aws:identitystore::123456789012:identitystore/d-1234567890",
        },
        "credentialId": "credential-" + user_id,
    }


# --- records -----------------------------------------------------------------------------------------------


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(
    event_name: str,
    event_source: str,
    region: str,
    identity: dict,
    request_parameters: dict | None,
    *,
    when: datetime | None = None,
    response_elements: dict | None = None,
    read_only: bool = False,
    source_ip: str = "203.0.113.9",
    user_agent: str = "aws-cli/2.17.0 Python/3.11.9 Linux/6.1 exe/x86_64",
    account: str = ACCOUNT_ID,
    resources: list[dict] | None = None,
) -> dict:
    """One management event in CloudTrail's log-file format."""
    if identity.get("type") == "AWSService":
        source_ip = user_agent = identity["invokedBy"]
    out: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": iso(when or datetime.now(UTC)),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": request_parameters,
        "responseElements": response_elements,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"},
    }
    if resources:
        out["resources"] = resources
    return out


def log_key(account: str, region: str, delivered: datetime, *, prefix: str = "", org_id: str | None = None) -> str:
    """The object key CloudTrail gives a log file delivered at `delivered`."""
    base = f"{prefix.strip('/')}/AWSLogs/" if prefix.strip("/") else "AWSLogs/"
    if org_id:
        base += f"{org_id}/"
    stamp = delivered.astimezone(UTC)
    name = f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_{uuid.uuid4().hex[:16]}.json.gz"
    return f"{base}{account}/CloudTrail/{region}/{stamp:%Y/%m/%d}/{name}"


def write_log_file(
    s3: Any,
    bucket: str,
    records: list[dict],
    *,
    region: str,
    account: str = ACCOUNT_ID,
    prefix: str = "",
    org_id: str | None = None,
    delivered: datetime | None = None,
) -> str:
    """Write one gzipped log file holding `records`; returns its key."""
    key = log_key(account, region, delivered or datetime.now(UTC), prefix=prefix, org_id=org_id)
    body = gzip.compress(json.dumps({"Records": records}).encode())
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", ContentEncoding="gzip")
    return key


# --- the calls behind devtools.changes ------------------------------------------------------------------------


def _tail(arn: str) -> str:
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]


def change_record(change: dict, identity: dict, when: datetime | None = None) -> dict:
    """The CloudTrail record of the call apply_changes made for one change (see devtools.changes)."""
    kind, arn, region = change["resource_type"], change["external_id"], change["region"]
    if kind == "s3_bucket" and change["path"].startswith("PublicAccessBlock"):
        bucket = arn.removeprefix("arn:aws:s3:::")
        params = {
            "bucketName": bucket,
            "publicAccessBlock": "",
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": False, "IgnorePublicAcls": True},
            "Host": f"{bucket}.s3.amazonaws.com",
        }
        return record("PutBucketPublicAccessBlock", "s3.amazonaws.com", region, identity, params, when=when)
    if kind == "s3_bucket":
        bucket = arn.removeprefix("arn:aws:s3:::")
        params = {"bucketName": bucket, "tagging": "", "Host": f"{bucket}.s3.amazonaws.com"}
        return record("PutBucketTagging", "s3.amazonaws.com", region, identity, params, when=when)
    if kind == "ec2_security_group":
        rule = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}
        params = {"groupId": arn, "ipPermissions": {"items": [rule]}}
        response = {"_return": True, "securityGroupRuleSet": {"items": [{"groupId": arn, "isEgress": False}]}}
        return record(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            region,
            identity,
            params,
            when=when,
            response_elements=response,
        )
    if kind == "iam_role":
        params = {"roleName": _tail(arn), "policyArn": change["current"]}
        return record("AttachRolePolicy", "iam.amazonaws.com", "us-east-1", identity, params, when=when)
    if kind == "rds_instance":
        params = {"dBInstanceIdentifier": _tail(arn), "publiclyAccessible": True, "applyImmediately": True}
        return record("ModifyDBInstance", "rds.amazonaws.com", region, identity, params, when=when)
    if kind == "kms_key":
        return record("DisableKeyRotation", "kms.amazonaws.com", region, identity, {"keyId": arn}, when=when)
    if kind == "cloudtrail_trail":
        name = "StartLogging" if change["current"] else "StopLogging"
        return record(name, "cloudtrail.amazonaws.com", region, identity, {"name": arn}, when=when)
    call = _newer_type_call(change)
    if call is None:
        raise ValueError(f"no CloudTrail record for a {kind} change")
    name, source, params = call
    if kind in ("iam_user", "iam_policy"):
        region = "us-east-1"  # IAM is a global service: its events are recorded in us-east-1
    return record(name, source, region, identity, params, when=when)


def _newer_type_call(change: dict) -> tuple[str, str, dict] | None:
    """(eventName, eventSource, requestParameters) of the call behind one of the newer types' changes."""
    kind, arn, path, region = change["resource_type"], change["external_id"], change["path"], change["region"]
    top = path.split(".", 1)[0].split("[", 1)[0]
    ec2 = "ec2.amazonaws.com"
    if kind in ("ec2_instance", "ebs_volume") and top == "Tags":
        return "CreateTags", ec2, {"resourcesSet": {"items": [{"resourceId": arn}]}, "tagSet": {"items": []}}
    if kind == "ec2_instance" and top == "MetadataOptions":
        request = {"InstanceId": arn, "HttpTokens": change["current"]}
        return "ModifyInstanceMetadataOptions", ec2, {"ModifyInstanceMetadataOptionsRequest": request}
    if kind == "ec2_instance" and top == "PublicIpAssociated":
        return "AssociateAddress", ec2, {"instanceId": arn, "allocationId": "eipalloc-0123456789abcdef0"}
    if kind == "ebs_snapshot":
        permission = {"add": {"items": [{"group": "all"}]}}
        params = {"snapshotId": arn, "createVolumePermission": permission, "attributeType": "CREATE_VOLUME_PERMISSION"}
        return "ModifySnapshotAttribute", ec2, params
    if kind == "lambda_function" and top == "FunctionUrlConfig":
        return "UpdateFunctionUrlConfig", "lambda.amazonaws.com", {"functionName": _tail(arn), "authType": "NONE"}
    if kind == "lambda_function" and top == "Policy":
        params = {
            "functionName": _tail(arn),
            "statementId": "public",
            "action": "lambda:InvokeFunction",
            "principal": "*",
        }
        return "AddPermission20150331v2", "lambda.amazonaws.com", params
    if kind == "sqs_queue":
        account, name = arn.split(":")[4:6]
        url = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
        return "SetQueueAttributes", "sqs.amazonaws.com", {"queueUrl": url, "attributes": {"Policy": "{}"}}
    if kind == "sns_topic":
        params = {"topicArn": arn, "attributeName": "Policy", "attributeValue": "{}"}
        return "SetTopicAttributes", "sns.amazonaws.com", params
    if kind == "iam_user":
        user = {"userName": _tail(arn)}
        calls = {
            "LoginProfile": "CreateLoginProfile",
            "AccessKeys": "CreateAccessKey",
            "MFADevices": "DeactivateMFADevice",
        }
        return (calls[top], "iam.amazonaws.com", user) if top in calls else None
    if kind == "iam_policy":
        params = {"policyArn": arn, "policyDocument": "{}", "setAsDefault": True}
        return "CreatePolicyVersion", "iam.amazonaws.com", params
    if kind == "elbv2_load_balancer" and path.endswith("SslPolicy"):
        listener = arn.replace(":loadbalancer/", ":listener/", 1) + "/0123456789abcdef"
        return "ModifyListener", "elasticloadbalancing.amazonaws.com", {"listenerArn": listener, "sslPolicy": "old"}
    if kind == "elbv2_load_balancer":
        return "CreateListener", "elasticloadbalancing.amazonaws.com", {"loadBalancerArn": arn, "protocol": "HTTP"}
    if kind == "eks_cluster":
        params = {"name": _tail(arn), "resourcesVpcConfig": {"publicAccessCidrs": ["0.0.0.0/0"]}}
        return "UpdateClusterConfig", "eks.amazonaws.com", params
    if kind == "dynamodb_table" and top == "PointInTimeRecoveryStatus":
        params = {"tableName": _tail(arn), "pointInTimeRecoverySpecification": {"pointInTimeRecoveryEnabled": False}}
        return "UpdateContinuousBackups", "dynamodb.amazonaws.com", params
    if kind == "dynamodb_table":
        return "UpdateTable", "dynamodb.amazonaws.com", {"tableName": _tail(arn), "deletionProtectionEnabled": False}
    if kind == "secretsmanager_secret" and top == "RotationEnabled":
        return "CancelRotateSecret", "secretsmanager.amazonaws.com", {"secretId": arn}
    if kind == "secretsmanager_secret":
        return "PutResourcePolicy", "secretsmanager.amazonaws.com", {"secretId": arn, "resourcePolicy": "{}"}
    return None


# People of the demo: one identity type each, in the order apply_changes makes its changes.
DEMO_IDENTITIES = (
    sso_user("alice@example.com", "AdministratorAccess"),
    iam_user("bob"),
    assumed_role("deploy-pipeline", "gha-run-4711"),
    root(),
    aws_service("cloudformation.amazonaws.com"),
    identity_center_user("carol-7f3a"),
    iam_user("dave"),
)


def trail_bucket(estate: dict) -> str:
    """The bucket the estate's multi-region trail delivers to (the first region's logs bucket)."""
    first = estate["regions"][0]
    return next(b["id"] for b in estate["s3_bucket"] if b["kind"] == "logs" and b["region"] == first)


def log_changes(s3: Any, estate: dict, changes: list[dict], when: datetime | None = None) -> list[str]:
    """Write the CloudTrail records of apply_changes' calls to the estate's trail bucket; returns the keys."""
    when = when or datetime.now(UTC)
    by_region: dict[str, list[dict]] = {}
    for index, change in enumerate(changes):
        identity = DEMO_IDENTITIES[index % len(DEMO_IDENTITIES)]
        rec = change_record(change, identity, when=when)
        by_region.setdefault(rec["awsRegion"], []).append(rec)
    bucket = trail_bucket(estate)
    return [
        write_log_file(s3, bucket, records, region=region, delivered=when)
        for region, records in sorted(by_region.items())
    ]
