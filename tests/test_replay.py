"""End to end: the bundled scenarios through the real pack, and the replay command's bad input."""

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tracebit_pack.cli import replay as replay_cli
from tracebit_pack.cli.main import main
from tracebit_pack.replay import replay
from tracebit_pack.report.terminal import render_text

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "scenarios"


@pytest.fixture(scope="module")
def blog():
    return replay(SCENARIOS / "blog_incident")


def expected(name):
    return yaml.safe_load((SCENARIOS / name / "expected.yml").read_text())


def test_blog_incident_raises_exactly_the_expected_alerts(blog):
    spec = expected("blog_incident")
    assert blog.alert_counts() == spec["alerts"]
    assert blog.page_counts() == spec["pages"]  # one incident: each distinct fact pages once
    severities = {a.rule_id: a.severity for a in blog.alerts}
    for rule_id, severity in spec["severity"].items():
        assert severities[rule_id] == severity, rule_id
    assert blog.rule_errors == {}


def test_blog_incident_alert_details(blog):
    alerts = {a.rule_id: a for a in blog.alerts}
    canary = alerts["Tracebit.CanaryResourceAccessed"]
    assert canary.event_count == 5  # five alert logs of one alert_id, one alert
    assert canary.dedup == "01JF2K7Q3V8M5X4N9T6R2B1C0D"
    assert "sue.johnson@acme.com" in canary.alert_context["identities"]
    assert canary.alert_context["recent_mfa_reset"]  # escalated through the in-memory KV cache
    assert canary.alert_context["mfa_correlation_identities"] == []  # paged: the correlation stays quiet
    summary = alerts["Tracebit.AlertSummary.NotBenign"]
    assert not summary.pages and summary.destinations == ["SKIP"]
    assert "already raised" in summary.alert_context["no_page_reason"]
    scheduled = alerts["Tracebit.CanaryPrincipalRecentMFAReset"]
    assert not scheduled.pages and "real-time escalation" in scheduled.alert_context["no_page_reason"]
    surge = alerts["Tracebit.CanaryPrincipalGetObjectSurge"]
    assert surge.alert_context["window_requests"] >= 100
    assert blog.now.isoformat() == "2024-12-13T17:00:00+00:00"


def test_blog_incident_pivots_for_the_principal(blog):
    pivots = {p.query: p for p in blog.pivots}
    assert set(pivots) == {
        "Tracebit.Pivot.PrincipalGetObjectHistory",
        "Tracebit.Pivot.IdentityOktaMFAResets",
        "Tracebit.Pivot.PrincipalActivityAroundAlert",
        "Tracebit.Pivot.PrincipalAWSCredentialChanges",
    }
    assert pivots["Tracebit.Pivot.PrincipalAWSCredentialChanges"].rows == []  # Okta-only takeover
    resets = pivots["Tracebit.Pivot.IdentityOktaMFAResets"]
    assert resets.parameters["identity"] == "sue.johnson@acme.com"
    assert [r["event_type"] for r in resets.rows].count("user.mfa.factor.deactivate") == 3
    history = pivots["Tracebit.Pivot.PrincipalGetObjectHistory"]
    assert max(r["requests"] for r in history.rows) >= 80  # the surge day stands out
    assert all(p.error is None for p in blog.pivots)


def test_aws_mfa_tampering_raises_exactly_the_expected_alerts():
    """The IAM user whose MFA another principal removed, then a canary: Critical on every path."""
    report = replay(SCENARIOS / "aws_mfa_tampering")
    spec = expected("aws_mfa_tampering")
    assert report.alert_counts() == spec["alerts"]
    assert report.page_counts() == spec["pages"]
    assert report.rule_errors == {}
    alerts = {a.rule_id: a for a in report.alerts}
    for rule_id, severity in spec["severity"].items():
        assert alerts[rule_id].severity == severity, rule_id
    canary = alerts["Tracebit.CanaryResourceAccessed"]
    record = canary.alert_context["recent_mfa_reset"]
    assert (record["source"], record["identity"]) == ("AWS", "j.chen")
    assert record["event_type"] in {"DeactivateMFADevice", "DeleteVirtualMFADevice", "UpdateLoginProfile"}
    assert record["actor"] == "arn:aws:iam::693260565127:user/ci-deployer"
    assert "j.chen" in canary.title
    scheduled = alerts["Tracebit.CanaryPrincipalRecentAWSMFATampering"]
    assert scheduled.alert_context["cloudtrail_event"]["actor"] == record["actor"]
    pivots = {p.query: p for p in report.pivots}
    changes = pivots["Tracebit.Pivot.PrincipalAWSCredentialChanges"].rows
    assert [(r["event_name"], r["performed_by"]) for r in changes] == [
        ("DeactivateMFADevice", "arn:aws:iam::693260565127:user/ci-deployer"),
        ("DeleteVirtualMFADevice", "arn:aws:iam::693260565127:user/ci-deployer"),
        ("UpdateLoginProfile", "arn:aws:iam::693260565127:user/ci-deployer"),
    ]


def test_benign_baseline_raises_nothing():
    report = replay(SCENARIOS / "benign_baseline")
    assert report.alert_counts() == (expected("benign_baseline")["alerts"] or {})
    assert report.alerts == [] and report.rule_errors == {}


def test_now_override_runs_the_schedule_up_to_it():
    # a week later: the surge was raised when it happened, and the silence since is raised too
    report = replay(SCENARIOS / "blog_incident", now=None)
    later = replay(SCENARIOS / "blog_incident", now=report.now.replace(day=20))
    surge = [a for a in later.alerts if a.rule_id == "Tracebit.CanaryPrincipalGetObjectSurge"]
    assert [a.created_at.isoformat() for a in surge] == ["2024-12-13T17:00:00+00:00"]
    silent = [a for a in later.alerts if a.rule_id == "Tracebit.IntegrationSilent"]
    assert silent and silent[0].created_at.isoformat() == "2024-12-14T00:00:00+00:00"  # over 6 h after 17:00


def test_json_format(capsys):
    assert main(["replay", str(SCENARIOS / "blog_incident"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"alerts", "pivots", "now", "events"} <= set(data)
    alert = data["alerts"][0]
    assert set(alert) == {
        "rule_id",
        "severity",
        "pages",
        "title",
        "dedup",
        "alert_context",
        "event_count",
        "first_event_time",
        "last_event_time",
        "created_at",
        "detection_delay_seconds",
    }
    assert {"query", "parameters", "rows"} <= set(data["pivots"][0])


def test_text_format(capsys):
    assert main(["replay", str(SCENARIOS / "benign_baseline")]) == 0
    out = capsys.readouterr().out
    assert "0 alert(s)" in out and "replayed 499 events" in out
    assert "too few events for a rate (fewer than 500)" in out  # 499: start-up, not throughput
    assert main(["replay", str(SCENARIOS / "blog_incident")]) == 0
    # 693 events, of which the rules' InlineFilters let 10 reach Python (the 5 alert logs, the
    # summary, the 4 Okta MFA resets; every health check is healthy): too few for a rate too
    assert "real-time rules: 10 events in " in capsys.readouterr().out


def copy_scenario(tmp_path):
    target = tmp_path / "scenario"
    shutil.copytree(SCENARIOS / "benign_baseline", target)
    return target


def run_bad(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""  # nothing half-written
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tracebit-pack: error: ")
    return lines[0]


def test_missing_folder(capsys, tmp_path):
    assert "not found" in run_bad(capsys, ["replay", str(tmp_path / "nope")])


def test_malformed_jsonl_names_file_and_line(capsys, tmp_path):
    folder = copy_scenario(tmp_path)
    path = folder / "Okta.SystemLog.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:-5]
    path.write_text("\n".join(lines) + "\n")
    assert "Okta.SystemLog.jsonl:3" in run_bad(capsys, ["replay", str(folder), "--strict"])
    # without --strict the line is skipped, counted and the rest replays
    assert main(["replay", str(folder), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["skipped"]["total"] == 1
    assert data["skipped"]["reasons"]["malformed JSON"]["examples"] == [f"{path}:3"]
    assert data["events_by_log_type"]["Okta.SystemLog"] == len(lines) - 1


def test_unknown_log_type(capsys, tmp_path):
    folder = copy_scenario(tmp_path)
    (folder / "Custom.Thing.jsonl").write_text("{}\n")
    assert "unknown log type" in run_bad(capsys, ["replay", str(folder)])


def test_schema_violation_and_empty_folder(capsys, tmp_path):
    folder = copy_scenario(tmp_path)
    (folder / "Tracebit.HealthCheck.jsonl").write_text('{"timestamp": "2025-03-02T23:00:00Z"}\n')
    assert "Tracebit.HealthCheck.jsonl:1" in run_bad(capsys, ["replay", str(folder), "--strict"])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no <LogType>.jsonl" in run_bad(capsys, ["replay", str(empty)])


def test_bad_now(capsys):
    assert "--now" in run_bad(capsys, ["replay", str(SCENARIOS / "benign_baseline"), "--now", "yesterday"])
    # the same --now rule as `query run`: a time without a timezone is refused, not read as UTC
    no_zone = ["replay", str(SCENARIOS / "benign_baseline"), "--now", "2025-03-02 23:00:00"]
    assert "has no timezone" in run_bad(capsys, no_zone)


def test_progress_bar_on_a_terminal(capsys, tmp_path, monkeypatch):
    folder = tmp_path / "long"
    folder.mkdir()
    checks = [
        {
            "discriminator": {"type": "health_check", "subtype": "panther"},
            "timestamp": f"2025-03-0{1 + n // 1440}T{(n // 60) % 24:02d}:{n % 60:02d}:00Z",
            "is_healthy": False,  # unhealthy: a healthy check never reaches Python (InlineFilters)
        }
        for n in range(2100)
    ]
    (folder / "Tracebit.HealthCheck.jsonl").write_text("".join(json.dumps(c) + "\n" for c in checks))
    assert main(["replay", str(folder)]) == 0
    assert capsys.readouterr().err == ""  # stderr is not a terminal: no bar
    monkeypatch.setattr(replay_cli, "PROGRESS_DELAY_SECONDS", 0)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["replay", str(folder)]) == 0
    captured = capsys.readouterr()
    assert "replay: load: 2.10k events" in captured.err and "/2.10k" in captured.err
    # one outage of the one integration over two days, deduplicated per day: two alerts
    assert "2 alert(s)" in captured.out


def test_empty_folder_says_so_instead_of_alerting_at_wall_clock_time(capsys, tmp_path):
    (tmp_path / "Tracebit.Alert.jsonl").write_text("")
    (tmp_path / "AWS.CloudTrail.jsonl").write_text("\n")
    assert "no events: nothing to replay" in run_bad(capsys, ["replay", str(tmp_path)])


def test_tiny_folder_says_so_and_skips_queries_without_data(capsys, tmp_path):
    lines = (SCENARIOS / "blog_incident" / "Tracebit.Alert.jsonl").read_text().splitlines()
    (tmp_path / "Tracebit.Alert.jsonl").write_text(lines[0] + "\n")
    report = replay(tmp_path)
    assert "Tracebit.IntegrationSilent" not in report.alert_counts()  # no health-check data, no verdict
    assert "Tracebit.Query.IntegrationSilent" in report.skipped_queries
    assert report.now.isoformat().startswith("2024-12-13T16:11")  # the folder's time, not the clock
    assert main(["replay", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "note: only 1 event(s) over 0.0 h" in out
    assert (
        "note: Tracebit.Query.IntegrationSilent not run: the folder has no Tracebit.HealthCheck events" in out
    )
    assert "events/s" not in out and "too few events for a rate" in out


def test_report_text_is_never_cut_mid_value_and_times_say_utc(blog):
    text = render_text(blog)
    assert "…" not in "\n".join(
        line for line in text.splitlines() if "MFA reset:" in line or "for alerts:" in line
    )
    assert "recent MFA reset: Okta user.account.reset_password for sue.johnson@acme.com at " in text
    assert "by helpdesk.agent@acme.com" in text
    assert "for alerts: [1] Tracebit.CanaryResourceAccessed, [3]" in text
    pivot_rows = [line for line in text.splitlines() if line.startswith("  2024-")]
    # a time says UTC (Z); a day (the GetObject history's event_day, a DATE) is a plain date
    firsts = [line[2:].split(" ", 1)[0] for line in pivot_rows]
    assert pivot_rows and all(first.endswith("Z") or len(first) == 10 for first in firsts)
    assert any(first.endswith("Z") for first in firsts)
    # the +-3 h activity pivot shows the rows around the alert, down to the canary access
    around = text.split("Tracebit.Pivot.PrincipalActivityAroundAlert", 1)[1].split("\n\n", 1)[0]
    assert "earlier row(s)" in around and "ListObjects" in around
    # one wording for the same reset everywhere: "after Okta <event>"
    assert "after an Okta" not in text
    assert text.count("after Okta user.account.reset_password") == 3


def test_a_file_instead_of_a_folder_says_what_replay_wants(capsys):
    err = run_bad(capsys, ["replay", str(SCENARIOS / "blog_incident" / "AWS.CloudTrail.jsonl")])
    assert (
        "is a file; pass the folder that holds it" in err and "log type is read from each file's name" in err
    )
