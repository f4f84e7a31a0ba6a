"""EC2 instance collector (regional)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    AwsClients,
    CollectedResource,
    CollectResult,
    paginate,
    resource_name,
    sorted_dict,
    tags_to_dict,
)

RESOURCE_TYPE = "ec2_instance"

# DescribeInstances accepts MaxResults 5..1000 (and moto honours it).
PAGE_SIZE = 1000

# Terminated instances stay listed for about an hour: they are gone, not drifted.
GONE_STATES = frozenset({"shutting-down", "terminated"})

# MetadataOptions.State ("pending"/"applied") moves on its own after every change: left out.
METADATA_KEYS = ("HttpEndpoint", "HttpProtocolIpv6", "HttpPutResponseHopLimit", "HttpTokens", "InstanceMetadataTags")

# Copied as-is; State, LaunchTime, private/public addresses and DNS names change on their own.
FIELDS = ("InstanceType", "ImageId", "SubnetId", "VpcId", "EbsOptimized", "SourceDestCheck", "RootDeviceName")


def _security_groups(instance: Mapping[str, Any]) -> list[str]:
    # Instances launched with explicit network interfaces list their groups only on the interfaces.
    groups = {group["GroupId"] for group in instance.get("SecurityGroups") or []}
    for interface in instance.get("NetworkInterfaces") or []:
        groups.update(group["GroupId"] for group in interface.get("Groups") or [])
    return sorted(groups)


def _to_resource(instance: Mapping[str, Any], region: str) -> CollectedResource:
    tags = tags_to_dict(instance.get("Tags"))
    metadata = instance.get("MetadataOptions") or {}
    profile = instance.get("IamInstanceProfile") or {}
    config: dict[str, Any] = {key: instance.get(key) for key in FIELDS}
    config.update(
        {
            "MetadataOptions": {key: metadata.get(key) for key in METADATA_KEYS},
            # Whether the instance is reachable on a public address, not the address (it changes on restart).
            "PublicIpAssociated": bool(instance.get("PublicIpAddress")),
            "SecurityGroups": _security_groups(instance),
            "IamInstanceProfile": profile.get("Arn"),
            "BlockDeviceMappings": sorted(
                (
                    {"DeviceName": mapping.get("DeviceName"), "VolumeId": mapping["Ebs"].get("VolumeId")}
                    for mapping in instance.get("BlockDeviceMappings") or []
                    if mapping.get("Ebs")
                ),
                key=lambda mapping: (mapping["DeviceName"] or "", mapping["VolumeId"] or ""),
            ),
            "Tags": tags,
        }
    )
    return CollectedResource(
        external_id=instance["InstanceId"],
        name=resource_name(tags, instance["InstanceId"]),
        region=region,
        config=sorted_dict(config),
    )


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every live instance of a region (the listing has all details: nothing fails alone)."""
    ec2 = clients.client("ec2", region)
    reservations = paginate(ec2, "describe_instances", "Reservations", PAGE_SIZE)
    instances = [
        instance
        for reservation in reservations
        for instance in reservation.get("Instances", [])
        if (instance.get("State") or {}).get("Name") not in GONE_STATES
    ]
    resources = sorted((_to_resource(i, region) for i in instances), key=lambda r: r.external_id)
    return CollectResult(resources=resources, failed={})
