"""``tracebit-pack review``: scratch git repositories with a minimal pack, changed on a branch.

The pack is self-contained (one global helper, one rule on ``Tracebit.HealthCheck``, one saved
query, one pack file, one bundled scenario) so the tests do not move when the real pack does.
The scratch branch makes the three changes of the issue: one rule's severity changed, one
detection added, one test event broken; the report must show exactly those, and the verdicts
they alter.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from tracebit_pack.cli import main as cli
from tracebit_pack.review import checks
from tracebit_pack.review.render import escape, render_markdown
from tracebit_pack.review.report import build_report

REPO_ROOT = Path(__file__).resolve().parent.parent

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Review Test",
    "GIT_AUTHOR_EMAIL": "review@example.com",
    "GIT_COMMITTER_NAME": "Review Test",
    "GIT_COMMITTER_EMAIL": "review@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def hc(subtype: str, healthy: object, ts: str = "2025-06-03T14:30:00Z") -> dict:
    return {
        "discriminator": {"type": "health_check", "subtype": subtype},
        "timestamp": ts,
        "is_healthy": healthy,
    }


def unhealthy_rule(severity: str = "Medium", broken: bool = False) -> dict:
    first_log = hc("panther_integration", "no" if broken else False)
    return {
        "AnalysisType": "rule",
        "RuleID": "Mini.Unhealthy",
        "DisplayName": "Mini integration unhealthy",
        "Filename": "mini_unhealthy.py",
        "Enabled": True,
        "LogTypes": ["Tracebit.HealthCheck"],
        "Severity": severity,
        "Reports": {"MITRE ATT&CK": ["TA0005:T1562"]},
        "Tests": [
            {"Name": "unhealthy integration", "ExpectedResult": True, "Log": first_log},
            {"Name": "unhealthy other subtype", "ExpectedResult": True, "Log": hc("aws", False)},
            {"Name": "healthy", "ExpectedResult": False, "Log": hc("panther_integration", True)},
        ],
    }


UNHEALTHY_PY = """
import mini_helpers


def rule(event):
    return event.get("is_healthy") is False


def title(event):
    return f"Mini: {event.deep_get('discriminator', 'subtype')} unhealthy"


def dedup(event):
    return event.deep_get("discriminator", "subtype")


def alert_context(event):
    return mini_helpers.context(event)
"""

NEW_RULE = {
    "AnalysisType": "rule",
    "RuleID": "Mini.UnknownSubtype",
    "DisplayName": "Mini health check from an unknown integration",
    "Filename": "mini_unknown_subtype.py",
    "Enabled": True,
    "LogTypes": ["Tracebit.HealthCheck"],
    "Severity": "Low",
    "Reports": {"MITRE ATT&CK": ["TA0005:T1562.001"]},
    "Tests": [
        {"Name": "unknown subtype", "ExpectedResult": True, "Log": hc("gcp", True)},
        {"Name": "known subtype", "ExpectedResult": False, "Log": hc("aws", True)},
    ],
}

NEW_RULE_PY = """
KNOWN = {"panther_integration", "aws"}


def rule(event):
    return event.deep_get("discriminator", "subtype") not in KNOWN


def title(event):
    return f"Mini: health check from unknown integration {event.deep_get('discriminator', 'subtype')}"
"""

HELPERS_PY = """
def context(event):
    return {"subtype": event.deep_get("discriminator", "subtype"), "healthy": event.get("is_healthy")}
"""

QUERY = {
    "AnalysisType": "saved_query",
    "QueryName": "Mini.RecentHealthChecks",
    "Description": "Health checks of the last day",
    "Query": "SELECT * FROM panther_logs.public.tracebit_healthcheck WHERE p_occurs_since('1 day')",
}


def pack(ids: list[str]) -> dict:
    return {
        "AnalysisType": "pack",
        "PackID": "PK.Mini",
        "DisplayName": "Mini pack",
        "Description": "scratch pack for the review tests",
        "PackDefinition": {"IDs": ids},
    }


SCENARIO = [hc("panther_integration", False), hc("aws", True), hc("gcp", True), hc("aws", False)]
BASE_IDS = ["Mini.Unhealthy", "Mini.RecentHealthChecks", "mini_helpers"]


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    cmd = ["git", "-C", str(repo), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout


def write(root: Path, rel: str, content: object) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(textwrap.dedent(content).lstrip(), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")


def make_pack(root: Path) -> None:
    write(root, "global_helpers/mini_helpers.py", HELPERS_PY)
    write(
        root,
        "global_helpers/mini_helpers.yml",
        {"AnalysisType": "global", "GlobalID": "mini_helpers", "Filename": "mini_helpers.py"},
    )
    write(root, "rules/mini/mini_unhealthy.py", UNHEALTHY_PY)
    write(root, "rules/mini/mini_unhealthy.yml", unhealthy_rule())
    write(root, "queries/mini_recent.yml", QUERY)
    write(root, "packs/mini.yml", pack(BASE_IDS))
    lines = "".join(json.dumps(e) + "\n" for e in SCENARIO)
    write(root, "scenarios/mini/Tracebit.HealthCheck.jsonl", lines)


def new_repo(root: Path) -> Path:
    """A repository whose ``main`` holds the minimal pack, checked out on branch ``change``."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    make_pack(root)
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "minimal pack")
    git(root, "checkout", "-q", "-b", "change")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo")


def scratch_change(root: Path) -> None:
    """The issue's scratch branch: one severity changed, one detection added, one test broken."""
    write(root, "rules/mini/mini_unhealthy.yml", unhealthy_rule(severity="High", broken=True))
    write(root, "rules/mini/mini_unknown_subtype.py", NEW_RULE_PY)
    write(root, "rules/mini/mini_unknown_subtype.yml", NEW_RULE)
    write(root, "packs/mini.yml", pack([*BASE_IDS, "Mini.UnknownSubtype"]))


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def changed_report(tmp_path_factory) -> dict:
    """The report of the scratch branch, committed, against ``main`` (built once: it takes a second)."""
    repo = new_repo(tmp_path_factory.mktemp("scratch") / "repo")
    scratch_change(repo)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "scratch change")
    return build_report(repo, "main")


def test_structural_changes(changed_report: dict) -> None:
    changes = {(c["group"], c["id"]): c for c in changed_report["changes"]}
    assert set(changes) == {
        ("detection", "Mini.Unhealthy"),
        ("detection", "Mini.UnknownSubtype"),
        ("pack", "PK.Mini"),
    }
    changed = changes[("detection", "Mini.Unhealthy")]
    assert changed["status"] == "changed"
    assert changed["before"]["severity"] == "Medium" and changed["severity"] == "High"
    assert changed["mitre"] == ["TA0005:T1562"] and changed["tests"] == 3
    fields = {c["field"]: c for c in changed["changes"]}
    assert set(fields) == {"Severity", "Tests"}
    assert fields["Severity"]["summary"] == "Medium → High"
    assert "changed “unhealthy integration” (Log)" in fields["Tests"]["summary"]

    added = changes[("detection", "Mini.UnknownSubtype")]
    assert (added["status"], added["severity"], added["tests"]) == ("added", "Low", 2)
    assert added["mitre"] == ["TA0005:T1562.001"]
    pack_change = changes[("pack", "PK.Mini")]["changes"]
    assert [c["summary"] for c in pack_change] == ["IDs: +Mini.UnknownSubtype"]


def test_behaviour_diff(changed_report: dict) -> None:
    tests = {(t["rule_id"], t["test"]): t for t in changed_report["behaviour"]["tests"]}
    assert set(tests) == {
        ("Mini.Unhealthy", "unhealthy integration"),
        ("Mini.Unhealthy", "unhealthy other subtype"),
        ("Mini.UnknownSubtype", "unknown subtype"),
        ("Mini.UnknownSubtype", "known subtype"),
    }
    broken = tests[("Mini.Unhealthy", "unhealthy integration")]
    assert broken["log_changed"] and broken["before"] == "match, pass"
    assert broken["after"] == "no match, FAIL"
    severity = tests[("Mini.Unhealthy", "unhealthy other subtype")]
    assert severity["changes"] == [{"field": "severity", "before": "MEDIUM", "after": "HIGH"}]
    assert tests[("Mini.UnknownSubtype", "unknown subtype")]["status"] == "added"
    assert tests[("Mini.UnknownSubtype", "unknown subtype")]["after"] == "match, pass"

    (scenario,) = changed_report["behaviour"]["scenarios"]
    assert scenario["scenario"] == "mini"
    alerts = {(a["rule_id"], a["dedup"]): a for a in scenario["alerts"]}
    assert set(alerts) == {
        ("Mini.Unhealthy", "panther_integration"),
        ("Mini.Unhealthy", "aws"),
        ("Mini.UnknownSubtype", "Mini: health check from unknown integration gcp"),
    }
    assert alerts[("Mini.Unhealthy", "aws")]["status"] == "changed"
    assert alerts[("Mini.Unhealthy", "aws")]["changes"] == [
        {"field": "severity", "before": "MEDIUM", "after": "HIGH"}
    ]
    appeared = alerts[("Mini.UnknownSubtype", "Mini: health check from unknown integration gcp")]
    assert appeared["status"] == "appears" and appeared["severity"] == "LOW"
    events = {(e["event"], e["rule_id"]): e["changes"] for e in scenario["events"]}
    assert events[("Tracebit.HealthCheck.jsonl:3", "Mini.UnknownSubtype")] == [
        {"field": "verdict", "before": "no match", "after": "match"}
    ]
    assert len(events) == 3  # two severity changes, one new match

    summary = changed_report["summary"]
    assert summary["alerts_appear"] == 1 and summary["alerts_disappear"] == 0
    assert summary["alerts_changed"] == 2


def test_needs_attention(changed_report: dict) -> None:
    touched = [(a["id"], a["reason"]) for a in changed_report["needs_attention"] if a["touched"]]
    reasons = "\n".join(reason for _, reason in touched)
    assert {item for item, _ in touched} == {"Mini.Unhealthy"}
    assert "test “unhealthy integration” fails: expected match, got no match" in reasons
    assert "test “unhealthy integration”: Log does not conform to Tracebit.HealthCheck: is_healthy" in reasons
    assert "alert severity changes (MEDIUM → HIGH): check the rule's severity reasoning" in reasons
    assert not [a for a in changed_report["needs_attention"] if not a["touched"]]


def test_markdown_and_json_output(repo: Path, capsys, tmp_path: Path) -> None:
    scratch_change(repo)  # uncommitted: head is the working tree
    code, out, err = run_cli(capsys, "review", "--base", "main", "--repo", str(repo))
    assert (code, err) == (0, "")
    assert "with uncommitted changes" in out
    changed = "| ✏️ changed | <code>Mini\\.Unhealthy</code> | Medium → **High** | TA0005\\:T1562 | 3 | yes |"
    assert changed in out
    assert "| ➕ added | <code>Mini\\.UnknownSubtype</code> | Low |" in out
    assert "| **appears** | <code>Mini\\.UnknownSubtype</code> |" in out
    assert "match, pass | no match, **FAIL** | Log edited" in out
    target = tmp_path / "report.json"
    argv = ["review", "--base", "main", "--repo", str(repo), "--format", "json"]
    code, out, err = run_cli(capsys, *argv, "--json-output", str(target))
    assert (code, err) == (0, "")
    report = json.loads(target.read_text())
    assert json.loads(out) == report
    assert report["head"]["uncommitted_changes"] is True
    assert report["base"]["merge_base"] is True


def test_no_change_and_removed_item(repo: Path) -> None:
    report = build_report(repo, "main")
    assert report["changes"] == [] and report["behaviour"] == {"tests": [], "scenarios": []}
    (repo / "queries/mini_recent.yml").unlink()
    report = build_report(repo, "main")
    assert [(c["status"], c["id"]) for c in report["changes"]] == [("removed", "Mini.RecentHealthChecks")]


def test_attention_rules(repo: Path) -> None:
    rule = unhealthy_rule()
    rule["Tests"] = [t for t in rule["Tests"] if t["ExpectedResult"]]
    rule["Enabled"] = False
    write(repo, "rules/mini/mini_unhealthy.yml", rule)
    query = dict(QUERY, Query="SELECT * FROM panther_logs.public.tracebit_healthcheck")
    write(repo, "queries/mini_recent.yml", query)
    report = build_report(repo, "main")
    reasons = {(a["id"], a["reason"]) for a in report["needs_attention"]}
    assert ("Mini.Unhealthy", "no negative test (ExpectedResult: false)") in reasons
    assert ("Mini.Unhealthy", "Enabled: false") in reasons
    assert (
        "Mini.RecentHealthChecks",
        "query has no time bound (no p_occurs_* macro, no p_event_time condition)",
    ) in reasons


def test_time_bound_patterns() -> None:
    bound = [
        "SELECT 1 FROM t WHERE p_occurs_since('1 day')",
        "SELECT 1 FROM t WHERE p_occurs_between('2024-01-01', '2024-01-02', t)",
        "SELECT 1 FROM t WHERE p_event_time >= DATEADD(day, -1, CURRENT_TIMESTAMP())",
        "SELECT 1 FROM t WHERE DATEADD(day, -1, now()) < t.p_event_time",
        "panther_logs.public.t | where p_event_time > time.ago(1d)",
    ]
    unbound = ["SELECT p_event_time FROM t", "SELECT 1 FROM t WHERE p_parse_time > '2024-01-01'"]
    assert all(checks.TIME_BOUND.search(q) for q in bound)
    assert not any(checks.TIME_BOUND.search(q) for q in unbound)


# --------------------------------------------------------------------------- bad input


def one_error_line(capsys, *argv: str) -> str:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_unknown_base_ref(repo: Path, capsys) -> None:
    line = one_error_line(capsys, "review", "--base", "no-such-branch", "--repo", str(repo))
    assert line.startswith("tracebit-pack: error: base ref 'no-such-branch' not found")


def test_repository_without_history(tmp_path: Path, capsys) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    make_pack(tmp_path)
    line = one_error_line(capsys, "review", "--base", "main", "--repo", str(tmp_path))
    assert "no commits yet" in line


def test_not_a_repository(tmp_path: Path, capsys) -> None:
    line = one_error_line(capsys, "review", "--base", "main", "--repo", str(tmp_path))
    assert "not inside a git repository" in line


def test_unparsable_yaml_in_working_tree(repo: Path, capsys) -> None:
    (repo / "rules/mini/mini_unhealthy.yml").write_text("RuleID: [unclosed\n", encoding="utf-8")
    line = one_error_line(capsys, "review", "--base", "main", "--repo", str(repo))
    assert line.startswith("tracebit-pack: error: rules/mini/mini_unhealthy.yml:")
    assert "invalid YAML" in line


def test_unparsable_yaml_in_base(repo: Path, capsys) -> None:
    (repo / "queries/mini_recent.yml").write_text("Query: 'unterminated\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "broken")
    git(repo, "checkout", "-q", "-b", "fix")
    write(repo, "queries/mini_recent.yml", QUERY)
    line = one_error_line(capsys, "review", "--base", "change", "--repo", str(repo), "--no-merge-base")
    assert line.startswith("tracebit-pack: error: change@")
    assert "queries/mini_recent.yml" in line and "invalid YAML" in line


def test_unparsable_scenario_line(repo: Path, capsys) -> None:
    with (repo / "scenarios/mini/Tracebit.HealthCheck.jsonl").open("a") as handle:
        handle.write("{not json\n")
    line = one_error_line(capsys, "review", "--base", "main", "--repo", str(repo))
    assert "scenarios/mini/Tracebit.HealthCheck.jsonl:5: malformed JSON" in line


def test_shallow_clone_fetches_base(repo: Path, tmp_path: Path) -> None:
    """CI checks out one commit of the PR branch: review fetches the base and the history it needs."""
    git(repo, "checkout", "-q", "main")
    write(repo, "README.md", "main moved on\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "main moves on")
    git(repo, "checkout", "-q", "change")
    scratch_change(repo)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "scratch change")
    write(repo, "docs.md", "one more commit on the branch\n")
    git(repo, "add", "docs.md")
    git(repo, "commit", "-q", "-m", "docs")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "change", f"file://{repo}", str(clone))
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    report = build_report(clone, "origin/main")
    assert report["base"]["merge_base"] is True
    assert report["base"]["commit"] == git(repo, "merge-base", "main", "change").strip()
    assert {c["id"] for c in report["changes"]} == {"Mini.Unhealthy", "Mini.UnknownSubtype", "PK.Mini"}


def test_severity_pinned_elsewhere_needs_attention(repo: Path) -> None:
    """A severity change that pinned expectations still record fails ``make test``: the review
    says so instead of "Nothing"."""
    pinned = {
        "RuleID": "Mini.Unhealthy",
        "Tests": {"unhealthy other subtype": {"alert": True, "severity": "MEDIUM"}},
    }
    write(repo, "tests/rule_expectations/Mini.Unhealthy.yml", pinned)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "pin the severity")
    write(repo, "rules/mini/mini_unhealthy.yml", unhealthy_rule(severity="High"))
    report = build_report(repo, "main")
    reasons = [a["reason"] for a in report["needs_attention"] if a["id"] == "Mini.Unhealthy"]
    assert "alert severity changes (MEDIUM → HIGH): check the rule's severity reasoning" in reasons
    assert (
        "test “unhealthy other subtype”: severity HIGH, but tests/rule_expectations/Mini.Unhealthy.yml "
        "pins MEDIUM: the pinned rule-output test fails until it is updated"
    ) in reasons
    assert "Nothing." not in render_markdown(report)


def test_header_names_the_tool_that_produced_it(changed_report: dict) -> None:
    tool = changed_report["tool"]
    assert tool["is_head"] is False and tool["root"] == str(REPO_ROOT)
    header = render_markdown(changed_report).split("\n")[2]
    assert f"Produced by the `tracebit-pack review` of <code>{escape(str(REPO_ROOT))}</code>" in header
    assert "base branch" not in header
    own = render_markdown({**changed_report, "tool": {"is_head": True, "root": "x", "commit": None}})
    assert "Produced by this working tree's own `tracebit-pack review` (the code under review)" in own
