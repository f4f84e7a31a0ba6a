"""S3 bucket collector (a global unit: ListBuckets sees every region's buckets)."""

from __future__ import annotations

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
    sort_set,
    sorted_dict,
    tags_to_dict,
)

RESOURCE_TYPE = "s3_bucket"

PUBLIC_ACCESS_BLOCK_KEYS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)
GRANTEE_KEYS = ("Type", "ID", "URI", "EmailAddress")  # DisplayName is cosmetic and AWS is retiring it

# Error codes that mean "this bucket has no such configuration": a value, not a failure.
NO_POLICY = "NoSuchBucketPolicy"
NO_ENCRYPTION = "ServerSideEncryptionConfigurationNotFoundError"
NO_PUBLIC_ACCESS_BLOCK = "NoSuchPublicAccessBlockConfiguration"
NO_TAGS = "NoSuchTagSet"


def bucket_arn(name: str) -> str:
    """The ARN of a bucket (bucket ARNs carry neither region nor account)."""
    return f"arn:aws:s3:::{name}"


def location_to_region(location: str | None) -> str:
    """Map a GetBucketLocation LocationConstraint to a region name."""
    if not location:
        return "us-east-1"  # us-east-1 buckets report no constraint at all
    if location == "EU":
        return "eu-west-1"  # legacy constraint of the first European buckets
    return location


def _optional(call: Any, missing_code: str, **params: Any) -> dict | None:
    """Call a Get* API, turning the 'not configured' error code into None."""
    try:
        return call(**params)
    except ClientError as exc:
        if error_code(exc) == missing_code:
            return None
        raise


def _read_bucket(clients: AwsClients, bucket: dict) -> CollectedResource:
    name = bucket["Name"]
    # ListBuckets only reports BucketRegion when called with parameters (moto never does).
    region = bucket.get("BucketRegion") or location_to_region(
        clients.client("s3").get_bucket_location(Bucket=name).get("LocationConstraint")
    )
    s3 = clients.client("s3", region)

    grants = s3.get_bucket_acl(Bucket=name).get("Grants", [])
    acl = {
        "Grants": sort_set(
            {
                "Grantee": {k: g["Grantee"][k] for k in GRANTEE_KEYS if g.get("Grantee", {}).get(k)},
                "Permission": g.get("Permission"),
            }
            for g in grants
        )
    }

    encryption_resp = _optional(s3.get_bucket_encryption, NO_ENCRYPTION, Bucket=name)
    encryption = None
    if encryption_resp is not None:
        rules = encryption_resp.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        encryption = {"Rules": sort_set(rules)}

    logging_enabled = s3.get_bucket_logging(Bucket=name).get("LoggingEnabled")
    logging = None
    if logging_enabled:
        logging = {
            "TargetBucket": logging_enabled.get("TargetBucket"),
            "TargetPrefix": logging_enabled.get("TargetPrefix", ""),
        }

    policy_resp = _optional(s3.get_bucket_policy, NO_POLICY, Bucket=name)
    policy = normalize_policy(policy_resp.get("Policy")) if policy_resp else None

    pab_resp = _optional(s3.get_public_access_block, NO_PUBLIC_ACCESS_BLOCK, Bucket=name)
    pab_config = (pab_resp or {}).get("PublicAccessBlockConfiguration", {})
    public_access_block = {key: bool(pab_config.get(key, False)) for key in PUBLIC_ACCESS_BLOCK_KEYS}

    # A bucket that never had versioning returns no Status at all.
    versioning = s3.get_bucket_versioning(Bucket=name).get("Status") or "Disabled"

    tagging = _optional(s3.get_bucket_tagging, NO_TAGS, Bucket=name)
    tags = tags_to_dict((tagging or {}).get("TagSet"))

    config = {
        "Acl": acl,
        "Encryption": encryption,
        "Logging": logging,
        "Policy": policy,
        "PublicAccessBlock": public_access_block,
        "Tags": tags,
        "Versioning": versioning,
    }
    return CollectedResource(
        external_id=bucket_arn(name),
        name=resource_name(tags, name),
        region=region,
        config=sorted_dict(config),
    )


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every bucket of the account; `region` is ignored (S3 is one global unit)."""
    # No PageSize: moto's ListBuckets(MaxBuckets=n) truncates without a continuation token.
    buckets = paginate(clients.client("s3"), "list_buckets", "Buckets")
    return collect_each(clients, buckets, lambda b: bucket_arn(b["Name"]), lambda b: _read_bucket(clients, b))
