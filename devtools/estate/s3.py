"""S3 buckets, per region and unit of scale: logs, locked, app and plain."""

from __future__ import annotations

import json

from devtools.estate.common import Region
from devtools.fake_aws import tag_list
from providers.collectors.s3 import bucket_arn


def seed_buckets(r: Region, i: int, kms_key_arn: str) -> str:
    """Create the four buckets; returns the logs bucket's name (the app bucket and trails log to it)."""
    s3 = r.client("s3")
    location = {} if r.name == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": r.name}}
    logs = _logs_bucket(s3, f"{r.prefix}-{i}-logs-{r.name}", location, kms_key_arn)
    locked = _locked_bucket(s3, f"{r.prefix}-{i}-locked-{r.name}", location, tag_name=f"locked-{r.name}-{i}")
    app = _app_bucket(s3, f"{r.prefix}-{i}-app-{r.name}", location, logs)
    plain = f"{r.prefix}-{i}-plain-{r.name}"
    s3.create_bucket(Bucket=plain, **location)
    for kind, bucket, name in (
        ("logs", logs, logs),
        ("locked", locked, f"locked-{r.name}-{i}"),
        ("app", app, app),
        ("plain", plain, plain),
    ):
        r.add("s3_bucket", bucket_arn(bucket), name, id=bucket, kind=kind)
    return logs


def _logs_bucket(s3, bucket: str, location: dict, kms_key_arn: str) -> str:
    """Log delivery ACL, versioning suspended, SSE-KMS with a bucket key."""
    s3.create_bucket(Bucket=bucket, ACL="log-delivery-write", **location)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": kms_key_arn,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_list({"env": "prod", "purpose": "logs"})})
    return bucket


def _locked_bucket(s3, bucket: str, location: dict, tag_name: str) -> str:
    """Every public access block on, versioning on, SSE-S3; named by its Name tag."""
    s3.create_bucket(Bucket=bucket, **location)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_list({"Name": tag_name, "env": "prod"})})
    return bucket


def _app_bucket(s3, bucket: str, location: dict, logs: str) -> str:
    """Access logging to the logs bucket and a policy denying insecure transport."""
    s3.create_bucket(Bucket=bucket, **location)
    s3.put_bucket_logging(
        Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "app/"}}
    )
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{bucket}/*", f"arn:aws:s3:::{bucket}"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_list({"owner": "team-a", "env": "prod"})})
    return bucket
