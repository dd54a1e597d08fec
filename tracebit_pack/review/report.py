"""The review report of a pull request: what it changes in the pack, and what it does.

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
   do not conform to their schema, queries without a time bound, disabled items, items in no pack,
   alert severities that change or that disagree with the pinned rule expectations.

Head is the working tree (uncommitted changes included). By default the base is the merge base
of ``<git-ref>`` and HEAD, as in a pull request's diff (``--no-merge-base``: the ref's tip).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from tracebit_pack.errors import UserError
from tracebit_pack.pack.items import ITEM_DIRS, AnalysisItem, item_folders, load_items
from tracebit_pack.review import gitref
from tracebit_pack.review.behaviour import scenario_diff, test_diff
from tracebit_pack.review.changes import structural_diff
from tracebit_pack.review.checks import needs_attention, severity_findings
from tracebit_pack.review.evaluate import run_workers
from tracebit_pack.review.worker import load_scenarios

FOLDERS = (*ITEM_DIRS, "scenarios")


def _load(root: Path, label: str) -> list[AnalysisItem]:
    """Load the items under ``root``; errors name the file as ``<label>:<path>``."""
    try:
        return load_items(root)
    except UserError as err:
        raise UserError(str(err).replace(f"{root}{os.sep}", label)) from None


def build_report(start: Path, base_ref: str, use_merge_base: bool = True) -> dict:
    """The report (a JSON-ready dict) comparing the working tree at ``start`` with ``base_ref``."""
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
        evaluated = run_workers({"base": base_root, "head": repo}, {"base": base_label, "head": ""}, tmp)
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
        "tool": gitref.tool_origin(repo),
        "engine": evaluated["head"].get("engine"),
        "summary": _summary(changes, tests, scenarios),
        "changes": changes,
        "behaviour": {"tests": tests, "scenarios": scenarios},
        "needs_attention": needs_attention(
            head_items,
            evaluated["head"]["tests"],
            touched,
            severity_findings(tests, evaluated["head"]["tests"], repo),
        ),
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
