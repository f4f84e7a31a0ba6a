"""Lambda function collector (regional): configuration, function URL, resource policy and tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    AwsClients,
    CollectedResource,
    CollectResult,
    call_or_none,
    collect_each,
    normalize_policy,
    paginate,
    resource_name,
    sort_set,
    sorted_dict,
)

RESOURCE_TYPE = "lambda_function"

# ListFunctions accepts MaxItems 1..50.
PAGE_SIZE = 50

# "This function has no URL / no policy": a value, not a failure.
NOT_FOUND = ("ResourceNotFoundException",)

# Copied as-is from ListFunctions; CodeSha256, CodeSize, LastModified, RevisionId, State and the
# LastUpdateStatus fields change with every deployment or on their own.
FIELDS = ("Runtime", "Handler", "Role", "MemorySize", "Timeout", "KMSKeyArn", "PackageType")

CORS_LIST_KEYS = ("AllowHeaders", "AllowMethods", "AllowOrigins", "ExposeHeaders")


def _function_url(response: Mapping[str, Any] | None) -> dict | None:
    # FunctionUrl, CreationTime and LastModifiedTime are left out: the URL is derived, the times move.
    if response is None:
        return None
    cors = response.get("Cors")
    if cors is not None:
        cors = {key: sorted(cors[key]) if key in CORS_LIST_KEYS else cors[key] for key in cors}
    return {"AuthType": response.get("AuthType"), "Cors": cors, "InvokeMode": response.get("InvokeMode")}


def _vpc_config(vpc: Mapping[str, Any] | None) -> dict | None:
    if not vpc or not (vpc.get("SubnetIds") or vpc.get("SecurityGroupIds")):
        return None  # AWS answers an empty VpcConfig for functions outside a VPC
    return {
        "SubnetIds": sorted(vpc.get("SubnetIds") or []),
        "SecurityGroupIds": sorted(vpc.get("SecurityGroupIds") or []),
        "Ipv6AllowedForDualStack": vpc.get("Ipv6AllowedForDualStack"),
    }


def _read_function(clients: AwsClients, region: str, function: Mapping[str, Any]) -> CollectedResource:
    client = clients.client("lambda", region)
    arn = function["FunctionArn"]
    name = function["FunctionName"]
    url = call_or_none(client.get_function_url_config, NOT_FOUND, FunctionName=name)
    policy = call_or_none(client.get_policy, NOT_FOUND, FunctionName=name)  # its RevisionId is volatile
    tags = dict(sorted((client.list_tags(Resource=arn).get("Tags") or {}).items()))
    environment = (function.get("Environment") or {}).get("Variables") or {}
    config: dict[str, Any] = {key: function.get(key) for key in FIELDS}
    config.update(
        {
            "Architectures": sorted(function.get("Architectures") or ["x86_64"]),
            # Names only: values are often secrets and must never be stored.
            "EnvironmentVariables": sorted(environment),
            "VpcConfig": _vpc_config(function.get("VpcConfig")),
            "Layers": [layer["Arn"] for layer in function.get("Layers") or []],  # order matters: later wins
            "TracingConfig": (function.get("TracingConfig") or {}).get("Mode", "PassThrough"),
            "DeadLetterConfig": (function.get("DeadLetterConfig") or {}).get("TargetArn"),
            "FunctionUrlConfig": _function_url(url),
            "Policy": normalize_policy(policy.get("Policy")) if policy else None,
            "Tags": tags,
        }
    )
    config["FileSystemConfigs"] = sort_set(function.get("FileSystemConfigs") or [])
    return CollectedResource(external_id=arn, name=resource_name(tags, name), region=region, config=sorted_dict(config))


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every function of a region (unqualified: the $LATEST configuration)."""
    functions = paginate(clients.client("lambda", region), "list_functions", "Functions", PAGE_SIZE)
    return collect_each(clients, functions, lambda f: f["FunctionArn"], lambda f: _read_function(clients, region, f))
