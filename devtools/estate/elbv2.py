"""Application load balancers, per region and unit of scale: HTTPS with a modern TLS policy, HTTP redirected."""

from __future__ import annotations

from devtools.estate.common import Region
from devtools.fake_aws import tag_list

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def seed_load_balancers(r: Region, i: int, web_group: str, logs_bucket: str) -> None:
    elbv2, acm = r.client("elbv2"), r.client("acm")
    name = f"{r.prefix}-alb-{i}"
    balancer = elbv2.create_load_balancer(
        Name=name,
        Subnets=[subnet["SubnetId"] for subnet in r.default_subnets[:2]],
        SecurityGroups=[web_group],
        Scheme="internet-facing",
        Type="application",
        Tags=tag_list({"env": "prod"}),
    )["LoadBalancers"][0]
    arn = balancer["LoadBalancerArn"]
    target_group = elbv2.create_target_group(
        Name=f"{r.prefix}-web-{i}", Protocol="HTTP", Port=8080, VpcId=r.vpc_id, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    certificate = acm.request_certificate(DomainName=f"app{i}.example.com", ValidationMethod="DNS")["CertificateArn"]
    elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTPS",
        Port=443,
        SslPolicy=TLS_POLICY,
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )
    elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
            }
        ],
    )
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn,
        Attributes=[
            {"Key": "deletion_protection.enabled", "Value": "true"},
            {"Key": "access_logs.s3.enabled", "Value": "true"},
            {"Key": "access_logs.s3.bucket", "Value": logs_bucket},
            {"Key": "access_logs.s3.prefix", "Value": "alb"},
        ],
    )
    r.add(
        "elbv2_load_balancer",
        arn,
        name,
        id=name,
        kind="web",
        target_group_arn=target_group,
        certificate_arn=certificate,
    )
