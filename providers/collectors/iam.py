"""IAM role collector (a global unit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    GLOBAL_REGION,
    AwsClients,
    CollectedResource,
    CollectResult,
    collect_each,
    normalize_policy,
    paginate,
    resource_name,
    sorted_dict,
    tags_to_dict,
)

RESOURCE_TYPE = "iam_role"

# IAM list calls accept MaxItems 1..1000; tests shrink this to prove pagination.
PAGE_SIZE = 1000

# Service-linked roles are owned and changed by AWS services, so drift on them is not actionable.
SERVICE_LINKED_PATH = "/aws-service-role/"


def _read_role(clients: AwsClients, role_name: str) -> CollectedResource:
    iam = clients.client("iam")
    # ListRoles omits Tags and PermissionsBoundary, so GetRole is needed anyway.
    role = iam.get_role(RoleName=role_name)["Role"]
    attached = paginate(iam, "list_attached_role_policies", "AttachedPolicies", PAGE_SIZE, RoleName=role_name)
    inline_names = paginate(iam, "list_role_policies", "PolicyNames", PAGE_SIZE, RoleName=role_name)
    inline = {
        policy_name: normalize_policy(iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"])
        for policy_name in inline_names
    }
    tags = tags_to_dict(role.get("Tags"))
    boundary = role.get("PermissionsBoundary") or {}
    config = {
        "RoleName": role["RoleName"],
        "Path": role.get("Path", "/"),
        "AssumeRolePolicyDocument": normalize_policy(role.get("AssumeRolePolicyDocument")),
        "AttachedManagedPolicies": sorted({policy["PolicyArn"] for policy in attached}),
        "InlinePolicies": inline,
        "MaxSessionDuration": role.get("MaxSessionDuration"),
        "PermissionsBoundary": boundary.get("PermissionsBoundaryArn"),
        "Tags": tags,
    }
    return CollectedResource(
        external_id=role["Arn"],
        name=resource_name(tags, role["RoleName"]),
        region=GLOBAL_REGION,
        config=sorted_dict(config),
    )


def is_service_linked(role: Mapping[str, Any]) -> bool:
    """Whether a role is an AWS service-linked role (skipped)."""
    return str(role.get("Path", "")).startswith(SERVICE_LINKED_PATH)


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every customer role of the account; `region` is ignored (IAM is one global unit)."""
    roles = paginate(clients.client("iam"), "list_roles", "Roles", PAGE_SIZE)
    roles = [role for role in roles if not is_service_linked(role)]
    return collect_each(clients, roles, lambda r: r["Arn"], lambda r: _read_role(clients, r["RoleName"]))
