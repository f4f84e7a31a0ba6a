"""What a policy, an ACL or a TLS policy allows: pure predicates over the documents the collectors produce.

The rule catalogue (drifts.rules) asks these about a change's old and new values; the summaries
(drifts.summaries) use the same readings of a statement.
"""

import re
from typing import Any

PUBLIC_GROUP_URIS = frozenset(
    {
        "http://acs.amazonaws.com/groups/global/AllUsers",
        "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
    }
)

# Condition keys that pin a "*" principal to known callers (an account, an organization, a source ARN or
# network), so such a statement is not "anyone". Compared in lower case: AWS matches keys case-insensitively.
NARROWING_CONDITION_KEYS = frozenset(
    {
        "aws:sourceowner",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
    }
)


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(policy_or_statement: Any) -> list[dict]:
    if not isinstance(policy_or_statement, dict):
        return []
    if "Statement" in policy_or_statement:
        return [s for s in as_list(policy_or_statement["Statement"]) if isinstance(s, dict)]
    return [policy_or_statement] if "Effect" in policy_or_statement else []


def grants_public_access(policy_or_statement: Any) -> bool:
    """True if a policy or statement allows anyone ("*" or {"AWS": "*"} as principal)."""
    for statement in statements(policy_or_statement):
        principal = statement.get("Principal")
        # Conditions are ignored on purpose: a public Allow is worth a look even if a condition narrows it.
        anyone = principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS")))
        if statement.get("Effect") == "Allow" and anyone:
            return True
    return False


def grants_open_access(policy_or_statement: Any) -> bool:
    """True if a resource policy or statement allows anyone, with no condition pinning who "anyone" is.

    For resource policies (Lambda, SQS, SNS, secrets) whose AWS defaults themselves say `"AWS": "*"`
    narrowed by `AWS:SourceOwner`: such a statement is not public, an unconditioned one is.
    """
    for statement in statements(policy_or_statement):
        if not grants_public_access(statement):
            continue
        condition = statement.get("Condition")
        keys = {
            str(key).lower()
            for clauses in (condition.values() if isinstance(condition, dict) else ())
            if isinstance(clauses, dict)
            for key in clauses
        }
        if not keys & NARROWING_CONDITION_KEYS:
            return True
    return False


def acl_grants_public(acl_or_grant: Any) -> bool:
    """True if an ACL (or a single grant, or a list of grants) grants to AllUsers or AuthenticatedUsers."""
    if isinstance(acl_or_grant, dict) and "Grants" in acl_or_grant:
        grants = as_list(acl_or_grant["Grants"])
    else:
        grants = as_list(acl_or_grant)
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
        and "*" in as_list(statement.get("Action"))
        and "*" in as_list(statement.get("Resource"))
        for statement in statements(policy_or_statement)
    )


_TLS_VERSION = re.compile(r"-(?:TLS13|TLS|FS)-1-([0-3])(?:-|$)")


def tls_floor(ssl_policy: Any) -> float | None:
    """The lowest TLS version an ELB security policy accepts, read from its name (None when unknown).

    `ELBSecurityPolicy-TLS13-1-2-2021-06` -> 1.2, `ELBSecurityPolicy-TLS-1-1-2017-01` -> 1.1; the dated
    policies without a version in their name (`ELBSecurityPolicy-2016-08` and older) accept TLS 1.0.
    """
    if not isinstance(ssl_policy, str) or not ssl_policy.startswith("ELBSecurityPolicy"):
        return None
    match = _TLS_VERSION.search(ssl_policy)
    return float(f"1.{match.group(1)}") if match else 1.0
