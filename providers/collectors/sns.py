"""SNS topic collector (regional): policy, encryption, subscriptions and tags."""

from __future__ import annotations

from typing import Any

from .base import (
    AwsClients,
    CollectedResource,
    CollectResult,
    collect_each,
    normalize_policy,
    paginate,
    resource_name,
    sort_set,
    sorted_dict,
    tags_to_dict,
    to_bool,
)

RESOURCE_TYPE = "sns_topic"

# Copied as-is. SubscriptionsConfirmed/Pending/Deleted are counters; EffectiveDeliveryPolicy is derived.
TEXT_ATTRIBUTES = ("DisplayName", "KmsMasterKeyId", "SignatureVersion", "TracingConfig")
JSON_POLICY_ATTRIBUTES = ("Policy",)

# Endpoints that are personal data: shown masked, so a reader sees that one changed but not whose it is.
MASKED_PROTOCOLS = frozenset({"email", "email-json", "sms"})


def mask_endpoint(protocol: str, endpoint: str | None) -> str | None:
    """An email address as `a***@example.com`, a phone number as `***1234`; other endpoints unchanged."""
    if endpoint is None or protocol not in MASKED_PROTOCOLS:
        return endpoint
    if protocol == "sms":
        return "***" + endpoint[-4:]
    local, _, domain = endpoint.partition("@")
    return f"{local[:1]}***@{domain}"


def _read_topic(clients: AwsClients, region: str, arn: str) -> CollectedResource:
    sns = clients.client("sns", region)
    attributes = sns.get_topic_attributes(TopicArn=arn).get("Attributes", {})
    subscriptions = paginate(sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=arn)
    tags = tags_to_dict(sns.list_tags_for_resource(ResourceArn=arn).get("Tags"))
    config: dict[str, Any] = {key: attributes.get(key) for key in TEXT_ATTRIBUTES}
    config["FifoTopic"] = to_bool(attributes.get("FifoTopic")) or False
    config["ContentBasedDeduplication"] = to_bool(attributes.get("ContentBasedDeduplication")) or False
    for key in JSON_POLICY_ATTRIBUTES:
        config[key] = normalize_policy(attributes.get(key))
    # Protocol and endpoint only: subscription ARNs and "PendingConfirmation" move on their own.
    config["Subscriptions"] = sort_set(
        {"Protocol": s.get("Protocol"), "Endpoint": mask_endpoint(s.get("Protocol", ""), s.get("Endpoint"))}
        for s in subscriptions
    )
    config["Tags"] = tags
    name = arn.rsplit(":", 1)[-1]
    return CollectedResource(external_id=arn, name=resource_name(tags, name), region=region, config=sorted_dict(config))


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every topic of a region (ListTopics pages by NextToken; it takes no page size)."""
    topics = paginate(clients.client("sns", region), "list_topics", "Topics")
    return collect_each(clients, topics, lambda t: t["TopicArn"], lambda t: _read_topic(clients, region, t["TopicArn"]))
