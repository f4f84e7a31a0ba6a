"""One-line summaries of a change a person can read, and the human names of resource types."""

import json
from collections.abc import Callable
from typing import Any

from drifts.diff import Change, format_path, split_path
from drifts.policies import as_list, statements

RESOURCE_LABELS = {
    "s3_bucket": "S3 bucket",
    "ec2_security_group": "Security group",
    "iam_role": "IAM role",
    "rds_instance": "RDS instance",
    "kms_key": "KMS key",
    "cloudtrail_trail": "CloudTrail trail",
    "ec2_instance": "EC2 instance",
    "ebs_volume": "EBS volume",
    "ebs_snapshot": "EBS snapshot",
    "lambda_function": "Lambda function",
    "iam_user": "IAM user",
    "iam_policy": "IAM policy",
    "sqs_queue": "SQS queue",
    "sns_topic": "SNS topic",
    "elbv2_load_balancer": "Load balancer",
    "eks_cluster": "EKS cluster",
    "dynamodb_table": "DynamoDB table",
    "secretsmanager_secret": "Secret",
}

# Longest value or description a summary shows in full.
_MAX_TEXT = 60


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
    actions = ", ".join(as_list(statement.get("Action")))
    if not actions and "NotAction" in statement:
        actions = "all but " + ", ".join(as_list(statement["NotAction"]))
    text = f"{statement.get('Effect')} {actions}"
    if statement.get("Resource"):
        text += " on " + ", ".join(as_list(statement["Resource"]))
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        text += " for " + ", ".join(who for ids in principal.values() for who in as_list(ids))
    elif principal is not None:
        text += f" for {principal}"
    return _clip(text)


def _describe_policy(policy: Any) -> str:
    if not isinstance(policy, dict) or "Statement" not in policy:
        return _show(policy)
    return _clip("; ".join(_describe_statement(s) for s in statements(policy)))


def _plain(value: Any) -> str:
    return _clip(str(value))


def _describe_key(key: Any) -> str:
    if not isinstance(key, dict):
        return _show(key)
    return _clip(f"{key.get('AccessKeyId')} ({key.get('Status')})")


def _describe_subscription(subscription: Any) -> str:
    if not isinstance(subscription, dict):
        return _show(subscription)
    return _clip(f"{subscription.get('Protocol')} {subscription.get('Endpoint')}")


def _describe_action(action: Any) -> str:
    if not isinstance(action, dict):
        return _show(action)
    redirect = action.get("RedirectConfig")
    if action.get("Type") == "redirect" and isinstance(redirect, dict):
        return _clip(f"redirect to {redirect.get('Protocol')} {redirect.get('Port')}")
    return _clip(str(action.get("Type")))


def _describe_listener(listener: Any) -> str:
    if not isinstance(listener, dict):
        return _show(listener)
    actions = ", ".join(_describe_action(a) for a in as_list(listener.get("DefaultActions")))
    return _clip(f"{listener.get('Protocol')} {listener.get('Port')} -> {actions or 'no action'}")


def _describe_url(url: Any) -> str:
    if not isinstance(url, dict):
        return _show(url)
    return _clip(f"AuthType {url.get('AuthType')}")


# A list element reads better named by what the list holds, described in words rather than as JSON.
_ELEMENT_NOUNS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "IngressRules": ("ingress rule", _describe_ingress),
    "EgressRules": ("egress rule", _describe_egress),
    "AttachedManagedPolicies": ("managed policy", _plain),
    "Grants": ("ACL grant", _describe_grant),
    "Statement": ("policy statement", _describe_statement),
    "Aliases": ("alias", _plain),
    "VpcSecurityGroups": ("VPC security group", _plain),
    "SecurityGroups": ("security group", _plain),
    "AccessKeys": ("access key", _describe_key),
    "MFADevices": ("MFA device", _plain),
    "Groups": ("group", _plain),
    "Subscriptions": ("subscription", _describe_subscription),
    "publicAccessCidrs": ("public endpoint CIDR", _plain),
    "logging": ("log type", _plain),
    "Attachments": ("attachment to", _plain),
    "UserIds": ("sharing with account", _plain),
    "EnvironmentVariables": ("environment variable", _plain),
    "DefaultActions": ("default action", _describe_action),
}
_POLICY_NOUNS = {
    "Policy": "policy statement",
    "AssumeRolePolicyDocument": "trust policy statement",
    "ResourcePolicy": "resource policy statement",
    "Document": "document statement",
}

# Children of these dicts are named "<noun> <key>": `tag env`, `inline policy admin`.
_KEYED_NOUNS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "Tags": ("tag", _show),
    "InlinePolicies": ("inline policy", _describe_policy),
    "Listeners": ("listener", _describe_listener),
}

# Attributes whose own name says too little, by path pattern: `Lambda function URL AuthType changed ...`.
_ATTRIBUTE_NAMES: dict[tuple[str, ...], tuple[str, Callable[[Any], str]]] = {
    ("FunctionUrlConfig",): ("URL", _describe_url),
    ("FunctionUrlConfig", "AuthType"): ("URL AuthType", _plain),
    ("MetadataOptions", "HttpTokens"): ("metadata HttpTokens", _plain),
    ("MetadataOptions", "HttpPutResponseHopLimit"): ("metadata hop limit", _plain),
    ("CreateVolumePermission", "Public"): ("public create-volume permission", _show),
    ("resourcesVpcConfig", "endpointPublicAccess"): ("public endpoint access", _show),
    ("Listeners", "*", "SslPolicy"): ("listener {1} SslPolicy", _plain),
    ("Listeners", "*", "Protocol"): ("listener {1} protocol", _plain),
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


def _named_attribute(parts: list[str]) -> tuple[str, Callable[[Any], str]] | None:
    for pattern, (name, show) in _ATTRIBUTE_NAMES.items():
        if len(pattern) == len(parts) and all(p in ("*", part) for p, part in zip(pattern, parts, strict=True)):
            return name.format(*parts), show
    return None


def _attribute(parts: list[str]) -> tuple[str, Callable[[Any], str]]:
    named = _named_attribute(parts)
    if named:
        return named
    if len(parts) >= 2 and parts[-2] in _KEYED_NOUNS:
        noun, show = _KEYED_NOUNS[parts[-2]]
        return f"{noun} {parts[-1]}", show
    last = parts[-1]
    if len(parts) >= 2 and (last in _VAGUE_NAMES or last.startswith("[")):
        return format_path(parts[-2:]), _show
    # format_path, not the raw key, so an odd key still reads as one (`["app.tier"]`, `[""]`).
    return format_path([last]), _show
