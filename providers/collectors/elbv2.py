"""Elastic Load Balancing v2 (ALB/NLB/GWLB) collector (regional): listeners, attributes and tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    AwsClients,
    CollectedResource,
    CollectResult,
    collect_each,
    paginate,
    resource_name,
    sort_set,
    sorted_dict,
    tags_to_dict,
    to_bool,
)

RESOURCE_TYPE = "elbv2_load_balancer"

# DescribeLoadBalancers/DescribeListeners accept PageSize 1..400.
PAGE_SIZE = 400

# Only these protocols negotiate TLS; AWS (and moto) may still report an SslPolicy on others.
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})

# Listener DefaultActions keys kept; Order is kept too (it decides which action runs).
ACTION_KEYS = (
    "Type",
    "Order",
    "TargetGroupArn",
    "RedirectConfig",
    "FixedResponseConfig",
    "ForwardConfig",
    "AuthenticateOidcConfig",
    "AuthenticateCognitoConfig",
)


def _action(action: Mapping[str, Any]) -> dict:
    out = {key: action[key] for key in ACTION_KEYS if action.get(key) is not None}
    forward = out.get("ForwardConfig")
    if forward and forward.get("TargetGroups"):
        out["ForwardConfig"] = {**forward, "TargetGroups": sort_set(forward["TargetGroups"])}
    oidc = out.get("AuthenticateOidcConfig")
    if oidc:
        out["AuthenticateOidcConfig"] = {k: v for k, v in oidc.items() if k != "ClientSecret"}  # never stored
    return sorted_dict(out)


def _listener(listener: Mapping[str, Any]) -> dict:
    protocol = listener.get("Protocol")
    return {
        "Protocol": protocol,
        "Port": listener.get("Port"),
        "SslPolicy": listener.get("SslPolicy") if protocol in TLS_PROTOCOLS else None,
        "Certificates": sorted({c["CertificateArn"] for c in listener.get("Certificates") or []}),
        "AlpnPolicy": sorted(listener.get("AlpnPolicy") or []),
        "DefaultActions": sort_set(_action(a) for a in listener.get("DefaultActions") or []),
    }


def _read_load_balancer(clients: AwsClients, region: str, balancer: Mapping[str, Any]) -> CollectedResource:
    elbv2 = clients.client("elbv2", region)
    arn = balancer["LoadBalancerArn"]
    listeners = paginate(elbv2, "describe_listeners", "Listeners", PAGE_SIZE, LoadBalancerArn=arn)
    attributes = {
        a["Key"]: a.get("Value")
        for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn).get("Attributes", [])
    }
    descriptions = elbv2.describe_tags(ResourceArns=[arn]).get("TagDescriptions", [])
    tags = tags_to_dict(tag for d in descriptions if d.get("ResourceArn") == arn for tag in d.get("Tags", []))
    config = {
        "LoadBalancerName": balancer.get("LoadBalancerName"),
        "Type": balancer.get("Type"),
        "Scheme": balancer.get("Scheme"),
        "IpAddressType": balancer.get("IpAddressType"),
        "VpcId": balancer.get("VpcId"),
        "SecurityGroups": sorted(balancer.get("SecurityGroups") or []),
        "Subnets": sorted(zone["SubnetId"] for zone in balancer.get("AvailabilityZones") or [] if zone.get("SubnetId")),
        # Keyed by port (a load balancer has one listener per port), so an edit reads as a changed field.
        "Listeners": {str(listener.get("Port")): _listener(listener) for listener in listeners},
        "AccessLogs": {
            "Enabled": to_bool(attributes.get("access_logs.s3.enabled")) or False,
            "Bucket": attributes.get("access_logs.s3.bucket") or None,
            "Prefix": attributes.get("access_logs.s3.prefix") or None,
        },
        "DeletionProtection": to_bool(attributes.get("deletion_protection.enabled")) or False,
        "DropInvalidHeaderFields": to_bool(attributes.get("routing.http.drop_invalid_header_fields.enabled")),
        "Tags": tags,
    }
    # State, DNSName and CreatedTime are left out: the state moves on its own, the others never change.
    return CollectedResource(
        external_id=arn,
        name=resource_name(tags, balancer.get("LoadBalancerName")),
        region=region,
        config=sorted_dict(config),
    )


def collect(clients: AwsClients, region: str) -> CollectResult:
    """Collect every v2 load balancer of a region with its listeners and security-relevant attributes."""
    elbv2 = clients.client("elbv2", region)
    balancers = paginate(elbv2, "describe_load_balancers", "LoadBalancers", PAGE_SIZE)
    return collect_each(
        clients, balancers, lambda b: b["LoadBalancerArn"], lambda b: _read_load_balancer(clients, region, b)
    )
