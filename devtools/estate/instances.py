"""EC2 instances and their EBS volumes and snapshots, per region and unit of scale.

One app instance (IMDSv2 required, no public IP, the web group, the app instance profile) with its
root volume (made by the launch) and an encrypted data volume attached, and a snapshot of that volume.
"""

from __future__ import annotations

from devtools.estate.common import Region
from devtools.fake_aws import tag_list

IMAGE_ID = "ami-12c6146b"  # one of moto's built-in images

IMDS_V2_ONLY = {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1}


def seed_instances(r: Region, i: int, kms_key_arn: str, web_group: str, profile_arn: str) -> None:
    """Create the app instance, its data volume and a snapshot of it."""
    ec2 = r.client("ec2")
    subnet = r.default_subnets[0]
    instance = ec2.run_instances(
        ImageId=IMAGE_ID,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        MetadataOptions=IMDS_V2_ONLY,
        IamInstanceProfile={"Arn": profile_arn},
        NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": subnet["SubnetId"], "AssociatePublicIpAddress": False, "Groups": [web_group]}
        ],
        TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list({"Name": f"app-{i}", "env": "prod"})}],
    )["Instances"][0]
    instance_id = instance["InstanceId"]
    root_volume = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    r.add("ec2_instance", instance_id, f"app-{i}", id=instance_id, kind="app")
    r.add("ebs_volume", root_volume, root_volume, id=root_volume, kind="root", instance_id=instance_id)

    volume = ec2.create_volume(
        AvailabilityZone=subnet["AvailabilityZone"],
        Size=20,
        VolumeType="gp3",
        Iops=3000,
        Throughput=125,
        Encrypted=True,
        KmsKeyId=kms_key_arn,  # without one moto makes a customer "default" key the KMS collector would see
        TagSpecifications=[{"ResourceType": "volume", "Tags": tag_list({"Name": f"data-{i}"})}],
    )["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=instance_id, Device="/dev/sdf")
    r.add("ebs_volume", volume, f"data-{i}", id=volume, kind="data", instance_id=instance_id, device="/dev/sdf")

    snapshot = ec2.create_snapshot(
        VolumeId=volume,
        Description=f"{r.prefix} data {i} nightly",
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list({"env": "prod"})}],
    )["SnapshotId"]
    r.add("ebs_snapshot", snapshot, snapshot, id=snapshot, kind="data")
