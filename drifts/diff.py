"""Structural diff of two JSON documents (a resource's baseline config and its current config).

A change names where it happened with a path. Dict keys are joined by dots
(`PublicAccessBlock.BlockPublicAcls`); a key that cannot be written bare (empty, or containing `.`, `[`, `]`
or `"`) is bracketed as a JSON string (`Tags["app.tier"]`). Lists are compared as multisets, because AWS
returns many lists in no meaningful order and one rule added to ten must read as one change: an element is
named by what it is, never by its position: `Ports[22]`, `AttachedManagedPolicies["arn:..."]`, or for a
dict or list element `IngressRules[#1a2b3c4d5e6f]` (the first 12 hex digits of the SHA-256 of its canonical
JSON). The root is the empty path. Values are what json.loads returns (dict, list, str, int, float, bool,
None); types are compared exactly, so true -> 1 and 1 -> 1.0 are changes.
"""

import hashlib
import json
from collections import Counter
from operator import itemgetter
from typing import Any, Literal, TypedDict

ROOT = ""

# Characters that would make a bare key ambiguous in a path.
_SPECIAL = frozenset('.[]"')
_HEX = frozenset("0123456789abcdef")
_HASH_LENGTH = 12
_DECODER = json.JSONDecoder()


class Change(TypedDict):
    """One difference between two documents; a plain dict at runtime."""

    path: str
    op: Literal["added", "removed", "changed"]
    baseline: Any
    current: Any


def canonical_json(value: Any) -> str:
    """Deterministic JSON text of a value: sorted keys, no spaces (same spelling as the collectors use)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def element_ident(value: Any) -> str:
    """The name of a list element inside brackets: its JSON for a scalar, `#` + hash for a dict or list."""
    return _ident(canonical_json(value), value)


def diff(baseline: Any, current: Any) -> list[Change]:
    """The changes that turn baseline into current, sorted by path then op; None means "no document"."""
    if baseline is None and current is None:
        return []
    if baseline is None:
        return [_change(ROOT, "added", None, current)]
    if current is None:
        return [_change(ROOT, "removed", baseline, None)]
    changes: list[Change] = []
    _compare(baseline, current, ROOT, changes)
    changes.sort(key=itemgetter("path", "op"))
    return changes


def is_root(path: str) -> bool:
    """True for the path of the whole document."""
    return path == ROOT


def format_path(parts: list[str]) -> str:
    """Join path parts: raw dict keys and list-element tokens `"[" + element_ident(value) + "]"`.

    A key that is itself spelled like an element token (`[22]`) is taken as one; AWS keys, tag keys and
    policy names cannot contain brackets, so this never meets a real document.
    """
    path = ROOT
    for part in parts:
        path = path + part if _is_element_token(part) else _child(path, part)
    return path


def split_path(path: str) -> list[str]:
    """Split a path into parts, the inverse of format_path; raises ValueError on a malformed path.

    Dict keys come back raw (`Tags["app.tier"]` -> `["Tags", "app.tier"]`); list elements come back as
    their bracket token (`Ports[22]` -> `["Ports", "[22]"]`). A bracketed string is decoded only when it
    could not have been written bare, because `Aliases["alias/prod"]` is a list element (a key would have
    been written `Aliases.alias/prod`) and must stay one for format_path to write it back the same way.
    """
    parts: list[str] = []
    i = 0
    while i < len(path):
        if path[i] == "[":
            part, i = _read_bracket(path, i)
            parts.append(part)
            continue
        if parts:
            if path[i] != ".":
                raise ValueError(f"Expected '.' or '[' at {i} in path {path!r}")
            i += 1
        end = i
        while end < len(path) and path[end] not in ".[":
            end += 1
        key = path[i:end]
        if not key or not _SPECIAL.isdisjoint(key):
            raise ValueError(f"Bad key at {i} in path {path!r}")
        parts.append(key)
        i = end
    return parts


# --- comparison ---------------------------------------------------------------------------------------


def _compare(baseline: Any, current: Any, path: str, out: list[Change]) -> None:
    kind = type(baseline)
    # type(), not isinstance: bool is an int subclass, and True -> 1 is a real change.
    if kind is not type(current):
        out.append(_change(path, "changed", baseline, current))
    elif kind is dict:
        _compare_dicts(baseline, current, path, out)
    elif kind is list:
        _compare_lists(baseline, current, path, out)
    elif baseline != current:
        out.append(_change(path, "changed", baseline, current))


def _compare_dicts(baseline: dict, current: dict, path: str, out: list[Change]) -> None:
    for key, old in baseline.items():
        if key not in current:
            out.append(_change(_child(path, key), "removed", old, None))
            continue
        new = current[key]
        if old is new:
            continue
        kind = type(old)
        if kind is type(new) and kind is not dict and kind is not list:
            # Hot path (most values are equal scalars): same type makes == exact, no call or path needed.
            if old != new:
                out.append(_change(_child(path, key), "changed", old, new))
            continue
        _compare(old, new, _child(path, key), out)
    for key, new in current.items():
        if key not in baseline:
            out.append(_change(_child(path, key), "added", None, new))


def _compare_lists(baseline: list, current: list, path: str, out: list[Change]) -> None:
    # Collectors sort set-like lists, so an edit usually leaves a common head and tail in place. Pairing
    # those off position by position keeps the multiset difference and spares serialising them.
    start, old_end, new_end = 0, len(baseline), len(current)
    while start < old_end and start < new_end and _same(baseline[start], current[start]):
        start += 1
    while old_end > start and new_end > start and _same(baseline[old_end - 1], current[new_end - 1]):
        old_end -= 1
        new_end -= 1
    if start == old_end and start == new_end:
        return
    old_counts, old_values = _count(baseline[start:old_end])
    new_counts, new_values = _count(current[start:new_end])
    # One change per element whose count differs, not one per surplus copy: a path names one finding.
    for text in old_counts - new_counts:
        value = old_values[text]
        out.append(_change(f"{path}[{_ident(text, value)}]", "removed", value, None))
    for text in new_counts - old_counts:
        value = new_values[text]
        out.append(_change(f"{path}[{_ident(text, value)}]", "added", None, value))


def _count(items: list) -> tuple[Counter, dict[str, Any]]:
    counts: Counter = Counter()
    values: dict[str, Any] = {}
    for item in items:
        text = canonical_json(item)
        counts[text] += 1
        values.setdefault(text, item)
    return counts, values


def _same(a: Any, b: Any) -> bool:
    # Equality where True is not 1 and 1 is not 1.0 (plain == says they are).
    if a is b:
        return True
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is dict:
        return a.keys() == b.keys() and all(_same(value, b[key]) for key, value in a.items())
    if kind is list:
        return len(a) == len(b) and all(map(_same, a, b))
    return a == b


def _change(path: str, op: str, baseline: Any, current: Any) -> Change:
    return {"path": path, "op": op, "baseline": baseline, "current": current}


# --- paths --------------------------------------------------------------------------------------------


def _ident(text: str, value: Any) -> str:
    if isinstance(value, dict | list):
        return "#" + hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]
    return text


def _needs_brackets(key: str) -> bool:
    return not key or not _SPECIAL.isdisjoint(key)


def _child(path: str, key: str) -> str:
    if _needs_brackets(key):
        return f"{path}[{json.dumps(key, ensure_ascii=False)}]"
    return f"{path}.{key}" if path else key


def _is_element_token(part: str) -> bool:
    if len(part) < 3 or part[0] != "[" or part[-1] != "]":
        return False
    inner = part[1:-1]
    if inner[0] == "#":
        return len(inner) == _HASH_LENGTH + 1 and _HEX.issuperset(inner[1:])
    try:
        value, end = _DECODER.raw_decode(inner)
    except ValueError:
        return False
    return end == len(inner) and not isinstance(value, dict | list)


def _read_bracket(path: str, start: int) -> tuple[str, int]:
    """Parse the `[...]` at start; return the part and the index just past the `]`."""
    if path.startswith("#", start + 1):
        end = path.find("]", start) + 1
        token = path[start:end]
        if not end or not _is_element_token(token):
            raise ValueError(f"Bad element hash at {start} in path {path!r}")
        return token, end
    try:
        value, end = _DECODER.raw_decode(path, start + 1)
    except ValueError:
        raise ValueError(f"Bad bracket at {start} in path {path!r}") from None
    if end >= len(path) or path[end] != "]" or isinstance(value, dict | list):
        raise ValueError(f"Bad bracket at {start} in path {path!r}")
    token = path[start : end + 1]
    if isinstance(value, str) and _needs_brackets(value) and not _is_element_token(value):
        return value, end + 1
    return token, end + 1
