"""Rule catalogue: the drift type and severity of a change, and the sentence that describes it.

CATALOGUE is data plus small predicates over a change's values. classify() takes the first rule that
matches, so specific rules come before general ones and the last rule catches everything;
catalogue_markdown() renders the same list for the docs, so the docs cannot drift from the code.
What a policy allows is read in drifts.policies, the sentence written in drifts.summaries (both
re-exported here, where callers have always found them).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drifts.diff import Change, split_path
from drifts.policies import (
    acl_grants_public,
    allows_admin,
    as_list,
    grants_open_access,
    grants_public_access,
    tls_floor,
)
from drifts.summaries import RESOURCE_LABELS, resource_label, summarize

__all__ = [
    "CATALOGUE",
    "DRIFT_TYPES",
    "RESOURCE_LABELS",
    "SEVERITIES",
    "Classification",
    "Rule",
    "acl_grants_public",
    "allows_admin",
    "catalogue_markdown",
    "classify",
    "find_rule",
    "grants_open_access",
    "grants_public_access",
    "resource_label",
    "summarize",
    "tls_floor",
]

DRIFT_TYPES = ("configuration", "security", "compliance")
SEVERITIES = ("critical", "high", "medium", "low")

ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})


@dataclass(frozen=True)
class Classification:
    """What a change is: its drift type, its severity and a one-line summary."""

    drift_type: str
    severity: str
    summary: str


# --- value predicates ---------------------------------------------------------------------------------


def _world_open(rule: Any) -> bool:
    return isinstance(rule, dict) and rule.get("Source") in WORLD_CIDRS


def _world_open_all_ports(rule: Any) -> bool:
    if not _world_open(rule):
        return False
    return rule.get("IpProtocol") == "-1" or (rule.get("FromPort") == 0 and rule.get("ToPort") == 65535)


def _equals(expected: Any) -> Callable[[Any], bool]:
    # Compare the type too, so 1 never passes for True.
    return lambda value: type(value) is type(expected) and value == expected


def _present(value: Any) -> bool:
    return value is not None


def _one_of(*expected: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value in expected


def _url_without_auth(value: Any) -> bool:
    """A function URL (or its AuthType) that lets anyone on the internet invoke the function."""
    return value == "NONE" or (isinstance(value, dict) and value.get("AuthType") == "NONE")


def _active_key(value: Any) -> bool:
    return isinstance(value, dict) and value.get("Status") == "Active"


def _redirects_to_https(action: Any) -> bool:
    return (
        isinstance(action, dict)
        and action.get("Type") == "redirect"
        and (action.get("RedirectConfig") or {}).get("Protocol") in ("HTTPS", "#{protocol}")
    )


def _plain_http_listener(listener: Any) -> bool:
    """An HTTP listener whose default action does not send clients to HTTPS."""
    return (
        isinstance(listener, dict)
        and listener.get("Protocol") == "HTTP"
        and not any(_redirects_to_https(action) for action in as_list(listener.get("DefaultActions")))
    )


def _tls_weakened(change: Change) -> bool:
    old, new = tls_floor(change["baseline"]), tls_floor(change["current"])
    return old is not None and new is not None and new < old


def _tls_strengthened(change: Change) -> bool:
    old, new = tls_floor(change["baseline"]), tls_floor(change["current"])
    return old is not None and new is not None and new > old


# --- change predicates --------------------------------------------------------------------------------


def _became(test: Callable[[Any], bool]) -> Callable[[Change], bool]:
    """The change makes `test` true of the value where it was false (a flag set, a grant made)."""
    return lambda change: test(change["current"]) and not test(change["baseline"])


def _ceased(test: Callable[[Any], bool]) -> Callable[[Change], bool]:
    """The change makes `test` false of the value where it was true (a flag cleared, a grant revoked)."""
    return lambda change: test(change["baseline"]) and not test(change["current"])


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _lowered(change: Change) -> bool:
    old, new = change["baseline"], change["current"]
    return _is_number(old) and _is_number(new) and new < old


def _raised(change: Change) -> bool:
    old, new = change["baseline"], change["current"]
    return _is_number(old) and _is_number(new) and new > old


def _any_change(change: Change) -> bool:
    return True


# Named directions, so each catalogue row reads as one line.
_turned_on = _became(_equals(True))
_turned_off = _ceased(_equals(True))
_set = _became(_present)  # null -> a value
_unset = _ceased(_present)  # a value -> null
_left_enabled = _ceased(_equals("Enabled"))
_back_to_enabled = _became(_equals("Enabled"))
_policy_public = _became(grants_public_access)
_policy_private = _ceased(grants_public_access)
_acl_public = _became(acl_grants_public)
_acl_private = _ceased(acl_grants_public)
_opens_everything = _became(_world_open_all_ports)
_opens_port = _became(_world_open)
_closes_port = _ceased(_world_open)
_admin_attached = _became(_equals(ADMIN_POLICY_ARN))
_admin_detached = _ceased(_equals(ADMIN_POLICY_ARN))
_admin_granted = _became(allows_admin)
_admin_revoked = _ceased(allows_admin)
_resource_policy_open = _became(grants_open_access)
_resource_policy_closed = _ceased(grants_open_access)
_world_cidr_added = _became(_one_of(*WORLD_CIDRS))
_world_cidr_removed = _ceased(_one_of(*WORLD_CIDRS))


def _gone(change: Change) -> bool:
    return change["op"] == "removed"


def _new(change: Change) -> bool:
    return change["op"] == "added"


# --- the catalogue ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One catalogue line: which resources and paths it covers, when it applies, and the verdict."""

    resource_type: str  # a resource type, or "*" for every type
    path: str  # a path pattern: "*" or "[*]" is one part, "**" any number of parts, "" the root
    when: str  # the change in words, for the docs
    drift_type: str
    severity: str
    applies: Callable[[Change], bool] = _any_change

    def matches(self, resource_type: str, parts: list[str], change: Change) -> bool:
        """True when this rule covers the change (its path already split into parts)."""
        return (
            self.resource_type in ("*", resource_type)
            and _path_matches(_pattern_parts(self.path), parts)
            and self.applies(change)
        )


def _pattern_parts(pattern: str) -> list[str]:
    # Patterns only use plain key names, so a naive split is enough.
    return pattern.replace("[*]", ".*").split(".") if pattern else []


def _path_matches(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_path_matches(rest, parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and head in ("*", parts[0]) and _path_matches(rest, parts[1:])


def pattern_matches(pattern: str, path: str) -> bool:
    """True when a catalogue path pattern (`PublicAccessBlock.*`, `IngressRules[*]`, `Tags.**`) covers a path."""
    try:
        parts = split_path(path)
    except ValueError:
        return False
    return _path_matches(_pattern_parts(pattern), parts)


S3, SG, IAM, RDS, KMS, TRAIL = (
    "s3_bucket",
    "ec2_security_group",
    "iam_role",
    "rds_instance",
    "kms_key",
    "cloudtrail_trail",
)
EC2, EBS, SNAP, FN, USER, POLICY = (
    "ec2_instance",
    "ebs_volume",
    "ebs_snapshot",
    "lambda_function",
    "iam_user",
    "iam_policy",
)
SQS, SNS, ELB, EKS, DDB, SECRET = (
    "sqs_queue",
    "sns_topic",
    "elbv2_load_balancer",
    "eks_cluster",
    "dynamodb_table",
    "secretsmanager_secret",
)

# One row per line reads as a table; ruff format would spread the long ones over seven lines.
# fmt: off
CATALOGUE: list[Rule] = [
    Rule("*", "", "a baselined resource is gone", "configuration", "high", _gone),
    Rule("*", "", "a new resource appears", "configuration", "low", _new),
    Rule("*", "Tags.**", "a tag added, removed or changed", "configuration", "low"),
    # S3
    Rule(S3, "PublicAccessBlock.*", "a flag turned off (true -> false)", "security", "critical", _turned_off),
    Rule(S3, "PublicAccessBlock.*", "a flag turned on (false -> true)", "security", "low", _turned_on),
    Rule(S3, "Policy.**", "the policy newly allows anyone", "security", "critical", _policy_public),
    Rule(S3, "Policy.**", "the policy no longer allows anyone", "security", "low", _policy_private),
    Rule(S3, "Acl.**", "the ACL newly grants a public group", "security", "critical", _acl_public),
    Rule(S3, "Acl.**", "the ACL no longer grants a public group", "security", "low", _acl_private),
    Rule(S3, "Encryption", "default encryption removed (-> null)", "security", "high", _unset),
    Rule(S3, "Encryption", "default encryption turned on (null ->)", "security", "low", _set),
    Rule(S3, "Encryption.**", "default encryption settings changed", "security", "medium"),
    Rule(S3, "Versioning", "versioning suspended (Enabled ->)", "compliance", "medium", _left_enabled),
    Rule(S3, "Versioning", "versioning enabled (-> Enabled)", "compliance", "low", _back_to_enabled),
    Rule(S3, "Logging", "access logging turned off (-> null)", "compliance", "medium", _unset),
    Rule(S3, "Logging", "access logging turned on (null ->)", "compliance", "low", _set),
    # Security groups. A rule arrives as an added or removed list element; "the world" is 0.0.0.0/0 or ::/0.
    Rule(SG, "IngressRules[*]", "a rule opens all traffic or all ports to the world", "security", "critical",
         _opens_everything),
    Rule(SG, "IngressRules[*]", "a rule opens a port to the world", "security", "high", _opens_port),
    Rule(SG, "IngressRules[*]", "a rule open to the world is removed", "security", "low", _closes_port),
    Rule(SG, "IngressRules[*]", "any other ingress rule added or removed", "configuration", "medium"),
    Rule(SG, "EgressRules[*]", "any egress rule added or removed", "configuration", "medium"),
    # IAM roles
    Rule(IAM, "AssumeRolePolicyDocument.**", "the trust policy changed", "security", "high"),
    Rule(IAM, "AttachedManagedPolicies[*]", "AdministratorAccess attached", "security", "critical",
         _admin_attached),
    Rule(IAM, "AttachedManagedPolicies[*]", "AdministratorAccess detached", "security", "low",
         _admin_detached),
    Rule(IAM, "InlinePolicies.**", "an inline policy newly allows * on *", "security", "critical",
         _admin_granted),
    Rule(IAM, "InlinePolicies.**", "an inline policy no longer allows * on *", "security", "low",
         _admin_revoked),
    # RDS
    Rule(RDS, "PubliclyAccessible", "made public (false -> true)", "security", "critical", _turned_on),
    Rule(RDS, "PubliclyAccessible", "made private (true -> false)", "security", "low", _turned_off),
    Rule(RDS, "StorageEncrypted", "encryption turned off (true -> false)", "security", "high", _turned_off),
    Rule(RDS, "StorageEncrypted", "encryption turned on (false -> true)", "security", "low", _turned_on),
    Rule(RDS, "BackupRetentionPeriod", "backup retention lowered", "compliance", "medium", _lowered),
    Rule(RDS, "BackupRetentionPeriod", "backup retention raised", "compliance", "low", _raised),
    Rule(RDS, "DeletionProtection", "deletion protection turned off", "compliance", "medium", _turned_off),
    Rule(RDS, "DeletionProtection", "deletion protection turned on", "compliance", "low", _turned_on),
    Rule(RDS, "DBInstanceClass", "instance class changed", "configuration", "medium"),
    Rule(RDS, "EngineVersion", "engine version changed", "configuration", "medium"),
    # KMS
    Rule(KMS, "KeyRotationEnabled", "key rotation turned off", "compliance", "high", _turned_off),
    Rule(KMS, "KeyRotationEnabled", "key rotation turned on", "compliance", "low", _turned_on),
    Rule(KMS, "KeyState", "key disabled or pending deletion", "security", "high", _left_enabled),
    Rule(KMS, "KeyState", "key enabled again (-> Enabled)", "security", "low", _back_to_enabled),
    # CloudTrail
    Rule(TRAIL, "IsLogging", "logging stopped (true -> false)", "security", "critical", _turned_off),
    Rule(TRAIL, "IsLogging", "logging started (false -> true)", "security", "low", _turned_on),
    Rule(TRAIL, "LogFileValidationEnabled", "log validation turned off", "compliance", "high", _turned_off),
    Rule(TRAIL, "LogFileValidationEnabled", "log validation turned on", "compliance", "low", _turned_on),
    Rule(TRAIL, "IsMultiRegionTrail", "multi-region logging turned off", "compliance", "high", _turned_off),
    Rule(TRAIL, "IsMultiRegionTrail", "multi-region logging turned on", "compliance", "low", _turned_on),
    # EC2 instances
    Rule(EC2, "MetadataOptions.HttpTokens", "IMDSv1 allowed again (required -> optional)", "security", "high",
         _ceased(_equals("required"))),
    Rule(EC2, "MetadataOptions.HttpTokens", "IMDSv2 required (-> required)", "security", "low",
         _became(_equals("required"))),
    Rule(EC2, "MetadataOptions.HttpPutResponseHopLimit", "metadata hop limit raised (containers reach IMDS)",
         "security", "medium", _raised),
    Rule(EC2, "MetadataOptions.HttpPutResponseHopLimit", "metadata hop limit lowered", "security", "low", _lowered),
    Rule(EC2, "PublicIpAssociated", "given a public IP (false -> true)", "security", "high", _turned_on),
    Rule(EC2, "PublicIpAssociated", "public IP removed (true -> false)", "security", "low", _turned_off),
    Rule(EC2, "IamInstanceProfile", "instance profile attached, replaced or removed", "security", "medium"),
    Rule(EC2, "SecurityGroups[*]", "a security group added or removed", "security", "medium"),
    # EBS volumes and snapshots
    Rule(EBS, "Encrypted", "unencrypted (true -> false)", "security", "critical", _turned_off),
    Rule(EBS, "Encrypted", "encrypted (false -> true)", "security", "low", _turned_on),
    Rule(EBS, "KmsKeyId", "encryption key changed", "security", "medium"),
    Rule(SNAP, "CreateVolumePermission.Public", "made public (false -> true)", "security", "critical",
         _turned_on),
    Rule(SNAP, "CreateVolumePermission.Public", "made private (true -> false)", "security", "low", _turned_off),
    Rule(SNAP, "CreateVolumePermission.UserIds[*]", "shared with another account", "security", "high", _new),
    Rule(SNAP, "CreateVolumePermission.UserIds[*]", "no longer shared with an account", "security", "low", _gone),
    Rule(SNAP, "Encrypted", "unencrypted (true -> false)", "security", "critical", _turned_off),
    Rule(SNAP, "Encrypted", "encrypted (false -> true)", "security", "low", _turned_on),
    # Lambda functions
    Rule(FN, "FunctionUrlConfig.**", "function URL auth turned off (AuthType NONE)", "security", "critical",
         _became(_url_without_auth)),
    Rule(FN, "FunctionUrlConfig.**", "function URL auth required again (NONE ->)", "security", "low",
         _ceased(_url_without_auth)),
    Rule(FN, "FunctionUrlConfig", "function URL created with IAM auth (null ->)", "security", "medium", _set),
    Rule(FN, "FunctionUrlConfig", "function URL removed (-> null)", "security", "low", _unset),
    Rule(FN, "Policy.**", "the resource policy newly allows anyone", "security", "critical",
         _resource_policy_open),
    Rule(FN, "Policy.**", "the resource policy no longer allows anyone", "security", "low",
         _resource_policy_closed),
    Rule(FN, "Policy.**", "the resource policy changed otherwise", "security", "medium"),
    Rule(FN, "Role", "execution role changed", "security", "medium"),
    # IAM users
    Rule(USER, "LoginProfile", "console access given (false -> true)", "security", "high", _turned_on),
    Rule(USER, "LoginProfile", "console access removed (true -> false)", "security", "low", _turned_off),
    Rule(USER, "AccessKeys[*]", "an active access key appears (new or reactivated)", "security", "high",
         _became(_active_key)),
    Rule(USER, "AccessKeys[*]", "an active access key goes (deleted or deactivated)", "security", "low",
         _ceased(_active_key)),
    Rule(USER, "MFADevices[*]", "an MFA device removed", "security", "high", _gone),
    Rule(USER, "MFADevices[*]", "an MFA device added", "security", "low", _new),
    Rule(USER, "AttachedManagedPolicies[*]", "AdministratorAccess attached", "security", "critical",
         _admin_attached),
    Rule(USER, "AttachedManagedPolicies[*]", "AdministratorAccess detached", "security", "low",
         _admin_detached),
    Rule(USER, "InlinePolicies.**", "an inline policy newly allows * on *", "security", "critical",
         _admin_granted),
    Rule(USER, "InlinePolicies.**", "an inline policy no longer allows * on *", "security", "low",
         _admin_revoked),
    Rule(USER, "PermissionsBoundary", "permissions boundary removed (-> null)", "security", "high", _unset),
    Rule(USER, "PermissionsBoundary", "permissions boundary set (null ->)", "security", "low", _set),
    Rule(USER, "Groups[*]", "added to or removed from a group", "security", "medium"),
    # IAM customer-managed policies
    Rule(POLICY, "Document.**", "the policy newly allows * on *", "security", "critical", _admin_granted),
    Rule(POLICY, "Document.**", "the policy no longer allows * on *", "security", "low", _admin_revoked),
    Rule(POLICY, "Document.**", "the policy document changed otherwise", "security", "medium"),
    # SQS queues
    Rule(SQS, "Policy.**", "the queue policy newly allows anyone", "security", "critical", _resource_policy_open),
    Rule(SQS, "Policy.**", "the queue policy no longer allows anyone", "security", "low",
         _resource_policy_closed),
    Rule(SQS, "SqsManagedSseEnabled", "SQS-managed encryption turned off", "security", "medium", _turned_off),
    Rule(SQS, "SqsManagedSseEnabled", "SQS-managed encryption turned on", "security", "low", _turned_on),
    Rule(SQS, "KmsMasterKeyId", "KMS encryption removed (-> null)", "security", "medium", _unset),
    Rule(SQS, "KmsMasterKeyId", "KMS encryption set (null ->)", "security", "low", _set),
    Rule(SQS, "MessageRetentionPeriod", "message retention shortened", "compliance", "low", _lowered),
    # SNS topics
    Rule(SNS, "Policy.**", "the topic policy newly allows anyone", "security", "critical", _resource_policy_open),
    Rule(SNS, "Policy.**", "the topic policy no longer allows anyone", "security", "low",
         _resource_policy_closed),
    Rule(SNS, "KmsMasterKeyId", "encryption removed (-> null)", "security", "high", _unset),
    Rule(SNS, "KmsMasterKeyId", "encryption turned on (null ->)", "security", "low", _set),
    Rule(SNS, "Subscriptions[*]", "a subscription added (messages go somewhere new)", "security", "medium",
         _new),
    Rule(SNS, "Subscriptions[*]", "a subscription removed", "configuration", "low", _gone),
    # Load balancers (listeners keyed by port)
    Rule(ELB, "Listeners.*", "a listener on HTTP without a redirect to HTTPS added", "security", "high",
         _became(_plain_http_listener)),
    Rule(ELB, "Listeners.*", "a listener on HTTP without a redirect to HTTPS removed", "security", "low",
         _ceased(_plain_http_listener)),
    Rule(ELB, "Listeners.*.Protocol", "a listener moved off TLS (HTTPS/TLS ->)", "security", "high",
         _ceased(_one_of(*TLS_PROTOCOLS))),
    Rule(ELB, "Listeners.*.Protocol", "a listener moved onto TLS (-> HTTPS/TLS)", "security", "low",
         _became(_one_of(*TLS_PROTOCOLS))),
    Rule(ELB, "Listeners.*.DefaultActions[*]", "a redirect to HTTPS removed", "security", "high",
         _ceased(_redirects_to_https)),
    Rule(ELB, "Listeners.*.DefaultActions[*]", "a redirect to HTTPS added", "security", "low",
         _became(_redirects_to_https)),
    Rule(ELB, "Listeners.*.SslPolicy", "a weaker TLS policy (older minimum version)", "security", "medium",
         _tls_weakened),
    Rule(ELB, "Listeners.*.SslPolicy", "a stronger TLS policy (newer minimum version)", "security", "low",
         _tls_strengthened),
    Rule(ELB, "Scheme", "made internet-facing (internal ->)", "security", "high",
         _became(_equals("internet-facing"))),
    Rule(ELB, "Scheme", "made internal (-> internal)", "security", "low", _became(_equals("internal"))),
    Rule(ELB, "SecurityGroups[*]", "a security group added or removed", "security", "medium"),
    Rule(ELB, "AccessLogs.Enabled", "access logging turned off", "compliance", "medium", _turned_off),
    Rule(ELB, "AccessLogs.Enabled", "access logging turned on", "compliance", "low", _turned_on),
    Rule(ELB, "DeletionProtection", "deletion protection turned off", "compliance", "medium", _turned_off),
    Rule(ELB, "DeletionProtection", "deletion protection turned on", "compliance", "low", _turned_on),
    # EKS clusters
    Rule(EKS, "resourcesVpcConfig.publicAccessCidrs[*]", "the API endpoint opened to 0.0.0.0/0 or ::/0",
         "security", "critical", _world_cidr_added),
    Rule(EKS, "resourcesVpcConfig.publicAccessCidrs[*]", "0.0.0.0/0 or ::/0 removed from the API endpoint",
         "security", "low", _world_cidr_removed),
    Rule(EKS, "resourcesVpcConfig.publicAccessCidrs[*]", "a public endpoint CIDR added or removed", "security",
         "medium"),
    Rule(EKS, "resourcesVpcConfig.endpointPublicAccess", "public API endpoint turned on", "security", "high",
         _turned_on),
    Rule(EKS, "resourcesVpcConfig.endpointPublicAccess", "public API endpoint turned off", "security", "low",
         _turned_off),
    Rule(EKS, "logging[*]", "a control plane log type turned off", "compliance", "medium", _gone),
    Rule(EKS, "logging[*]", "a control plane log type turned on", "compliance", "low", _new),
    Rule(EKS, "encryptionConfig[*]", "secrets encryption removed", "security", "high", _gone),
    Rule(EKS, "encryptionConfig[*]", "secrets encryption added", "security", "low", _new),
    # DynamoDB tables
    Rule(DDB, "PointInTimeRecoveryStatus", "point-in-time recovery turned off", "compliance", "medium",
         _ceased(_equals("ENABLED"))),
    Rule(DDB, "PointInTimeRecoveryStatus", "point-in-time recovery turned on", "compliance", "low",
         _became(_equals("ENABLED"))),
    Rule(DDB, "DeletionProtectionEnabled", "deletion protection turned off", "compliance", "medium",
         _turned_off),
    Rule(DDB, "DeletionProtectionEnabled", "deletion protection turned on", "compliance", "low", _turned_on),
    Rule(DDB, "SSEDescription.SSEType", "KMS encryption replaced by the AWS-owned key", "security", "medium",
         _unset),
    Rule(DDB, "SSEDescription.SSEType", "KMS encryption turned on", "security", "low", _set),
    # Secrets Manager
    Rule(SECRET, "RotationEnabled", "rotation turned off", "compliance", "medium", _turned_off),
    Rule(SECRET, "RotationEnabled", "rotation turned on", "compliance", "low", _turned_on),
    Rule(SECRET, "ResourcePolicy.**", "the resource policy newly allows anyone", "security", "critical",
         _resource_policy_open),
    Rule(SECRET, "ResourcePolicy.**", "the resource policy no longer allows anyone", "security", "low",
         _resource_policy_closed),
    Rule(SECRET, "ResourcePolicy.**", "the resource policy changed otherwise", "security", "medium"),
    Rule(SECRET, "KmsKeyId", "encryption key changed", "security", "medium"),
    # Everything else
    Rule("*", "**", "any other change", "configuration", "medium"),
]
# fmt: on


def find_rule(resource_type: str, change: Change) -> Rule:
    """The first catalogue rule that covers the change."""
    parts = split_path(change["path"])
    for rule in CATALOGUE:
        if rule.matches(resource_type, parts, change):
            return rule
    raise LookupError("CATALOGUE must end with a rule that matches every change")


def classify(resource_type: str, change: Change) -> Classification:
    """Drift type, severity and summary of one change from drifts.diff.diff."""
    rule = find_rule(resource_type, change)
    return Classification(rule.drift_type, rule.severity, summarize(resource_type, change))


def catalogue_markdown() -> str:
    """The catalogue as a Markdown table, in the order rules are tried."""
    lines = [
        "| Resource | Path | When | Type | Severity |",
        "|---|---|---|---|---|",
    ]
    for rule in CATALOGUE:
        resource = "any" if rule.resource_type == "*" else resource_label(rule.resource_type)
        path = f"`{rule.path}`" if rule.path else "(whole resource)"
        when = rule.when.replace("|", "\\|")
        lines.append(f"| {resource} | {path} | {when} | {rule.drift_type} | {rule.severity} |")
    return "\n".join(lines) + "\n"
