"""Comparing a live document with a declared one (a Terraform baseline): only what the code declares counts.

Pure Python over dicts, like drifts/diff.py, which it builds on. The live document is first cut down to
the keys the declared one has (recursively through dicts; lists and scalars compare whole), so a key the
code does not declare never becomes a change. Differences of form only are then dropped: a value equal to
the declared one once "true"/"false" and integer strings are read as the booleans and numbers they spell
(Terraform stores some values as strings that AWS answers typed, and the other way round).
"""

from typing import Any

from .diff import Change, canonical_json, diff, format_path, split_path


def project(live: Any, declared: Any) -> Any:
    """The part of `live` that `declared` describes: the same keys, recursively through dicts."""
    if isinstance(declared, dict) and isinstance(live, dict):
        return {key: project(live[key], value) for key, value in declared.items() if key in live}
    return live


def loosen(value: Any) -> Any:
    """The value with form erased: "true"/"false" as booleans, integer strings as integers."""
    if isinstance(value, dict):
        return {key: loosen(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((loosen(item) for item in value), key=canonical_json)
    if isinstance(value, str):
        if value in ("true", "false"):
            return value == "true"
        stripped = value[1:] if value.startswith("-") else value
        if stripped.isdigit() and (stripped == "0" or not stripped.startswith("0")) and len(stripped) < 19:
            return int(value)
    return value


def compare(declared: dict | None, live: dict | None) -> list[Change]:
    """The changes from the declared document to the live one, over declared keys, form differences dropped."""
    if declared is None or live is None:
        return diff(declared, live)
    changes = diff(declared, project(live, declared))
    return _drop_form_only(changes)


def _parent(path: str) -> str | None:
    """The path of the list holding an element change (`Rules[#ab..]` -> `Rules`), else None."""
    try:
        parts = split_path(path)
    except ValueError:
        return None
    if parts and parts[-1].startswith("["):
        return format_path(parts[:-1])
    return None


def _drop_form_only(changes: list[Change]) -> list[Change]:
    kept: list[Change] = []
    # List elements: a removed and an added element that are equal but for form cancel out.
    pending: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        if change["op"] == "changed":
            if canonical_json(loosen(change["baseline"])) != canonical_json(loosen(change["current"])):
                kept.append(change)
            continue
        parent = _parent(change["path"])
        if parent is None:
            kept.append(change)
            continue
        value = change["baseline"] if change["op"] == "removed" else change["current"]
        pending.setdefault((parent, canonical_json(loosen(value))), []).append(change)
    for group in pending.values():
        removed = [c for c in group if c["op"] == "removed"]
        added = [c for c in group if c["op"] == "added"]
        pairs = min(len(removed), len(added))
        kept.extend(removed[pairs:])
        kept.extend(added[pairs:])
    kept.sort(key=lambda c: (c["path"], c["op"]))
    return kept
