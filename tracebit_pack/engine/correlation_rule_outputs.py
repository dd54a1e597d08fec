"""Run a correlation rule's ``Tests``: the signals its ``RuleOutputs`` describe, evaluated.

``tracebit-pack test-correlation`` reports each test as PASS or FAIL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tracebit_pack.engine.correlation import CorrelationRule
from tracebit_pack.engine.correlation_model import CorrelationError, Signal, split_path
from tracebit_pack.errors import UserError
from tracebit_pack.times import parse_event_time as parse_time

# Integer occurrences in RuleOutputs are minutes from an arbitrary start: this one.
TEST_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class TestOutcome:
    rule_id: str
    name: str
    expected: bool
    actual: bool | None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.actual == self.expected


def _occurrence_time(value: Any, where: str) -> datetime:
    if isinstance(value, bool):
        raise CorrelationError(f"{where}: occurrence {value!r} is not a timestamp or a minute offset")
    if isinstance(value, int | float):
        return TEST_EPOCH + timedelta(minutes=value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_time(str(value))
    if parsed is None:
        raise CorrelationError(f"{where}: occurrence {value!r} is not a timestamp or a minute offset")
    return parsed


def _set_path(target: dict, path: str, value: Any) -> None:
    parts = [p for p in split_path(path) if isinstance(p, str)]
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def signals_from_rule_outputs(rule: CorrelationRule, outputs: Any, where: str) -> list[Signal]:
    """Signals described by a test's ``RuleOutputs``.

    ``[{ID: <item ID>, Matches: {<field>: {<value>: [occurrence, ...]}}}]``: every occurrence
    (an rfc3339 timestamp, or an integer number of minutes from an arbitrary start) is one
    signal of the item's RuleID whose ``<field>`` equals ``<value>``; so the number of entries
    counts toward MinMatchCount. ``<field>`` is a field path (``p_alert_context.identities``)
    or the name of a MatchCriteria entry / Transition ID (then this item's Match path is used).
    Occurrences at the same time under different fields of one item are one signal carrying
    every field. An output without Matches is one signal at minute 0.
    """
    if not isinstance(outputs, list):
        raise CorrelationError(f"{where}: RuleOutputs must be a list")
    merged: dict[tuple[str, datetime, int], dict] = {}
    seen: dict[tuple[str, str, datetime], int] = {}
    for output in outputs:
        if not isinstance(output, Mapping) or output.get("ID") not in rule.by_id:
            raise CorrelationError(f"{where}: RuleOutputs entry {output!r}: ID must name a {rule.kind} item")
        item = rule.by_id[output["ID"]]
        aliases = rule.paths_for(item.id)
        matches = output.get("Matches")
        if not matches:
            merged.setdefault(
                (item.id, TEST_EPOCH, 0), {"p_rule_id": item.rule_id, "p_event_time": TEST_EPOCH}
            )
            continue
        if not isinstance(matches, Mapping):
            raise CorrelationError(
                f"{where}: {item.id}: Matches must be a map of field -> value -> occurrences"
            )
        for field_name, by_value in matches.items():
            path = aliases.get(str(field_name), str(field_name))
            if not isinstance(by_value, Mapping):
                raise CorrelationError(
                    f"{where}: {item.id}: Matches.{field_name} must map values to occurrences"
                )
            for value, occurrences in by_value.items():
                for occurrence in occurrences if isinstance(occurrences, list) else [occurrences]:
                    when = _occurrence_time(occurrence, f"{where}: {item.id}: {field_name}: {value}")
                    # the k-th occurrence at this time of this field joins the k-th signal at this time
                    k = seen.get((item.id, path, when), 0)
                    seen[(item.id, path, when)] = k + 1
                    base = {"p_rule_id": item.rule_id, "p_event_time": when}
                    _set_path(merged.setdefault((item.id, when, k), base), path, value)
    ordered = sorted(merged.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2]))
    return [Signal(data["p_rule_id"], data["p_event_time"], data, n) for n, (_, data) in enumerate(ordered)]


def run_tests(rule: CorrelationRule) -> list[TestOutcome]:
    """One outcome per test of the rule; a malformed test fails with the reason, it never raises."""
    outcomes = []
    for n, test in enumerate(rule.tests):
        name = str(test.get("Name") or f"test {n + 1}") if isinstance(test, Mapping) else f"test {n + 1}"
        expected = test.get("ExpectedResult") if isinstance(test, Mapping) else None
        if not isinstance(expected, bool):
            outcomes.append(
                TestOutcome(rule.rule_id, name, False, None, "ExpectedResult must be true or false")
            )
            continue
        try:
            signals = signals_from_rule_outputs(rule, test.get("RuleOutputs") or [], f"test {name!r}")
            actual = bool(rule.evaluate(signals))
        except UserError as err:
            outcomes.append(TestOutcome(rule.rule_id, name, expected, None, str(err)))
            continue
        outcomes.append(TestOutcome(rule.rule_id, name, expected, actual))
    return outcomes
