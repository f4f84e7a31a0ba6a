"""A realistic estate of every collected resource type, seeded into moto (no Django).

seed_estate works against any moto endpoint, inside or outside pytest; one module per service makes
its resources (iam, kms, s3, ec2, rds, cloudtrail). devtools.changes then drifts and restores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from devtools.estate.cloudtrail import seed_trails
from devtools.estate.common import Region, trust_policy
from devtools.estate.dynamodb import seed_tables
from devtools.estate.ec2 import seed_default_group, seed_security_groups
from devtools.estate.eks import seed_clusters
from devtools.estate.elbv2 import seed_load_balancers
from devtools.estate.iam import seed_iam
from devtools.estate.instances import seed_instances
from devtools.estate.kms import seed_keys
from devtools.estate.messaging import seed_messaging
from devtools.estate.rds import seed_db_instances
from devtools.estate.s3 import seed_buckets
from devtools.estate.secrets import seed_secrets
from devtools.estate.serverless import seed_functions
from devtools.fake_aws import ACCOUNT_ID, SeedClients

__all__ = ["RESOURCE_TYPES", "seed_estate", "trust_policy"]

RESOURCE_TYPES = (
    "s3_bucket",
    "ec2_security_group",
    "iam_role",
    "rds_instance",
    "kms_key",
    "cloudtrail_trail",
    "ec2_instance",
    "ebs_volume",
    "ebs_snapshot",
    "lambda_function",
    "iam_user",
    "iam_policy",
    "sqs_queue",
    "sns_topic",
    "elbv2_load_balancer",
    "eks_cluster",
    "dynamodb_table",
    "secretsmanager_secret",
)


def seed_estate(
    endpoint_url: str, regions: Sequence[str] = ("us-east-1", "eu-west-1"), scale: int = 1, prefix: str = "dw"
) -> dict:
    """Create a realistic estate of every collected type in moto (serially) and describe what was made.

    Per region and per unit of `scale`: 4 buckets (logs, locked, app, plain), 3 security groups (web, db,
    mgmt) besides the default one, 2 DB instances, 4 KMS keys (app, data, sign, retired) and a
    single-region trail; plus, in the first region, a multi-region trail with logging on. Also per region
    and unit: an instance with its root and data volumes and a snapshot, a Lambda function, 2 queues
    (orders and its dead-letter queue), a topic, a load balancer, an EKS cluster, a DynamoDB table and a
    secret. Per unit of scale, 3 IAM roles (app, deploy, worker), a customer policy and 2 users (ci,
    console), and once a service-linked role that is never collected.
    The result maps each resource type to records {resource_type, external_id, name (the expected
    collected name), region, id (natural id), kind, ...} and "targets" to the records apply_changes edits.
    Expects a reset server (names are fixed by prefix, region and index).
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    c = SeedClients(endpoint_url)
    estate: dict[str, Any] = {
        "endpoint_url": endpoint_url,
        "account_id": ACCOUNT_ID,
        "regions": list(regions),
        "scale": scale,
        "prefix": prefix,
        **{resource_type: [] for resource_type in RESOURCE_TYPES},
    }
    seed_iam(c, prefix, scale, estate)
    for index, region in enumerate(regions):
        _seed_region(Region(c, region, prefix, estate, first=index == 0), scale, estate)
    estate["targets"] = _targets(estate)
    return estate


def _seed_region(r: Region, scale: int, estate: dict) -> None:
    seed_default_group(r)
    for i in range(scale):
        app_role, worker_role = (
            next(role for role in estate["iam_role"] if role["kind"] == kind and role["id"].endswith(f"-{i}"))
            for kind in ("app", "worker")
        )
        app_key = seed_keys(r, i)  # first: buckets and databases use the app key
        key_arn = app_key["Arn"]
        logs_bucket = seed_buckets(r, i, key_arn)
        web, db, mgmt = seed_security_groups(r, i)
        seed_db_instances(r, i, key_arn, db, mgmt)
        seed_trails(r, i, logs_bucket)
        seed_instances(r, i, key_arn, web, app_role["instance_profile_arn"])
        function = seed_functions(r, i, worker_role["external_id"], key_arn)
        seed_messaging(r, i, key_arn)
        seed_load_balancers(r, i, web, logs_bucket)
        seed_clusters(r, i, app_role["external_id"], key_arn, mgmt)
        seed_tables(r, i, key_arn)
        seed_secrets(r, i, key_arn, function["external_id"])


def _targets(estate: dict) -> dict[str, dict]:
    """The record each drift scenario of devtools.changes edits."""

    def pick(resource_type: str, kind: str) -> dict:
        return next(r for r in estate[resource_type] if r["kind"] == kind)

    return {
        "public_access_block": pick("s3_bucket", "locked"),
        "open_ssh": pick("ec2_security_group", "web"),
        "admin_role": pick("iam_role", "app"),
        "public_db": pick("rds_instance", "pg"),
        "rotation": pick("kms_key", "app"),
        "logging": pick(
            "cloudtrail_trail",
            "org" if any(r["kind"] == "org" for r in estate["cloudtrail_trail"]) else "local",
        ),
        "tag": pick("s3_bucket", "app"),
        "imdsv1": pick("ec2_instance", "app"),
        "public_ip": pick("ec2_instance", "app"),
        "instance_tag": pick("ec2_instance", "app"),
        "volume_tag": pick("ebs_volume", "data"),
        "public_snapshot": pick("ebs_snapshot", "data"),
        "function_url_open": pick("lambda_function", "api"),
        "function_public": pick("lambda_function", "api"),
        "queue_public": pick("sqs_queue", "orders"),
        "topic_public": pick("sns_topic", "alerts"),
        "login_profile": pick("iam_user", "ci"),
        "new_access_key": pick("iam_user", "console"),
        "mfa_removed": pick("iam_user", "console"),
        "policy_admin": pick("iam_policy", "app"),
        "plain_http_listener": pick("elbv2_load_balancer", "web"),
        "weak_tls": pick("elbv2_load_balancer", "web"),
        "eks_open": pick("eks_cluster", "main"),
        "pitr_off": pick("dynamodb_table", "orders"),
        "table_unprotected": pick("dynamodb_table", "orders"),
        "rotation_off": pick("secretsmanager_secret", "db"),
        "secret_public": pick("secretsmanager_secret", "db"),
    }
