"""What the pack *does* differently: rule test results and scenario events/alerts, base vs head.

Inputs are the JSON results of the two workers (``tracebit_pack.review.worker``); a change is any
difference in verdict, title, severity, dedup string or alert context, or an alert that appears,
disappears or changes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, sub in value.items():
            flat.update(_flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
        return flat or {prefix: {}}
    return {prefix: value}


def verdict(result: dict | None) -> str:
    """``match``, ``no match`` or ``error (...)``: what a rule did with one event, as the report says it."""
    if result is None:
        return "no match"
    if result.get("error") and not result.get("matched"):
        return f"error ({result['error']})"
    return "match" if result.get("matched") else "no match"


def result_changes(before: dict | None, after: dict | None) -> list[dict]:
    """Field-by-field differences between two results of one rule on one event."""
    changes = []
    if verdict(before) != verdict(after):
        changes.append({"field": "verdict", "before": verdict(before), "after": verdict(after)})
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
    shown = verdict(test["result"])
    return f"{shown}, {'pass' if test['result'].get('passed') else 'FAIL'}"


def test_diff(base: list[dict], head: list[dict]) -> list[dict]:
    """Rule tests (matched by rule ID and test name) whose outcome or result differs, added or removed."""
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
