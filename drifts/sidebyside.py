"""Side-by-side JSON diff: both documents as lines, each tagged with its diff path (for the admin's diff views)."""

import json
from typing import Any

from . import diff as diff_engine

# A config document past this many lines is cut; the change table above it stays complete.
MAX_LINES = 3000


def side_by_side(baseline: Any, current: Any, *, focus: str | None = None) -> dict:
    """Context for templates/admin/includes/dw_diff.html: the changes and both documents as marked lines."""
    changes = diff_engine.diff(baseline, current)
    left_marks = {c["path"]: c["op"] for c in changes if c["op"] != "added"}
    right_marks = {c["path"]: c["op"] for c in changes if c["op"] != "removed"}
    left = _lines(baseline, left_marks, focus)
    right = _lines(current, right_marks, focus)
    return {
        "changes": [
            {**c, "baseline_json": _short(c["baseline"]), "current_json": _short(c["current"])} for c in changes
        ],
        "left": left[:MAX_LINES],
        "right": right[:MAX_LINES],
        "truncated": len(left) > MAX_LINES or len(right) > MAX_LINES,
        "focus": focus,
    }


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "..."


def _lines(doc: Any, marks: dict[str, str], focus: str | None) -> list[dict]:
    if doc is None:
        return [{"text": "(no document)", "mark": "removed" if marks.get(diff_engine.ROOT) else "", "focus": False}]
    out: list[dict] = []
    _emit(doc, [], 0, "", "", marks, focus, out)
    return out


def _mark_of(parts: list[str], marks: dict[str, str], focus: str | None) -> tuple[str, bool]:
    # A line is marked when its own path or any ancestor's path changed (a whole added subtree).
    mark, is_focus = "", False
    for i in range(len(parts), -1, -1):
        path = diff_engine.format_path(parts[:i])
        if not mark and path in marks:
            mark = marks[path]
        if focus is not None and path == focus:
            is_focus = True
    return mark, is_focus


def _emit(value: Any, parts: list[str], depth: int, prefix: str, comma: str, marks, focus, out: list[dict]) -> None:
    pad = "  " * depth
    mark, is_focus = _mark_of(parts, marks, focus)
    if isinstance(value, dict) and value:
        out.append({"text": f"{pad}{prefix}{{", "mark": mark, "focus": is_focus})
        items = sorted(value.items())
        for n, (key, child) in enumerate(items):
            _emit(
                child,
                [*parts, key],
                depth + 1,
                json.dumps(key, ensure_ascii=False) + ": ",
                "," if n < len(items) - 1 else "",
                marks,
                focus,
                out,
            )
        out.append({"text": f"{pad}}}{comma}", "mark": mark, "focus": is_focus})
    elif isinstance(value, list) and value:
        out.append({"text": f"{pad}{prefix}[", "mark": mark, "focus": is_focus})
        for n, child in enumerate(value):
            token = f"[{diff_engine.element_ident(child)}]"
            _emit(child, [*parts, token], depth + 1, "", "," if n < len(value) - 1 else "", marks, focus, out)
        out.append({"text": f"{pad}]{comma}", "mark": mark, "focus": is_focus})
    else:
        text = json.dumps(value, ensure_ascii=False)
        out.append({"text": f"{pad}{prefix}{text}{comma}", "mark": mark, "focus": is_focus})
