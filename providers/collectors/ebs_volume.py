"""EBS volume collector (regional)."""

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

RESOURCE_TYPE = "ebs_volume"

# DescribeVolumes accepts MaxResults 5..500; moto ignores it and returns everything in one page.
PAGE_SIZE = 500

# Copied as-is (absent ones become None); State, CreateTime and attachment times are volatile.
FIELDS = (
    "AvailabilityZone",
    "Encrypted",
    "KmsKeyId",
    "Size",
    "VolumeType",
    "Iops",
    "Throughput",
    "MultiAttachEnabled",
    "SnapshotId",
)


def _to_resource(volume: Mapping[str, Any], region: str) -> CollectedResource:
    tags = tags_to_dict(volume.get("Tags"))
    config: dict[str, Any] = {key: volume.get(key) for key in FIELDS}
    config["SnapshotId"] = config["SnapshotId"] or None  # "" and absent both mean "not from a snapshot"
    # Which instances hold the volume; attachment state ("attaching", "attached") moves on its own.
    config["Attachments"] = sorted({a["InstanceId"] for a in volume.get("Attachments") or [] if a.get("InstanceId")})
    config["Tags"] = tags
    return CollectedResource(
        external_id=volume["VolumeId"],
        name=resource_name(tags, volume["VolumeId"]),
        region=region,
        config=sorted_dict(config),
    )


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every volume of a region (the listing has all details: nothing fails alone)."""
    ec2 = clients.client("ec2", region)
    volumes = paginate(ec2, "describe_volumes", "Volumes", PAGE_SIZE)
    resources = sorted((_to_resource(v, region) for v in volumes), key=lambda r: r.external_id)
    return CollectResult(resources=resources, failed={})
