"""IAM customer-managed policy collector (a global unit): the default version's document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    GLOBAL_REGION,
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

RESOURCE_TYPE = "iam_policy"

# IAM list calls accept MaxItems 1..1000; tests shrink this to prove pagination.
PAGE_SIZE = 1000


def _read_policy(clients: AwsClients, listed: Mapping[str, Any]) -> CollectedResource:
    iam = clients.client("iam")
    arn = listed["Arn"]
    # GetPolicy for tags and description; AttachmentCount, DefaultVersionId and UpdateDate are left out
    # (attachments are the principals' business, a new version id is seen through its document).
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    tags = tags_to_dict(policy.get("Tags"))
    config = {
        "PolicyName": policy["PolicyName"],
        "Path": policy.get("Path", "/"),
        "Description": policy.get("Description"),
        "Document": normalize_policy(version.get("Document")),
        "Tags": tags,
    }
    return CollectedResource(
        external_id=arn,
        name=resource_name(tags, policy["PolicyName"]),
        region=GLOBAL_REGION,
        config=sorted_dict(config),
    )


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect the account's customer-managed policies (Scope=Local: never the ~1,000 AWS-managed ones)."""
    policies = paginate(clients.client("iam"), "list_policies", "Policies", PAGE_SIZE, Scope="Local")
    return collect_each(clients, policies, lambda p: p["Arn"], lambda p: _read_policy(clients, p))
