"""EKS cluster collector (regional): endpoint access, logging, secrets encryption and tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    AwsClients,
    CollectedResource,
    CollectResult,
    collect_each,
    paginate,
    partition,
    resource_name,
    sort_set,
    sorted_dict,
)

RESOURCE_TYPE = "eks_cluster"

# ListClusters accepts maxResults 1..100.
PAGE_SIZE = 100


def _vpc_config(vpc: Mapping[str, Any]) -> dict:
    return {
        "endpointPublicAccess": vpc.get("endpointPublicAccess"),
        "endpointPrivateAccess": vpc.get("endpointPrivateAccess"),
        # AWS answers ["0.0.0.0/0"] for a public endpoint given no list: the same value either way.
        "publicAccessCidrs": sorted(vpc.get("publicAccessCidrs") or []),
        "securityGroupIds": sorted(vpc.get("securityGroupIds") or []),
        "subnetIds": sorted(vpc.get("subnetIds") or []),
        "vpcId": vpc.get("vpcId"),
    }


def _logging(logging: Mapping[str, Any] | None) -> list[str]:
    """The log types that are on, sorted (AWS groups them in any number of enabled/disabled blocks)."""
    return sorted(
        {
            log_type
            for block in (logging or {}).get("clusterLogging") or []
            if block.get("enabled")
            for log_type in block.get("types") or []
        }
    )


def _read_cluster(clients: AwsClients, region: str, name: str) -> CollectedResource:
    cluster = clients.client("eks", region).describe_cluster(name=name)["cluster"]
    tags = dict(sorted((cluster.get("tags") or {}).items()))
    config = {
        "name": cluster["name"],
        "version": cluster.get("version"),
        "roleArn": cluster.get("roleArn"),
        "resourcesVpcConfig": _vpc_config(cluster.get("resourcesVpcConfig") or {}),
        "logging": _logging(cluster.get("logging")),
        "encryptionConfig": sort_set(
            {"keyArn": (entry.get("provider") or {}).get("keyArn"), "resources": sorted(entry.get("resources") or [])}
            for entry in cluster.get("encryptionConfig") or []
        ),
        "accessConfig": {
            "authenticationMode": (cluster.get("accessConfig") or {}).get("authenticationMode"),
        },
        # EKS spells it "tags"; "Tags" like every other type, so the catalogue's tag rule covers it.
        "Tags": tags,
    }
    # status, createdAt, endpoint, certificateAuthority, identity, health, platformVersion (AWS bumps it
    # on its own) and clientRequestToken are left out.
    return CollectedResource(
        external_id=cluster["arn"], name=resource_name(tags, cluster["name"]), region=region, config=sorted_dict(config)
    )


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every cluster of a region; the listing has names only, so each is described."""
    names = paginate(clients.client("eks", region), "list_clusters", "clusters", PAGE_SIZE)
    if not names:
        return CollectResult()
    # The listing has names only: a cluster that fails to describe is named by the ARN it would have had
    # (so it is kept, never marked deleted), which needs the account id.
    prefix = f"arn:{partition(region)}:eks:{region}:{clients.account_id()}:cluster/"
    return collect_each(clients, names, lambda name: prefix + name, lambda name: _read_cluster(clients, region, name))
