"""The "needs attention" checks on head's items: what a reviewer should look at even if unchanged.

Rules without a positive or negative test, failing tests, test logs that do not conform to their
schema, queries without a time bound, disabled items, items in no pack; and severity changes: a
rule whose alerts change severity is a decision for the reviewer, and a severity that the
repository's pinned expectations (``tests/rule_expectations/<RuleID>.yml``) still record otherwise
fails ``make test``.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tracebit_pack.logs.validate import candidate_log_types, closest_schema
from tracebit_pack.pack.items import AnalysisItem
from tracebit_pack.review.behaviour import verdict

TIME_BOUND = re.compile(
    r"\bp_occurs_(since|between|around|after|before)\s*\("
    r"|\bp_event_time\b\s*(>=|<=|>|<|between\b)"
    r"|(>=|<=|>|<)\s*[\w.]*\bp_event_time\b",
    re.IGNORECASE,
)


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


PINNED_EXPECTATIONS = Path("tests") / "rule_expectations"


def severity_findings(
    tests_diff: list[dict], head_tests: list[dict], root: Path | None
) -> dict[str, list[str]]:
    """``{rule_id: [reason]}``: rule tests whose alert severity the change alters (from the
    behaviour diff), and head's test severities that disagree with the expectations pinned under
    ``root``/tests/rule_expectations (when the repository has them)."""
    found: dict[str, list[str]] = {}
    changed: dict[str, set[tuple[str, str]]] = {}
    for entry in tests_diff:
        for change in entry.get("changes") or []:
            if change.get("field") == "severity":
                changed.setdefault(entry["rule_id"], set()).add((str(change["before"]), str(change["after"])))
    for rule_id, pairs in changed.items():
        shown = ", ".join(f"{before} → {after}" for before, after in sorted(pairs))
        found.setdefault(rule_id, []).append(
            f"alert severity changes ({shown}): check the rule's severity reasoning"
        )
    folder = Path(root) / PINNED_EXPECTATIONS if root is not None else None
    if folder is None or not folder.is_dir():
        return found
    for test in head_tests:
        pinned = _pinned(folder / f"{test['rule_id']}.yml").get(test["name"])
        got = (test.get("result") or {}).get("severity")
        want = pinned.get("severity") if isinstance(pinned, dict) else None
        if test.get("expected") and got and want and str(want).upper() != got:
            found.setdefault(test["rule_id"], []).append(
                f"test “{test['name']}”: severity {got}, but {PINNED_EXPECTATIONS}/{test['rule_id']}.yml "
                f"pins {want}: the pinned rule-output test fails until it is updated"
            )
    return found


def _pinned(path: Path) -> dict:
    """The ``Tests`` of one pinned-expectations file (empty when absent or unreadable)."""
    try:
        tests = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("Tests")
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    return tests if isinstance(tests, dict) else {}


def needs_attention(
    head_items: list[AnalysisItem],
    head_tests: list[dict],
    touched: set[str],
    severity: dict[str, list[str]] | None = None,
) -> list[dict]:
    """Findings on head's items, those in ``touched`` (the items the change adds or edits) first;
    ``severity``: the ``severity_findings`` per rule ID."""
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
                    got = verdict(result["result"])
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
        for reason in (severity or {}).get(item.id, []):
            add(item, reason)
        if spec.get("Enabled") is False:
            add(item, "Enabled: false")
        if has_packs and item.kind not in ("pack",) and item.id not in packed:
            add(item, "not listed in any pack (packs/*.yml)")
    entries.sort(key=lambda e: (not e["touched"], e["id"]))
    return entries
