"""Correlation rules evaluated offline (docs/correlation.md) and the test-correlation command."""

from pathlib import Path

import pytest
import yaml

from tracebit_pack.cli.main import main
from tracebit_pack.engine.correlation import CorrelationError, CorrelationRule, load_rules
from tracebit_pack.engine.correlation_model import match_values, resolve
from tracebit_pack.engine.correlation_rule_outputs import run_tests

FIXTURES = Path(__file__).parent / "fixtures" / "correlation"
REPO = Path(__file__).resolve().parent.parent


def rule_from(text):
    return CorrelationRule(yaml.safe_load(text))


GROUP = """
AnalysisType: correlation_rule
RuleID: T.Group
Enabled: true
Severity: High
Detection:
  - Group:
      - {ID: Reset, RuleID: Okta.Reset}
      - {ID: Canary, RuleID: Tracebit.Canary}
    MatchCriteria:
      identity:
        - {GroupID: Reset, Match: p_alert_context.identities}
        - {GroupID: Canary, Match: p_alert_context.identities}
    LookbackWindowMinutes: 60
    Schedule: {RateMinutes: 30, TimeoutMinutes: 1}
"""


def signal(rule_id, time, identities):
    return {"p_rule_id": rule_id, "p_event_time": time, "p_alert_context": {"identities": identities}}


@pytest.mark.parametrize("path", sorted(p for p in FIXTURES.glob("*.yml")))
def test_fixture_rules_pass(path):
    rule = CorrelationRule.from_file(path)
    outcomes = run_tests(rule)
    assert outcomes, f"{path.name} has no tests"
    failed = [(o.name, o.error, o.actual) for o in outcomes if not o.passed]
    assert not failed


def test_pack_correlation_rules_pass():
    rules = load_rules([REPO / "correlation_rules"])
    assert rules, "the pack has no correlation rules"
    for rule in rules:
        assert all(o.passed for o in run_tests(rule)), rule.rule_id


def test_cli_passes_and_fails(capsys):
    assert main(["test-correlation", str(FIXTURES / "group_identity.yml")]) == 0
    out = capsys.readouterr().out
    assert "PASS Fixture.Corr.MFAResetThenCanary: same identity, list entries" in out
    assert main(["test-correlation", str(FIXTURES / "failing")]) == 1
    out = capsys.readouterr().out
    assert "FAIL Fixture.Corr.WrongExpectation: wrongly expects" in out
    assert "expected true, got false" in out
    assert "1 passed, 1 failed" in out


def test_cli_quiet_prints_failures_and_the_summary_only(capsys):
    assert main(["test-correlation", "--quiet", str(FIXTURES / "failing")]) == 1
    out = capsys.readouterr().out
    assert "PASS" not in out
    assert "FAIL Fixture.Corr.WrongExpectation: wrongly expects" in out
    assert out.strip().splitlines()[-1].endswith("1 passed, 1 failed")


def test_cli_bad_input(capsys, tmp_path):
    assert main(["test-correlation", str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "other.yml").write_text("AnalysisType: rule\nRuleID: x\n")
    assert main(["test-correlation", str(tmp_path)]) == 2
    broken = tmp_path / "broken.yml"
    broken.write_text(GROUP.replace("GroupID: Canary", "GroupID: Nope"))
    assert main(["test-correlation", str(broken)]) == 1
    assert "unknown GroupID" in capsys.readouterr().out


def test_list_to_list_intersection_on_replay_signals():
    rule = rule_from(GROUP)
    signals = [
        signal("Okta.Reset", "2024-12-13 10:00:00.000000", ["sue@acme.com"]),
        signal("Tracebit.Canary", "2024-12-13 10:30:00.000000", ["bob@acme.com", "sue@acme.com"]),
        signal("Tracebit.Canary", "2024-12-13 10:31:00.000000", ["bob@acme.com"]),
    ]
    matches = rule.evaluate(signals)
    assert len(matches) == 1
    assert matches[0].key == {"identity": "sue@acme.com"}
    assert [len(v) for v in matches[0].signals.values()] == [1, 1]
    assert rule.evaluate(signals[:1]) == []


def test_scalar_equality_and_scalar_in_list():
    assert match_values("a") == frozenset({"a"})
    assert match_values(["a", "b", None, {"x": 1}]) == frozenset({"a", "b"})
    assert match_values({"x": 1}) == frozenset()  # objects cannot be matched
    assert match_values("") == frozenset() and match_values(None) == frozenset()


def test_resolve_paths():
    data = {"p_alert_context": {"identities": ["a"]}, "target": [{"alternateId": "t"}], "Actor": {"Id": 1}}
    assert resolve(data, "p_alert_context.identities") == ["a"]
    assert resolve(data, "target[0].alternateId") == "t"
    assert resolve(data, "actor.id") == 1  # case-insensitive fallback
    assert resolve(data, "missing.path") is None


def test_yaml_on_key_is_read_as_true():
    text = """
AnalysisType: correlation_rule
RuleID: T.Seq
Enabled: true
Severity: High
Detection:
  - Sequence:
      - {ID: A, RuleID: R.A}
      - {ID: B, RuleID: R.B}
    Transitions:
      - ID: A then B
        From: A
        To: B
        Match:
          - On: user
    Schedule: {RateMinutes: 30, TimeoutMinutes: 1}
"""
    rule = rule_from(text)
    assert rule.transitions[0].from_path == "user" == rule.transitions[0].to_path
    assert rule.lookback.total_seconds() == 15 * 60  # LookbackWindowMinutes defaults to 15
    assert rule.transitions[0].within == rule.lookback  # WithinTimeFrameMinutes defaults to it


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("- {ID: Reset, RuleID: Okta.Reset}", "- {ID: Reset}"), "ID and RuleID"),
        (("LookbackWindowMinutes: 60", "LookbackWindowMinutes: 0"), "LookbackWindowMinutes"),
        (("LookbackWindowMinutes: 60", "EventEvaluationOrder: Sideways"), "EventEvaluationOrder"),
        (("- {ID: Canary, RuleID: Tracebit.Canary}", "- {ID: Reset, RuleID: Tracebit.Canary}"), "duplicate"),
    ],
)
def test_invalid_rules_are_rejected(change, message):
    with pytest.raises(CorrelationError, match=message):
        rule_from(GROUP.replace(*change))


def test_consecutive_sequence_absences_are_rejected():
    text = """
AnalysisType: correlation_rule
RuleID: T.Seq
Enabled: true
Severity: High
Detection:
  - Sequence:
      - {ID: A, RuleID: R.A}
      - {ID: B, RuleID: R.B, Absence: true}
      - {ID: C, RuleID: R.C, Absence: true}
    Schedule: {RateMinutes: 30, TimeoutMinutes: 1}
"""
    with pytest.raises(CorrelationError, match="consecutive Absence"):
        rule_from(text)


@pytest.mark.parametrize("fixture", ["sequence_absence_first.yml", "sequence_absence_middle.yml"])
def test_sequence_absence_on_a_first_or_middle_item_is_evaluated(fixture):
    rule = CorrelationRule.from_file(FIXTURES / fixture)
    outcomes = run_tests(rule)
    assert any(o.expected is False for o in outcomes) and any(o.expected is True for o in outcomes)
    assert all(o.passed for o in outcomes), [o for o in outcomes if not o.passed]


def test_middle_absence_is_reported_without_the_absent_item():
    rule = CorrelationRule.from_file(FIXTURES / "sequence_absence_middle.yml")
    signals = [
        signal("Fixture.Okta.MFAReset", "2024-01-01T00:00:00Z", ["sue@acme.com"]),
        signal("Fixture.Canary", "2024-01-01T10:00:00Z", ["sue@acme.com"]),
    ]
    (match,) = rule.evaluate(signals)
    assert set(match.signals) == {"Reset", "Canary"}
    assert match.key == {
        "Reset FOLLOWED BY re-enrolment": "sue@acme.com",
        "Re-enrolment FOLLOWED BY canary": "sue@acme.com",
    }


@pytest.mark.parametrize(("order", "first_canary"), [("Chronological", 10), ("ReverseChronological", 200)])
def test_group_evaluation_order_picks_the_earliest_or_latest_window(order, first_canary):
    rule = rule_from(
        GROUP.replace(
            "LookbackWindowMinutes: 60", f"LookbackWindowMinutes: 60\n    EventEvaluationOrder: {order}"
        )
    )
    minutes = [0, 10, 190, 200]
    signals = [
        signal(
            "Okta.Reset" if m in {0, 190} else "Tracebit.Canary",
            f"2024-01-01T{m // 60:02d}:{m % 60:02d}:00Z",
            ["sue@acme.com"],
        )
        for m in minutes
    ]
    (match,) = rule.evaluate(signals)
    canary_id = next(i.id for i in rule.items if i.rule_id == "Tracebit.Canary")
    got = match.signals[canary_id][0].time
    assert (got.hour * 60 + got.minute) == first_canary


def test_rule_outputs_entries_count_toward_min_match_count():
    rule = CorrelationRule.from_file(FIXTURES / "group_counts.yml")
    results = {o.name: o for o in run_tests(rule)}
    assert results["three downloads then a delete"].actual is True
    assert results["two downloads are too few"].actual is False
    assert results["duplicate timestamps each count"].actual is True
