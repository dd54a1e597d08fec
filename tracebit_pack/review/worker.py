"""Evaluate one version of the pack for ``tracebit-pack review`` (run in its own process).

``python -m tracebit_pack.review.worker ROOT FD`` loads the pack under ROOT, runs

* every rule test (the rule's ``Tests``, with ``Mocks``, the way ``pat test`` does: only the
  rule under test, ``batch_mode=False``), and
* every bundled scenario event (``scenarios/<name>/<LogType>.jsonl``) through every rule
  (production semantics, ``batch_mode=True``), grouping the matches into alerts,

and writes the verdicts as JSON to the pipe FD (``tracebit_pack.review.evaluate`` reads it).
Base and head run in separate processes because global helpers
are imported under their GlobalID: two versions of the pack cannot share one interpreter.
Bad input (invalid YAML, an unreadable scenario line) exits 2 with one line on stderr.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from tracebit_pack.errors import InputError, Location, UserError

RULE_KINDS = ("rule", "scheduled_rule")


def event_key(event: dict) -> str:
    """A stable identity for an event: the hash of its canonical JSON."""
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _jsonable(value: Any) -> Any:
    """Alert context arrives as a JSON string from panther_core; keep it as an object."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def load_scenarios(root: Path) -> dict[str, list[dict]]:
    """``{scenario: [{"file", "line", "log_type", "event"}]}`` for every folder of ``scenarios/``,
    read as ``replay`` reads it (``logs.folder.read_events``)."""
    from tracebit_pack.logs.folder import read_events

    scenarios: dict[str, list[dict]] = {}
    base = root / "scenarios"
    if not base.is_dir():
        return scenarios
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        try:
            events = [
                {"file": e.source.path.name, "line": e.line, "log_type": e.source.log_type, "event": e.event}
                for e in read_events(folder)
            ]
        except InputError as err:
            where = err.location and Location(Path(err.location.path).relative_to(root), err.location.line)
            raise InputError(err.message, where) from None
        if events:
            scenarios[folder.name] = events
    return scenarios


def _error_text(err: BaseException | str | None) -> str | None:
    if err is None:
        return None
    text = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else None


class _Evaluator:
    """The pack under ``root`` loaded with the shared engine (``tracebit_pack.engine.rules``)."""

    def __init__(self, root: Path):
        from tracebit_pack.engine.rules import PackEngine

        self.root = root
        self.engine = PackEngine.load(root, batch_mode=True)
        self.items = self.engine.items

    def run_test(self, item: Any, test: dict) -> dict:
        """One rule test the way ``pat test`` runs it (``PackEngine.run_test``).

        pat tests every rule, enabled or not: ``PackEngine.rule_of`` loads the disabled ones;
        raises simple_rules.NotEvaluated when the rule cannot run offline.
        """
        log = test.get("Log") or test.get("Resource") or {}
        res = self.engine.run_test(self.engine.rule_of(item), log, test.get("Mocks") or ())
        fatal = res.setup_exception or res.detection_exception or res.filter_exception
        aux = next(
            (
                getattr(res, f"{name}_exception")
                for name in ("title", "dedup", "severity", "alert_context", "description", "destinations")
                if getattr(res, f"{name}_exception", None)
            ),
            None,
        )
        return {
            "matched": bool(res.trigger_alert),
            "title": res.title_output,
            # as the alert would get it: severity() output, else the YAML Severity
            "severity": (res.severity_output or str(item.spec.get("Severity") or "")).upper() or None,
            "dedup": res.dedup_output,
            "alert_context": _jsonable(res.alert_context_output),
            "error": _error_text(fatal),
            "aux_error": _error_text(aux),
        }

    def run_event(self, event: dict) -> list[dict]:
        """Every enabled rule of the event's log type, production semantics (engine.run_event)."""
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            results = self.engine.run_event(event)
        return [
            {
                "rule_id": r.rule_id,
                "matched": r.matched,
                "title": r.title,
                "severity": r.severity,
                "dedup": r.dedup,
                "alert_context": r.alert_context,
                "error": _error_text(r.error),
                "create_alert": r.create_alert,
            }
            for r in results
        ]


def test_passed(expected: bool, result: dict) -> bool:
    """pat test's scoring: a positive test needs a match and no error in any function; a negative
    test needs the rule to return False (errors in title, dedup, alert_context... are ignored)."""
    if result.get("error"):
        return False
    if expected:
        return bool(result.get("matched")) and not result.get("aux_error")
    return not result.get("matched")


def _alerts(root: Path, scenario: str) -> list[dict]:
    """The scenario's alerts as ``tracebit-pack replay`` raises them: real-time, scheduled and
    correlation rules, grouped by dedup string, DedupPeriodMinutes and Threshold."""
    from tracebit_pack.replay import replay

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        report = replay(root / "scenarios" / scenario, root=root)
    alerts = []
    for alert in report.alerts:
        data = alert.to_json()
        alerts.append(
            {
                "rule_id": data["rule_id"],
                "dedup": data["dedup"],
                "title": data["title"],
                "severity": data["severity"],
                "events": data["event_count"],
                "first_event_time": data["first_event_time"],
            }
        )
    return sorted(alerts, key=lambda a: (a["rule_id"], str(a["dedup"]), a["first_event_time"]))


def _enriched(scenario: str, entry: dict) -> dict:
    """The raw scenario event with Panther's standard fields (parse time = event time)."""
    from tracebit_pack.logs.enrich import deterministic_row_id, enrich, event_time

    event, log_type = entry["event"], entry["log_type"]
    try:
        occurred = event_time(event, log_type)
    except UserError:  # no schema for this log type: the engine has no rules for it either
        return {**event, "p_log_type": log_type}
    row_id = deterministic_row_id(scenario, entry["file"], entry["line"])
    return enrich(event, log_type, parse_time=occurred, row_id=row_id)


def evaluate(root: Path) -> dict:
    """Every test verdict and every scenario verdict of the pack under ``root``."""
    from tracebit_pack.engine.simple_rules import NotEvaluated

    evaluator = _Evaluator(root)
    tests = []
    for item in evaluator.items:
        if item.kind not in RULE_KINDS or item.id in evaluator.engine.not_evaluated:
            continue
        for index, test in enumerate(item.tests):
            log = test.get("Log") or test.get("Resource") or {}
            entry = {
                "rule_id": item.id,
                "name": str(test.get("Name") or f"test #{index + 1}"),
                "expected": bool(test.get("ExpectedResult")),
                "log_key": event_key(log) if isinstance(log, dict) else None,
            }
            if not isinstance(log, dict):
                result = {"matched": False, "error": "Log is not a mapping"}
            else:
                try:
                    result = evaluator.run_test(item, test)
                except NotEvaluated as err:  # a disabled rule the engine did not load
                    evaluator.engine.not_evaluated[item.id] = str(err)
                    break
            result["passed"] = test_passed(entry["expected"], result)
            entry["result"] = result
            tests.append(entry)
    not_evaluated = dict(evaluator.engine.not_evaluated)
    scenarios = {}
    for name, events in load_scenarios(root).items():
        evaluator = _Evaluator(root)  # a fresh KV store per scenario
        enriched = [(entry, _enriched(name, entry)) for entry in events]
        enriched.sort(key=lambda pair: str(pair[1].get("p_event_time") or ""))  # stable: file order on ties
        evaluated = []
        for entry, event in enriched:
            results = evaluator.run_event(event)
            evaluated.append(
                {
                    "file": entry["file"],
                    "line": entry["line"],
                    "key": event_key(entry["event"]),
                    "results": [r for r in results if r["matched"] or r["error"]],
                }
            )
        scenarios[name] = {"events": evaluated, "alerts": _alerts(root, name)}
    return {
        "engine": "tracebit_pack.engine.rules (panther_core)",
        "tests": tests,
        "scenarios": scenarios,
        "not_evaluated": not_evaluated,
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m tracebit_pack.review.worker ROOT FD", file=sys.stderr)
        return 2
    root, fd = Path(args[0]), int(args[1])
    try:
        result = evaluate(root)
    except UserError as err:
        print(str(err).replace(str(root) + os.sep, ""), file=sys.stderr)
        return 2
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
