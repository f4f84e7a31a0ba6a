"""AWS collectors: one module per service, registered here by resource type."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from . import (
    cloudtrail,
    dynamodb,
    ebs_snapshot,
    ebs_volume,
    ec2,
    ec2_instance,
    eks,
    elbv2,
    iam,
    iam_policy,
    iam_user,
    kms,
    lambda_function,
    rds,
    s3,
    secretsmanager,
    sns,
    sqs,
)
from .base import GLOBAL_REGION, AwsClients, CollectedResource, CollectResult, normalize_policy

__all__ = [
    "COLLECTORS",
    "GLOBAL_REGION",
    "GLOBAL_RESOURCE_TYPES",
    "REGIONAL_RESOURCE_TYPES",
    "AwsClients",
    "CollectResult",
    "CollectedResource",
    "normalize_policy",
    "scan_units",
]

COLLECTORS: dict[str, Callable[[AwsClients, str], CollectResult]] = {
    "cloudtrail_trail": cloudtrail.collect,
    "ec2_security_group": ec2.collect,
    "iam_role": iam.collect,
    "kms_key": kms.collect,
    "rds_instance": rds.collect,
    "s3_bucket": s3.collect,
    "ec2_instance": ec2_instance.collect,
    "ebs_volume": ebs_volume.collect,
    "ebs_snapshot": ebs_snapshot.collect,
    "lambda_function": lambda_function.collect,
    "iam_user": iam_user.collect,
    "iam_policy": iam_policy.collect,
    "sqs_queue": sqs.collect,
    "sns_topic": sns.collect,
    "elbv2_load_balancer": elbv2.collect,
    "eks_cluster": eks.collect,
    "dynamodb_table": dynamodb.collect,
    "secretsmanager_secret": secretsmanager.collect,
}

# Listed once per account, whatever regions a provider scans.
GLOBAL_RESOURCE_TYPES = frozenset({"s3_bucket", "iam_role", "iam_user", "iam_policy"})
REGIONAL_RESOURCE_TYPES = frozenset(COLLECTORS) - GLOBAL_RESOURCE_TYPES


def scan_units(regions: Iterable[str]) -> list[tuple[str, str]]:
    """The (region, resource_type) units of one scan: global types first, then each region's types.

    Regions are de-duplicated and sorted, and types sorted, so the same provider always yields the same
    list whatever order its regions were stored in. A "global" entry in `regions` adds nothing.
    """
    region_set = set(regions)
    if any(not region for region in region_set):
        raise ValueError("empty region name")
    units = [(GLOBAL_REGION, resource_type) for resource_type in sorted(GLOBAL_RESOURCE_TYPES)]
    for region in sorted(region_set - {GLOBAL_REGION}):
        units.extend((region, resource_type) for resource_type in sorted(REGIONAL_RESOURCE_TYPES))
    return units
