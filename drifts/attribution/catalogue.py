"""Which CloudTrail events can change which resource, and which attribute of it: data, like drifts/rules.py.

CloudTrail names events after the API call, which is not always the attribute's name: a bucket's
PublicAccessBlock.* changes through PutBucketPublicAccessBlock / DeleteBucketPublicAccessBlock, a security
group's IngressRules[*] through AuthorizeSecurityGroupIngress / RevokeSecurityGroupIngress /
ModifySecurityGroupRules. A drift whose path has a row here is matched `exact`ly on those names; any other
write event on the resource still matches, with confidence `resource`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from drifts.rules import pattern_matches


@dataclass(frozen=True)
class ResourceEvents:
    """How CloudTrail records the writes to one resource type."""

    event_source: str  # eventSource of every call on this type, e.g. "s3.amazonaws.com"
    created: tuple[str, ...]  # events that create a resource ("appeared" drifts)
    deleted: tuple[str, ...]  # events that delete one ("deleted" drifts)
    paths: tuple[tuple[str, tuple[str, ...]], ...]  # (path pattern, the events that change it)


_LAMBDA_CONFIGURATION = ("UpdateFunctionConfiguration", "UpdateFunctionConfiguration20150331v2")

# fmt: off
CATALOGUE: dict[str, ResourceEvents] = {
    "s3_bucket": ResourceEvents(
        "s3.amazonaws.com",
        created=("CreateBucket",),
        deleted=("DeleteBucket",),
        paths=(
            ("PublicAccessBlock.**", ("PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock")),
            ("Policy.**", ("PutBucketPolicy", "DeleteBucketPolicy")),
            ("Acl.**", ("PutBucketAcl",)),
            ("Encryption.**", ("PutBucketEncryption", "DeleteBucketEncryption")),
            ("Versioning.**", ("PutBucketVersioning",)),
            ("Logging.**", ("PutBucketLogging",)),
            ("Tags.**", ("PutBucketTagging", "DeleteBucketTagging")),
        ),
    ),
    "ec2_security_group": ResourceEvents(
        "ec2.amazonaws.com",
        created=("CreateSecurityGroup",),
        deleted=("DeleteSecurityGroup",),
        paths=(
            ("IngressRules.**", ("AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress",
                                 "ModifySecurityGroupRules", "UpdateSecurityGroupRuleDescriptionsIngress")),
            ("EgressRules.**", ("AuthorizeSecurityGroupEgress", "RevokeSecurityGroupEgress",
                                "ModifySecurityGroupRules", "UpdateSecurityGroupRuleDescriptionsEgress")),
            ("Tags.**", ("CreateTags", "DeleteTags")),
            ("GroupName", ("CreateSecurityGroup",)),
            ("Description", ("CreateSecurityGroup",)),
            ("VpcId", ("CreateSecurityGroup",)),
        ),
    ),
    "iam_role": ResourceEvents(
        "iam.amazonaws.com",
        created=("CreateRole",),
        deleted=("DeleteRole",),
        paths=(
            ("AssumeRolePolicyDocument.**", ("UpdateAssumeRolePolicy",)),
            ("AttachedManagedPolicies.**", ("AttachRolePolicy", "DetachRolePolicy")),
            ("InlinePolicies.**", ("PutRolePolicy", "DeleteRolePolicy")),
            ("MaxSessionDuration", ("UpdateRole",)),
            ("PermissionsBoundary", ("PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary")),
            ("Tags.**", ("TagRole", "UntagRole")),
            ("Path", ("CreateRole",)),
            ("RoleName", ("CreateRole",)),
        ),
    ),
    "rds_instance": ResourceEvents(
        "rds.amazonaws.com",
        created=("CreateDBInstance", "CreateDBInstanceReadReplica", "RestoreDBInstanceFromDBSnapshot",
                 "RestoreDBInstanceToPointInTime", "RestoreDBInstanceFromS3"),
        deleted=("DeleteDBInstance",),
        paths=(
            ("PubliclyAccessible", ("ModifyDBInstance",)),
            ("StorageEncrypted", ("ModifyDBInstance",)),
            ("KmsKeyId", ("ModifyDBInstance",)),
            ("BackupRetentionPeriod", ("ModifyDBInstance",)),
            ("DeletionProtection", ("ModifyDBInstance",)),
            ("DBInstanceClass", ("ModifyDBInstance",)),
            ("EngineVersion", ("ModifyDBInstance", "ApplyPendingMaintenanceAction")),
            ("MultiAZ", ("ModifyDBInstance",)),
            ("AllocatedStorage", ("ModifyDBInstance",)),
            ("StorageType", ("ModifyDBInstance",)),
            ("IAMDatabaseAuthenticationEnabled", ("ModifyDBInstance",)),
            ("AutoMinorVersionUpgrade", ("ModifyDBInstance",)),
            ("VpcSecurityGroups.**", ("ModifyDBInstance",)),
            ("DBInstanceIdentifier", ("ModifyDBInstance",)),
            ("Tags.**", ("AddTagsToResource", "RemoveTagsFromResource")),
        ),
    ),
    "kms_key": ResourceEvents(
        "kms.amazonaws.com",
        created=("CreateKey", "ReplicateKey"),
        deleted=("ScheduleKeyDeletion",),
        paths=(
            ("KeyRotationEnabled", ("EnableKeyRotation", "DisableKeyRotation")),
            ("KeyState", ("DisableKey", "EnableKey", "ScheduleKeyDeletion", "CancelKeyDeletion")),
            ("Policy.**", ("PutKeyPolicy",)),
            ("Description", ("UpdateKeyDescription",)),
            ("Aliases.**", ("CreateAlias", "DeleteAlias", "UpdateAlias")),
            ("Tags.**", ("TagResource", "UntagResource")),
        ),
    ),
    "cloudtrail_trail": ResourceEvents(
        "cloudtrail.amazonaws.com",
        created=("CreateTrail",),
        deleted=("DeleteTrail",),
        paths=(
            ("IsLogging", ("StartLogging", "StopLogging")),
            ("LogFileValidationEnabled", ("UpdateTrail",)),
            ("IsMultiRegionTrail", ("UpdateTrail",)),
            ("IncludeGlobalServiceEvents", ("UpdateTrail",)),
            ("S3BucketName", ("UpdateTrail",)),
            ("S3KeyPrefix", ("UpdateTrail",)),
            ("KmsKeyId", ("UpdateTrail",)),
            ("CloudWatchLogsLogGroupArn", ("UpdateTrail",)),
            ("IsOrganizationTrail", ("UpdateTrail",)),
            ("Tags.**", ("AddTags", "RemoveTags")),
        ),
    ),
    # CloudTrail names Lambda's events after the versioned API operation; both spellings are listed.
    "lambda_function": ResourceEvents(
        "lambda.amazonaws.com",
        created=("CreateFunction", "CreateFunction20150331"),
        deleted=("DeleteFunction", "DeleteFunction20150331"),
        paths=(
            ("FunctionUrlConfig", ("CreateFunctionUrlConfig", "DeleteFunctionUrlConfig")),
            ("FunctionUrlConfig.**", ("CreateFunctionUrlConfig", "UpdateFunctionUrlConfig", "DeleteFunctionUrlConfig")),
            ("Policy.**", ("AddPermission", "AddPermission20150331v2", "RemovePermission",
                           "RemovePermission20150331v2")),
            ("Policy", ("AddPermission", "AddPermission20150331v2", "RemovePermission",
                        "RemovePermission20150331v2")),
            ("Tags.**", ("TagResource", "TagResource20170331v2", "UntagResource", "UntagResource20170331v2")),
            *((field, _LAMBDA_CONFIGURATION) for field in (
                "Runtime", "Handler", "Role", "MemorySize", "Timeout", "KMSKeyArn", "EnvironmentVariables[*]",
                "VpcConfig.**", "Layers[*]", "TracingConfig", "DeadLetterConfig", "FileSystemConfigs[*]",
                "Architectures[*]")),
        ),
    ),
    "ec2_instance": ResourceEvents(
        "ec2.amazonaws.com",
        created=("RunInstances",),
        deleted=("TerminateInstances",),
        paths=(
            ("MetadataOptions.**", ("ModifyInstanceMetadataOptions",)),
            ("IamInstanceProfile", ("AssociateIamInstanceProfile", "DisassociateIamInstanceProfile",
                                    "ReplaceIamInstanceProfileAssociation")),
            ("SecurityGroups[*]", ("ModifyInstanceAttribute", "ModifyNetworkInterfaceAttribute")),
            ("PublicIpAssociated", ("AssociateAddress", "DisassociateAddress", "StopInstances", "StartInstances",
                                    "ModifyNetworkInterfaceAttribute")),
            ("BlockDeviceMappings[*]", ("AttachVolume", "DetachVolume")),
            ("InstanceType", ("ModifyInstanceAttribute",)),
            ("EbsOptimized", ("ModifyInstanceAttribute",)),
            ("SourceDestCheck", ("ModifyInstanceAttribute", "ModifyNetworkInterfaceAttribute")),
            ("Tags.**", ("CreateTags", "DeleteTags")),
        ),
    ),
    "ebs_volume": ResourceEvents(
        "ec2.amazonaws.com",
        created=("CreateVolume",),
        deleted=("DeleteVolume",),
        paths=(
            ("Encrypted", ("CreateVolume",)),
            ("KmsKeyId", ("CreateVolume",)),
            ("Size", ("ModifyVolume",)),
            ("VolumeType", ("ModifyVolume",)),
            ("Iops", ("ModifyVolume",)),
            ("Throughput", ("ModifyVolume",)),
            ("MultiAttachEnabled", ("ModifyVolume",)),
            ("Attachments[*]", ("AttachVolume", "DetachVolume")),
            ("Tags.**", ("CreateTags", "DeleteTags")),
        ),
    ),
    "ebs_snapshot": ResourceEvents(
        "ec2.amazonaws.com",
        created=("CreateSnapshot", "CopySnapshot", "CreateSnapshots"),
        deleted=("DeleteSnapshot",),
        paths=(
            ("CreateVolumePermission.**", ("ModifySnapshotAttribute", "ResetSnapshotAttribute")),
            ("Encrypted", ("CreateSnapshot", "CopySnapshot")),
            ("Tags.**", ("CreateTags", "DeleteTags")),
        ),
    ),
    "iam_user": ResourceEvents(
        "iam.amazonaws.com",
        created=("CreateUser",),
        deleted=("DeleteUser",),
        paths=(
            ("LoginProfile", ("CreateLoginProfile", "DeleteLoginProfile", "UpdateLoginProfile")),
            ("LoginProfile.**", ("CreateLoginProfile", "DeleteLoginProfile", "UpdateLoginProfile")),
            ("AccessKeys[*]", ("CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey")),
            ("AccessKeys.**", ("CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey")),
            ("MFADevices[*]", ("EnableMFADevice", "DeactivateMFADevice", "ResyncMFADevice")),
            ("AttachedManagedPolicies[*]", ("AttachUserPolicy", "DetachUserPolicy")),
            ("InlinePolicies.**", ("PutUserPolicy", "DeleteUserPolicy")),
            ("PermissionsBoundary", ("PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary")),
            ("Groups[*]", ("AddUserToGroup", "RemoveUserFromGroup")),
            ("Path", ("UpdateUser",)),
            ("UserName", ("UpdateUser",)),
            ("Tags.**", ("TagUser", "UntagUser")),
        ),
    ),
    "iam_policy": ResourceEvents(
        "iam.amazonaws.com",
        created=("CreatePolicy",),
        deleted=("DeletePolicy",),
        paths=(
            ("Document.**", ("CreatePolicyVersion", "SetDefaultPolicyVersion")),
            ("Document", ("CreatePolicyVersion", "SetDefaultPolicyVersion")),
            ("Tags.**", ("TagPolicy", "UntagPolicy")),
        ),
    ),
    "sqs_queue": ResourceEvents(
        "sqs.amazonaws.com",
        created=("CreateQueue",),
        deleted=("DeleteQueue",),
        paths=(
            ("Policy.**", ("SetQueueAttributes", "AddPermission", "RemovePermission")),
            ("Policy", ("SetQueueAttributes", "AddPermission", "RemovePermission")),
            ("Tags.**", ("TagQueue", "UntagQueue")),
            *((field, ("SetQueueAttributes",)) for field in (
                "DelaySeconds", "KmsDataKeyReusePeriodSeconds", "MaximumMessageSize", "MessageRetentionPeriod",
                "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "ContentBasedDeduplication",
                "SqsManagedSseEnabled", "KmsMasterKeyId", "DeduplicationScope", "FifoThroughputLimit",
                "RedrivePolicy", "RedrivePolicy.**", "RedriveAllowPolicy", "RedriveAllowPolicy.**")),
        ),
    ),
    "sns_topic": ResourceEvents(
        "sns.amazonaws.com",
        created=("CreateTopic",),
        deleted=("DeleteTopic",),
        paths=(
            ("Policy.**", ("SetTopicAttributes", "AddPermission", "RemovePermission")),
            ("Policy", ("SetTopicAttributes", "AddPermission", "RemovePermission")),
            ("Subscriptions[*]", ("Subscribe", "Unsubscribe", "ConfirmSubscription")),
            ("Tags.**", ("TagResource", "UntagResource")),
            *((field, ("SetTopicAttributes",)) for field in (
                "DisplayName", "KmsMasterKeyId", "SignatureVersion", "TracingConfig", "ContentBasedDeduplication")),
        ),
    ),
    "elbv2_load_balancer": ResourceEvents(
        "elasticloadbalancing.amazonaws.com",
        created=("CreateLoadBalancer",),
        deleted=("DeleteLoadBalancer",),
        paths=(
            ("Listeners.**", ("CreateListener", "ModifyListener", "DeleteListener")),
            ("Listeners.*", ("CreateListener", "ModifyListener", "DeleteListener")),
            ("SecurityGroups[*]", ("SetSecurityGroups",)),
            ("Subnets[*]", ("SetSubnets",)),
            ("IpAddressType", ("SetIpAddressType",)),
            ("Scheme", ("CreateLoadBalancer",)),
            ("AccessLogs.**", ("ModifyLoadBalancerAttributes",)),
            ("DeletionProtection", ("ModifyLoadBalancerAttributes",)),
            ("DropInvalidHeaderFields", ("ModifyLoadBalancerAttributes",)),
            ("Tags.**", ("AddTags", "RemoveTags")),
        ),
    ),
    "eks_cluster": ResourceEvents(
        "eks.amazonaws.com",
        created=("CreateCluster",),
        deleted=("DeleteCluster",),
        paths=(
            ("resourcesVpcConfig.**", ("UpdateClusterConfig",)),
            ("logging[*]", ("UpdateClusterConfig",)),
            ("logging.**", ("UpdateClusterConfig",)),
            ("accessConfig.**", ("UpdateClusterConfig",)),
            ("encryptionConfig[*]", ("AssociateEncryptionConfig",)),
            ("version", ("UpdateClusterVersion",)),
            ("Tags.**", ("TagResource", "UntagResource")),
        ),
    ),
    "dynamodb_table": ResourceEvents(
        "dynamodb.amazonaws.com",
        created=("CreateTable", "RestoreTableFromBackup", "RestoreTableToPointInTime"),
        deleted=("DeleteTable",),
        paths=(
            ("PointInTimeRecoveryStatus", ("UpdateContinuousBackups",)),
            ("TimeToLive.**", ("UpdateTimeToLive",)),
            ("TimeToLiveStatus", ("UpdateTimeToLive",)),
            ("Tags.**", ("TagResource", "UntagResource")),
            *((field, ("UpdateTable",)) for field in (
                "BillingMode", "ProvisionedThroughput.**", "GlobalSecondaryIndexes[*]", "TableClass",
                "DeletionProtectionEnabled", "SSEDescription.**", "StreamSpecification.**", "Replicas[*]")),
        ),
    ),
    "secretsmanager_secret": ResourceEvents(
        "secretsmanager.amazonaws.com",
        created=("CreateSecret",),
        deleted=("DeleteSecret",),
        paths=(
            ("RotationEnabled", ("RotateSecret", "CancelRotateSecret")),
            ("RotationRules.**", ("RotateSecret",)),
            ("RotationLambdaARN", ("RotateSecret",)),
            ("ResourcePolicy.**", ("PutResourcePolicy", "DeleteResourcePolicy")),
            ("ResourcePolicy", ("PutResourcePolicy", "DeleteResourcePolicy")),
            ("KmsKeyId", ("UpdateSecret",)),
            ("Description", ("UpdateSecret",)),
            ("Tags.**", ("TagResource", "UntagResource")),
        ),
    ),
}
# fmt: on

# Resource types whose calls CloudTrail records in us-east-1 whatever the region (global services).
GLOBAL_SERVICE_TYPES = frozenset({"iam_role", "iam_user", "iam_policy"})
GLOBAL_SERVICE_REGION = "us-east-1"

# What a drift is about: its resource appearing, disappearing, or one attribute changing.
APPEARED, DELETED, CHANGED = "appeared", "deleted", "changed"


def event_names(resource_type: str, path: str, change: str) -> frozenset[str]:
    """The event names that make exactly this change (empty when the catalogue does not know)."""
    entry = CATALOGUE.get(resource_type)
    if change == APPEARED:
        return frozenset(entry.created) if entry else frozenset()
    if change == DELETED:
        return frozenset(entry.deleted) if entry else frozenset()
    if entry is None:
        return frozenset()
    return frozenset(name for pattern, names in entry.paths if pattern_matches(pattern, path) for name in names)


def event_source(resource_type: str, external_id: str) -> str | None:
    """The eventSource of calls on this type; for an uncatalogued type, guessed from its ARN's service."""
    entry = CATALOGUE.get(resource_type)
    if entry is not None:
        return entry.event_source
    if external_id.startswith("arn:"):
        service = external_id.split(":", 3)[2]
        return f"{service}.amazonaws.com" if service else None
    return None


def _arn_tail(value: str) -> str:
    if "/" in value:
        return value.rsplit("/", 1)[-1]
    return value.rsplit(":", 1)[-1]


def resource_identifiers(resource_type: str, external_id: str, name: str, config: Mapping[str, Any] | None) -> set:
    """Every spelling by which a CloudTrail event may name this resource (ARN, id, name, alias)."""
    config = config if isinstance(config, Mapping) else {}
    ids = {external_id}
    if resource_type == "s3_bucket":
        ids.add(external_id.removeprefix("arn:aws:s3:::"))
    elif resource_type == "ec2_security_group":
        pass  # group names repeat across VPCs (every VPC has a "default"); only the id is unique
    elif resource_type == "iam_role":
        ids.update(v for v in (config.get("RoleName"), _arn_tail(external_id)) if v)
    elif resource_type == "rds_instance":
        ids.update(v for v in (config.get("DBInstanceIdentifier"), _arn_tail(external_id)) if v)
    elif resource_type == "kms_key":
        ids.update(v for v in (config.get("KeyId"), _arn_tail(external_id)) if v)
        ids.update(alias for alias in config.get("Aliases") or [] if isinstance(alias, str))
    elif resource_type == "cloudtrail_trail":
        ids.update(v for v in (config.get("Name"), _arn_tail(external_id)) if v)
    elif resource_type in ("ec2_instance", "ebs_volume", "ebs_snapshot"):
        pass  # the id (i-, vol-, snap-) is how every EC2 call names them; Name tags repeat
    elif resource_type == "iam_user":
        ids.update(v for v in (config.get("UserName"), _arn_tail(external_id)) if v)
    elif resource_type == "secretsmanager_secret":
        ids.update(v for v in (config.get("Name"), name) if v)  # the ARN's tail carries a random suffix
    else:
        ids.update(v for v in (name, _arn_tail(external_id)) if v)
    return {str(i) for i in ids if i}


# Request and response keys (lowercased) that name the resource a call acts on.
_ID_KEYS = frozenset(
    {
        "bucketname",
        "groupid",
        "rolename",
        "keyid",
        "targetkeyid",
        "aliasname",
        "dbinstanceidentifier",
        "dbinstancearn",
        "name",
        "trailname",
        "trailarn",
        "resourceid",
        "resourcename",
        "resourcearn",
        "arn",
        "keyarn",
        "instanceid",
        "volumeid",
        "snapshotid",
        "functionname",
        "functionarn",
        "username",
        "policyarn",
        "topicarn",
        "queuearn",
        "loadbalancerarn",
        "tablename",
        "tablearn",
        "secretid",
        "clustername",
    }
)


def _derived_ids(key: str, value: str) -> tuple[str, ...]:
    """Ids a call names indirectly: an SQS queue by its URL, an ELB by a listener's ARN, an SNS topic by a
    subscription's ARN (both the parent's ARN with one more segment)."""
    if key == "queueurl":
        return (value.rstrip("/").rsplit("/", 1)[-1],)  # the queue's name, unique in its account and region
    if key == "listenerarn" and ":listener/" in value:
        return (value.replace(":listener/", ":loadbalancer/", 1).rsplit("/", 1)[0],)
    if key == "subscriptionarn" and value.startswith("arn:") and value.count(":") == 6:
        return (value.rsplit(":", 1)[0],)
    return ()


# Subtrees that name other resources (a rule's source group, a policy's principals): never the target.
_SKIP_KEYS = frozenset(
    {
        "ippermissions",
        "groups",
        "usergroupidpairs",
        "referencedgroupinfo",
        "referencedgroupid",
        "tagset",
        "tags",
        "tagslist",
        "policy",
        "policydocument",
        "assumerolepolicydocument",
        "keypolicy",
    }
)
_MAX_DEPTH = 4


def event_identifiers(record: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(ids, loose ids) an event names: ids from the keys above, loose ids from any *Name/*Id/*Arn key.

    Catalogued types match on ids; an uncatalogued type (a collector added later) on loose ids.
    """
    ids: set[str] = set()
    loose: set[str] = set()

    def walk(value: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(value, Mapping):
            for key, item in value.items():
                lowered = str(key).lower()
                if lowered in _SKIP_KEYS:
                    continue
                if isinstance(item, str) and item:
                    if lowered in _ID_KEYS:
                        ids.add(item)
                    ids.update(_derived_ids(lowered, item))
                    if lowered.endswith(("name", "id", "arn", "identifier")):
                        loose.add(item)
                else:
                    walk(item, depth + 1)
        elif isinstance(value, list):
            for item in value[:100]:
                walk(item, depth + 1)

    walk(record.get("requestParameters"), 0)
    walk(record.get("responseElements"), 0)
    for resource in record.get("resources") or []:
        if isinstance(resource, Mapping):
            for key in ("ARN", "arn", "ResourceName", "resourceName"):
                if isinstance(resource.get(key), str) and resource[key]:
                    ids.add(resource[key])
    loose |= ids
    return ids, loose


def catalogued_types() -> Iterable[str]:
    return CATALOGUE.keys()
