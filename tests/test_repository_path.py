"""Working in any detections repository: ``--path``, every item type loaded, Simple Detections and
InlineFilters run, and what cannot run offline listed as "not evaluated" instead of failing."""

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from tracebit_pack.cli.main import main
from tracebit_pack.engine.rules import PackEngine

REPO = Path(__file__).resolve().parent.parent
PACK_FOLDERS = ("rules", "queries", "correlation_rules", "data_models", "global_helpers", "packs")

SIMPLE = """
AnalysisType: rule
RuleID: Test.Simple.RootLogin
DisplayName: Root console login
Enabled: true
LogTypes: [AWS.CloudTrail]
Severity: Medium
Detection:
  - KeyPath: eventName
    Condition: Equals
    Value: ConsoleLogin
  - Any:
      - KeyPath: userIdentity.type
        Condition: Equals
        Value: Root
      - KeyPath: userIdentity.arn
        Condition: EndsWith
        Value: ":root"
AlertTitle: "Root login from [{sourceIPAddress}] to [{recipientAccountId}]"
GroupBy:
  - KeyPath: recipientAccountId
AlertContext:
  - KeyName: ip
    KeyValue:
      KeyPath: sourceIPAddress
DynamicSeverities:
  - ChangeTo: Critical
    Conditions:
      - KeyPath: sourceIPAddress
        Condition: IsIPAddressPublic
Tests:
  - Name: root login
    ExpectedResult: true
    Log: {eventName: ConsoleLogin, userIdentity: {type: Root}, sourceIPAddress: 8.8.8.8}
  - Name: user login
    ExpectedResult: false
    Log: {eventName: ConsoleLogin, userIdentity: {type: IAMUser}}
"""

FILTERED = """
AnalysisType: rule
RuleID: Test.Filtered.Everything
Filename: filtered.py
Enabled: true
LogTypes: [AWS.CloudTrail]
Severity: Low
InlineFilters:
  - KeyPath: eventSource
    Condition: IsIn
    Values: [s3.amazonaws.com]
Tests:
  - Name: s3
    ExpectedResult: true
    Log: {eventSource: s3.amazonaws.com}
  - Name: iam is filtered out
    ExpectedResult: false
    Log: {eventSource: iam.amazonaws.com}
"""

UNSUPPORTED = """
AnalysisType: rule
RuleID: Test.Unsupported
Enabled: true
LogTypes: [AWS.CloudTrail]
Severity: Low
Detection:
  - KeyPath: eventName
    Condition: MatchesSomethingNew
    Value: x
Tests:
  - Name: any
    ExpectedResult: true
    Log: {eventName: x}
"""

BROKEN = """
AnalysisType: rule
RuleID: Test.Broken.Import
Filename: broken.py
Enabled: true
LogTypes: [AWS.CloudTrail]
Severity: Low
"""

POLICY = """
AnalysisType: policy
PolicyID: Test.Policy
Filename: policy.py
Enabled: true
ResourceTypes: [AWS.S3.Bucket]
Severity: Low
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "detections"
    files = {
        "rules/test_rules/simple.yml": SIMPLE,
        "rules/test_rules/filtered.yml": FILTERED,
        "rules/test_rules/filtered.py": "def rule(event):\n    return True\n",
        "rules/test_rules/unsupported.yml": UNSUPPORTED,
        "rules/test_rules/broken.yml": BROKEN,
        "rules/test_rules/broken.py": "import no_such_module_here\n\ndef rule(event):\n    return True\n",
        "policies/test_policies/policy.yml": POLICY,
        "policies/test_policies/policy.py": "def policy(resource):\n    return True\n",
        "templates/not_read.yml": UNSUPPORTED.replace("Test.Unsupported", "Test.Template"),
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def test_every_item_loads_and_what_cannot_run_is_listed_with_its_reason(repo):
    engine = PackEngine.load(repo)
    kinds = sorted(item.kind for item in engine.items)
    assert kinds == ["policy", "rule", "rule", "rule", "rule"]  # templates/ is not a folder PAT reads
    assert set(engine.rules) == {"Test.Simple.RootLogin", "Test.Filtered.Everything"}
    reasons = engine.not_evaluated
    assert set(reasons) == {"Test.Unsupported", "Test.Broken.Import", "Test.Policy"}
    assert "MatchesSomethingNew" in reasons["Test.Unsupported"]
    assert "no_such_module_here" in reasons["Test.Broken.Import"]
    assert reasons["Test.Policy"].startswith("policy")


def test_simple_detection_outputs(repo):
    engine = PackEngine.load(repo)
    event = {
        "p_log_type": "AWS.CloudTrail",
        "p_event_time": "2024-01-01 00:00:00.000",
        "eventName": "ConsoleLogin",
        "userIdentity": {"arn": "arn:aws:iam::123456789012:root"},
        "sourceIPAddress": "8.8.8.8",
        "recipientAccountId": "123456789012",
    }
    results = {r.rule_id: r for r in engine.run_event(event)}
    simple = results["Test.Simple.RootLogin"]
    assert simple.matched and simple.error is None
    assert simple.title == "Root login from [8.8.8.8] to [123456789012]"
    assert simple.dedup == "123456789012"
    assert simple.severity == "CRITICAL"  # DynamicSeverities: public IP
    assert simple.alert_context == {"ip": "8.8.8.8"}
    private = {**event, "sourceIPAddress": "10.0.0.1"}
    assert {r.rule_id: r for r in engine.run_event(private)}["Test.Simple.RootLogin"].severity == "MEDIUM"


def test_inline_filters_gate_the_python_rule(repo):
    engine = PackEngine.load(repo)
    base = {"p_log_type": "AWS.CloudTrail", "p_event_time": "2024-01-01 00:00:00.000"}

    def matched(event: dict) -> bool:
        return {r.rule_id: r for r in engine.run_event(event)}["Test.Filtered.Everything"].matched

    assert matched({**base, "eventSource": "s3.amazonaws.com"})
    assert not matched({**base, "eventSource": "iam.amazonaws.com"})
    assert matched(base)  # an inline filter on a field the event lacks passes


def test_conformance_reproduces_each_expected_result(repo, capsys):
    code = main(["conformance", "--path", str(repo), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["counts"] == {"passed": 4, "failed": 0, "not evaluated": 1}
    skipped = [t for t in out["tests"] if t["status"] == "not evaluated"]
    assert [t["rule_id"] for t in skipped] == ["Test.Unsupported"]


def test_conformance_fails_when_a_test_is_not_reproduced(repo, capsys):
    path = repo / "rules/test_rules/simple.yml"
    path.write_text(path.read_text().replace("Value: ConsoleLogin", "Value: GetObject"))
    assert main(["conformance", "--path", str(repo)]) == 1
    assert "| failed |" in capsys.readouterr().out


def test_replay_runs_the_repository_given_by_path_from_another_directory(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "copy"
    for name in PACK_FOLDERS:
        shutil.copytree(REPO / name, copy / name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    scenario = str(REPO / "scenarios" / "blog_incident")
    assert main(["replay", scenario, "--path", str(copy), "--format", "json"]) == 0
    from_copy = json.loads(capsys.readouterr().out)
    monkeypatch.chdir(REPO)
    assert main(["replay", scenario, "--format", "json"]) == 0  # default: the current directory
    from_repo = json.loads(capsys.readouterr().out)
    assert from_copy["alerts"] == from_repo["alerts"]
    assert from_copy["alerts"]
    assert from_copy["not_evaluated"] == {}


@pytest.mark.parametrize("command", [["replay", "scenarios/blog_incident"], ["conformance"]])
def test_path_that_holds_no_detections_is_one_error_line(tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(REPO)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*command, "--path", str(empty)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no " in err[0]
    assert main([*command, "--path", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_review_of_a_repository_with_simple_detections_and_unrunnable_items(repo, capsys):
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "detections")
    path = repo / "rules/test_rules/simple.yml"
    path.write_text(path.read_text().replace("Value: ConsoleLogin", "Value: GetObject"))
    code = main(["review", "--base", "main", "--path", str(repo), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [c["id"] for c in report["changes"]] == ["Test.Simple.RootLogin"]
    flipped = {t["test"] for t in report["behaviour"]["tests"] if t["rule_id"] == "Test.Simple.RootLogin"}
    assert flipped == {"root login"}  # the Simple Detection's test now fails
    assert set(report["not_evaluated"]) == {"Test.Unsupported", "Test.Broken.Import", "Test.Policy"}
