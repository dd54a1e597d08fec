"""What changed in the pack's items between base and head: added, changed or removed, field by field.

Items are matched across the two sides by report group (``GROUP_OF``) and ID; a changed item lists
the YAML keys that differ (lists as ``+added −removed``, long text as a line count, Tests by name)
and whether its Python body changed.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from tracebit_pack.pack.items import AnalysisItem
from tracebit_pack.text import clip

# AnalysisType -> report group (items are matched across base and head by group and ID).
GROUP_OF = {
    "rule": "detection",
    "scheduled_rule": "detection",
    "policy": "detection",
    "saved_query": "query",
    "scheduled_query": "query",
    "correlation_rule": "correlation_rule",
    "datamodel": "data_model",
    "global": "global",
    "pack": "pack",
    "lookup_table": "lookup_table",
}
GROUP_TITLES = {
    "detection": "Detections",
    "query": "Queries",
    "correlation_rule": "Correlation rules",
    "data_model": "Data models",
    "global": "Global helpers",
    "pack": "Packs",
    "lookup_table": "Lookup tables",
}


def _mitre(spec: dict) -> list[str]:
    reports = spec.get("Reports") or {}
    if not isinstance(reports, dict):
        return []
    for key, values in reports.items():
        if "mitre" in str(key).lower():
            return [str(v) for v in values or []]
    return []


def summarize(item: AnalysisItem, root: Path) -> dict:
    """What the report shows of one item on one side (ID, severity, MITRE, tests, path under ``root``)."""
    spec = item.spec
    return {
        "id": item.id,
        "kind": item.kind,
        "group": GROUP_OF.get(item.kind, "other"),
        "path": str(item.path.relative_to(root)),
        "display_name": spec.get("DisplayName"),
        "severity": spec.get("Severity"),
        "mitre": _mitre(spec),
        "reports": spec.get("Reports") or {},
        "tests": len(item.tests),
        "enabled": spec.get("Enabled", True) is not False,
        "log_types": list(spec.get("LogTypes") or []),
    }


def short(value: Any, limit: int = 80) -> str:
    """A YAML value as one short line of text (``(unset)`` for None, lists comma-joined)."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value
    elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = ", ".join(str(v) for v in value) or "[]"
    else:
        text = json.dumps(value, sort_keys=True, default=str)
    return clip(" ".join(text.split()), limit)


def _is_long(value: Any) -> bool:
    return isinstance(value, str) and ("\n" in value.strip() or len(value) > 100)


def _line_delta(before: str, after: str) -> str:
    added = removed = 0
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("+ "):
            added += 1
        elif line.startswith("- "):
            removed += 1
    return f"+{added} −{removed} lines"


def _list_delta(before: list, after: list) -> str:
    """``+added −removed`` for lists of scalars (IDs, tags, log types); before → after otherwise."""
    if not all(isinstance(v, str | int | float | bool) for v in [*before, *after]):
        return f"{short(before)} → {short(after)}"
    added = [str(v) for v in after if v not in before]
    removed = [str(v) for v in before if v not in after]
    parts = [f"+{v}" for v in added] + [f"−{v}" for v in removed]
    return ", ".join(parts) if parts else "reordered"


def _test_changes(before: list[dict], after: list[dict]) -> str:
    def by_name(tests: list[dict]) -> dict[str, dict]:
        return {str(t.get("Name") or f"test #{i + 1}"): t for i, t in enumerate(tests)}

    old, new = by_name(before), by_name(after)
    parts = []
    added = [n for n in new if n not in old]
    removed = [n for n in old if n not in new]
    changed = []
    for name in new:
        if name in old and old[name] != new[name]:
            keys = sorted(k for k in set(old[name]) | set(new[name]) if old[name].get(k) != new[name].get(k))
            changed.append(f"“{name}” ({', '.join(keys)})")
    if added:
        parts.append("added " + ", ".join(f"“{n}”" for n in added))
    if removed:
        parts.append("removed " + ", ".join(f"“{n}”" for n in removed))
    if changed:
        parts.append("changed " + ", ".join(changed))
    count = f"{len(before)} → {len(after)} tests" if len(before) != len(after) else f"{len(after)} tests"
    return f"{count}; " + "; ".join(parts) if parts else "reordered"


def field_changes(old: AnalysisItem, new: AnalysisItem) -> list[dict]:
    """The YAML keys (and the Python body) that differ between two versions of an item."""
    changes = []
    keys = list(old.spec) + [k for k in new.spec if k not in old.spec]
    for key in keys:
        before, after = old.spec.get(key), new.spec.get(key)
        if before == after:
            continue
        change: dict[str, Any] = {"field": key, "before": before, "after": after}
        if key == "Tests":
            change["summary"] = _test_changes(list(before or []), list(after or []))
        elif _is_long(before) or _is_long(after):
            change["summary"] = _line_delta(str(before or ""), str(after or ""))
        elif isinstance(before, list | type(None)) and isinstance(after, list | type(None)):
            change["summary"] = _list_delta(before or [], after or [])
        elif isinstance(before, dict) or isinstance(after, dict):
            old_map = before if isinstance(before, dict) else {}
            new_map = after if isinstance(after, dict) else {}
            parts = []
            for sub in sorted({*old_map, *new_map}, key=str):
                if old_map.get(sub) == new_map.get(sub):
                    continue
                old_sub, new_sub = old_map.get(sub), new_map.get(sub)
                if isinstance(old_sub, list | type(None)) and isinstance(new_sub, list | type(None)):
                    parts.append(f"{sub}: {_list_delta(old_sub or [], new_sub or [])}")
                else:
                    parts.append(f"{sub}: {short(old_sub, 40)} → {short(new_sub, 40)}")
            change["summary"] = "; ".join(parts)
        else:
            change["summary"] = f"{short(before)} → {short(after)}"
        changes.append(change)
    old_body, new_body = old.body_path, new.body_path
    if old_body or new_body:
        before_text = old_body.read_text(encoding="utf-8") if old_body and old_body.is_file() else ""
        after_text = new_body.read_text(encoding="utf-8") if new_body and new_body.is_file() else ""
        if before_text != after_text:
            name = (new_body or old_body).name  # type: ignore[union-attr]
            changes.append({"field": f"Python ({name})", "summary": _line_delta(before_text, after_text)})
    return changes


def structural_diff(base_items, base_root, head_items, head_root) -> list[dict]:
    """Items added, removed or changed between the two sides, sorted by group and ID."""
    base = {(GROUP_OF.get(i.kind, "other"), i.id): i for i in base_items}
    head = {(GROUP_OF.get(i.kind, "other"), i.id): i for i in head_items}
    entries = []
    for key in sorted(set(base) | set(head)):
        old, new = base.get(key), head.get(key)
        if old and new:
            changes = field_changes(old, new)
            if not changes:
                continue
            entry = {"status": "changed", **summarize(new, head_root), "before": summarize(old, base_root)}
            entry["changes"] = changes
        elif new:
            entry = {"status": "added", **summarize(new, head_root), "changes": []}
        else:
            assert old is not None
            entry = {"status": "removed", **summarize(old, base_root), "changes": []}
        entries.append(entry)
    return entries
