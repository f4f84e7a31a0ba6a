"""EC2 security group collector (regional)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .base import (
    AwsClients,
    CollectedResource,
    CollectResult,
    paginate,
    resource_name,
    sort_set,
    sorted_dict,
    tags_to_dict,
)

RESOURCE_TYPE = "ec2_security_group"

# DescribeSecurityGroups accepts 5..1000; moto ignores it and returns everything in one page.
PAGE_SIZE = 1000

# (IpPermission list key, key of the source inside each entry)
_SOURCES = (
    ("IpRanges", "CidrIp"),
    ("Ipv6Ranges", "CidrIpv6"),
    ("UserIdGroupPairs", "GroupId"),
    ("PrefixListIds", "PrefixListId"),
)


def expand_permissions(permissions: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Expand IpPermissions into one rule per source, sorted, so one added source is one added rule."""
    rules = []
    for permission in permissions:
        base = {
            "IpProtocol": str(permission.get("IpProtocol", "-1")),
            # "-1" (all traffic) rules carry no ports at all.
            "FromPort": permission.get("FromPort"),
            "ToPort": permission.get("ToPort"),
        }
        for list_key, source_key in _SOURCES:
            for entry in permission.get(list_key) or []:
                source = entry.get(source_key)
                if source is None and list_key == "UserIdGroupPairs":
                    source = entry.get("GroupName")  # EC2-Classic style pairs had only a name
                rules.append({**base, "Source": source, "Description": entry.get("Description") or None})
    return sort_set(sorted_dict(rule) for rule in rules)


def _to_resource(group: Mapping[str, Any], region: str) -> CollectedResource:
    tags = tags_to_dict(group.get("Tags"))
    config = {
        "GroupName": group.get("GroupName"),
        "Description": group.get("Description"),
        "VpcId": group.get("VpcId"),
        "IngressRules": expand_permissions(group.get("IpPermissions", [])),
        "EgressRules": expand_permissions(group.get("IpPermissionsEgress", [])),
        "Tags": tags,
    }
    return CollectedResource(
        external_id=group["GroupId"],
        name=resource_name(tags, group.get("GroupName"), group["GroupId"]),
        region=region,
        config=sorted_dict(config),
    )


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every security group of a region (the listing has all details: nothing fails alone)."""
    ec2 = clients.client("ec2", region)
    groups = paginate(ec2, "describe_security_groups", "SecurityGroups", PAGE_SIZE)
    resources = sorted((_to_resource(g, region) for g in groups), key=lambda r: r.external_id)
    return CollectResult(resources=resources, failed={})
