"""Schema validation of events and the validate-events command."""

import copy
import json
from pathlib import Path

import pytest
import yaml

from tracebit_pack.cli.main import main
from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.logs.schemas import read_jsonl
from tracebit_pack.logs.validate import Problem, validate_event

FIXTURES = Path(__file__).parent / "fixtures" / "lake_engine" / "basic"


def _first(log_type):
    return copy.deepcopy(read_jsonl(FIXTURES / f"{log_type}.jsonl")[0][1])


@pytest.mark.parametrize(
    "log_type",
    ["AWS.CloudTrail", "Okta.SystemLog", "Tracebit.Alert", "Tracebit.AlertSummary", "Tracebit.HealthCheck"],
)
def test_fixture_events_conform(log_type):
    for _, event in read_jsonl(FIXTURES / f"{log_type}.jsonl"):
        assert validate_event(event, log_type, standard_fields=False) == []


def test_each_kind_of_problem_is_reported_with_its_path():
    event = _first("Tracebit.Alert")
    del event["alert_id"]  # required
    event["discriminator"]["type"] = "tracebit_alert_summary"  # not allowed
    event["timestamp"] = "30/06/2024 11:00:05"  # neither rfc3339 nor Panther's stored form
    event["canary"]["aws"]["arn"] = 12  # wrong type
    event["principal"]["aws"]["Arn"] = "x"  # case-sensitive unknown key
    event["event"]["resources"][0]["size"] = 3  # unknown inside an array of objects
    event["extra"] = True  # unknown top-level field
    problems = validate_event(event, "Tracebit.Alert")
    by_path = {p.path: p.reason for p in problems}
    assert by_path["alert_id"] == "required field missing"
    assert by_path["discriminator.type"].startswith("value 'tracebit_alert_summary' not allowed")
    assert by_path["timestamp"].startswith("bad timestamp (rfc3339)")
    assert by_path["canary.aws.arn"] == "expected string, got number"
    assert by_path["principal.aws.Arn"] == "unknown field (keys are case-sensitive: did you mean 'arn'?)"
    assert by_path["event.resources[0].size"] == "unknown field"
    assert by_path["extra"] == "unknown field"
    assert len(problems) == 7


def test_numbers_booleans_and_ranges():
    event = _first("Okta.SystemLog")
    event["securityContext"]["isProxy"] = "false"
    event["securityContext"]["asNumber"] = 2**40  # bigint: fine
    event["authenticationContext"]["authenticationStep"] = 2**40  # int: out of range
    event["client"]["geographicalContext"]["geolocation"]["lat"] = 47  # float accepts an integer
    event["target"][0]["id"] = None  # null counts as absent: required
    problems = validate_event(event, "Okta.SystemLog")
    assert sorted(map(str, problems)) == [
        f"authenticationContext.authenticationStep: {2**40} is out of range for int",
        "securityContext.isProxy: expected boolean, got string 'false'",
        "target[0].id: required field missing",
    ]


def test_json_fields_accept_anything():
    event = _first("AWS.CloudTrail")
    event["requestParameters"] = [1, "two", {"three": None}]
    event["additionalEventData"] = "text"
    assert validate_event(event, "AWS.CloudTrail") == []


def test_standard_fields_allowed_only_in_test_logs():
    event = _first("Tracebit.HealthCheck")
    event.update(
        {"p_log_type": "Tracebit.HealthCheck", "p_event_time": "2024-06-30 06:00:00.000", "p_any_emails": []}
    )
    assert validate_event(event, "Tracebit.HealthCheck") == []
    raw = validate_event(event, "Tracebit.HealthCheck", standard_fields=False)
    assert {p.path for p in raw} == {"p_log_type", "p_event_time", "p_any_emails"}
    event["p_log_type"] = "Tracebit.Alert"
    event["p_event_time"] = "June 30"
    event["p_bogus"] = 1
    assert sorted(map(str, validate_event(event, "Tracebit.HealthCheck"))) == [
        "p_bogus: standard field not allowed here: not in Panther's standard fields",
        "p_event_time: expected a timestamp 'YYYY-MM-DD HH:MM:SS.ffffff', got 'June 30'",
        "p_log_type: 'Tracebit.Alert' does not match log type 'Tracebit.HealthCheck'",
    ]


def test_not_an_object():
    assert validate_event(["x"], "Tracebit.HealthCheck") == [Problem("", "expected a JSON object, got array")]


# --------------------------------------------------------------------------- command


def _rule(tmp_path, name, spec):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_command_reports_rule_test_problems(tmp_path, capsys):
    good = _first("Tracebit.HealthCheck")
    bad = dict(good, is_healthy="yes")
    _rule(
        tmp_path,
        "rule.yml",
        {
            "AnalysisType": "rule",
            "RuleID": "Test.Rule",
            "LogTypes": ["Tracebit.HealthCheck"],
            "Tests": [
                {"Name": "healthy", "ExpectedResult": False, "Log": good},
                {"Name": "string flag", "ExpectedResult": True, "Log": bad},
                {
                    "Name": "wrong type",
                    "ExpectedResult": False,
                    "Log": dict(good, p_log_type="Okta.SystemLog"),
                },
            ],
        },
    )
    _rule(
        tmp_path,
        "sched.yml",
        {
            "AnalysisType": "scheduled_rule",
            "RuleID": "S",
            "ScheduledQueries": ["Q"],
            "Tests": [{"Name": "row", "ExpectedResult": True, "Log": {"cnt": 3}}],
        },
    )
    _rule(tmp_path, "expected.yml", {"alerts": ["not an analysis item"]})
    assert main(["validate-events", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    path = tmp_path / "rule.yml"
    assert out[:2] == [
        f"{path}: string flag: is_healthy: expected boolean, got string 'yes'",
        f"{path}: wrong type: p_log_type: p_log_type 'Okta.SystemLog' is not one of the rule's LogTypes "
        "['Tracebit.HealthCheck']",
    ]
    assert out[2].startswith("validate-events: 2 problem(s) in 3 event(s) from 2 file(s), 1 test(s) skipped")


def test_rule_with_several_log_types_passes_if_one_schema_matches(tmp_path, capsys):
    alert = _first("Tracebit.Alert")
    _rule(
        tmp_path,
        "r.yml",
        {
            "AnalysisType": "rule",
            "RuleID": "R",
            "LogTypes": ["Tracebit.Alert", "Tracebit.AlertSummary"],
            "Tests": [{"Name": "alert", "ExpectedResult": True, "Log": alert}],
        },
    )
    assert main(["validate-events", str(tmp_path / "r.yml")]) == 0
    assert "1 event(s) in 1 file(s) conform" in capsys.readouterr().out


def test_command_reports_jsonl_file_and_line(tmp_path, capsys):
    lines = [
        json.dumps(_first("Tracebit.HealthCheck")),
        "",
        json.dumps({"timestamp": "2024-06-30T06:00:00Z"}),
    ]
    (tmp_path / "Tracebit.HealthCheck.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["validate-events", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    file = tmp_path / "Tracebit.HealthCheck.jsonl"
    assert out[:2] == [
        f"{file}:3: discriminator: required field missing",
        f"{file}:3: is_healthy: required field missing",
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("Okta.SystemLog.jsonl", '{"uuid": "x"\n', "Okta.SystemLog.jsonl:1:13: malformed JSON"),
        ("Okta.SystemLog.jsonl", "[1, 2]\n", "Okta.SystemLog.jsonl:1: expected one JSON object per line"),
        ("Okta.Logs.jsonl", "{}\n", "unknown log type 'Okta.Logs'"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, name, content, message):
    (tmp_path / name).write_text(content, encoding="utf-8")
    assert main(["validate-events", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1
    assert captured.out == ""


def test_missing_path_exits_2(tmp_path, capsys):
    assert main(["validate-events", str(tmp_path / "nope")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_lake_fixtures_pass(capsys):
    assert main(["validate-events", str(FIXTURES)]) == 0
    assert "14 event(s) in 5 file(s) conform" in capsys.readouterr().out


def test_events_exported_from_panther_are_accepted_and_still_checked(tmp_path, capsys):
    """A rule test Log copied from Panther: p_* fields and Snowflake-style timestamps."""
    event = _first("Okta.SystemLog")
    event.update(
        {
            "published": "2024-08-15 15:05:09.154000000",
            "p_log_type": "Okta.SystemLog",
            "p_event_time": "2024-08-15 15:05:09.154000000",
            "p_parse_time": "2024-08-15 15:06:11.000000000",
            "p_row_id": "a2b1c3",
            "p_source_label": "okta-prod",
            "p_any_ip_addresses": ["198.51.100.7"],
        }
    )
    assert validate_event(event, "Okta.SystemLog") == []
    bad = dict(event, published="2024-08-15 25:05:09.154000000", p_schema_version="0", p_any_emails="x")
    assert sorted(str(p).split(" (")[0].split(":")[0] for p in validate_event(bad, "Okta.SystemLog")) == [
        "p_any_emails",
        "p_schema_version",
        "published",
    ]
    spec = {
        "AnalysisType": "rule",
        "RuleID": "X.Exported",
        "LogTypes": ["Okta.SystemLog"],
        "Tests": [
            {"Name": "exported", "ExpectedResult": False, "Log": event},
            {"Name": "bad time", "ExpectedResult": False, "Log": dict(event, published="yesterday")},
        ],
    }
    _rule(tmp_path, "x.yml", spec)
    assert main(["validate-events", str(tmp_path / "x.yml")]) == 1
    out = capsys.readouterr().out
    assert "bad time: published: bad timestamp" in out
    assert "exported:" not in out
    assert "1 problem(s) in 2 event(s)" in out


# Rule-match fields as in panther-analysis's own test events (rules/panther_audit_rules/
# panther_sensitive_role_created.yml): a row copied from a rule-match table, or a signal.
RULE_MATCH_FIELDS = {
    "p_rule_id": "Tracebit.CanaryResourceAccessed",
    "p_rule_tags": ["Tracebit", "Deception"],
    "p_rule_reports": {"MITRE ATT&CK": ["TA0009:T1530"]},
    "p_rule_error": None,
    "p_rule_severity": "HIGH",
    "p_alert_id": "7eb5ca596b2153f95885cb2440e12345",
    "p_alert_context": {"alert_id": "a1", "identities": ["sue.johnson@acme.com"]},
    "p_alert_severity": "CRITICAL",
    "p_alert_creation_time": "2024-12-13 16:11:02.745566000",
    "p_alert_update_time": "2024-12-13 16:14:09.745566000",
}


def test_rule_match_fields_are_accepted_and_type_checked():
    event = dict(_first("Tracebit.Alert"), p_log_type="Tracebit.Alert", **RULE_MATCH_FIELDS)
    assert validate_event(event, "Tracebit.Alert") == []
    bad = dict(
        event,
        p_rule_tags="Tracebit",
        p_rule_reports={"MITRE ATT&CK": "TA0009:T1530"},
        p_rule_severity="SEVERE",
        p_alert_context=["a1"],
        p_alert_creation_time="yesterday",
        p_rule_id=7,
    )
    assert sorted(p.path for p in validate_event(bad, "Tracebit.Alert")) == [
        "p_alert_context",
        "p_alert_creation_time",
        "p_rule_id",
        "p_rule_reports",
        "p_rule_severity",
        "p_rule_tags",
    ]
    # a raw log (no standard fields) still may not carry them
    assert {p.path for p in validate_event(event, "Tracebit.Alert", standard_fields=False)} >= {"p_rule_id"}


def test_rule_match_exports_load_into_the_lake(tmp_path):

    rows = [
        dict(event, p_log_type="Tracebit.Alert", p_event_time="2024-06-30 06:00:00.000", **RULE_MATCH_FIELDS)
        for _, event in read_jsonl(FIXTURES / "Tracebit.Alert.jsonl")
    ]
    (tmp_path / "Tracebit.Alert.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lake = lake_from_folder(tmp_path)
    try:
        assert lake.skipped.total == 0, lake.skipped.summary()
        assert lake.run("SELECT COUNT(*) AS n FROM tracebit_alert") == [{"n": len(rows)}]
    finally:
        lake.close()
