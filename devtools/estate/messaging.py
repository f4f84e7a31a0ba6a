"""SQS queues and SNS topics, per region and unit of scale.

An orders queue (SSE-SQS, a dead-letter queue, a policy letting the alerts topic send) with its plain
dead-letter queue; an alerts topic encrypted with the app key, subscribed by the queue and an email.
"""

from __future__ import annotations

import json

from devtools.estate.common import Region, policy
from devtools.fake_aws import tag_list


def seed_messaging(r: Region, i: int, kms_key_arn: str) -> None:
    sqs, sns = r.client("sqs"), r.client("sns")
    account = r.out["account_id"]
    topic_name = f"{r.prefix}-alerts-{i}"
    topic_arn = f"arn:aws:sns:{r.name}:{account}:{topic_name}"

    dlq_name = f"{r.prefix}-orders-dlq-{i}"
    dlq_url = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    r.add("sqs_queue", dlq_arn, dlq_name, id=dlq_url, kind="dlq")

    name = f"{r.prefix}-orders-{i}"
    queue_arn = f"arn:aws:sqs:{r.name}:{account}:{name}"
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "60",
            "MessageRetentionPeriod": "345600",
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
            "Policy": policy(
                {
                    "Sid": "FromAlerts",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ),
        },
        tags={"env": "prod"},
    )["QueueUrl"]
    r.add("sqs_queue", queue_arn, name, id=url, kind="orders")

    # No policy given: the topic gets AWS's default one (anyone, narrowed to the owner account).
    created = sns.create_topic(
        Name=topic_name,
        Attributes={"KmsMasterKeyId": kms_key_arn, "DisplayName": "Alerts"},
        Tags=tag_list({"env": "prod"}),
    )["TopicArn"]
    sns.subscribe(TopicArn=created, Protocol="sqs", Endpoint=queue_arn)
    sns.subscribe(TopicArn=created, Protocol="email", Endpoint=f"oncall-{i}@example.com")
    r.add("sns_topic", created, topic_name, id=created, kind="alerts")
