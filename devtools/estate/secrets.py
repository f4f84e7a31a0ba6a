"""Secrets Manager secrets, per region and unit of scale: a database secret rotated every 30 days."""

from __future__ import annotations

from devtools.estate.common import Region, policy
from devtools.fake_aws import tag_list

ROTATION_DAYS = 30


def seed_secrets(r: Region, i: int, kms_key_arn: str, rotation_function_arn: str) -> None:
    client = r.client("secretsmanager")
    name = f"{r.prefix}/db-{i}"
    secret = client.create_secret(
        Name=name,
        Description="database credentials",
        KmsKeyId=kms_key_arn,
        SecretString="not-a-secret-1",
        Tags=tag_list({"env": "prod"}),
    )
    client.put_resource_policy(
        SecretId=secret["ARN"],
        ResourcePolicy=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{r.out['account_id']}:root"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ),
    )
    # moto tries to invoke the rotation function through Docker and carries on without it.
    client.rotate_secret(
        SecretId=secret["ARN"],
        RotationLambdaARN=rotation_function_arn,
        RotationRules={"AutomaticallyAfterDays": ROTATION_DAYS},
        RotateImmediately=False,
    )
    r.add("secretsmanager_secret", secret["ARN"], name, id=name, kind="db", rotation_function_arn=rotation_function_arn)
