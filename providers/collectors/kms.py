"""KMS customer-managed key collector (regional)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from botocore.exceptions import ClientError

from .base import (
    AwsClients,
    CollectedResource,
    CollectResult,
    collect_each,
    error_code,
    normalize_policy,
    paginate,
    resource_name,
    sorted_dict,
    tags_to_dict,
)

RESOURCE_TYPE = "kms_key"

# ListKeys/ListAliases/ListResourceTags accept Limit 1..1000 (moto ignores it: one page).
PAGE_SIZE = 1000

# Key states in which AWS answers GetKeyRotationStatus with KMSInvalidStateException: rotation does not
# apply to a key that is being deleted or still waits for its key material, so that is a value (null).
ROTATION_NOT_APPLICABLE_STATES = frozenset({"PendingDeletion", "PendingImport", "PendingReplicaDeletion"})


def _rotation_enabled(kms: Any, key_id: str, metadata: dict) -> bool | None:
    """KeyRotationEnabled, or None where AWS says automatic rotation does not apply to the key."""
    key_spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec")
    if key_spec != "SYMMETRIC_DEFAULT":
        # Asymmetric and HMAC keys cannot rotate (AWS: UnsupportedOperationException; moto says False).
        return None
    try:
        return bool(kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"])
    except ClientError as exc:
        code = error_code(exc)
        if code == "UnsupportedOperationException":
            return None  # imported key material or a custom key store: rotation not supported
        if code == "KMSInvalidStateException" and metadata.get("KeyState") in ROTATION_NOT_APPLICABLE_STATES:
            return None
        raise


def _read_key(clients: AwsClients, region: str, key_id: str, aliases: list[str]) -> CollectedResource | None:
    kms = clients.client("kms", region)
    # Always by key id: DescribeKey on an alias/aws/* name makes moto (and AWS) create the managed key.
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    if metadata.get("KeyManager") != "CUSTOMER":
        return None
    policy = normalize_policy(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    tags = tags_to_dict(
        paginate(kms, "list_resource_tags", "Tags", PAGE_SIZE, KeyId=key_id), key="TagKey", value="TagValue"
    )
    config = {
        "KeyId": metadata["KeyId"],
        "Description": metadata.get("Description", ""),
        "KeyState": metadata.get("KeyState"),
        "KeyUsage": metadata.get("KeyUsage"),
        "KeySpec": metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec"),
        "KeyRotationEnabled": _rotation_enabled(kms, key_id, metadata),
        "Policy": policy,
        "Aliases": sorted(aliases),
        "Tags": tags,
    }
    first_alias = sorted(aliases)[0].removeprefix("alias/") if aliases else None
    return CollectedResource(
        external_id=metadata["Arn"],
        name=resource_name(tags, first_alias, metadata["KeyId"]),
        region=region,
        config=sorted_dict(config),
    )


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect the customer-managed keys of a region with their aliases, rotation, policy and tags."""
    kms = clients.client("kms", region)
    keys = paginate(kms, "list_keys", "Keys", PAGE_SIZE)
    # One ListAliases per region instead of one per key; AWS-managed aliases point at keys we skip.
    aliases: dict[str, list[str]] = defaultdict(list)
    for alias in paginate(kms, "list_aliases", "Aliases", PAGE_SIZE):
        if alias.get("TargetKeyId"):
            aliases[alias["TargetKeyId"]].append(alias["AliasName"])
    return collect_each(
        clients,
        keys,
        lambda k: k["KeyArn"],
        lambda k: _read_key(clients, region, k["KeyId"], aliases.get(k["KeyId"], [])),
    )
