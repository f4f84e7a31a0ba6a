"""Build the boto3 session and client pool one scan task uses."""

from __future__ import annotations

from collections.abc import Mapping

import boto3

from .base import AwsClients, client_config

ROLE_SESSION_NAME = "driftwatch"


def build_clients(
    *,
    credentials: Mapping[str, str] | None,
    role_arn: str | None,
    external_id: str | None,
    endpoint_url: str | None,
    max_workers: int = 8,
    default_region: str = "us-east-1",
    max_attempts: int = 10,
) -> AwsClients:
    """Create an AwsClients from static keys (or the default chain when None), optionally assuming a role.

    external_id only accompanies role_arn (it is ignored without one). The assumed role's temporary
    credentials last the STS default (one hour), which bounds one task.
    """
    if credentials is not None:
        missing = {"access_key_id", "secret_access_key"} - set(credentials)
        if missing:
            raise ValueError(f"credentials lack {', '.join(sorted(missing))}")
        session = boto3.Session(
            aws_access_key_id=credentials["access_key_id"],
            aws_secret_access_key=credentials["secret_access_key"],
            aws_session_token=credentials.get("session_token") or None,
            region_name=default_region,
        )
    else:
        session = boto3.Session(region_name=default_region)

    if role_arn:
        from driftwatch.outbound import guard_boto_client  # here: the collectors import without Django

        sts = guard_boto_client(
            session.client(
                "sts",
                region_name=default_region,
                endpoint_url=endpoint_url,
                config=client_config(max_workers=1, max_attempts=max_attempts),
            )
        )
        params = {"RoleArn": role_arn, "RoleSessionName": ROLE_SESSION_NAME}
        if external_id:
            params["ExternalId"] = external_id
        assumed = sts.assume_role(**params)["Credentials"]
        session = boto3.Session(
            aws_access_key_id=assumed["AccessKeyId"],
            aws_secret_access_key=assumed["SecretAccessKey"],
            aws_session_token=assumed["SessionToken"],
            region_name=default_region,
        )

    return AwsClients(
        session,
        endpoint_url=endpoint_url,
        max_workers=max_workers,
        default_region=default_region,
        max_attempts=max_attempts,
    )


def caller_identity(clients: AwsClients) -> dict:
    """Who the credentials are: STS GetCallerIdentity as {"account", "arn"}."""
    identity = clients.client("sts").get_caller_identity()
    return {"account": identity["Account"], "arn": identity["Arn"]}
