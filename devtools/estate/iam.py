"""IAM roles, per unit of scale: app, deploy and worker; and once a service-linked role (never collected)."""

from __future__ import annotations

import json

from devtools.estate.common import policy, record, trust_policy
from devtools.fake_aws import ACCOUNT_ID, READONLY_POLICY_ARN, SeedClients, tag_list


def seed_iam(c: SeedClients, prefix: str, scale: int, out: dict) -> None:
    iam = c("iam")
    # One service-linked role: present in ListRoles, never collected.
    iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")
    for i in range(scale):
        policy_arn = iam.create_policy(
            PolicyName=f"{prefix}-app-policy-{i}",
            PolicyDocument=policy({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}),
        )["Policy"]["Arn"]
        out["iam_role"].append(_app_role(iam, prefix, i, policy_arn))
        out["iam_role"].append(_deploy_role(iam, prefix, i))
        out["iam_role"].append(_worker_role(iam, prefix, i))


def _app_role(iam, prefix: str, i: int, policy_arn: str) -> dict:
    """An EC2 role with two managed policies and an inline one written the way the collector must normalize."""
    app = f"{prefix}-app-{i}"
    role = iam.create_role(
        RoleName=app,
        AssumeRolePolicyDocument=trust_policy({"Service": "ec2.amazonaws.com"}),
        MaxSessionDuration=7200,
        Tags=tag_list({"env": "prod", "team": "platform"}),
    )["Role"]
    iam.attach_role_policy(RoleName=app, PolicyArn=READONLY_POLICY_ARN)
    iam.attach_role_policy(RoleName=app, PolicyArn=policy_arn)
    # Statement as a lone object and unsorted lists: the collector must normalize both.
    iam.put_role_policy(
        RoleName=app,
        PolicyName="s3-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{prefix}-data/*", f"arn:aws:s3:::{prefix}-data"],
                },
            }
        ),
    )
    return record("iam_role", role["Arn"], app, "global", id=app, kind="app", managed_policy_arn=policy_arn)


def _deploy_role(iam, prefix: str, i: int) -> dict:
    """A CI role under a path, assumable with an external id, with a permissions boundary and two inline policies."""
    deploy = f"{prefix}-deploy-{i}"
    role = iam.create_role(
        RoleName=deploy,
        Path="/ci/",
        AssumeRolePolicyDocument=trust_policy(
            {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            {"StringEquals": {"sts:ExternalId": "dw-external"}},
        ),
        PermissionsBoundary=READONLY_POLICY_ARN,
        Tags=tag_list({"env": "ci"}),
    )["Role"]
    for policy_name, action in (("deploy-ecr", "ecr:*"), ("deploy-logs", "logs:PutLogEvents")):
        iam.put_role_policy(
            RoleName=deploy,
            PolicyName=policy_name,
            PolicyDocument=policy({"Effect": "Allow", "Action": action, "Resource": "*"}),
        )
    return record("iam_role", role["Arn"], deploy, "global", id=deploy, kind="deploy")


def _worker_role(iam, prefix: str, i: int) -> dict:
    """A Lambda role named by its Name tag."""
    worker = f"{prefix}-worker-{i}"
    role = iam.create_role(
        RoleName=worker,
        AssumeRolePolicyDocument=trust_policy({"Service": "lambda.amazonaws.com"}),
        Tags=tag_list({"Name": f"worker-role-{i}"}),
    )["Role"]
    return record("iam_role", role["Arn"], f"worker-role-{i}", "global", id=worker, kind="worker")
