"""DynamoDB table collector (regional): recovery, encryption, protection, capacity, TTL, stream and tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    AwsClients,
    CollectedResource,
    CollectResult,
    collect_each,
    paginate,
    partition,
    resource_name,
    sort_set,
    sorted_dict,
    tags_to_dict,
)

RESOURCE_TYPE = "dynamodb_table"

# ListTables accepts Limit 1..100.
PAGE_SIZE = 100


def _throughput(table: Mapping[str, Any], billing_mode: str) -> dict | None:
    if billing_mode != "PROVISIONED":
        return None  # on-demand tables report zeros that mean nothing
    throughput = table.get("ProvisionedThroughput") or {}
    # NumberOfDecreasesToday and the last increase/decrease times are counters and clocks.
    return {key: throughput.get(key) for key in ("ReadCapacityUnits", "WriteCapacityUnits")}


def _sse(table: Mapping[str, Any]) -> dict:
    sse = table.get("SSEDescription") or {}
    enabled = sse.get("Status") in ("ENABLED", "UPDATING")
    # No SSEDescription means encryption with an AWS-owned key (always on); KMS means a KMS key.
    return {
        "SSEType": sse.get("SSEType") if enabled else None,
        "KMSMasterKeyArn": sse.get("KMSMasterKeyArn") if enabled else None,
    }


def _tags(client: Any, arn: str) -> dict:
    # ListTagsOfResource pages by NextToken but has no botocore paginator.
    tags: list = []
    params = {"ResourceArn": arn}
    while True:
        page = client.list_tags_of_resource(**params)
        tags.extend(page.get("Tags", []))
        if not page.get("NextToken"):
            return tags_to_dict(tags)
        params["NextToken"] = page["NextToken"]


def _read_table(clients: AwsClients, region: str, name: str) -> CollectedResource:
    client = clients.client("dynamodb", region)
    table = client.describe_table(TableName=name)["Table"]
    arn = table["TableArn"]
    backups = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    pitr = (backups.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
    ttl = client.describe_time_to_live(TableName=name).get("TimeToLiveDescription") or {}
    billing_mode = (table.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
    stream = table.get("StreamSpecification") or {}
    tags = _tags(client, arn)
    config = {
        "TableName": table["TableName"],
        "BillingMode": billing_mode,
        "ProvisionedThroughput": _throughput(table, billing_mode),
        "KeySchema": table.get("KeySchema") or [],  # order matters: HASH then RANGE
        "GlobalSecondaryIndexes": sorted(index["IndexName"] for index in table.get("GlobalSecondaryIndexes") or []),
        "TableClass": (table.get("TableClassSummary") or {}).get("TableClass") or "STANDARD",
        "DeletionProtectionEnabled": bool(table.get("DeletionProtectionEnabled")),
        "SSEDescription": _sse(table),
        # Only the on/off flag: RecoveryPeriodInDays and the restorable times come and go with it.
        "PointInTimeRecoveryStatus": pitr,
        "TimeToLive": {
            "TimeToLiveStatus": ttl.get("TimeToLiveStatus"),
            "AttributeName": ttl.get("AttributeName"),
        },
        "StreamSpecification": {
            "StreamEnabled": bool(stream.get("StreamEnabled")),
            "StreamViewType": stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
        },
        "Replicas": sort_set(replica.get("RegionName") for replica in table.get("Replicas") or []),
        "Tags": tags,
    }
    # TableStatus, ItemCount, TableSizeBytes, CreationDateTime and LatestStreamLabel/Arn are left out.
    return CollectedResource(external_id=arn, name=resource_name(tags, name), region=region, config=sorted_dict(config))


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every table of a region; the listing has names only, so each is described."""
    names = paginate(clients.client("dynamodb", region), "list_tables", "TableNames", PAGE_SIZE)
    if not names:
        return CollectResult()
    # A table that fails to describe is named by the ARN it would have had, so it is never marked deleted.
    prefix = f"arn:{partition(region)}:dynamodb:{region}:{clients.account_id()}:table/"
    return collect_each(clients, names, lambda name: prefix + name, lambda name: _read_table(clients, region, name))
