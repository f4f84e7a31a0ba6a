"""From Terraform's attributes to DriftWatch's documents: data (which Terraform type feeds which document key)
plus small pure functions, so a declared resource compares with the same diff engine, rules and severities
as a collected one.

A mapped document holds only what the state declares. A key is left out, and therefore never compared,
when Terraform does not manage it for that resource:
- a split resource that is absent (no `aws_s3_bucket_versioning` for a bucket: its Versioning is not declared);
- a scalar whose state value is null;
- a set (security group rules, attached policies, inline policies, aliases, tags) with no member in the
  state: Terraform ignores out-of-band members of such an attribute unless the code lists some.
The deprecated inline S3 arguments of `aws_s3_bucket` (versioning, policy, logging, ...) are not read: in
provider v4/v5 state they are refreshed copies of the bucket, not what the code wrote.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from providers.collectors.base import (
    GLOBAL_REGION,
    PolicyParseError,
    canonical_json,
    normalize_policy,
    resource_name,
    sort_set,
)

from .state import Instance

logger = logging.getLogger(__name__)


@dataclass
class Declared:
    """One resource a state declares, as the DriftWatch document its code describes (declared keys only)."""

    resource_type: str
    external_id: str
    name: str
    region: str
    address: str
    document: dict
    # Addresses of the split resources that filled keys of the document (versioning, rules, ...).
    parts: list[str] = field(default_factory=list)
    # Which address declares which part: a document path ("Versioning", "IngressRules[#1a2b3c4d5e6f]")
    # -> the split resource's address. Parts not listed are declared by `address`.
    declared_by: dict[str, str] = field(default_factory=dict)


@dataclass
class MappingResult:
    """What a state maps to: the declared resources, the Terraform types not mapped, and what was odd."""

    declared: list[Declared] = field(default_factory=list)
    unsupported: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


class MappingError(ValueError):
    """An instance whose attributes cannot be mapped (a policy that is not JSON, a missing id)."""


# --- value helpers ------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A string attribute; "" (Terraform's "not set") becomes None."""
    return value if isinstance(value, str) and value else None


def _first(blocks: Any) -> dict:
    """The single nested block Terraform stores as a one-element list, or {}."""
    if isinstance(blocks, list) and blocks and isinstance(blocks[0], dict):
        return blocks[0]
    return {}


def _policy(text: Any) -> dict | None:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return _normalized(text)
    except PolicyParseError as exc:
        raise MappingError(str(exc)) from None


@functools.lru_cache(maxsize=4096)
def _normalized(text: str) -> dict | None:
    # States repeat policies (every role's assume-role policy, one bucket policy per environment): parse once.
    # The result is shared between documents, which are never modified after mapping.
    return normalize_policy(text)


def _tags(attrs: dict) -> dict | None:
    """The tags Terraform enforces (tags_all adds the provider's default_tags); None when there are none."""
    tags = attrs.get("tags_all") or attrs.get("tags")
    if not isinstance(tags, dict) or not tags:
        return None
    return {str(key): str(value) for key, value in sorted(tags.items())}


def _region_of(arn: Any, default: str) -> str:
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[3] if len(parts) > 3 and parts[3] else default


def _put(document: dict, key: str, value: Any) -> None:
    """Declare key only when the state has a value for it."""
    if value is not None:
        document[key] = value


def _unique_sorted(items: Iterable[Any]) -> list:
    return sort_set({canonical_json(item): item for item in items}.values())


# --- S3 ----------------------------------------------------------------------------------------------

S3_PAB_KEYS = {
    "block_public_acls": "BlockPublicAcls",
    "ignore_public_acls": "IgnorePublicAcls",
    "block_public_policy": "BlockPublicPolicy",
    "restrict_public_buckets": "RestrictPublicBuckets",
}
_GRANTEE_KEYS = {"type": "Type", "id": "ID", "uri": "URI", "email_address": "EmailAddress"}


def _s3_bucket(attrs: dict) -> tuple[str, str, str, dict]:
    bucket = _text(attrs.get("bucket")) or _text(attrs.get("id"))
    if not bucket:
        raise MappingError("aws_s3_bucket has no bucket name")
    document: dict = {}
    _put(document, "Tags", _tags(attrs))
    return f"arn:aws:s3:::{bucket}", bucket, _text(attrs.get("region")) or "us-east-1", document


def _s3_versioning(document: dict, attrs: dict) -> None:
    status = _first(attrs.get("versioning_configuration")).get("status")
    _put(document, "Versioning", _text(status))


def _s3_public_access_block(document: dict, attrs: dict) -> None:
    document["PublicAccessBlock"] = {key: bool(attrs.get(tf_key)) for tf_key, key in S3_PAB_KEYS.items()}


def _s3_policy(document: dict, attrs: dict) -> None:
    _put(document, "Policy", _policy(attrs.get("policy")))


def _s3_encryption(document: dict, attrs: dict) -> None:
    rules = []
    for rule in attrs.get("rule") or []:
        default = _first(rule.get("apply_server_side_encryption_by_default"))
        by_default = {"SSEAlgorithm": default.get("sse_algorithm")}
        if _text(default.get("kms_master_key_id")):
            by_default["KMSMasterKeyID"] = default["kms_master_key_id"]
        rules.append(
            {"ApplyServerSideEncryptionByDefault": by_default, "BucketKeyEnabled": bool(rule.get("bucket_key_enabled"))}
        )
    if rules:
        document["Encryption"] = {"Rules": sort_set(rules)}


def _s3_logging(document: dict, attrs: dict) -> None:
    if _text(attrs.get("target_bucket")):
        document["Logging"] = {"TargetBucket": attrs["target_bucket"], "TargetPrefix": attrs.get("target_prefix") or ""}


def _s3_acl(document: dict, attrs: dict) -> None:
    policy = _first(attrs.get("access_control_policy"))
    grants = []
    for grant in policy.get("grant") or []:
        grantee = _first(grant.get("grantee"))
        grants.append(
            {
                "Grantee": {
                    key: grantee[tf_key] for tf_key, key in _GRANTEE_KEYS.items() if _text(grantee.get(tf_key))
                },
                "Permission": grant.get("permission"),
            }
        )
    if grants:
        document["Acl"] = {"Grants": sort_set(grants)}


def _s3_child_key(attrs: dict) -> tuple[str, str] | None:
    bucket = _text(attrs.get("bucket"))
    return ("s3", bucket) if bucket else None


def _s3_orphan(key: tuple[str, str]) -> tuple[str, str, str, dict]:
    return f"arn:aws:s3:::{key[1]}", key[1], "us-east-1", {}


# --- EC2 security groups -----------------------------------------------------------------------------

_PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}


def _protocol(value: Any) -> str:
    text = str(value if value not in (None, "") else "-1").lower()
    return _PROTOCOL_NAMES.get(text, text)


def _rule(protocol: Any, from_port: Any, to_port: Any, source: str, description: Any) -> dict:
    proto = _protocol(protocol)
    # All-traffic rules carry no ports in AWS's answer (Terraform stores 0/0 or null).
    ports = (None, None) if proto == "-1" else (from_port, to_port)
    return {
        "Description": _text(description),
        "FromPort": ports[0],
        "IpProtocol": proto,
        "Source": source,
        "ToPort": ports[1],
    }


def _block_rules(block: dict, group_id: str | None, *, source_group_key: str) -> list[dict]:
    """Rules of an inline block or an aws_security_group_rule: one per source, like the collector."""
    sources: list[str] = []
    sources += [s for s in block.get("cidr_blocks") or [] if s]
    sources += [s for s in block.get("ipv6_cidr_blocks") or [] if s]
    sources += [s for s in block.get("prefix_list_ids") or [] if s]
    groups = block.get(source_group_key)
    sources += [s for s in (groups if isinstance(groups, list) else [groups]) if s]
    if block.get("self") and group_id:
        sources.append(group_id)
    return [
        _rule(block.get("protocol"), block.get("from_port"), block.get("to_port"), source, block.get("description"))
        for source in sources
    ]


def _security_group(attrs: dict) -> tuple[str, str, str, dict]:
    group_id = _text(attrs.get("id"))
    if not group_id:
        raise MappingError("aws_security_group has no id")
    document: dict = {}
    _put(document, "GroupName", _text(attrs.get("name")))
    _put(document, "Description", attrs.get("description"))
    _put(document, "VpcId", _text(attrs.get("vpc_id")))
    for tf_key, key in (("ingress", "IngressRules"), ("egress", "EgressRules")):
        rules = [
            r
            for block in attrs.get(tf_key) or []
            for r in _block_rules(block, group_id, source_group_key="security_groups")
        ]
        if rules:
            document[key] = rules
    tags = _tags(attrs)
    _put(document, "Tags", tags)
    name = resource_name(tags or {}, _text(attrs.get("name")), group_id)
    return group_id, name, _region_of(attrs.get("arn"), ""), document


def _sg_rule(document: dict, attrs: dict) -> None:
    key = "EgressRules" if attrs.get("type") == "egress" else "IngressRules"
    rules = _block_rules(attrs, attrs.get("security_group_id"), source_group_key="source_security_group_id")
    document.setdefault(key, []).extend(rules)


def _vpc_sg_rule(key: str) -> Callable[[dict, dict], None]:
    def apply(document: dict, attrs: dict) -> None:
        source = next(
            (
                attrs.get(name)
                for name in ("cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_security_group_id")
                if _text(attrs.get(name))
            ),
            None,
        )
        if source is not None:
            rule = _rule(
                attrs.get("ip_protocol"), attrs.get("from_port"), attrs.get("to_port"), source, attrs.get("description")
            )
            document.setdefault(key, []).append(rule)

    return apply


def _sg_child_key(attrs: dict) -> tuple[str, str] | None:
    group_id = _text(attrs.get("security_group_id"))
    return ("sg", group_id) if group_id else None


def _sg_orphan(key: tuple[str, str]) -> tuple[str, str, str, dict]:
    return key[1], key[1], "", {}


def _sg_finish(document: dict) -> None:
    for key in ("IngressRules", "EgressRules"):
        if key in document:
            document[key] = _unique_sorted(document[key])


# --- IAM roles -----------------------------------------------------------------------------------------


def _iam_role(attrs: dict) -> tuple[str, str, str, dict]:
    arn, role_name = _text(attrs.get("arn")), _text(attrs.get("name"))
    if not arn or not role_name:
        raise MappingError("aws_iam_role has no arn or name")
    document: dict = {"RoleName": role_name}
    _put(document, "Path", _text(attrs.get("path")))
    _put(document, "AssumeRolePolicyDocument", _policy(attrs.get("assume_role_policy")))
    _put(document, "MaxSessionDuration", attrs.get("max_session_duration"))
    if "permissions_boundary" in attrs:
        document["PermissionsBoundary"] = _text(attrs.get("permissions_boundary"))
    inline = {p["name"]: _policy(p.get("policy")) for p in attrs.get("inline_policy") or [] if _text(p.get("name"))}
    if inline:
        document["InlinePolicies"] = inline
    managed = [arn for arn in attrs.get("managed_policy_arns") or [] if arn]
    if managed:
        document["AttachedManagedPolicies"] = managed
    tags = _tags(attrs)
    _put(document, "Tags", tags)
    return arn, resource_name(tags or {}, role_name), GLOBAL_REGION, document


def _role_policy(document: dict, attrs: dict) -> None:
    if _text(attrs.get("name")):
        document.setdefault("InlinePolicies", {})[attrs["name"]] = _policy(attrs.get("policy"))


def _role_attachment(document: dict, attrs: dict) -> None:
    if _text(attrs.get("policy_arn")):
        document.setdefault("AttachedManagedPolicies", []).append(attrs["policy_arn"])


def _role_child_key(attrs: dict) -> tuple[str, str] | None:
    role = _text(attrs.get("role"))
    return ("role", role) if role else None


def _role_finish(document: dict) -> None:
    if "AttachedManagedPolicies" in document:
        document["AttachedManagedPolicies"] = sorted(set(document["AttachedManagedPolicies"]))


# --- RDS ----------------------------------------------------------------------------------------------

# DriftWatch key <- Terraform attribute, copied when not null.
RDS_FIELDS = {
    "DBInstanceIdentifier": "identifier",
    "Engine": "engine",
    "DBInstanceClass": "instance_class",
    "PubliclyAccessible": "publicly_accessible",
    "StorageEncrypted": "storage_encrypted",
    "BackupRetentionPeriod": "backup_retention_period",
    "DeletionProtection": "deletion_protection",
    "MultiAZ": "multi_az",
    "AllocatedStorage": "allocated_storage",
    "StorageType": "storage_type",
    "IAMDatabaseAuthenticationEnabled": "iam_database_authentication_enabled",
    "AutoMinorVersionUpgrade": "auto_minor_version_upgrade",
}


def _db_instance(attrs: dict) -> tuple[str, str, str, dict]:
    arn = _text(attrs.get("arn"))
    if not arn:
        raise MappingError("aws_db_instance has no arn")
    document: dict = {}
    for key, tf_key in RDS_FIELDS.items():
        value = attrs.get(tf_key)
        _put(document, key, value if value != "" else None)
    # engine_version may be a prefix the user wrote ("16"); the actual one is what AWS reports.
    _put(document, "EngineVersion", _text(attrs.get("engine_version_actual")) or _text(attrs.get("engine_version")))
    # kms_key_id is computed: "" means "not written", never "must have no key".
    _put(document, "KmsKeyId", _text(attrs.get("kms_key_id")))
    groups = [g for g in attrs.get("vpc_security_group_ids") or [] if g]
    if groups:
        document["VpcSecurityGroups"] = sorted(groups)
    tags = _tags(attrs)
    _put(document, "Tags", tags)
    identifier = _text(attrs.get("identifier")) or arn
    return arn, resource_name(tags or {}, identifier), _region_of(arn, ""), document


# --- KMS ----------------------------------------------------------------------------------------------


def _kms_key(attrs: dict) -> tuple[str, str, str, dict]:
    arn, key_id = _text(attrs.get("arn")), _text(attrs.get("key_id")) or _text(attrs.get("id"))
    if not arn or not key_id:
        raise MappingError("aws_kms_key has no arn or key_id")
    spec = _text(attrs.get("customer_master_key_spec"))
    document: dict = {"KeyId": key_id}
    _put(document, "Description", attrs.get("description"))
    # KeyUsage and KeySpec are fixed when a key is created (Terraform replaces the key to change them):
    # they cannot drift, so they are not compared.
    if spec in (None, "SYMMETRIC_DEFAULT"):
        # Other key specs cannot rotate: the collector reports null, whatever Terraform stored.
        _put(document, "KeyRotationEnabled", attrs.get("enable_key_rotation"))
    if isinstance(attrs.get("is_enabled"), bool):
        document["KeyState"] = "Enabled" if attrs["is_enabled"] else "Disabled"
    _put(document, "Policy", _policy(attrs.get("policy")))
    tags = _tags(attrs)
    _put(document, "Tags", tags)
    return arn, resource_name(tags or {}, key_id), _region_of(arn, ""), document


def _key_id(value: Any) -> str | None:
    text = _text(value)
    if text and text.startswith("arn:"):
        return text.rsplit("/", 1)[-1]
    return text


def _kms_alias(document: dict, attrs: dict) -> None:
    if _text(attrs.get("name")):
        document.setdefault("Aliases", []).append(attrs["name"])


def _kms_key_policy(document: dict, attrs: dict) -> None:
    _put(document, "Policy", _policy(attrs.get("policy")))


def _kms_alias_key(attrs: dict) -> tuple[str, str] | None:
    key_id = _key_id(attrs.get("target_key_id"))
    return ("kms", key_id) if key_id else None


def _kms_policy_key(attrs: dict) -> tuple[str, str] | None:
    key_id = _key_id(attrs.get("key_id"))
    return ("kms", key_id) if key_id else None


def _kms_finish(document: dict) -> None:
    if "Aliases" in document:
        document["Aliases"] = sorted(set(document["Aliases"]))


# --- CloudTrail ---------------------------------------------------------------------------------------

CLOUDTRAIL_FLAGS = {
    "IsMultiRegionTrail": "is_multi_region_trail",
    "IncludeGlobalServiceEvents": "include_global_service_events",
    "LogFileValidationEnabled": "enable_log_file_validation",
    "IsOrganizationTrail": "is_organization_trail",
    "IsLogging": "enable_logging",
}


def _cloudtrail(attrs: dict) -> tuple[str, str, str, dict]:
    arn, name = _text(attrs.get("arn")), _text(attrs.get("name"))
    if not arn or not name:
        raise MappingError("aws_cloudtrail has no arn or name")
    document: dict = {"Name": name}
    _put(document, "S3BucketName", _text(attrs.get("s3_bucket_name")))
    # Optional and not computed: "" in the state means the code sets none, so one added live is a change.
    for key, tf_key in (
        ("S3KeyPrefix", "s3_key_prefix"),
        ("KmsKeyId", "kms_key_id"),
        ("CloudWatchLogsLogGroupArn", "cloud_watch_logs_group_arn"),
    ):
        if tf_key in attrs:
            document[key] = _text(attrs.get(tf_key))
    for key, tf_key in CLOUDTRAIL_FLAGS.items():
        _put(document, key, attrs.get(tf_key))
    tags = _tags(attrs)
    _put(document, "Tags", tags)
    return arn, resource_name(tags or {}, name), _region_of(arn, ""), document


# --- the tables --------------------------------------------------------------------------------------

ParentFn = Callable[[dict], tuple[str, str, str, dict]]
ChildKeyFn = Callable[[dict], tuple[str, str] | None]
ApplyFn = Callable[[dict, dict], None]


@dataclass(frozen=True)
class ParentType:
    """A Terraform type that is one DriftWatch resource; `key` names it for its split resources."""

    resource_type: str
    build: ParentFn
    key: Callable[[dict], tuple[str, str] | None]
    finish: Callable[[dict], None] | None = None
    orphan: Callable[[tuple[str, str]], tuple[str, str, str, dict]] | None = None


@dataclass(frozen=True)
class ChildType:
    """A Terraform type that fills part of its parent's document (a split resource)."""

    key: ChildKeyFn
    apply: ApplyFn


PARENTS: dict[str, ParentType] = {
    "aws_s3_bucket": ParentType(
        "s3_bucket", _s3_bucket, lambda a: ("s3", _text(a.get("bucket")) or a.get("id")), orphan=_s3_orphan
    ),
    "aws_security_group": ParentType(
        "ec2_security_group", _security_group, lambda a: ("sg", a.get("id")), _sg_finish, _sg_orphan
    ),
    # The default group of a VPC, adopted by the code: the same document as any group.
    "aws_default_security_group": ParentType(
        "ec2_security_group", _security_group, lambda a: ("sg", a.get("id")), _sg_finish, _sg_orphan
    ),
    "aws_iam_role": ParentType("iam_role", _iam_role, lambda a: ("role", a.get("name")), _role_finish),
    "aws_db_instance": ParentType("rds_instance", _db_instance, lambda a: None),
    "aws_kms_key": ParentType(
        "kms_key", _kms_key, lambda a: ("kms", _text(a.get("key_id")) or a.get("id")), _kms_finish
    ),
    "aws_cloudtrail": ParentType("cloudtrail_trail", _cloudtrail, lambda a: None),
}

CHILDREN: dict[str, ChildType] = {
    "aws_s3_bucket_versioning": ChildType(_s3_child_key, _s3_versioning),
    "aws_s3_bucket_public_access_block": ChildType(_s3_child_key, _s3_public_access_block),
    "aws_s3_bucket_policy": ChildType(_s3_child_key, _s3_policy),
    "aws_s3_bucket_server_side_encryption_configuration": ChildType(_s3_child_key, _s3_encryption),
    "aws_s3_bucket_logging": ChildType(_s3_child_key, _s3_logging),
    "aws_s3_bucket_acl": ChildType(_s3_child_key, _s3_acl),
    "aws_security_group_rule": ChildType(_sg_child_key, _sg_rule),
    "aws_vpc_security_group_ingress_rule": ChildType(_sg_child_key, _vpc_sg_rule("IngressRules")),
    "aws_vpc_security_group_egress_rule": ChildType(_sg_child_key, _vpc_sg_rule("EgressRules")),
    "aws_iam_role_policy": ChildType(_role_child_key, _role_policy),
    "aws_iam_role_policy_attachment": ChildType(_role_child_key, _role_attachment),
    "aws_kms_alias": ChildType(_kms_alias_key, _kms_alias),
    "aws_kms_key_policy": ChildType(_kms_policy_key, _kms_key_policy),
}

# The parent type a split resource's key names, for a split resource whose parent is not in the state.
_ORPHAN_PARENT = {"s3": "aws_s3_bucket", "sg": "aws_security_group"}

# DriftWatch resource types a state can declare.
MAPPED_TYPES = frozenset(parent.resource_type for parent in PARENTS.values())


# What attributes of an unexpected shape raise in the small functions above (a list where a block was
# expected, a number where a string was): the instance is skipped with a warning, never a crash.
_BAD_SHAPE = (MappingError, AttributeError, TypeError, ValueError, KeyError, IndexError)


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, MappingError) else "attributes of an unexpected shape; not compared"


def map_instances(instances: Iterable[Instance], *, default_region: str = "us-east-1") -> MappingResult:
    """Map a state's managed instances to declared documents; split resources land on their parent's."""
    result = MappingResult()
    by_key: dict[tuple[str, str], tuple[Declared, ParentType]] = {}
    children: list[tuple[Instance, ChildType]] = []
    for instance in instances:
        parent = PARENTS.get(instance.type)
        if parent is None:
            child = CHILDREN.get(instance.type)
            if child is None:
                result.unsupported[instance.type] += 1
            else:
                children.append((instance, child))
            continue
        try:
            external_id, name, region, document = parent.build(instance.attributes)
        except _BAD_SHAPE as exc:
            result.warnings.append(f"{instance.address}: {_why(exc)}")
            continue
        declared = Declared(
            parent.resource_type, external_id, name[:512], region or default_region, instance.address, document
        )
        result.declared.append(declared)
        key = parent.key(instance.attributes)
        if key is not None and key[1]:
            by_key[key] = (declared, parent)
    for instance, child in children:
        key = child.key(instance.attributes)
        if key is None:
            result.warnings.append(f"{instance.address}: does not name its parent resource")
            continue
        found = by_key.get(key)
        if found is None:
            found = _orphan_parent(key, instance, result, by_key, default_region)
            if found is None:
                continue
        declared, _parent = found
        before = _shape(declared.document)
        try:
            child.apply(declared.document, instance.attributes)
        except _BAD_SHAPE as exc:
            result.warnings.append(f"{instance.address}: {_why(exc)}")
            continue
        declared.parts.append(instance.address)
        _trace(declared, before, instance.address)
    for declared, parent in {id(d): (d, p) for d, p in by_key.values()}.values():
        if parent.finish is not None:
            parent.finish(declared.document)
    return result


def element_ident(value: Any) -> str:
    """How the diff engine names a list element (drifts.diff.element_ident; a test keeps them equal)."""
    text = canonical_json(value)
    if isinstance(value, dict | list):
        return "#" + hashlib.sha256(text.encode()).hexdigest()[:12]
    return text


# Dicts whose members are separate things (one inline policy per aws_iam_role_policy): traced per member.
_NAMED_MEMBERS = frozenset({"InlinePolicies"})


def _shape(document: dict) -> dict[str, tuple]:
    """What a split resource can change, cheaply: each value's identity, and the members a list or dict had.

    Split resources assign a key or append to a list or dict member; they never edit what is there.
    """
    shape = {}
    for key, value in document.items():
        if isinstance(value, list):
            shape[key] = (value, len(value))
        elif isinstance(value, dict):
            shape[key] = (value, frozenset(value))
        else:
            shape[key] = (value, None)
    return shape


def _trace(declared: Declared, before: dict[str, tuple], address: str) -> None:
    """Record which parts of the document a split resource declared: keys, dict members or list elements."""
    for key, value in declared.document.items():
        old, members = before.get(key, (None, None))
        if isinstance(value, list):
            start = members if value is old and members is not None else 0
            if value is old and start == len(value):
                continue
            for item in value[start:]:
                declared.declared_by[f"{key}[{element_ident(item)}]"] = address
        elif isinstance(value, dict) and (isinstance(old, dict) or key in _NAMED_MEMBERS):
            known = members if value is old and members is not None else frozenset()
            if value is old and len(value) == len(known):
                continue
            for member in value.keys() - known:
                declared.declared_by[f"{key}.{member}"] = address
        elif key not in before or value is not old:
            declared.declared_by[key] = address


def _orphan_parent(key, instance: Instance, result: MappingResult, by_key: dict, default_region: str):
    """A split resource whose parent is managed elsewhere (or imported only in part): declare that part."""
    parent_type = _ORPHAN_PARENT.get(key[0])
    parent = PARENTS.get(parent_type) if parent_type else None
    if parent is None or parent.orphan is None:
        result.warnings.append(f"{instance.address}: its parent resource is not in this state; not compared")
        return None
    external_id, name, region, document = parent.orphan(key)
    declared = Declared(parent.resource_type, external_id, name, region or default_region, instance.address, document)
    result.declared.append(declared)
    by_key[key] = (declared, parent)
    return by_key[key]
