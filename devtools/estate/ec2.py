"""EC2 security groups: the default VPC's default group per region, and web, db and mgmt per unit of scale."""

from __future__ import annotations

from devtools.estate.common import Region
from devtools.fake_aws import tag_list

ANYWHERE = [{"CidrIp": "0.0.0.0/0"}]


def seed_default_group(r: Region) -> None:
    """Record the default VPC's default group and create the managed prefix list the db group allows."""
    ec2 = r.client("ec2")
    r.vpc_id = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    r.default_subnets = sorted(subnets, key=lambda subnet: subnet["AvailabilityZone"])
    default_sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [r.vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    r.add("ec2_security_group", default_sg, "default", id=default_sg, kind="default", vpc_id=r.vpc_id)
    r.prefix_list_id = ec2.create_managed_prefix_list(
        PrefixListName=f"{r.prefix}-corp", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": "10.0.0.0/8"}]
    )["PrefixList"]["PrefixListId"]


def seed_security_groups(r: Region, i: int) -> tuple[str, str, str]:
    """Create the web, db and mgmt groups (seed_default_group first); returns their ids."""
    ec2 = r.client("ec2")
    web = _web_group(ec2, r, i)
    db = _db_group(ec2, r, i, web)
    mgmt = _mgmt_group(ec2, r, i)
    for kind, group_id, name in (
        ("web", web, f"web-{i}"),
        ("db", db, f"{r.prefix}-db-{i}"),
        ("mgmt", mgmt, f"{r.prefix}-mgmt-{i}"),
    ):
        r.add(
            "ec2_security_group",
            group_id,
            name,
            id=group_id,
            kind=kind,
            vpc_id=r.vpc_id,
            prefix_list_id=r.prefix_list_id,
        )
    return web, db, mgmt


def _web_group(ec2, r: Region, i: int) -> str:
    """HTTPS from anywhere (IPv4 and IPv6) and HTTP; named by its Name tag."""
    web = ec2.create_security_group(
        GroupName=f"{r.prefix}-web-{i}",
        Description="web tier",
        VpcId=r.vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list({"Name": f"web-{i}", "env": "prod"})}],
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": ANYWHERE},
        ],
    )
    return web


def _db_group(ec2, r: Region, i: int, web: str) -> str:
    """PostgreSQL from the web group and the prefix list; egress HTTPS only."""
    db = ec2.create_security_group(GroupName=f"{r.prefix}-db-{i}", Description="database tier", VpcId=r.vpc_id)[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=db,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": web, "Description": "from web"}],
                "PrefixListIds": [{"PrefixListId": r.prefix_list_id}],
            }
        ],
    )
    # Replace the allow-all egress with HTTPS only.
    ec2.revoke_security_group_egress(GroupId=db, IpPermissions=[{"IpProtocol": "-1", "IpRanges": ANYWHERE}])
    ec2.authorize_security_group_egress(
        GroupId=db,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": ANYWHERE}],
    )
    return db


def _mgmt_group(ec2, r: Region, i: int) -> str:
    """ICMP from 10.0.0.0/8."""
    mgmt = ec2.create_security_group(GroupName=f"{r.prefix}-mgmt-{i}", Description="management", VpcId=r.vpc_id)[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=mgmt,
        IpPermissions=[{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
    )
    return mgmt
