"""Who made a CloudTrail call: one display string and its parts, from the record's userIdentity.

actor_type is CloudTrail's own userIdentity.type (IAMUser, AssumedRole, Root, AWSService,
IdentityCenterUser, FederatedUser, AWSAccount, SAMLUser, WebIdentityUser, ...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# The display string and each part are cut to this length: the values come from a log file.
_MAX = 200
# IAM Identity Center (formerly AWS SSO) permission sets become roles with this prefix; their session name
# is the person's user name.
SSO_ROLE_PREFIX = "AWSReservedSSO_"


@dataclass(frozen=True)
class Actor:
    """Who did it: `actor` is what a person reads; the other fields are the parts it was built from."""

    actor: str
    actor_arn: str | None
    actor_type: str
    account_id: str | None = None
    user_name: str | None = None
    role_name: str | None = None
    session_name: str | None = None
    invoked_by: str | None = None

    def parts(self) -> dict:
        """The parts, without the display string, arn and type (they have their own fields)."""
        values = asdict(self)
        for name in ("actor", "actor_arn", "actor_type"):
            values.pop(name)
        return values


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:_MAX]


def _arn_tail(arn: str | None) -> str | None:
    """The last path segment of an ARN (`.../alice` -> `alice`)."""
    if not arn:
        return None
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]


def _assumed_role_parts(identity: dict) -> tuple[str | None, str | None]:
    """(role name, session name) of an assumed-role identity.

    The role comes from sessionContext.sessionIssuer (its userName is the role's name); the session name
    is the last part of arn:aws:sts::<account>:assumed-role/<role>/<session>.
    """
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    role = issuer.get("userName") or _arn_tail(issuer.get("arn"))
    session = None
    arn = identity.get("arn") or ""
    if ":assumed-role/" in arn:
        pieces = arn.split(":assumed-role/", 1)[1].split("/", 1)
        role = role or pieces[0]
        session = pieces[1] if len(pieces) > 1 else None
    return _text(role), _text(session)


def actor_from_identity(identity: Any) -> Actor:
    """Read a userIdentity block (as CloudTrail writes it) into an Actor; never raises on odd input."""
    if not isinstance(identity, dict):
        return Actor(actor="unknown", actor_arn=None, actor_type="Unknown")
    kind = _text(identity.get("type")) or "Unknown"
    arn = _text(identity.get("arn"))
    account = _text(identity.get("accountId"))
    invoked_by = _text(identity.get("invokedBy"))
    common = {"actor_arn": arn, "actor_type": kind, "account_id": account, "invoked_by": invoked_by}

    if kind == "IAMUser":
        name = _text(identity.get("userName")) or _arn_tail(arn) or "unknown user"
        return Actor(actor=name, user_name=name, **common)
    if kind == "AssumedRole":
        role, session = _assumed_role_parts(identity)
        if role and session:
            # SSO: "alice@example.com via AWSReservedSSO_Admin_0123"; any other role reads the same way.
            display = f"{session} via {role}"
        else:
            display = role or session or arn or "unknown role"
        user = session if role and role.startswith(SSO_ROLE_PREFIX) else None
        return Actor(actor=display[:_MAX], role_name=role, session_name=session, user_name=user, **common)
    if kind == "Root":
        return Actor(actor=f"root ({account})" if account else "root", **common)
    if kind == "AWSService":
        service = invoked_by or _text(identity.get("principalId")) or "AWS service"
        return Actor(actor=service, **common)
    if kind == "IdentityCenterUser":
        on_behalf = identity.get("onBehalfOf") if isinstance(identity.get("onBehalfOf"), dict) else {}
        name = _text(identity.get("userName")) or _text(on_behalf.get("userId")) or "Identity Center user"
        return Actor(actor=name, user_name=name, **common)
    if kind == "FederatedUser":
        issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
        name = _arn_tail(arn) or _text(identity.get("principalId")) or "federated user"
        via = _text(issuer.get("userName"))
        return Actor(actor=f"{name} via {via}" if via else name, user_name=name, **common)
    if kind == "AWSAccount":
        display = f"account {account}" if account else "another AWS account"
        if invoked_by:
            display += f" via {invoked_by}"
        return Actor(actor=display, **common)
    # SAMLUser, WebIdentityUser and whatever CloudTrail adds next: the user name if any, else the ARN.
    name = _text(identity.get("userName")) or _arn_tail(arn) or _text(identity.get("principalId")) or kind
    return Actor(actor=name, user_name=_text(identity.get("userName")), **common)
