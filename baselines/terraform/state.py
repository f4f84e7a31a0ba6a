"""Parsing Terraform state (format version 4: Terraform >= 0.12 and OpenTofu) into managed resource instances.

Pure Python over bytes: no Django, no network. Only `mode == "managed"` resources are kept (data sources are
reads, not declarations). Attributes listed in an instance's `sensitive_attributes` are removed here, before
anything else sees them, so a secret in a state file is never mapped, stored or shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

SUPPORTED_VERSION = 4

# Terraform writes these keys first; a peek at the head of a file finds them without parsing the rest.
_HEAD_BYTES = 4096
_HEAD_VERSION = re.compile(rb'^\s*\{\s*"version"\s*:\s*(\d+)\s*,')
_HEAD_SERIAL = re.compile(rb'"serial"\s*:\s*(\d+)')
_HEAD_LINEAGE = re.compile(rb'"lineage"\s*:\s*"([^"\\]{1,200})"')
_HEAD_STOP = re.compile(rb'"(outputs|resources|check_results)"\s*:')


class StateError(ValueError):
    """A state file that cannot be used; `code` names the reason, the message is safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class StateHead:
    """The identity of a state snapshot: a new serial or lineage means new content."""

    version: int
    serial: int
    lineage: str


@dataclass
class Instance:
    """One instance of a managed resource: its full address and its (non-sensitive) attributes."""

    address: str
    module: str
    type: str
    name: str
    index_key: int | str | None
    schema_version: int
    attributes: dict


@dataclass
class ParsedState:
    """A parsed state: its identity, the managed instances, and how many data sources were skipped."""

    head: StateHead
    terraform_version: str
    instances: list[Instance] = field(default_factory=list)
    data_sources: int = 0


def peek_head(data: bytes) -> StateHead | None:
    """serial and lineage from the first bytes, when Terraform's key order puts them there; else None.

    Only keys that come before "outputs"/"resources" count, so a nested "serial" is never taken for the
    state's own.
    """
    head = data[:_HEAD_BYTES]
    stop = _HEAD_STOP.search(head)
    if stop is not None:
        head = head[: stop.start()]
    elif len(data) > _HEAD_BYTES:
        return None
    version, serial, lineage = _HEAD_VERSION.search(head), _HEAD_SERIAL.search(head), _HEAD_LINEAGE.search(head)
    if not (version and serial and lineage):
        return None
    return StateHead(int(version.group(1)), int(serial.group(1)), lineage.group(1).decode("utf-8", "replace"))


def parse_state(data: bytes, *, max_bytes: int | None = None) -> ParsedState:
    """Parse a state file; raises StateError (too_large, empty, truncated, malformed, wrong_version, invalid)."""
    if max_bytes is not None and len(data) > max_bytes:
        raise StateError("too_large", f"The state file is {len(data)} bytes; the limit is {max_bytes} bytes.")
    if not data.strip():
        raise StateError("empty", "The state file is empty.")
    try:
        document = json.loads(data)
    except UnicodeDecodeError:
        raise StateError("malformed", "The state file is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        # An unterminated string runs to the end of the input: cut off, like an error at the very end.
        if exc.pos >= len(data.rstrip()) - 1 or exc.msg.startswith("Unterminated string"):
            raise StateError(
                "truncated", f"The state file ends early (at byte {exc.pos}): it was cut off in transfer."
            ) from None
        raise StateError(
            "malformed", f"The state file is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
    return parse_document(document)


def parse_document(document: Any) -> ParsedState:
    """Validate a decoded state document and collect its managed instances."""
    if not isinstance(document, dict):
        raise StateError("invalid", "The state file is not a JSON object.")
    version = document.get("version")
    if version != SUPPORTED_VERSION:
        shown = version if isinstance(version, int | str) else type(version).__name__
        raise StateError(
            "wrong_version",
            f"State format version {shown} is not supported; DriftWatch reads version {SUPPORTED_VERSION} "
            "(Terraform 0.12 and later, OpenTofu). Run `terraform state pull` with a current Terraform.",
        )
    serial, lineage = document.get("serial"), document.get("lineage")
    if type(serial) is not int or serial < 0:
        raise StateError("invalid", "The state file has no valid serial.")
    if not isinstance(lineage, str) or not lineage:
        raise StateError("invalid", "The state file has no lineage.")
    resources = document.get("resources", [])
    if not isinstance(resources, list):
        raise StateError("invalid", "The state file's resources is not a list.")
    parsed = ParsedState(
        head=StateHead(version, serial, lineage), terraform_version=str(document.get("terraform_version") or "")
    )
    for position, resource in enumerate(resources):
        if not isinstance(resource, dict):
            raise StateError("invalid", f"resources[{position}] is not an object.")
        if resource.get("mode") != "managed":
            parsed.data_sources += 1
            continue
        parsed.instances.extend(_instances(resource, position))
    return parsed


def _instances(resource: dict, position: int) -> Iterator[Instance]:
    rtype, name, module = resource.get("type"), resource.get("name"), resource.get("module") or ""
    if not isinstance(rtype, str) or not isinstance(name, str) or not isinstance(module, str):
        raise StateError("invalid", f"resources[{position}] lacks a type or a name.")
    instances = resource.get("instances", [])
    if not isinstance(instances, list):
        raise StateError("invalid", f"resources[{position}].instances is not a list.")
    for instance in instances:
        if not isinstance(instance, dict) or not isinstance(instance.get("attributes", {}), dict):
            raise StateError("invalid", f"An instance of {rtype}.{name} is not an object with attributes.")
        if instance.get("status") == "tainted" or instance.get("deposed"):
            continue  # to be replaced on the next apply: not what the code declares
        index_key = instance.get("index_key")
        attributes = _without_sensitive(instance.get("attributes") or {}, instance.get("sensitive_attributes"))
        yield Instance(
            address=address(module, rtype, name, index_key),
            module=module,
            type=rtype,
            name=name,
            index_key=index_key,
            schema_version=int(instance.get("schema_version") or 0),
            attributes=attributes,
        )


def address(module: str, rtype: str, name: str, index_key: int | str | None) -> str:
    """Terraform's resource address: `module.network.aws_security_group.web[0]`, `aws_s3_bucket.b["logs"]`."""
    base = f"{module}.{rtype}.{name}" if module else f"{rtype}.{name}"
    if index_key is None:
        return base
    if isinstance(index_key, int) and not isinstance(index_key, bool):
        return f"{base}[{index_key}]"
    return f"{base}[{json.dumps(str(index_key), ensure_ascii=False)}]"


# --- sensitive attributes -----------------------------------------------------------------------------


def _path_steps(path: Any) -> list | None:
    """A sensitive path as a list of keys/indexes: Terraform writes [{"type": "get_attr", "value": "password"}]."""
    if isinstance(path, str):
        return [path]
    if not isinstance(path, list):
        return None
    steps = []
    for step in path:
        if isinstance(step, dict) and "value" in step:
            steps.append(step["value"])
        elif isinstance(step, str | int):
            steps.append(step)
        else:
            return None
    return steps or None


def _without_sensitive(attributes: dict, sensitive: Any) -> dict:
    """A copy of attributes with every sensitive path removed (the top-level attribute when a path is odd)."""
    if not sensitive:
        return attributes
    cleaned = dict(attributes)
    for path in sensitive if isinstance(sensitive, list) else []:
        steps = _path_steps(path)
        if steps and isinstance(steps[0], str):
            # A secret inside a block drops the whole top-level attribute: a partial copy is not worth the risk.
            cleaned.pop(steps[0], None)
    return cleaned
