"""EBS snapshot collector (regional; only the snapshots the account owns)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    AwsClients,
    CollectedResource,
    CollectResult,
    collect_each,
    paginate,
    resource_name,
    sorted_dict,
    tags_to_dict,
)

RESOURCE_TYPE = "ebs_snapshot"

# DescribeSnapshots accepts MaxResults 5..1000 (moto ignores it).
PAGE_SIZE = 1000

# Copied as-is; State, Progress and StartTime are volatile.
FIELDS = ("Description", "Encrypted", "KmsKeyId", "VolumeId", "VolumeSize", "StorageTier")

# createVolumePermission's group that makes a snapshot public.
PUBLIC_GROUP = "all"


def create_volume_permission(entries: list[Mapping[str, Any]]) -> dict:
    """Who may create volumes from the snapshot: the public flag and the account ids it is shared with."""
    return {
        "Public": any(entry.get("Group") == PUBLIC_GROUP for entry in entries),
        "UserIds": sorted({entry["UserId"] for entry in entries if entry.get("UserId")}),
    }


def _read_snapshot(clients: AwsClients, region: str, snapshot: Mapping[str, Any]) -> CollectedResource:
    ec2 = clients.client("ec2", region)
    snapshot_id = snapshot["SnapshotId"]
    permissions = ec2.describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")
    tags = tags_to_dict(snapshot.get("Tags"))
    config: dict[str, Any] = {key: snapshot.get(key) for key in FIELDS}
    config["CreateVolumePermission"] = create_volume_permission(permissions.get("CreateVolumePermissions") or [])
    config["Tags"] = tags
    return CollectedResource(
        external_id=snapshot_id, name=resource_name(tags, snapshot_id), region=region, config=sorted_dict(config)
    )


def collect(clients: AwsClients, region: str, account_id: str | None = None) -> CollectResult:
    """Collect the account's own snapshots with who may create volumes from them.

    OwnerIds=self is what AWS needs; the owner-id filter (on the caller's account) keeps out the public
    snapshots moto lists whatever OwnerIds says.
    """
    ec2 = clients.client("ec2", region)
    account_id = account_id or clients.account_id()
    snapshots = paginate(
        ec2,
        "describe_snapshots",
        "Snapshots",
        PAGE_SIZE,
        OwnerIds=["self"],
        Filters=[{"Name": "owner-id", "Values": [account_id]}],
    )
    snapshots = [s for s in snapshots if s.get("OwnerId") in (None, account_id)]
    return collect_each(clients, snapshots, lambda s: s["SnapshotId"], lambda s: _read_snapshot(clients, region, s))
