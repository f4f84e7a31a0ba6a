"""DynamoDB tables, per region and unit of scale: an on-demand orders table with every protection on."""

from __future__ import annotations

from devtools.estate.common import Region
from devtools.fake_aws import tag_list


def seed_tables(r: Region, i: int, kms_key_arn: str) -> None:
    dynamodb = r.client("dynamodb")
    name = f"{r.prefix}-orders-{i}"
    table = dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        # A key id given: without one moto makes a customer "default" key the KMS collector would see.
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": kms_key_arn},
        DeletionProtectionEnabled=True,
        Tags=tag_list({"env": "prod"}),
    )["TableDescription"]
    dynamodb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    r.add("dynamodb_table", table["TableArn"], name, id=name, kind="orders")
