"""IAM user collector (a global unit): console access, MFA, access keys, groups and policies."""

from __future__ import annotations

from .base import (
    GLOBAL_REGION,
    AwsClients,
    CollectedResource,
    CollectResult,
    call_or_none,
    collect_each,
    normalize_policy,
    paginate,
    resource_name,
    sorted_dict,
    tags_to_dict,
)

RESOURCE_TYPE = "iam_user"

# IAM list calls accept MaxItems 1..1000; tests shrink this to prove pagination.
PAGE_SIZE = 1000

# GetLoginProfile's answer for a user without console access: a value (false), not a failure.
NO_LOGIN_PROFILE = ("NoSuchEntity",)


def _read_user(clients: AwsClients, user_name: str) -> CollectedResource:
    iam = clients.client("iam")
    # ListUsers omits Tags and PermissionsBoundary; PasswordLastUsed and CreateDate are left out.
    user = iam.get_user(UserName=user_name)["User"]
    login_profile = call_or_none(iam.get_login_profile, NO_LOGIN_PROFILE, UserName=user_name)
    mfa = paginate(iam, "list_mfa_devices", "MFADevices", PAGE_SIZE, UserName=user_name)
    # Key ids and status only: secrets are never returned by IAM after creation, and last use moves.
    keys = paginate(iam, "list_access_keys", "AccessKeyMetadata", PAGE_SIZE, UserName=user_name)
    groups = paginate(iam, "list_groups_for_user", "Groups", PAGE_SIZE, UserName=user_name)
    attached = paginate(iam, "list_attached_user_policies", "AttachedPolicies", PAGE_SIZE, UserName=user_name)
    inline_names = paginate(iam, "list_user_policies", "PolicyNames", PAGE_SIZE, UserName=user_name)
    inline = {
        name: normalize_policy(iam.get_user_policy(UserName=user_name, PolicyName=name)["PolicyDocument"])
        for name in inline_names
    }
    tags = tags_to_dict(user.get("Tags"))
    boundary = user.get("PermissionsBoundary") or {}
    config = {
        "UserName": user["UserName"],
        "Path": user.get("Path", "/"),
        "LoginProfile": login_profile is not None,
        "MFADevices": sorted(device["SerialNumber"] for device in mfa),
        "AccessKeys": sorted(
            ({"AccessKeyId": key["AccessKeyId"], "Status": key.get("Status")} for key in keys),
            key=lambda key: key["AccessKeyId"],
        ),
        "Groups": sorted(group["GroupName"] for group in groups),
        "AttachedManagedPolicies": sorted({policy["PolicyArn"] for policy in attached}),
        "InlinePolicies": inline,
        "PermissionsBoundary": boundary.get("PermissionsBoundaryArn"),
        "Tags": tags,
    }
    return CollectedResource(
        external_id=user["Arn"],
        name=resource_name(tags, user["UserName"]),
        region=GLOBAL_REGION,
        config=sorted_dict(config),
    )


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every user of the account; `region` is ignored (IAM is one global unit)."""
    users = paginate(clients.client("iam"), "list_users", "Users", PAGE_SIZE)
    return collect_each(clients, users, lambda u: u["Arn"], lambda u: _read_user(clients, u["UserName"]))
