"""What every seeding module shares: the record of a seeded resource, a trust policy, one region's context."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from devtools.fake_aws import SeedClients


def record(resource_type: str, external_id: str, name: str, region: str, **extra: Any) -> dict:
    """A seeded resource as seed_estate describes it: name is the name the collector is expected to give."""
    return {
        "resource_type": resource_type,
        "external_id": external_id,
        "name": name,
        "region": region,
        **extra,
    }


def trust_policy(principal: dict, condition: dict | None = None) -> str:
    """An sts:AssumeRole trust policy for a principal."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def policy(*statements: dict) -> str:
    """A policy document holding these statements."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass
class Region:
    """One region being seeded: its clients, the estate's prefix, and the records made so far (out)."""

    clients: SeedClients
    name: str
    prefix: str
    out: dict[str, list[dict]]
    first: bool  # the estate's first region, home of the multi-region trail
    vpc_id: str = ""  # the default VPC, set by the EC2 seeding
    prefix_list_id: str = ""
    default_subnets: list[dict] = field(default_factory=list)  # the default VPC's, by availability zone

    def client(self, service: str) -> Any:
        return self.clients(service, self.name)

    def add(self, resource_type: str, external_id: str, name: str, **extra: Any) -> None:
        self.out[resource_type].append(record(resource_type, external_id, name, self.name, **extra))
