"""``tracebit-pack review --base <git-ref>``: what a pull request changes in the pack, and what it does.

The report has three parts:

1. **Changes**: detections, queries, correlation rules, data models, global helpers and packs
   added, changed or removed between the base and the working tree, with ID, severity, MITRE
   ATT&CK mapping, test count and the YAML fields (and Python body) that changed.
2. **Behaviour diff**: every rule test event and every bundled scenario event
   (``scenarios/<name>/<LogType>.jsonl``) whose verdict, title, severity, dedup string or alert
   context differs between base and head, before -> after; and the alerts of each scenario that
   appear or disappear. Base and head are each evaluated in their own process
   (``tracebit_pack.review.worker``), the base from a ``git archive`` of the base commit.
3. **Needs attention**: rules without a positive or negative test, failing tests, test logs that
   do not conform to their schema, queries without a time bound, disabled items, items in no pack.

Head is the working tree (uncommitted changes included). By default the base is the merge base
of ``<git-ref>`` and HEAD, as in a pull request's diff (``--no-merge-base``: the ref's tip).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tracebit_pack.errors import UserError
from tracebit_pack.logs.validate import candidate_log_types, closest_schema
from tracebit_pack.pack import not_evaluated
from tracebit_pack.pack.items import ITEM_DIRS, AnalysisItem, item_folders, load_items
from tracebit_pack.review import gitref
from tracebit_pack.review.worker import load_scenarios
from tracebit_pack.text import clip

FOLDERS = (*ITEM_DIRS, "scenarios")

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
RESULT_FIELDS = ("verdict", "title", "severity", "dedup", "alert_context")
TIME_BOUND = re.compile(
    r"\bp_occurs_(since|between|around|after|before)\s*\("
    r"|\bp_event_time\b\s*(>=|<=|>|<|between\b)"
    r"|(>=|<=|>|<)\s*[\w.]*\bp_event_time\b",
    re.IGNORECASE,
)
WORKER_TIMEOUT = 900
# The only variables a worker inherits: rule code runs there, and must not see tokens or keys.
WORKER_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")


# --------------------------------------------------------------------------- loading


def _load(root: Path, label: str) -> list[AnalysisItem]:
    """Load the items under ``root``; errors name the file as ``<label>:<path>``."""
    try:
        return load_items(root)
    except UserError as err:
        raise UserError(str(err).replace(f"{root}{os.sep}", label)) from None


def worker_env() -> dict[str, str]:
    """A minimal environment for the workers: ``WORKER_ENV`` plus what they need to import us."""
    package_dir = str(Path(__file__).resolve().parents[2])
    env = {name: os.environ[name] for name in WORKER_ENV if name in os.environ}
    env["PYTHONPATH"] = package_dir
    env["DISABLE_DETECTION_OUTPUT"] = ""
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # same set/dict-of-str order on both sides, so a rule that returns a set is not a "change"
    env["PYTHONHASHSEED"] = "0"
    return env


def _run_workers(roots: dict[str, Path], labels: dict[str, str], tmp: Path) -> dict[str, dict]:
    """Evaluate each side in its own interpreter, both at once; never leave one running."""
    env = worker_env()
    procs = {}
    try:
        for side, root in roots.items():
            out = tmp / f"{side}.json"
            procs[side] = (
                subprocess.Popen(
                    [sys.executable, "-m", "tracebit_pack.review.worker", str(root), str(out)],
                    cwd=tmp,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
                out,
            )
        return _collect(procs, labels)
    finally:  # an error, Ctrl-C or SIGTERM (see run) must not leave workers behind
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def _collect(procs: dict, labels: dict[str, str]) -> dict[str, dict]:
    results = {}
    errors = []
    for side, (proc, out) in procs.items():
        try:
            _, stderr = proc.communicate(timeout=WORKER_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            errors.append(f"evaluating {labels[side]} timed out after {WORKER_TIMEOUT}s")
            continue
        if proc.returncode != 0:
            lines = [line for line in stderr.strip().splitlines() if line.strip()]
            message = lines[-1] if lines else f"exit code {proc.returncode}"
            if proc.returncode == 2:
                errors.append(f"{labels[side]}{message}")
            else:
                errors.append(f"evaluating {labels[side].rstrip(':')} failed: {message}")
            continue
        results[side] = json.loads(out.read_text(encoding="utf-8"))
    if errors:
        raise UserError(errors[0])
    return results


# --------------------------------------------------------------------------- structural diff


def _mitre(spec: dict) -> list[str]:
    reports = spec.get("Reports") or {}
    if not isinstance(reports, dict):
        return []
    for key, values in reports.items():
        if "mitre" in str(key).lower():
            return [str(v) for v in values or []]
    return []


def summarize(item: AnalysisItem, root: Path) -> dict:
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


def _short(value: Any, limit: int = 80) -> str:
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
        return f"{_short(before)} → {_short(after)}"
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
                    parts.append(f"{sub}: {_short(old_sub, 40)} → {_short(new_sub, 40)}")
            change["summary"] = "; ".join(parts)
        else:
            change["summary"] = f"{_short(before)} → {_short(after)}"
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


# --------------------------------------------------------------------------- behaviour diff


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, sub in value.items():
            flat.update(_flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
        return flat or {prefix: {}}
    return {prefix: value}


def _verdict(result: dict | None) -> str:
    if result is None:
        return "no match"
    if result.get("error") and not result.get("matched"):
        return f"error ({result['error']})"
    return "match" if result.get("matched") else "no match"


def result_changes(before: dict | None, after: dict | None) -> list[dict]:
    """Field-by-field differences between two results of one rule on one event."""
    changes = []
    if _verdict(before) != _verdict(after):
        changes.append({"field": "verdict", "before": _verdict(before), "after": _verdict(after)})
    if not (before and before.get("matched")) or not (after and after.get("matched")):
        return changes  # title/dedup/context of a non-match are not shown
    for name in ("title", "severity", "dedup"):
        if before.get(name) != after.get(name):
            changes.append({"field": name, "before": before.get(name), "after": after.get(name)})
    if (before.get("aux_error") or None) != (after.get("aux_error") or None):
        changes.append({"field": "error", "before": before.get("aux_error"), "after": after.get("aux_error")})
    old_ctx = _flatten(before.get("alert_context") or {})
    new_ctx = _flatten(after.get("alert_context") or {})
    for key in sorted(set(old_ctx) | set(new_ctx)):
        if old_ctx.get(key, "∅") != new_ctx.get(key, "∅"):
            changes.append(
                {
                    "field": f"alert_context.{key}",
                    "before": old_ctx.get(key, "(absent)"),
                    "after": new_ctx.get(key, "(absent)"),
                }
            )
    return changes


def _outcome(test: dict | None) -> str:
    if test is None:
        return "—"
    verdict = _verdict(test["result"])
    return f"{verdict}, {'pass' if test['result'].get('passed') else 'FAIL'}"


def test_diff(base: list[dict], head: list[dict]) -> list[dict]:
    old = {(t["rule_id"], t["name"]): t for t in base}
    new = {(t["rule_id"], t["name"]): t for t in head}
    entries = []
    for key in sorted(set(old) | set(new), key=lambda k: (k[0], k[1])):
        before, after = old.get(key), new.get(key)
        if before and after:
            changes = result_changes(before["result"], after["result"])
            if before["result"].get("passed") != after["result"].get("passed"):
                changes.insert(0, {"field": "test", "before": _outcome(before), "after": _outcome(after)})
            if not changes:
                continue
            status = "changed"
        else:
            status = "added" if after else "removed"
            changes = [{"field": "test", "before": _outcome(before), "after": _outcome(after)}]
        current = after or before
        assert current is not None
        entries.append(
            {
                "rule_id": key[0],
                "test": key[1],
                "status": status,
                "expected": "match" if current["expected"] else "no match",
                "before": _outcome(before),
                "after": _outcome(after),
                "log_changed": bool(before and after and before["log_key"] != after["log_key"]),
                "changes": changes,
            }
        )
    return entries


def _keyed_events(events: list[dict]) -> dict[str, dict]:
    seen: Counter = Counter()
    keyed = {}
    for event in events:
        seen[event["key"]] += 1
        keyed[f"{event['key']}#{seen[event['key']]}"] = event
    return keyed


def scenario_diff(base: dict, head: dict) -> list[dict]:
    """Per scenario: the events whose results change, and the alerts that appear or disappear."""
    scenarios = []
    for name in sorted(set(base) | set(head)):
        old_events = _keyed_events((base.get(name) or {}).get("events", []))
        new_events = _keyed_events((head.get(name) or {}).get("events", []))
        events = []
        for key in list(new_events) + [k for k in old_events if k not in new_events]:
            before_event, after_event = old_events.get(key), new_events.get(key)
            current = after_event or before_event
            assert current is not None
            old_results = {r["rule_id"]: r for r in (before_event or {}).get("results", [])}
            new_results = {r["rule_id"]: r for r in (after_event or {}).get("results", [])}
            for rule_id in sorted(set(old_results) | set(new_results)):
                changes = result_changes(old_results.get(rule_id), new_results.get(rule_id))
                if not changes:
                    continue
                where = f"{current['file']}:{current['line']}"
                if before_event is None:
                    where += " (new event)"
                elif after_event is None:
                    where += " (removed event)"
                events.append({"event": where, "rule_id": rule_id, "changes": changes})
        alerts = _alert_diff(
            (base.get(name) or {}).get("alerts", []), (head.get(name) or {}).get("alerts", [])
        )
        if events or alerts:
            scenarios.append({"scenario": name, "events": events, "alerts": alerts})
    return scenarios


def _alert_diff(base: list[dict], head: list[dict]) -> list[dict]:
    def key(alert: dict) -> tuple[str, str, str]:
        return (alert["rule_id"], str(alert["dedup"]), str(alert.get("first_event_time")))

    old = {key(a): a for a in base}
    new = {key(a): a for a in head}
    entries = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before and after:
            diffs = [f for f in ("title", "severity", "events") if before.get(f) != after.get(f)]
            if not diffs:
                continue
            status = "changed"
        else:
            status, diffs = ("appears" if after else "disappears"), []
        current = after or before
        assert current is not None
        entries.append(
            {
                "status": status,
                "rule_id": current["rule_id"],
                "dedup": current["dedup"],
                "title": current.get("title"),
                "severity": current.get("severity"),
                "events": current.get("events"),
                "first_event_time": current.get("first_event_time"),
                "changes": [{"field": f, "before": before[f], "after": after[f]} for f in diffs]
                if before and after
                else [],
            }
        )
    return entries


# --------------------------------------------------------------------------- needs attention


def schema_problems(log: dict, spec: dict) -> tuple[str, list[str]] | None:
    """``(log_type, problems)`` if a rule test Log conforms to none of its candidate schemas.

    Candidates as ``validate-events`` picks them (``validate.candidate_log_types``); the Log
    conforms if it matches one of them. A ``p_log_type`` that is not one of the rule's
    ``LogTypes`` is the problem itself.
    """
    candidates, reason = candidate_log_types(spec, log)
    if reason:
        return str(log.get("p_log_type")), [reason]
    found = closest_schema(log, candidates)
    return (found[0], [str(p) for p in found[1]]) if found else None


def needs_attention(head_items: list[AnalysisItem], head_tests: list[dict], touched: set[str]) -> list[dict]:
    entries: list[dict] = []

    def add(item: AnalysisItem, reason: str) -> None:
        entries.append({"id": item.id, "kind": item.kind, "reason": reason, "touched": item.id in touched})

    packed = set()
    for item in head_items:
        if item.kind == "pack":
            packed.update(str(i) for i in (item.spec.get("PackDefinition") or {}).get("IDs") or [])
    has_packs = any(item.kind == "pack" for item in head_items)
    results = {(t["rule_id"], t["name"]): t for t in head_tests}

    for item in head_items:
        spec = item.spec
        if item.kind in ("rule", "scheduled_rule"):
            expected = [bool(t.get("ExpectedResult")) for t in item.tests]
            if True not in expected:
                add(item, "no positive test (ExpectedResult: true)")
            if False not in expected:
                add(item, "no negative test (ExpectedResult: false)")
            for index, test in enumerate(item.tests):
                name = str(test.get("Name") or f"test #{index + 1}")
                result = results.get((item.id, name))
                if result and not result["result"].get("passed"):
                    got = _verdict(result["result"])
                    want = "match" if result["expected"] else "no match"
                    add(item, f"test “{name}” fails: expected {want}, got {got}")
                log = test.get("Log")
                found = schema_problems(log, spec) if item.kind == "rule" and isinstance(log, dict) else None
                if found:
                    log_type, problems = found
                    if problems:
                        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
                        shown = "; ".join(problems[:3])
                        add(item, f"test “{name}”: Log does not conform to {log_type}: {shown}{more}")
        if item.kind in ("saved_query", "scheduled_query"):
            query = item.query or ""
            if not TIME_BOUND.search(query):
                add(item, "query has no time bound (no p_occurs_* macro, no p_event_time condition)")
        if spec.get("Enabled") is False:
            add(item, "Enabled: false")
        if has_packs and item.kind not in ("pack",) and item.id not in packed:
            add(item, "not listed in any pack (packs/*.yml)")
    entries.sort(key=lambda e: (not e["touched"], e["id"]))
    return entries


# --------------------------------------------------------------------------- report


def build_report(start: Path, base_ref: str, use_merge_base: bool = True) -> dict:
    started = time.perf_counter()
    repo = gitref.repo_root(start)
    base = gitref.resolve_base(repo, base_ref, use_merge_base)
    base_label = f"{base_ref}@{base.short}:"
    with tempfile.TemporaryDirectory(prefix="tracebit-review-") as tmp_name:
        tmp = Path(tmp_name)
        base_root = tmp / "base"
        folders = tuple(sorted({*FOLDERS, *item_folders(repo)}))  # what PAT reads, at HEAD's layout
        gitref.materialise(repo, base.commit, base_root, folders)
        base_items = _load(base_root, base_label)
        head_items = _load(repo, "")
        for root, label in ((repo, ""), (base_root, base_label)):  # fail fast, before the workers
            try:
                load_scenarios(root)
            except UserError as err:
                raise UserError(f"{label}{err}") from None
        evaluated = _run_workers({"base": base_root, "head": repo}, {"base": base_label, "head": ""}, tmp)
        changes = structural_diff(base_items, base_root, head_items, repo)
    touched = {c["id"] for c in changes if c["status"] != "removed"}
    tests = test_diff(evaluated["base"]["tests"], evaluated["head"]["tests"])
    scenarios = scenario_diff(evaluated["base"]["scenarios"], evaluated["head"]["scenarios"])
    return {
        "base": {
            "ref": base_ref,
            "tip": base.tip,
            "commit": base.commit,
            "merge_base": base.merge_base,
            "note": base.note,
        },
        "head": {"commit": base.head, "working_tree": True, "uncommitted_changes": base.dirty},
        "engine": evaluated["head"].get("engine"),
        "summary": _summary(changes, tests, scenarios),
        "changes": changes,
        "behaviour": {"tests": tests, "scenarios": scenarios},
        "needs_attention": needs_attention(head_items, evaluated["head"]["tests"], touched),
        "not_evaluated": evaluated["head"].get("not_evaluated", {}),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _summary(changes: list[dict], tests: list[dict], scenarios: list[dict]) -> dict:
    counts: Counter = Counter((c["group"], c["status"]) for c in changes)
    return {
        "items": {f"{group}.{status}": n for (group, status), n in sorted(counts.items())},
        "tests_changed": len(tests),
        "scenario_events_changed": sum(len(s["events"]) for s in scenarios),
        "alerts_appear": sum(1 for s in scenarios for a in s["alerts"] if a["status"] == "appears"),
        "alerts_disappear": sum(1 for s in scenarios for a in s["alerts"] if a["status"] == "disappears"),
        "alerts_changed": sum(1 for s in scenarios for a in s["alerts"] if a["status"] == "changed"),
    }


# --------------------------------------------------------------------------- markdown

STATUS_MARK = {"added": "➕ added", "removed": "➖ removed", "changed": "✏️ changed"}


_HTML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
# Every ASCII punctuation character but a few that start nothing in GitHub Markdown (kept readable).
_MARKDOWN_PUNCTUATION = frozenset(string.punctuation) - frozenset(_HTML_ESCAPES) - frozenset(",;/=?%")


def escape(text: str) -> str:
    """``text`` as inert Markdown *and* HTML: HTML specials as entities, every other ASCII
    punctuation character backslash-escaped (no emphasis, link, image, table cell, code span,
    autolink or heading can start), whitespace runs (line breaks included) as one space."""
    text = " ".join(text.split())
    return "".join(_HTML_ESCAPES.get(ch) or (f"\\{ch}" if ch in _MARKDOWN_PUNCTUATION else ch) for ch in text)


def _cell(value: Any, limit: int = 80) -> str:
    """A value from the branch (IDs, test names, titles, errors...) shortened and escaped."""
    text = value if isinstance(value, str) else _short(value, limit)
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return escape(text) or " "


def _code(value: Any, limit: int = 80) -> str:
    text = _cell(value, limit)
    return f"<code>{text}</code>" if text.strip() else " "


def _changes_cell(changes: list[dict]) -> str:
    return (
        "<br>".join(f"**{_cell(c['field'])}**: {_cell(c.get('summary') or '', 120)}" for c in changes) or "—"
    )


def _before_after(before: Any, after: Any, limit: int = 60) -> str:
    return f"{_code(before, limit)} → {_code(after, limit)}"


def render_markdown(report: dict) -> str:
    base, head, summary = report["base"], report["head"], report["summary"]
    lines = ["# Detection review", ""]
    lines += [
        "> **Advisory.** Produced by the base branch's `tracebit-pack review`, but every name, test,"
        " title and verdict below comes from the pull request's own files and code, which ran to"
        " produce it. Read the diff; this report is a summary, not an approval.",
        "",
    ]
    how = f"merge base `{base['commit'][:10]}`" if base["merge_base"] else f"`{base['commit'][:10]}`"
    tree = "working tree" + (" with uncommitted changes" if head["uncommitted_changes"] else "")
    lines.append(f"Base: {_code(base['ref'])} ({how}) · head: {tree} at `{_cell(head['commit'][:10])}`")
    if base.get("note"):
        lines.append(f"> ⚠️ {_cell(base['note'], 300)}")
    lines.append("")
    by_group: dict[str, list[str]] = {}
    for key, count in summary["items"].items():
        group, status = key.split(".")
        by_group.setdefault(group, []).append(f"{count} {status}")
    titles = {**GROUP_TITLES, "other": "Other items"}
    item_counts = [f"{titles.get(g, g).lower()}: {', '.join(v)}" for g, v in by_group.items()]
    lines.append(
        "**Summary:** "
        + (", ".join(item_counts) if item_counts else "no analysis items changed")
        + f" · {summary['tests_changed']} test verdict(s) changed"
        + f" · {summary['scenario_events_changed']} scenario verdict(s) changed"
        + f" · alerts: {summary['alerts_appear']} appear, {summary['alerts_disappear']} disappear,"
        + f" {summary['alerts_changed']} changed"
        + f" · {sum(1 for a in report['needs_attention'] if a['touched'])} finding(s) need attention in"
        + " the items this change touches"
    )
    lines += ["", "## Changes", ""]
    if not report["changes"]:
        lines += ["No analysis item was added, changed or removed.", ""]
    for group, title in {**GROUP_TITLES, "other": "Other items"}.items():
        entries = [c for c in report["changes"] if c["group"] == group]
        if not entries:
            continue
        lines += [f"### {title}", ""]
        lines.append("| Change | ID | Severity | MITRE ATT&CK | Tests | Enabled | What changed |")
        lines.append("|---|---|---|---|---|---|---|")
        for c in entries:
            before = c.get("before") or {}
            severity = _cell(c.get("severity") or "—")
            if before and before.get("severity") != c.get("severity"):
                severity = f"{_cell(before.get('severity') or '—')} → **{severity}**"
            tests = str(c["tests"])
            if before and before.get("tests") != c["tests"]:
                tests = f"{before.get('tests')} → {c['tests']}"
            mitre = ", ".join(c["mitre"]) or "—"
            enabled = "yes" if c["enabled"] else "**no**"
            what = _changes_cell(c["changes"]) if c["status"] == "changed" else _cell(c["path"])
            lines.append(
                f"| {STATUS_MARK[c['status']]} | {_code(c['id'])} | {severity} | {_cell(mitre)} | {tests} "
                f"| {enabled} | {what} |"
            )
        lines.append("")
    lines += ["## Behaviour diff", ""]
    lines.append(
        "Base and head each evaluated in their own process with "
        f"{_code(report.get('engine') or 'the rule engine')}; tests as `pat test` runs them, scenarios as "
        "`tracebit-pack replay` does."
    )
    lines += ["", "### Rule tests", ""]
    tests = report["behaviour"]["tests"]
    if not tests:
        lines += ["No test verdict, title, severity, dedup or alert context changed.", ""]
    else:
        lines.append("| Rule | Test | Expected | Before | After | What changed |")
        lines.append("|---|---|---|---|---|---|")
        for t in tests:
            detail = "<br>".join(
                f"{_cell(c['field'])}: {_before_after(c['before'], c['after'])}"
                for c in t["changes"]
                if c["field"] != "test"
            )
            if t["log_changed"]:
                detail = "Log edited" + ("<br>" + detail if detail else "")
            if t["status"] != "changed":
                detail = f"test {t['status']}" + ("<br>" + detail if detail else "")
            before = _cell(t["before"]).replace("FAIL", "**FAIL**")
            after = _cell(t["after"]).replace("FAIL", "**FAIL**")
            lines.append(
                f"| {_code(t['rule_id'])} | {_cell(t['test'])} | {_cell(t['expected'])} | {before} | {after} "
                f"| {detail or '—'} |"
            )
        lines.append("")
    lines += ["### Bundled scenarios", ""]
    scenarios = report["behaviour"]["scenarios"]
    if not scenarios:
        lines += ["No scenario event or alert changed.", ""]
    for s in scenarios:
        lines += [f"#### {_code('scenarios/' + str(s['scenario']))}", ""]
        if s["alerts"]:
            lines.append("| Alert | Rule | Dedup | Title | Severity | Events | First event |")
            lines.append("|---|---|---|---|---|---|---|")
            for a in s["alerts"]:
                detail = {c["field"]: _before_after(c["before"], c["after"], 40) for c in a["changes"]}
                lines.append(
                    f"| **{_cell(a['status'])}** | {_code(a['rule_id'])} | {_code(a['dedup'], 40)} "
                    f"| {detail.get('title') or _cell(a['title'])} "
                    f"| {detail.get('severity') or _cell(a['severity'])} "
                    f"| {detail.get('events') or _cell(a['events'])} "
                    f"| {_cell(a.get('first_event_time') or '—')} |"
                )
            lines.append("")
        if s["events"]:
            lines.append("| Event | Rule | What changed |")
            lines.append("|---|---|---|")
            for e in s["events"]:
                detail = "<br>".join(
                    f"{_cell(c['field'])}: {_before_after(c['before'], c['after'])}" for c in e["changes"]
                )
                lines.append(f"| {_cell(e['event'])} | {_code(e['rule_id'])} | {detail} |")
            lines.append("")
    lines += ["## Needs attention", ""]
    attention = report["needs_attention"]
    if not attention:
        lines += ["Nothing.", ""]
    touched = [a for a in attention if a["touched"]]
    others = [a for a in attention if not a["touched"]]
    for a in touched:
        lines.append(f"- {_code(a['id'])} ({_cell(a['kind'])}): {_cell(a['reason'], 200)}")
    if others:
        if touched:
            lines.append("")
        lines += [
            f"<details><summary>{len(others)} finding(s) in items this change does not touch</summary>",
            "",
        ]
        lines += [f"- {_code(a['id'])} ({_cell(a['kind'])}): {_cell(a['reason'], 200)}" for a in others]
        lines += ["", "</details>"]
    lines.append("")
    touched_ids = {c["id"] for c in report["changes"] if c["status"] != "removed"}
    lines += not_evaluated.markdown_lines(report.get("not_evaluated") or {}, touched_ids)
    if "seconds" in report:
        lines += [f"Reviewed in {report['seconds']:.1f}s.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "review",
        help="report what the working tree changes against a git ref: items, verdicts, alerts",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--base",
        required=True,
        metavar="GIT_REF",
        help="branch, tag or commit to compare with (a revision, never a refspec)",
    )
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report here (default: stdout)")
    parser.add_argument(
        "--json-output",
        metavar="FILE",
        help="also write the JSON report to FILE (one run, both formats)",
    )
    parser.add_argument(
        "--no-merge-base",
        dest="merge_base",
        action="store_false",
        help="compare with the tip of GIT_REF instead of its merge base with HEAD",
    )
    parser.add_argument(
        "--path",
        "--repo",
        dest="path",
        default=".",
        metavar="DIR",
        help="the detections repository, a git checkout (default: the current directory)",
    )
    parser.set_defaults(func=run)


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
    except OSError as err:
        raise UserError(f"{path}: cannot write: {err.strerror}") from None


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: workers killed, temp folder removed


def run(args: argparse.Namespace) -> int:
    start = Path(args.path)
    if not start.is_dir():
        raise UserError(f"{start}: no such directory")
    gitref.check_revision(args.base)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupted) if main_thread else None
    try:
        report = build_report(start, args.base, args.merge_base)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    text = render_markdown(report) if args.format == "markdown" else json.dumps(report, indent=2, default=str)
    if args.json_output:
        _write(args.json_output, json.dumps(report, indent=2, default=str))
    if args.output:
        _write(args.output, text)
    else:
        sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
    return 0
