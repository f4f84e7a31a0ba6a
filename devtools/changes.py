"""Realistic drifts on a seeded estate (devtools.estate), one or more per resource type, and their undoing.

No Django. The first seven are the classic mistakes; the rest are where incidents on the newer types
start (IMDSv1, a function URL without auth, open resource policies, console access, an EKS endpoint open
to the world, ...). Every change has its own path, so a finding is known by its path alone.

apply_changes makes one change on each target of the estate and reports it the way drifts.diff spells
it; revert_changes restores what was seeded, so the estate collects exactly as seeded again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from devtools.fake_aws import ADMIN_POLICY_ARN, SeedClients, tag_list
from providers.collectors.base import canonical_json, normalize_policy

SSH_FROM_ANYWHERE = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
SSH_RULE = {"Description": None, "FromPort": 22, "IpProtocol": "tcp", "Source": "0.0.0.0/0", "ToPort": 22}
APP_BUCKET_TAGS = {"owner": "team-a", "env": "prod"}


def element_path(path: str, element: Any) -> str:
    """The drifts.diff path of a list element: `[<json>]` for a scalar, `[#<sha256 prefix>]` otherwise."""
    text = canonical_json(element)
    ident = "#" + hashlib.sha256(text.encode()).hexdigest()[:12] if isinstance(element, dict | list) else text
    return f"{path}[{ident}]"


def _statement(statement: dict) -> dict:
    """A policy statement as the collectors normalize it."""
    return normalize_policy({"Statement": [statement]})["Statement"][0]


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


# --- one function per scenario and direction: (clients, target record, drifted?) ----------------------


def _public_access_block(c: SeedClients, bucket: dict, drift: bool) -> dict:
    c("s3", bucket["region"]).put_public_access_block(
        Bucket=bucket["id"],
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": not drift,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return _change(bucket, "PublicAccessBlock.BlockPublicAcls", "changed", True, False, "BlockPublicAcls turned off")


def _open_ssh(c: SeedClients, group: dict, drift: bool) -> dict:
    ec2 = c("ec2", group["region"])
    if drift:
        ec2.authorize_security_group_ingress(GroupId=group["id"], IpPermissions=[SSH_FROM_ANYWHERE])
    else:
        ec2.revoke_security_group_ingress(GroupId=group["id"], IpPermissions=[SSH_FROM_ANYWHERE])
    path = element_path("IngressRules", SSH_RULE)
    return _change(group, path, "added", None, SSH_RULE, "SSH (tcp/22) opened to 0.0.0.0/0")


def _admin_role(c: SeedClients, role: dict, drift: bool) -> dict:
    iam = c("iam")
    if drift:
        iam.attach_role_policy(RoleName=role["id"], PolicyArn=ADMIN_POLICY_ARN)
    else:
        iam.detach_role_policy(RoleName=role["id"], PolicyArn=ADMIN_POLICY_ARN)
    path = element_path("AttachedManagedPolicies", ADMIN_POLICY_ARN)
    return _change(role, path, "added", None, ADMIN_POLICY_ARN, "AdministratorAccess attached")


def _public_db(c: SeedClients, db: dict, drift: bool) -> dict:
    c("rds", db["region"]).modify_db_instance(
        DBInstanceIdentifier=db["id"], PubliclyAccessible=drift, ApplyImmediately=True
    )
    return _change(db, "PubliclyAccessible", "changed", False, True, "DB instance made publicly accessible")


def _rotation(c: SeedClients, key: dict, drift: bool) -> dict:
    kms = c("kms", key["region"])
    if drift:
        kms.disable_key_rotation(KeyId=key["id"])
    else:
        kms.enable_key_rotation(KeyId=key["id"])
    return _change(key, "KeyRotationEnabled", "changed", True, False, "automatic key rotation disabled")


def _logging(c: SeedClients, trail: dict, drift: bool) -> dict:
    was_logging = trail["kind"] == "org"  # the multi-region trail is seeded logging, local ones are not
    client = c("cloudtrail", trail["region"])
    if drift != was_logging:  # drifted: the opposite of seeded
        client.start_logging(Name=trail["external_id"])
    else:
        client.stop_logging(Name=trail["external_id"])
    return _change(trail, "IsLogging", "changed", was_logging, not was_logging, "trail logging switched")


def _tag(c: SeedClients, tagged: dict, drift: bool) -> dict:
    tags = {**APP_BUCKET_TAGS, "owner": "team-b"} if drift else APP_BUCKET_TAGS
    c("s3", tagged["region"]).put_bucket_tagging(Bucket=tagged["id"], Tagging={"TagSet": tag_list(tags)})
    return _change(tagged, "Tags.owner", "changed", "team-a", "team-b", "tag owner changed")


# --- the newer types ------------------------------------------------------------------------------

WEAK_TLS_POLICY = "ELBSecurityPolicy-2016-08"
SEEDED_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
PLAIN_HTTP_PORT = 8080
PUBLIC_SID = "Public"


def _imdsv1(c: SeedClients, instance: dict, drift: bool) -> dict:
    # moto replaces the whole MetadataOptions block (AWS merges), so every field is sent.
    c("ec2", instance["region"]).modify_instance_metadata_options(
        InstanceId=instance["id"],
        HttpTokens="optional" if drift else "required",
        HttpEndpoint="enabled",
        HttpPutResponseHopLimit=1,
        HttpProtocolIpv6="disabled",
        InstanceMetadataTags="disabled",
    )
    return _change(instance, "MetadataOptions.HttpTokens", "changed", "required", "optional", "IMDSv1 allowed again")


def _public_ip(c: SeedClients, instance: dict, drift: bool) -> dict:
    ec2 = c("ec2", instance["region"])
    if drift:
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.associate_address(InstanceId=instance["id"], AllocationId=allocation)
    else:
        for address in ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [instance["id"]]}])[
            "Addresses"
        ]:
            ec2.disassociate_address(AssociationId=address["AssociationId"])
            ec2.release_address(AllocationId=address["AllocationId"])
    return _change(instance, "PublicIpAssociated", "changed", False, True, "instance given a public IP")


def _instance_tag(c: SeedClients, instance: dict, drift: bool) -> dict:
    c("ec2", instance["region"]).create_tags(
        Resources=[instance["id"]], Tags=tag_list({"env": "staging" if drift else "prod"})
    )
    return _change(instance, "Tags.env", "changed", "prod", "staging", "instance tag env changed")


def _volume_tag(c: SeedClients, volume: dict, drift: bool) -> dict:
    ec2 = c("ec2", volume["region"])
    if drift:
        ec2.create_tags(Resources=[volume["id"]], Tags=tag_list({"backup": "skip"}))
    else:
        ec2.delete_tags(Resources=[volume["id"]], Tags=[{"Key": "backup"}])
    return _change(volume, "Tags.backup", "added", None, "skip", "volume tagged backup=skip")


def _public_snapshot(c: SeedClients, snapshot: dict, drift: bool) -> dict:
    # moto honours only the Attribute/OperationType/GroupNames form.
    c("ec2", snapshot["region"]).modify_snapshot_attribute(
        SnapshotId=snapshot["id"],
        Attribute="createVolumePermission",
        OperationType="add" if drift else "remove",
        GroupNames=["all"],
    )
    return _change(snapshot, "CreateVolumePermission.Public", "changed", False, True, "snapshot made public")


def _function_url_open(c: SeedClients, function: dict, drift: bool) -> dict:
    c("lambda", function["region"]).update_function_url_config(
        FunctionName=function["id"], AuthType="NONE" if drift else "AWS_IAM"
    )
    return _change(
        function, "FunctionUrlConfig.AuthType", "changed", "AWS_IAM", "NONE", "function URL auth changed to NONE"
    )


def _function_public(c: SeedClients, function: dict, drift: bool) -> dict:
    client = c("lambda", function["region"])
    if drift:
        client.add_permission(
            FunctionName=function["id"], StatementId=PUBLIC_SID, Action="lambda:InvokeFunction", Principal="*"
        )
    else:
        client.remove_permission(FunctionName=function["id"], StatementId=PUBLIC_SID)
    statement = _statement(
        {
            "Sid": PUBLIC_SID,
            "Effect": "Allow",
            "Principal": "*",
            "Action": "lambda:InvokeFunction",
            "Resource": function["external_id"],
        }
    )
    return _change(
        function, element_path("Policy.Statement", statement), "added", None, statement, "function invokable by anyone"
    )


def _with_public_statement(policy_text: str | None, statement: dict, drift: bool) -> str:
    """The policy with the public statement added (drift) or taken out again."""
    document = json.loads(policy_text) if policy_text else {"Version": "2012-10-17", "Statement": []}
    kept = [s for s in document.get("Statement", []) if s.get("Sid") != PUBLIC_SID]
    document["Statement"] = [*kept, statement] if drift else kept
    return json.dumps(document)


def _queue_public(c: SeedClients, queue: dict, drift: bool) -> dict:
    sqs = c("sqs", queue["region"])
    statement = {
        "Sid": PUBLIC_SID,
        "Effect": "Allow",
        "Principal": "*",
        "Action": "sqs:SendMessage",
        "Resource": queue["external_id"],
    }
    current = sqs.get_queue_attributes(QueueUrl=queue["id"], AttributeNames=["Policy"])["Attributes"].get("Policy")
    sqs.set_queue_attributes(
        QueueUrl=queue["id"], Attributes={"Policy": _with_public_statement(current, statement, drift)}
    )
    return _change(
        queue,
        element_path("Policy.Statement", _statement(statement)),
        "added",
        None,
        _statement(statement),
        "queue open to anyone",
    )


def _topic_public(c: SeedClients, topic: dict, drift: bool) -> dict:
    sns = c("sns", topic["region"])
    statement = {
        "Sid": PUBLIC_SID,
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "sns:Subscribe",
        "Resource": topic["external_id"],
    }
    current = sns.get_topic_attributes(TopicArn=topic["external_id"])["Attributes"].get("Policy")
    sns.set_topic_attributes(
        TopicArn=topic["external_id"],
        AttributeName="Policy",
        AttributeValue=_with_public_statement(current, statement, drift),
    )
    return _change(
        topic,
        element_path("Policy.Statement", _statement(statement)),
        "added",
        None,
        _statement(statement),
        "anyone may subscribe to the topic",
    )


def _login_profile(c: SeedClients, user: dict, drift: bool) -> dict:
    iam = c("iam")
    if drift:
        iam.create_login_profile(UserName=user["id"], Password="not-a-secret-2!")
    else:
        iam.delete_login_profile(UserName=user["id"])
    return _change(user, "LoginProfile", "changed", False, True, "console access given to a CI user")


def _new_access_key(c: SeedClients, user: dict, drift: bool) -> dict:
    iam = c("iam")
    if drift:
        key_id = iam.create_access_key(UserName=user["id"])["AccessKey"]["AccessKeyId"]
        user["drift_access_key_id"] = key_id
    else:
        key_id = user.pop("drift_access_key_id", None)
        for key in iam.list_access_keys(UserName=user["id"])["AccessKeyMetadata"]:
            if key["AccessKeyId"] != user.get("access_key_id"):
                iam.delete_access_key(UserName=user["id"], AccessKeyId=key["AccessKeyId"])
    key = {"AccessKeyId": key_id, "Status": "Active"}
    return _change(user, element_path("AccessKeys", key), "added", None, key, "new access key for a person")


def _mfa_removed(c: SeedClients, user: dict, drift: bool) -> dict:
    iam = c("iam")
    serial = user["mfa_serial"]
    if drift:
        iam.deactivate_mfa_device(UserName=user["id"], SerialNumber=serial)
    else:
        iam.enable_mfa_device(
            UserName=user["id"], SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
    return _change(user, element_path("MFADevices", serial), "removed", serial, None, "MFA device removed")


def _policy_admin(c: SeedClients, policy: dict, drift: bool) -> dict:
    iam = c("iam")
    arn = policy["external_id"]
    admin = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    if drift:
        seeded = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"]
        document = {**seeded, "Statement": [*_statements_of(seeded), admin]}
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True)
    else:
        iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if version["VersionId"] != "v1":
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    statement = _statement(admin)
    return _change(
        policy, element_path("Document.Statement", statement), "added", None, statement, "policy allows * on *"
    )


def _statements_of(document: Any) -> list:
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _plain_http_listener(c: SeedClients, balancer: dict, drift: bool) -> dict:
    elbv2 = c("elbv2", balancer["region"])
    forward = {"Type": "forward", "TargetGroupArn": balancer["target_group_arn"]}
    if drift:
        elbv2.create_listener(
            LoadBalancerArn=balancer["external_id"], Protocol="HTTP", Port=PLAIN_HTTP_PORT, DefaultActions=[forward]
        )
    else:
        elbv2.delete_listener(ListenerArn=_listener_arn(elbv2, balancer, PLAIN_HTTP_PORT))
    listener = {
        "AlpnPolicy": [],
        "Certificates": [],
        "DefaultActions": [{"TargetGroupArn": balancer["target_group_arn"], "Type": "forward"}],
        "Port": PLAIN_HTTP_PORT,
        "Protocol": "HTTP",
        "SslPolicy": None,
    }
    return _change(
        balancer, f"Listeners.{PLAIN_HTTP_PORT}", "added", None, listener, "plain HTTP listener without redirect"
    )


def _listener_arn(elbv2: Any, balancer: dict, port: int) -> str:
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["external_id"])["Listeners"]
    return next(listener["ListenerArn"] for listener in listeners if listener["Port"] == port)


def _weak_tls(c: SeedClients, balancer: dict, drift: bool) -> dict:
    elbv2 = c("elbv2", balancer["region"])
    elbv2.modify_listener(
        ListenerArn=_listener_arn(elbv2, balancer, 443), SslPolicy=WEAK_TLS_POLICY if drift else SEEDED_TLS_POLICY
    )
    return _change(
        balancer, "Listeners.443.SslPolicy", "changed", SEEDED_TLS_POLICY, WEAK_TLS_POLICY, "TLS policy weakened"
    )


def _eks_open(c: SeedClients, cluster: dict, drift: bool) -> dict:
    cidrs = ["203.0.113.0/24", "0.0.0.0/0"] if drift else ["203.0.113.0/24"]
    # moto replaces resourcesVpcConfig with what the request holds (AWS merges), so all of it is sent.
    c("eks", cluster["region"]).update_cluster_config(
        name=cluster["id"],
        resourcesVpcConfig={
            "subnetIds": cluster["subnet_ids"],
            "securityGroupIds": cluster["security_group_ids"],
            "endpointPublicAccess": True,
            "endpointPrivateAccess": True,
            "publicAccessCidrs": cidrs,
        },
    )
    return _change(
        cluster,
        element_path("resourcesVpcConfig.publicAccessCidrs", "0.0.0.0/0"),
        "added",
        None,
        "0.0.0.0/0",
        "EKS API endpoint opened to 0.0.0.0/0",
    )


def _pitr_off(c: SeedClients, table: dict, drift: bool) -> dict:
    c("dynamodb", table["region"]).update_continuous_backups(
        TableName=table["id"], PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": not drift}
    )
    return _change(table, "PointInTimeRecoveryStatus", "changed", "ENABLED", "DISABLED", "point-in-time recovery off")


def _table_unprotected(c: SeedClients, table: dict, drift: bool) -> dict:
    c("dynamodb", table["region"]).update_table(TableName=table["id"], DeletionProtectionEnabled=not drift)
    return _change(table, "DeletionProtectionEnabled", "changed", True, False, "table deletion protection off")


def _rotation_off(c: SeedClients, secret: dict, drift: bool) -> dict:
    client = c("secretsmanager", secret["region"])
    if drift:
        client.cancel_rotate_secret(SecretId=secret["external_id"])
    else:
        client.rotate_secret(
            SecretId=secret["external_id"],
            RotationLambdaARN=secret["rotation_function_arn"],
            RotationRules={"AutomaticallyAfterDays": 30},
            RotateImmediately=False,
        )
    return _change(secret, "RotationEnabled", "changed", True, False, "secret rotation turned off")


def _secret_public(c: SeedClients, secret: dict, drift: bool) -> dict:
    client = c("secretsmanager", secret["region"])
    statement = {
        "Sid": PUBLIC_SID,
        "Effect": "Allow",
        "Principal": "*",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
    }
    current = client.get_resource_policy(SecretId=secret["external_id"]).get("ResourcePolicy")
    client.put_resource_policy(
        SecretId=secret["external_id"], ResourcePolicy=_with_public_statement(current, statement, drift)
    )
    return _change(
        secret,
        element_path("ResourcePolicy.Statement", _statement(statement)),
        "added",
        None,
        _statement(statement),
        "secret readable by anyone",
    )


# In this order: estate["targets"] key, and the function that drifts (drift=True) or restores it.
SCENARIOS: tuple[tuple[str, Callable[[SeedClients, dict, bool], dict]], ...] = (
    ("public_access_block", _public_access_block),
    ("open_ssh", _open_ssh),
    ("admin_role", _admin_role),
    ("public_db", _public_db),
    ("rotation", _rotation),
    ("logging", _logging),
    ("tag", _tag),
    ("imdsv1", _imdsv1),
    ("public_ip", _public_ip),
    ("instance_tag", _instance_tag),
    ("volume_tag", _volume_tag),
    ("public_snapshot", _public_snapshot),
    ("function_url_open", _function_url_open),
    ("function_public", _function_public),
    ("queue_public", _queue_public),
    ("topic_public", _topic_public),
    ("login_profile", _login_profile),
    ("new_access_key", _new_access_key),
    ("mfa_removed", _mfa_removed),
    ("policy_admin", _policy_admin),
    ("plain_http_listener", _plain_http_listener),
    ("weak_tls", _weak_tls),
    ("eks_open", _eks_open),
    ("pitr_off", _pitr_off),
    ("table_unprotected", _table_unprotected),
    ("rotation_off", _rotation_off),
    ("secret_public", _secret_public),
)


def apply_changes(endpoint_url: str, estate: dict) -> list[dict]:
    """Make every realistic drift of SCENARIOS on the estate's targets; returns what changed and where.

    Each change is {scenario, resource_type, external_id, region, path, op, baseline, current, description}, with
    path/op/baseline/current spelled as drifts.diff reports them (a list element is named by identity,
    e.g. `IngressRules[#...]`, `AttachedManagedPolicies["arn:..."]`).
    """
    c = SeedClients(endpoint_url)
    return [{"scenario": key, **scenario(c, estate["targets"][key], True)} for key, scenario in SCENARIOS]


def revert_changes(endpoint_url: str, estate: dict) -> None:
    """Undo apply_changes so the estate collects exactly as seeded again."""
    c = SeedClients(endpoint_url)
    for key, scenario in reversed(SCENARIOS):
        scenario(c, estate["targets"][key], False)
