"""RDS DB instances, per region and unit of scale: an encrypted PostgreSQL and a Multi-AZ MySQL."""

from __future__ import annotations

from devtools.estate.common import Region
from devtools.fake_aws import tag_list


def seed_db_instances(r: Region, i: int, kms_key_arn: str, db_group: str, mgmt_group: str) -> None:
    rds = r.client("rds")
    pg = f"{r.prefix}-pg-{i}"
    instance = rds.create_db_instance(
        DBInstanceIdentifier=pg,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        StorageType="gp3",
        MasterUsername="dwadmin",
        MasterUserPassword="not-a-secret-1",
        VpcSecurityGroupIds=[db_group],
        PubliclyAccessible=False,  # moto leaves the attribute out entirely when not given
        StorageEncrypted=True,
        KmsKeyId=kms_key_arn,
        BackupRetentionPeriod=7,
        EnableIAMDatabaseAuthentication=True,
        Tags=tag_list({"env": "prod"}),
    )["DBInstance"]
    r.add("rds_instance", instance["DBInstanceArn"], pg, id=pg, kind="pg")
    my = f"{r.prefix}-my-{i}"
    instance = rds.create_db_instance(
        DBInstanceIdentifier=my,
        Engine="mysql",
        DBInstanceClass="db.t3.small",
        AllocatedStorage=50,
        MasterUsername="dwadmin",
        MasterUserPassword="not-a-secret-1",
        VpcSecurityGroupIds=[db_group, mgmt_group],
        PubliclyAccessible=False,
        MultiAZ=True,
        DeletionProtection=True,
        Tags=tag_list({"Name": f"mysql-{i}"}),
    )["DBInstance"]
    r.add("rds_instance", instance["DBInstanceArn"], f"mysql-{i}", id=my, kind="mysql")
