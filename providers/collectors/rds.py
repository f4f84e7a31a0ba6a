"""RDS DB instance collector (regional)."""

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

RESOURCE_TYPE = "rds_instance"

# DescribeDBInstances accepts MaxRecords 20..100.
PAGE_SIZE = 100

# Copied as-is; DBInstanceStatus, endpoints, times and windows are left out as volatile or noise.
FIELDS = (
    "DBInstanceIdentifier",
    "Engine",
    "EngineVersion",
    "DBInstanceClass",
    "PubliclyAccessible",
    "StorageEncrypted",
    "KmsKeyId",
    "BackupRetentionPeriod",
    "DeletionProtection",
    "MultiAZ",
    "AllocatedStorage",
    "StorageType",
    "IAMDatabaseAuthenticationEnabled",
    "AutoMinorVersionUpgrade",
)


def _to_resource(instance: Mapping[str, Any], region: str) -> CollectedResource:
    tags = tags_to_dict(instance.get("TagList"))
    config: dict[str, Any] = {key: instance.get(key) for key in FIELDS}
    config["VpcSecurityGroups"] = sorted(group["VpcSecurityGroupId"] for group in instance.get("VpcSecurityGroups", []))
    config["Tags"] = tags
    return CollectedResource(
        external_id=instance["DBInstanceArn"],
        name=resource_name(tags, instance["DBInstanceIdentifier"]),
        region=region,
        config=sorted_dict(config),
    )


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every DB instance of a region; TagList comes with the listing, so nothing can fail alone."""
    rds = clients.client("rds", region)
    instances = paginate(rds, "describe_db_instances", "DBInstances", PAGE_SIZE)
    resources = sorted((_to_resource(i, region) for i in instances), key=lambda r: r.external_id)
    return CollectResult(resources=resources, failed={})
