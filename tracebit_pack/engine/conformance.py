"""Check the match-expression evaluator on a repository's tests (``tracebit-pack conformance``).

Every rule of the repository that has a YAML ``Detection`` (Simple Detection) or
``InlineFilters`` has its ``Tests`` run through the offline engine the way ``pat test`` runs a
test (``Mocks`` patched, data model of the log type applied, not in batch mode), filters and
Simple Detection included. Each test is *passed* (the match equals ``ExpectedResult``),
*failed*, or *not evaluated* (with the reason: an unsupported construct, a Python import that
fails here). The Markdown table is what docs/simple-detections.md shows for panther-analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracebit_pack.pack.items import AnalysisItem, items_of

RULE_KINDS = ("rule", "scheduled_rule")


@dataclass
class Outcome:
    rule_id: str
    feature: str  # "Simple Detection" or "InlineFilters"
    test: str
    expected: bool
    status: str  # passed / failed / not evaluated
    detail: str = ""


def _feature(item: AnalysisItem) -> str | None:
    if "Detection" in item.spec and not item.spec.get("Filename"):
        return "Simple Detection"
    if item.spec.get("InlineFilters") is not None:
        return "InlineFilters"
    return None


def _run_one(engine, loaded, test: dict) -> tuple[bool, str | None]:
    """(matched, error) for one test, as ``pat test`` runs it, on an empty KV cache."""
    log = test["Log"] if "Log" in test else test.get("Resource")
    if not isinstance(log, dict):
        return False, "Log is not a mapping"
    engine.kv.clear()
    result = engine.run_test(loaded, log, test.get("Mocks") or ())
    error = result.detection_exception or result.filter_exception
    return bool(result.trigger_alert), (repr(error)[:200] if error else None)


def evaluate(root) -> list[Outcome]:
    """One Outcome per test of every Simple Detection and InlineFilters rule under ``root``."""
    from tracebit_pack.engine.rules import PackEngine
    from tracebit_pack.engine.simple_rules import NotEvaluated

    engine = PackEngine.load(root, batch_mode=False)
    outcomes = []
    for item in items_of(engine.items, *RULE_KINDS):
        feature = _feature(item)
        if feature is None:
            continue
        try:
            loaded = engine.rule_of(item)
            error = loaded.rule.setup_exception
            reason = f"Python failed to import: {error!r}" if error else None
        except NotEvaluated as err:
            loaded, reason = None, str(err)
        tests = item.tests or [{"Name": "(no tests)", "ExpectedResult": None}]
        for number, test in enumerate(tests, start=1):
            name = str(test.get("Name") or f"test #{number}")
            expected = bool(test.get("ExpectedResult"))
            if "ExpectedResult" not in test or test.get("ExpectedResult") is None:
                outcomes.append(Outcome(item.id, feature, name, expected, "not evaluated", "no tests"))
                continue
            if reason is not None:
                outcomes.append(Outcome(item.id, feature, name, expected, "not evaluated", reason[:200]))
                continue
            matched, error = _run_one(engine, loaded, test)
            if error:
                outcomes.append(Outcome(item.id, feature, name, expected, "failed", f"error: {error}"))
            elif matched == expected:
                outcomes.append(Outcome(item.id, feature, name, expected, "passed"))
            else:
                outcomes.append(Outcome(item.id, feature, name, expected, "failed", f"matched: {matched}"))
    return outcomes


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    result = {"passed": 0, "failed": 0, "not evaluated": 0}
    for outcome in outcomes:
        result[outcome.status] += 1
    return result


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(outcomes: list[Outcome]) -> str:
    total = counts(outcomes)
    rules = len({o.rule_id for o in outcomes})
    lines = [
        f"{len(outcomes)} test(s) of {rules} rule(s): {total['passed']} passed, "
        f"{total['failed']} failed, {total['not evaluated']} not evaluated",
        "",
        "| Rule | Uses | Test | Expected | Result | Detail |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| `{_cell(o.rule_id)}` | {o.feature} | {_cell(o.test)} | {str(o.expected).lower()} "
            f"| {o.status} | {_cell(o.detail) or '—'} |"
        )
    return "\n".join(lines)
