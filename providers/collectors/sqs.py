"""SQS queue collector (regional): policy, encryption, timeouts, redrive and tags."""

from __future__ import annotations

import json
from typing import Any

from .base import (
    AwsClients,
    CollectedResource,
    CollectResult,
    PolicyParseError,
    collect_each,
    normalize_policy,
    paginate,
    partition,
    resource_name,
    sorted_dict,
    to_bool,
    to_int,
)

RESOURCE_TYPE = "sqs_queue"

# ListQueues accepts MaxResults 1..1000 (a NextToken only comes back when MaxResults is given).
PAGE_SIZE = 1000

# Attributes that are numbers or flags sent as strings. ApproximateNumberOfMessages*, CreatedTimestamp
# and LastModifiedTimestamp are never read: they change on their own.
INT_ATTRIBUTES = (
    "DelaySeconds",
    "KmsDataKeyReusePeriodSeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)
BOOL_ATTRIBUTES = ("ContentBasedDeduplication", "FifoQueue", "SqsManagedSseEnabled")
TEXT_ATTRIBUTES = ("KmsMasterKeyId", "DeduplicationScope", "FifoThroughputLimit")
JSON_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")


def _json_attribute(text: str | None) -> Any:
    if not text:
        return None
    try:
        value = json.loads(text)
        if isinstance(value, dict) and "maxReceiveCount" in value:
            value["maxReceiveCount"] = to_int(value["maxReceiveCount"])  # AWS sends a number, SDKs often a string
        return sorted_dict(value)
    except json.JSONDecodeError as exc:
        raise PolicyParseError(f"queue attribute is not valid JSON: {exc}") from exc


def queue_arn(region: str, url: str) -> str:
    """A queue's ARN from its URL (`.../<account>/<name>`), so a queue that fails to read keeps its id."""
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:{partition(region)}:sqs:{region}:{account}:{name}"


def _read_queue(clients: AwsClients, region: str, url: str) -> CollectedResource:
    sqs = clients.client("sqs", region)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
    tags = dict(sorted((sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}).items()))
    config: dict[str, Any] = {key: to_int(attributes.get(key)) for key in INT_ATTRIBUTES}
    config.update({key: to_bool(attributes.get(key)) for key in BOOL_ATTRIBUTES})
    config["FifoQueue"] = bool(config["FifoQueue"])  # only FIFO queues report it
    config.update({key: attributes.get(key) for key in TEXT_ATTRIBUTES})
    config.update({key: _json_attribute(attributes.get(key)) for key in JSON_ATTRIBUTES})
    config["Policy"] = normalize_policy(attributes.get("Policy"))
    config["Tags"] = tags
    arn = attributes.get("QueueArn") or queue_arn(region, url)
    name = arn.rsplit(":", 1)[-1]
    return CollectedResource(external_id=arn, name=resource_name(tags, name), region=region, config=sorted_dict(config))


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every queue of a region; a queue deleted between listing and reading is a failure, not a value."""
    urls = paginate(clients.client("sqs", region), "list_queues", "QueueUrls", PAGE_SIZE)
    # The listing has only URLs: a queue that fails to read is named by the ARN its URL spells, so it is
    # kept (never marked deleted) under the same id as when it was read.
    return collect_each(
        clients, urls, lambda url: queue_arn(region, url), lambda url: _read_queue(clients, region, url)
    )
