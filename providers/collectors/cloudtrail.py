"""CloudTrail trail collector (regional; each trail is collected in its home region only)."""

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

RESOURCE_TYPE = "cloudtrail_trail"

# Copied from DescribeTrails; absent optional keys become None so every document has the same keys.
FIELDS = (
    "Name",
    "S3BucketName",
    "S3KeyPrefix",
    "IsMultiRegionTrail",
    "IncludeGlobalServiceEvents",
    "LogFileValidationEnabled",
    "KmsKeyId",
    "CloudWatchLogsLogGroupArn",
    "IsOrganizationTrail",
)


def _read_trail(clients: AwsClients, region: str, trail: Mapping[str, Any]) -> CollectedResource:
    cloudtrail = clients.client("cloudtrail", region)
    arn = trail["TrailARN"]
    # Only IsLogging: the delivery/notification times in GetTrailStatus change on every call.
    is_logging = cloudtrail.get_trail_status(Name=arn).get("IsLogging")
    tag_lists = paginate(cloudtrail, "list_tags", "ResourceTagList", ResourceIdList=[arn])
    tags = tags_to_dict(
        tag for entry in tag_lists if entry.get("ResourceId") == arn for tag in entry.get("TagsList", [])
    )
    config: dict[str, Any] = {key: trail.get(key) for key in FIELDS}
    config["IsLogging"] = is_logging
    config["Tags"] = tags
    return CollectedResource(
        external_id=arn, name=resource_name(tags, trail["Name"]), region=region, config=sorted_dict(config)
    )


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect the trails whose home region is `region` (multi-region trails are seen once)."""
    cloudtrail = clients.client("cloudtrail", region)
    # DescribeTrails is not paginated; without includeShadowTrails=False every region would repeat
    # multi-region trails, and the HomeRegion filter guards against any that still slip through.
    trails = cloudtrail.describe_trails(includeShadowTrails=False).get("trailList", [])
    trails = [trail for trail in trails if trail.get("HomeRegion", region) == region]
    return collect_each(clients, trails, lambda t: t["TrailARN"], lambda t: _read_trail(clients, region, t))
