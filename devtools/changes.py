"""Seven realistic drifts on a seeded estate (devtools.estate), and their undoing (no Django).

apply_changes makes one change on each target of the estate and reports it the way drifts.diff spells
it; revert_changes restores what was seeded, so the estate collects exactly as seeded again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from devtools.fake_aws import ADMIN_POLICY_ARN, SeedClients, tag_list
from providers.collectors.base import canonical_json

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


# In this order: estate["targets"] key, and the function that drifts (drift=True) or restores it.
SCENARIOS: tuple[tuple[str, Callable[[SeedClients, dict, bool], dict]], ...] = (
    ("public_access_block", _public_access_block),
    ("open_ssh", _open_ssh),
    ("admin_role", _admin_role),
    ("public_db", _public_db),
    ("rotation", _rotation),
    ("logging", _logging),
    ("tag", _tag),
)


def apply_changes(endpoint_url: str, estate: dict) -> list[dict]:
    """Make one realistic drift on each of seven seeded resources; returns what changed and where.

    Each change is {resource_type, external_id, region, path, op, baseline, current, description}, with
    path/op/baseline/current spelled as drifts.diff reports them (a list element is named by identity,
    e.g. `IngressRules[#...]`, `AttachedManagedPolicies["arn:..."]`).
    """
    c = SeedClients(endpoint_url)
    return [scenario(c, estate["targets"][key], True) for key, scenario in SCENARIOS]


def revert_changes(endpoint_url: str, estate: dict) -> None:
    """Undo apply_changes so the estate collects exactly as seeded again."""
    c = SeedClients(endpoint_url)
    for key, scenario in SCENARIOS:
        scenario(c, estate["targets"][key], False)
