"""Secrets Manager secret collector (regional): rotation, KMS key, resource policy and tags, never the value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
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

RESOURCE_TYPE = "secretsmanager_secret"

# ListSecrets accepts MaxResults 1..100.
PAGE_SIZE = 100

ROTATION_RULE_KEYS = ("AutomaticallyAfterDays", "Duration", "ScheduleExpression")


def _read_secret(clients: AwsClients, region: str, secret: Mapping[str, Any]) -> CollectedResource:
    client = clients.client("secretsmanager", region)
    arn = secret["ARN"]
    # GetSecretValue is never called: DriftWatch has no business reading a secret.
    policy = client.get_resource_policy(SecretId=arn).get("ResourcePolicy")
    rules = secret.get("RotationRules") or {}
    tags = tags_to_dict(secret.get("Tags"))
    rotation_enabled = bool(secret.get("RotationEnabled"))
    config = {
        "Name": secret["Name"],
        "Description": secret.get("Description"),
        "KmsKeyId": secret.get("KmsKeyId"),
        "RotationEnabled": rotation_enabled,
        "RotationLambdaARN": secret.get("RotationLambdaARN"),
        "RotationRules": {key: rules.get(key) for key in ROTATION_RULE_KEYS} if rules else None,
        "ResourcePolicy": normalize_policy(policy),
        "PrimaryRegion": secret.get("PrimaryRegion"),
        "Tags": tags,
    }
    # LastChangedDate, LastAccessedDate, LastRotatedDate, NextRotationDate and the version stages move.
    return CollectedResource(
        external_id=arn, name=resource_name(tags, secret["Name"]), region=region, config=sorted_dict(config)
    )


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every secret of a region (ListSecrets carries rotation, key and tags; the policy is asked per secret)."""
    secrets = paginate(clients.client("secretsmanager", region), "list_secrets", "SecretList", PAGE_SIZE)
    return collect_each(clients, secrets, lambda s: s["ARN"], lambda s: _read_secret(clients, region, s))
