"""EKS clusters, per region and unit of scale: a private-and-restricted-public endpoint, audit logs, KMS secrets."""

from __future__ import annotations

from devtools.estate.common import Region

PUBLIC_CIDRS = ["203.0.113.0/24"]
LOG_TYPES = ["api", "audit"]


def seed_clusters(r: Region, i: int, role_arn: str, kms_key_arn: str, mgmt_group: str) -> None:
    eks = r.client("eks")
    name = f"{r.prefix}-eks-{i}"
    cluster = eks.create_cluster(
        name=name,
        version="1.29",
        roleArn=role_arn,
        resourcesVpcConfig={
            "subnetIds": [subnet["SubnetId"] for subnet in r.default_subnets[:2]],
            "securityGroupIds": [mgmt_group],
            "endpointPublicAccess": True,
            "endpointPrivateAccess": True,
            "publicAccessCidrs": PUBLIC_CIDRS,
        },
        logging={"clusterLogging": [{"types": LOG_TYPES, "enabled": True}]},
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": kms_key_arn}}],
        tags={"env": "prod"},
    )["cluster"]
    r.add(
        "eks_cluster",
        cluster["arn"],
        name,
        id=name,
        kind="main",
        subnet_ids=[subnet["SubnetId"] for subnet in r.default_subnets[:2]],
        security_group_ids=[mgmt_group],
    )
