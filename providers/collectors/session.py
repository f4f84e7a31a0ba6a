"""Build the boto3 session and client pool one scan task uses."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import boto3
import botocore.loaders
import botocore.session

from .base import AwsClients, client_config

ROLE_SESSION_NAME = "driftwatch"

# One botocore data loader for the whole process. Each scan unit gets a session of its own (credentials
# differ), and a fresh session would re-read and re-parse endpoints.json and every service model it
# touches: profiled, that was two thirds of a unit's time against a local endpoint. The loader caches
# what it parsed; sessions share it, read-only.
_loader: botocore.loaders.Loader | None = None
_loader_lock = threading.Lock()


def new_session(botocore_session: botocore.session.Session | None = None, **kwargs: Any) -> boto3.Session:
    """A boto3 Session (same arguments) whose botocore session reads service data through the shared loader."""
    global _loader
    core = botocore_session or botocore.session.Session()
    with _loader_lock:
        if _loader is None:
            _loader = botocore.loaders.create_loader()
        core.register_component("data_loader", _loader)
        session = boto3.Session(botocore_session=core, **kwargs)
        # boto3 appends its own data directory to the loader's search path for every session: keep one.
        paths = _loader.search_paths
        paths[:] = list(dict.fromkeys(paths))
    return session


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
        session = new_session(
            aws_access_key_id=credentials["access_key_id"],
            aws_secret_access_key=credentials["secret_access_key"],
            aws_session_token=credentials.get("session_token") or None,
            region_name=default_region,
        )
    else:
        session = new_session(region_name=default_region)

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
        session = new_session(
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
