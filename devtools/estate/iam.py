"""IAM, per unit of scale: roles app, deploy and worker, the app instance profile, the app customer policy,
users ci (an access key, no console) and alice (console with MFA); and once a service-linked role (never
collected) and the deployers group."""

from __future__ import annotations

import json

from devtools.estate.common import policy, record, trust_policy
from devtools.fake_aws import ACCOUNT_ID, READONLY_POLICY_ARN, SeedClients, tag_list


def seed_iam(c: SeedClients, prefix: str, scale: int, out: dict) -> None:
    iam = c("iam")
    # One service-linked role: present in ListRoles, never collected.
    iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")
    iam.create_group(GroupName=f"{prefix}-deployers")
    for i in range(scale):
        policy_arn = iam.create_policy(
            PolicyName=f"{prefix}-app-policy-{i}",
            PolicyDocument=policy({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}),
        )["Policy"]["Arn"]
        out["iam_policy"].append(
            record("iam_policy", policy_arn, f"{prefix}-app-policy-{i}", "global", id=policy_arn, kind="app")
        )
        app = _app_role(iam, prefix, i, policy_arn)
        out["iam_role"].append(app)
        out["iam_role"].append(_deploy_role(iam, prefix, i))
        out["iam_role"].append(_worker_role(iam, prefix, i))
        profile = iam.create_instance_profile(InstanceProfileName=f"{prefix}-app-{i}")["InstanceProfile"]
        iam.add_role_to_instance_profile(InstanceProfileName=f"{prefix}-app-{i}", RoleName=app["id"])
        app["instance_profile_arn"] = profile["Arn"]
        out["iam_user"].append(_ci_user(iam, prefix, i, policy_arn))
        out["iam_user"].append(_console_user(iam, prefix, i))


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


def _ci_user(iam, prefix: str, i: int, policy_arn: str) -> dict:
    """A CI user: one active access key, no console, in the deployers group, the app policy and an inline one."""
    name = f"{prefix}-ci-{i}"
    user = iam.create_user(UserName=name, Path="/automation/", Tags=tag_list({"env": "ci"}))["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    iam.add_user_to_group(GroupName=f"{prefix}-deployers", UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
    iam.put_user_policy(
        UserName=name,
        PolicyName="push-images",
        PolicyDocument=policy({"Effect": "Allow", "Action": ["ecr:PutImage", "ecr:BatchGetImage"], "Resource": "*"}),
    )
    return record("iam_user", user["Arn"], name, "global", id=name, kind="ci", access_key_id=key)


def _console_user(iam, prefix: str, i: int) -> dict:
    """A person: console access with a virtual MFA device, named by a Name tag."""
    name = f"{prefix}-alice-{i}"
    user = iam.create_user(UserName=name, Tags=tag_list({"Name": f"alice-{i}"}))["User"]
    iam.create_login_profile(UserName=name, Password="not-a-secret-1!")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    iam.attach_user_policy(UserName=name, PolicyArn=READONLY_POLICY_ARN)
    return record("iam_user", user["Arn"], f"alice-{i}", "global", id=name, kind="console", mfa_serial=serial)
