"""A backtest runs time forward: every scheduled query and correlation rule at each of its run
times, on the data that had arrived by then; alerts carry ``created_at`` and their delay."""

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tracebit_pack.cli.main import main
from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.logs.arrival import Arrival
from tracebit_pack.replay import replay

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
BLOG = SCENARIOS / "blog_incident"
MONTH = SCENARIOS / "month_backtest"
RECENT_MFA = "Tracebit.CanaryPrincipalRecentMFAReset"


def created(report, rule_id):
    return [a for a in report.alerts if a.rule_id == rule_id]


@pytest.fixture(scope="module")
def month():
    return replay(MONTH)


def test_month_raises_each_expected_alert_on_its_day(month):
    spec = yaml.safe_load((MONTH / "expected.yml").read_text())
    want = sorted((a["rule_id"], str(a["created"]), a["severity"]) for a in spec["alerts"])
    got = sorted((a.rule_id, a.created_at.strftime("%Y-%m-%d"), a.severity) for a in month.alerts)
    assert got == want
    assert month.rule_errors == {} and month.skipped.total == 0
    by_day = month.alerts_by_rule_day()
    assert by_day["Tracebit.IntegrationSilent"] == {"2025-03-18": 1}  # the gap, mid-month
    assert by_day["Tracebit.CanaryResourceAccessed"] == {"2025-03-12": 1, "2025-03-24": 1}


def test_month_reports_runs_rows_and_delays(month):
    queries = {q.query: q for q in month.scheduled_queries.values()}
    hourly = queries["Tracebit.Query.IntegrationSilent"]
    assert hourly.runs == 720  # every hour of March 1-30, up to the run after the last arrival
    assert hourly.rows == 3  # 08:00, 09:00, 10:00 on the 18th: one alert (dedup over 12 hours)
    assert queries["Tracebit.Query.CanaryPrincipalRecentMFAReset"].runs > 1300
    assert set(month.correlation_runs.values()) == {720}
    data = json.loads(json.dumps(month.to_json(), default=str))
    # The MFA fact of the 24th pages once, on time: the half-hourly scheduled rule's run after the
    # canary alert; the hourly correlation at 03:00 finds it raised (its Absence item) and is silent.
    mfa_rule = "Tracebit.CanaryPrincipalRecentAWSMFATampering"
    mfa = next(a for a in data["alerts"] if a["rule_id"] == mfa_rule)
    assert (mfa["created_at"], mfa["severity"], mfa["pages"]) == (
        "2025-03-24T02:30:00.000Z",
        "CRITICAL",
        True,
    )
    assert not [a for a in data["alerts"] if a["rule_id"].startswith("Tracebit.Correlation.")]
    assert {q["query"]: q["runs"] for q in data["scheduled_queries"]}[
        "Tracebit.Query.IntegrationSilent"
    ] == 720


def test_month_cloudtrail_objects_arrive_at_their_delivery_time():
    lake = lake_from_folder(MONTH, strict=False)
    try:
        late, early = lake.connection.execute(
            "SELECT max(p_parse_time - p_event_time), min(p_parse_time - p_event_time) "
            "FROM panther_logs.public.aws_cloudtrail"
        ).fetchone()
    finally:
        lake.close()
    hours = yaml.safe_load((MONTH / "expected.yml").read_text())["late_cloudtrail_object_hours"]
    assert late >= timedelta(hours=hours) and early >= timedelta(minutes=5)


def test_blog_incident_then_ten_days_of_healthy_checks_raises_the_same_alerts(tmp_path):
    folder = tmp_path / "blog_then_quiet"
    shutil.copytree(BLOG, folder)
    checks = folder / "Tracebit.HealthCheck.jsonl"
    start = datetime(2024, 12, 13, 18, tzinfo=UTC)
    extra = [
        {
            "discriminator": {"type": "health_check", "subtype": "panther"},
            "is_healthy": True,
            "timestamp": (start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for h in range(24 * 10)
    ]
    with checks.open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(e) + "\n" for e in extra)
    report = replay(folder)
    spec = yaml.safe_load((BLOG / "expected.yml").read_text())
    assert report.alert_counts() == spec["alerts"]
    assert all(a.created_at.strftime("%Y-%m-%d") == "2024-12-13" for a in report.alerts)
    assert report.now == datetime(2024, 12, 23, 17, tzinfo=UTC)
    assert len({a.created_at for a in report.alerts}) >= 4  # each its own moment


@pytest.mark.parametrize("late", [20, 90])
def test_a_late_alert_log_is_found_exactly_once(late):
    """An alert log arriving ``late`` minutes after it happened: the 30-minute MFA query selects
    alerts by arrival with a 60-minute window, so two runs see it and its rule makes one alert.
    (Selected by event time, the 90-minute-late one fell between runs.)"""
    delay = timedelta(minutes=late)
    arrival = Arrival({"Tracebit.Alert": delay, "Tracebit.AlertSummary": delay})
    report = replay(BLOG, now=datetime(2024, 12, 13, 20, tzinfo=UTC), arrival=arrival)
    found = created(report, RECENT_MFA)
    assert len(found) == 1
    arrived = datetime(2024, 12, 13, 16, 11, 20, tzinfo=UTC) + timedelta(minutes=late)
    assert arrived <= found[0].created_at <= arrived + timedelta(minutes=30)
    mfa = report.scheduled_queries["Tracebit.Query.CanaryPrincipalRecentMFAReset"]
    assert mfa.runs_with_rows == 2  # the overlap: the run after the arrival and the next one
    # most runs have no alert log in their window: answered without running, and counted
    assert mfa.runs_with_rows <= mfa.runs - mfa.runs_proven_empty
    assert 0 < mfa.runs_proven_empty < mfa.runs


def test_real_time_rules_see_events_in_arrival_order():
    """The Okta reset happened the evening before the canary alert but arrives a day late: the
    KV cache is written after the Tracebit rule ran, so no escalation; the correlation rule finds
    the pair at its first run after the reset arrived."""
    report = replay(BLOG, arrival=Arrival({"Okta.SystemLog": timedelta(days=1)}))
    canary = created(report, "Tracebit.CanaryResourceAccessed")[0]
    assert canary.severity == "HIGH" and "recent_mfa_reset" not in canary.alert_context
    correlation = created(report, "Tracebit.Correlation.OktaMFAReset.CanaryResourceAccessed")[0]
    assert correlation.created_at == datetime(2024, 12, 13, 23, tzinfo=UTC)


def test_a_scheduled_run_sees_only_what_had_arrived(tmp_path):
    """Health checks exported from Panther: those of 06:00-12:00 were parsed at 13:00. The 12:00
    run sees none after 05:00, so the integration looks silent; their own p_parse_time is used."""
    lines = []
    for hour in range(13):
        when = f"2024-12-13 {hour:02d}:00:00.000000000"
        parsed = when if hour < 6 else "2024-12-13 13:00:00.000000000"
        lines.append(
            {
                "discriminator": {"type": "health_check", "subtype": "panther"},
                "timestamp": when,
                "is_healthy": True,
                "p_log_type": "Tracebit.HealthCheck",
                "p_event_time": when,
                "p_parse_time": parsed,
            }
        )
    folder = tmp_path / "exported"
    folder.mkdir()
    (folder / "Tracebit.HealthCheck.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    report = replay(folder)
    silent = created(report, "Tracebit.IntegrationSilent")
    assert [a.created_at for a in silent] == [datetime(2024, 12, 13, 12, tzinfo=UTC)]
    assert silent[0].alert_context.get("last_health_check", "").startswith("2024-12-13 05:00")


def test_json_and_text_reports_give_created_at_and_delay(capsys):
    assert main(["replay", str(BLOG), "--format", "json", "--arrival-delay", "Tracebit.Alert=2m"]) == 0
    data = json.loads(capsys.readouterr().out)
    canary = next(a for a in data["alerts"] if a["rule_id"] == "Tracebit.CanaryResourceAccessed")
    assert canary["created_at"] == "2024-12-13T16:13:20.000Z" and canary["detection_delay_seconds"] == 120
    assert data["arrival"]["Tracebit.Alert"].endswith("event time + 120s")
    assert main(["replay", str(BLOG)]) == 0
    out = capsys.readouterr().out
    assert "created: 2024-12-13T16:11:20Z  detection delay: 0s" in out
    assert "Tracebit.Query.CanaryPrincipalRecentMFAReset: " in out and " run(s), 8 row(s)" in out
    assert main(["replay", str(BLOG), "--arrival-delay", "Okta=1h"]) == 2
    assert "--arrival-delay" in capsys.readouterr().err
