"""A small estate in moto and the Terraform state that declares it (drifts/tests/fixtures/estate.tfstate).

The state file is written by hand in the shape Terraform 1.9 with AWS provider v5 writes it: modules,
count and for_each instances, split S3 resources, security group rule resources, a data source and a
sensitive attribute. Ids moto draws at random (security group, VPC, KMS key) are filled in at run time.
"""

from __future__ import annotations

import json
import pathlib

from devtools.fake_aws import fake_session

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "estate.tfstate"
REGION = "us-east-1"
ASSUME_EC2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
READ_DATA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
}
# Same policy as the state's, in another form: other key order, "true" typed as a string in both.
DATA_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadOverTls",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": ["s3:GetObject"],
            "Resource": "arn:aws:s3:::tf-data-0/*",
            "Condition": {"Bool": {"aws:SecureTransport": True}},
        }
    ],
}


def client(endpoint: str, service: str):
    return fake_session(REGION).client(service, region_name=REGION, endpoint_url=endpoint)


def seed(endpoint: str) -> dict:
    """Create what the state declares (except tf-ghost), plus one bucket no state declares."""
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket="tf-logs")
    s3.put_bucket_versioning(Bucket="tf-logs", VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(
        Bucket="tf-logs",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket="tf-logs",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]
        },
    )
    s3.put_bucket_tagging(
        Bucket="tf-logs", Tagging={"TagSet": [{"Key": "team", "Value": "platform"}, {"Key": "env", "Value": "prod"}]}
    )
    s3.create_bucket(Bucket="tf-data-0")
    s3.put_bucket_tagging(
        Bucket="tf-data-0", Tagging={"TagSet": [{"Key": "Name", "Value": "data-0"}, {"Key": "env", "Value": "prod"}]}
    )
    s3.put_bucket_policy(Bucket="tf-data-0", Policy=json.dumps(DATA_POLICY))
    s3.create_bucket(Bucket="tf-data-1")
    s3.create_bucket(Bucket="nobody-manages-me")

    ec2 = client(endpoint, "ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    sg = ec2.create_security_group(
        GroupName="web", Description="Web tier", VpcId=vpc, TagSpecifications=_tags("security-group", Name="web")
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh from the office"}],
            },
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]},
        ],
    )

    iam = client(endpoint, "iam")
    iam.create_role(
        RoleName="tf-app", AssumeRolePolicyDocument=json.dumps(ASSUME_EC2), Tags=[{"Key": "env", "Value": "prod"}]
    )
    iam.put_role_policy(RoleName="tf-app", PolicyName="read-data", PolicyDocument=json.dumps(READ_DATA))
    iam.attach_role_policy(RoleName="tf-app", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")

    kms = client(endpoint, "kms")
    key = kms.create_key(Description="data key", Tags=[{"TagKey": "env", "TagValue": "prod"}])["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.create_alias(AliasName="alias/tf-data", TargetKeyId=key["KeyId"])
    key_policy = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]

    rds = client(endpoint, "rds")
    db = rds.create_db_instance(
        DBInstanceIdentifier="tf-orders",
        Engine="postgres",
        EngineVersion="16.3",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        StorageType="gp2",
        MasterUsername="orders",
        MasterUserPassword="hunter2-correct-horse",
        DBName="orders",
        BackupRetentionPeriod=7,
        VpcSecurityGroupIds=[sg],
        PubliclyAccessible=False,
        Tags=[{"Key": "env", "Value": "prod"}],
    )["DBInstance"]
    return {
        "SG_WEB": sg,
        "VPC": vpc,
        "KMS_KEY": key["KeyId"],
        "KMS_POLICY": key_policy,
        "RDS_ENGINE_VERSION": db["EngineVersion"],
        "RDS_STORAGE_TYPE": db["StorageType"],
    }


def _tags(resource_type: str, **tags: str) -> list:
    return [{"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def render(ids: dict, *, serial: int = 1, logs_versioning: str = "Enabled") -> bytes:
    """The fixture state with the run's ids filled in (string values are JSON-escaped)."""
    text = FIXTURE.read_text()
    values = {**ids, "SERIAL": str(serial), "LOGS_VERSIONING": logs_versioning}
    for name, value in values.items():
        escaped = value if name == "SERIAL" else json.dumps(value)[1:-1]
        text = text.replace(f"@@{name}@@", escaped)
    json.loads(text)  # the fixture stays valid JSON
    return text.encode()
