"""Rule catalogue: the drift type and severity of a change, and the sentence that describes it.

CATALOGUE is data plus small predicates over a change's values. classify() takes the first rule that
matches, so specific rules come before general ones and the last rule catches everything;
catalogue_markdown() renders the same list for the docs, so the docs cannot drift from the code.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drifts.diff import Change, format_path, split_path

DRIFT_TYPES = ("configuration", "security", "compliance")
SEVERITIES = ("critical", "high", "medium", "low")

RESOURCE_LABELS = {
    "s3_bucket": "S3 bucket",
    "ec2_security_group": "Security group",
    "iam_role": "IAM role",
    "rds_instance": "RDS instance",
    "kms_key": "KMS key",
    "cloudtrail_trail": "CloudTrail trail",
}

ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
PUBLIC_GROUP_URIS = frozenset(
    {
        "http://acs.amazonaws.com/groups/global/AllUsers",
        "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
    }
)
WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})

# Longest value or description a summary shows in full.
_MAX_TEXT = 60


@dataclass(frozen=True)
class Classification:
    """What a change is: its drift type, its severity and a one-line summary."""

    drift_type: str
    severity: str
    summary: str


# --- value predicates ---------------------------------------------------------------------------------


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _statements(policy_or_statement: Any) -> list[dict]:
    if not isinstance(policy_or_statement, dict):
        return []
    if "Statement" in policy_or_statement:
        return [s for s in _as_list(policy_or_statement["Statement"]) if isinstance(s, dict)]
    return [policy_or_statement] if "Effect" in policy_or_statement else []


def grants_public_access(policy_or_statement: Any) -> bool:
    """True if a policy or statement allows anyone ("*" or {"AWS": "*"} as principal)."""
    for statement in _statements(policy_or_statement):
        principal = statement.get("Principal")
        # Conditions are ignored on purpose: a public Allow is worth a look even if a condition narrows it.
        anyone = principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS")))
        if statement.get("Effect") == "Allow" and anyone:
            return True
    return False


def acl_grants_public(acl_or_grant: Any) -> bool:
    """True if an ACL (or a single grant, or a list of grants) grants to AllUsers or AuthenticatedUsers."""
    if isinstance(acl_or_grant, dict) and "Grants" in acl_or_grant:
        grants = _as_list(acl_or_grant["Grants"])
    else:
        grants = _as_list(acl_or_grant)
    return any(
        isinstance(grant, dict)
        and isinstance(grant.get("Grantee"), dict)
        and grant["Grantee"].get("URI") in PUBLIC_GROUP_URIS
        for grant in grants
    )


def allows_admin(policy_or_statement: Any) -> bool:
    """True if a policy or statement allows every action ("*") on every resource ("*")."""
    return any(
        statement.get("Effect") == "Allow"
        and "*" in _as_list(statement.get("Action"))
        and "*" in _as_list(statement.get("Resource"))
        for statement in _statements(policy_or_statement)
    )


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


# --- summaries ----------------------------------------------------------------------------------------


def resource_label(resource_type: str) -> str:
    """Human name of a resource type: `S3 bucket`, or `lambda_function` -> `Lambda function`."""
    if resource_type in RESOURCE_LABELS:
        return RESOURCE_LABELS[resource_type]
    words = resource_type.replace("_", " ")
    return words[:1].upper() + words[1:]


def summarize(resource_type: str, change: Change) -> str:
    """One line a person can read: `S3 bucket BlockPublicAcls changed from true to false`."""
    label = resource_label(resource_type)
    parts = split_path(change["path"])
    op, old, new = change["op"], change["baseline"], change["current"]
    if not parts:
        if op == "added":
            return f"{label} appeared"
        if op == "removed":
            return f"{label} deleted"
        return f"{label} changed from {_show(old)} to {_show(new)}"
    element = _element_noun(parts)
    if element and op in ("added", "removed"):
        noun, describe = element
        return f"{label} {noun} {op}: {describe(new if op == 'added' else old)}"
    attribute, show = _attribute(parts)
    if op == "added":
        return f"{label} {attribute} added: {show(new)}"
    if op == "removed":
        return f"{label} {attribute} removed (was {show(old)})"
    return f"{label} {attribute} changed from {show(old)} to {show(new)}"


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _show(value: Any) -> str:
    """A value in JSON spelling, abbreviated when long."""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= _MAX_TEXT:
        return text
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list):
        return "[…]"
    if isinstance(value, str):
        return json.dumps(value[: _MAX_TEXT - 3] + "…", ensure_ascii=False)
    return _clip(text)


def _describe_rule(rule: Any, direction: str) -> str:
    if not isinstance(rule, dict):
        return _show(rule)
    protocol, low, high = rule.get("IpProtocol"), rule.get("FromPort"), rule.get("ToPort")
    if protocol == "-1":
        what = "all traffic"
    elif low is None or low == -1:  # -1 is "any" for ICMP types
        what = str(protocol)
    elif high is None or high in (low, -1):
        what = f"{protocol} {low}"
    else:
        what = f"{protocol} {low}-{high}"
    return _clip(f"{what} {direction} {rule.get('Source')}")


def _describe_ingress(rule: Any) -> str:
    return _describe_rule(rule, "from")


def _describe_egress(rule: Any) -> str:
    return _describe_rule(rule, "to")


def _describe_grant(grant: Any) -> str:
    if not isinstance(grant, dict):
        return _show(grant)
    grantee = grant.get("Grantee") if isinstance(grant.get("Grantee"), dict) else {}
    uri = grantee.get("URI")
    # A group is named by the end of its URI (AllUsers); anyone else by whatever identifies them.
    who = uri.rsplit("/", 1)[-1] if uri else grantee.get("ID") or grantee.get("EmailAddress")
    return _clip(f"{grant.get('Permission')} to {who}")


def _describe_statement(statement: Any) -> str:
    if not isinstance(statement, dict):
        return _show(statement)
    actions = ", ".join(_as_list(statement.get("Action")))
    if not actions and "NotAction" in statement:
        actions = "all but " + ", ".join(_as_list(statement["NotAction"]))
    text = f"{statement.get('Effect')} {actions}"
    if statement.get("Resource"):
        text += " on " + ", ".join(_as_list(statement["Resource"]))
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        text += " for " + ", ".join(who for ids in principal.values() for who in _as_list(ids))
    elif principal is not None:
        text += f" for {principal}"
    return _clip(text)


def _describe_policy(policy: Any) -> str:
    if not isinstance(policy, dict) or "Statement" not in policy:
        return _show(policy)
    return _clip("; ".join(_describe_statement(s) for s in _statements(policy)))


def _plain(value: Any) -> str:
    return _clip(str(value))


# A list element reads better named by what the list holds, described in words rather than as JSON.
_ELEMENT_NOUNS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "IngressRules": ("ingress rule", _describe_ingress),
    "EgressRules": ("egress rule", _describe_egress),
    "AttachedManagedPolicies": ("managed policy", _plain),
    "Grants": ("ACL grant", _describe_grant),
    "Statement": ("policy statement", _describe_statement),
    "Aliases": ("alias", _plain),
    "VpcSecurityGroups": ("VPC security group", _plain),
}
_POLICY_NOUNS = {"Policy": "policy statement", "AssumeRolePolicyDocument": "trust policy statement"}

# Children of these dicts are named "<noun> <key>": `tag env`, `inline policy admin`.
_KEYED_NOUNS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "Tags": ("tag", _show),
    "InlinePolicies": ("inline policy", _describe_policy),
}

# Last path parts that say nothing on their own, so the attribute shows the part before them too.
_VAGUE_NAMES = frozenset({"Status", "Enabled", "Value", "Key", "Type", "Name", "Id", "ID"})


def _element_noun(parts: list[str]) -> tuple[str, Callable[[Any], str]] | None:
    if len(parts) < 2 or parts[-2] not in _ELEMENT_NOUNS:
        return None
    noun, describe = _ELEMENT_NOUNS[parts[-2]]
    if parts[-2] == "Statement":
        if len(parts) >= 4 and parts[-4] == "InlinePolicies":
            noun = f"inline policy {parts[-3]} statement"
        elif len(parts) >= 3:
            noun = _POLICY_NOUNS.get(parts[-3], noun)
    return noun, describe


def _attribute(parts: list[str]) -> tuple[str, Callable[[Any], str]]:
    if len(parts) >= 2 and parts[-2] in _KEYED_NOUNS:
        noun, show = _KEYED_NOUNS[parts[-2]]
        return f"{noun} {parts[-1]}", show
    last = parts[-1]
    if len(parts) >= 2 and (last in _VAGUE_NAMES or last.startswith("[")):
        return format_path(parts[-2:]), _show
    # format_path, not the raw key, so an odd key still reads as one (`["app.tier"]`, `[""]`).
    return format_path([last]), _show
