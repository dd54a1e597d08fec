"""Every query in queries/ executed on the embedded DuckDB lake, with the rows it must return.

Fixture data: ``tests/fixtures/lake/<LogType>.jsonl`` (raw logs that conform to the schemas), a
version of the blog incident:
* sue.johnson@acme.com (assumed role Okta-OIDC-Engineer) reads 2 objects on 6 days of the 30 before
  the alert (plus one read older than 30 days), then 120 objects on Dec 13 08:00-15:56, then the canary
  object at 16:19:30; Tracebit alert ``alert-sue`` at 16:20 (two alert logs and a summary whose ARN is
  mixed-case). Okta: a failed reset_all on Dec 11, two Identity Engine deactivations (one reset-all)
  by the help desk on Dec 12, a password reset on Nov 1 (older than 30 days).
* etl-reader (IAM user): one GetObject a day for 30 days, 8 around its alert at 16:30: no surge.
* bob (Okta principal, mixed-case alternate_id): MFA reset 10 days before his alert at 16:40.
* carol (Okta principal): suspended factor at 09:00, alert at 10:00.
* hourly health checks until Dec 13 08:00.
* one CloudTrail event by an ARN full of quotes, backslashes, newline, ``|``, ``--``, ``;`` and unicode.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import pytest
from panther_core.enriched_event import PantherEvent

import tracebit_pivots as tp
from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.pack.items import items_of, load_items

REPO_ROOT = Path(__file__).resolve().parent.parent
LAKE_DIR = REPO_ROOT / "tests" / "fixtures" / "lake"
NOW = dt.datetime(2024, 12, 13, 17, 0, tzinfo=dt.UTC)
SUE_ARN = "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com"
ETL_ARN = "arn:aws:iam::693260565127:user/etl-reader"
SUE = "sue.johnson@acme.com"
HELPDESK = "helpdesk.agent@acme.com"
AROUND = "Tracebit.Pivot.PrincipalActivityAroundAlert"
HOSTILE_ARN = "arn:aws:sts::693260565127:assumed-role/x/o'brien\\\" --;|\n\u202e\u00e9' OR '1'='1"


@pytest.fixture(scope="module")
def lake():
    lake = lake_from_folder(LAKE_DIR)
    yield lake
    lake.close()


@pytest.fixture(scope="module")
def items():
    return {item.id: item for item in items_of(load_items(REPO_ROOT), "saved_query", "scheduled_query")}


def run(lake, items, name, now=NOW, params=None):
    return lake.run(items[name], now=now, params=params or {})


def scheduled_rule(query_name):
    for item in items_of(load_items(REPO_ROOT), "scheduled_rule"):
        if query_name in item.spec.get("ScheduledQueries", []):
            spec = importlib.util.spec_from_file_location(f"_sched_{item.path.stem}", item.body_path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise AssertionError(f"no scheduled rule for {query_name}")


def assert_rule_fires_on(query_name, rows):
    module = scheduled_rule(query_name)
    for row in rows:
        event = PantherEvent(row)
        assert module.rule(event) is True, row
        assert module.title(event)
        assert module.dedup(event)
        assert isinstance(module.alert_context(event), dict)


def pick(rows, *keys):
    return [tuple(row[k] for k in keys) for row in rows]


# ---------------------------------------------------------------------------------------------
# saved pivot queries (generated, example values of the blog incident)
# ---------------------------------------------------------------------------------------------


def test_principal_getobject_history(lake, items):
    rows = run(lake, items, "Tracebit.Pivot.PrincipalGetObjectHistory")
    baseline = [
        (f"2024-{day}", "acme-prod-data", 2, 2000, 2, 1)
        for day in ("11-15", "11-20", "11-25", "11-30", "12-05", "12-10")
    ]
    columns = ("event_day", "bucket", "requests", "bytes_out", "distinct_keys", "distinct_source_ips")
    assert pick(rows, *columns) == [
        *baseline,
        ("2024-12-13", "acme-prod-customer-exports", 1, 28441, 1, 1),
        ("2024-12-13", "acme-prod-data", 120, 6000000, 120, 2),
    ]


def test_principal_getobject_history_for_another_principal_via_the_params_cte(lake, items):
    rows = run(lake, items, "Tracebit.Pivot.PrincipalGetObjectHistory", params={"principal_arn": ETL_ARN})
    assert len(rows) == 30  # Nov 14 .. Dec 12 (Nov 13 12:00 is before the 30 days), then Dec 13
    assert {row["bucket"] for row in rows} == {"acme-etl"}
    assert pick(rows[-1:], "event_day", "requests", "distinct_keys") == [("2024-12-13", 8, 8)]
    assert all(row["requests"] == 1 for row in rows[:-1])


def test_identity_okta_mfa_resets(lake, items):
    rows = run(lake, items, "Tracebit.Pivot.IdentityOktaMFAResets")
    # okta-0004 and okta-0005 target "Sue.Johnson@acme.com": matched case-insensitively
    assert pick(rows, "uuid", "event_type", "performed_by", "outcome") == [
        ("okta-0003", "user.mfa.factor.reset_all", HELPDESK, "FAILURE"),
        ("okta-0004", "user.mfa.factor.deactivate", HELPDESK, "SUCCESS"),
        ("okta-0005", "user.mfa.factor.deactivate", HELPDESK, "SUCCESS"),
    ]
    assert rows[1]["outcome_reason"] == "User reset OKTA_VERIFY_PUSH factor"


def test_identity_okta_mfa_resets_user_in_second_target(lake, items):
    rows = run(lake, items, "Tracebit.Pivot.IdentityOktaMFAResets", params={"identity": "DAVE@acme.com"})
    assert pick(rows, "uuid", "event_type", "performed_by") == [
        ("okta-0007", "system.mfa.factor.deactivate", "admin@acme.com")
    ]


def test_principal_activity_around_alert(lake, items):
    rows = run(lake, items, "Tracebit.Pivot.PrincipalActivityAroundAlert")
    assert len(rows) == 43  # 40 surge reads from 13:20, ListBuckets, ListObjectsV2, the canary read
    assert rows[0]["event_time"] == "2024-12-13 13:20:00.000000"
    others = [(r["event_time"], r["event_name"]) for r in rows if r["event_name"] != "GetObject"]
    assert others == [
        ("2024-12-13 15:58:00.000000", "ListBuckets"),
        ("2024-12-13 16:18:00.000000", "ListObjectsV2"),
    ]
    assert rows[-1]["request_parameters"] == {
        "bucketName": "acme-prod-customer-exports",
        "key": "exports/customers.csv",
    }
    assert "GetCallerIdentity" not in {r["event_name"] for r in rows}  # 12:00 is outside +-3 h


def test_rendered_pivot_with_a_hostile_arn_finds_exactly_its_event(lake):
    """Escaping end to end: the value from the log, rendered by render_pivots, executed."""
    context = {"principal_arn": HOSTILE_ARN, "identities": [], "alert_time": "2024-12-13T16:00:00Z"}
    pivots = tp.render_pivots(context)
    rows = lake.run(pivots[AROUND]["sql"], now=NOW)
    assert pick(rows, "event_name", "source_ip") == [("ListBuckets", "192.0.2.66")]
    injection = dict(context, principal_arn="x' OR '1'='1")
    rows = lake.run(
        tp.render_pivots(injection)["Tracebit.Pivot.PrincipalActivityAroundAlert"]["sql"], now=NOW
    )
    assert rows == []


# ---------------------------------------------------------------------------------------------
# scheduled queries (+ the scheduled rule on their rows)
# ---------------------------------------------------------------------------------------------

MFA = "Tracebit.Query.CanaryPrincipalRecentMFAReset"
SURGE = "Tracebit.Query.CanaryPrincipalGetObjectSurge"
SILENT = "Tracebit.Query.IntegrationSilent"


def test_canary_principal_recent_mfa_reset(lake, items):
    rows = run(lake, items, MFA)
    # the latest reset first: the scheduled rule's title (from the first row) names it
    assert pick(rows, "alert_id", "identity", "reset_uuid", "reset_event_type", "reset_actor") == [
        (
            "alert-sue",
            SUE,
            "okta-0005",
            "user.mfa.factor.deactivate",
            HELPDESK,
        ),
        (
            "alert-sue",
            SUE,
            "okta-0004",
            "user.mfa.factor.deactivate",
            HELPDESK,
        ),
    ]
    assert rows[0]["alert_time"] == "2024-12-13 16:20:00.000000"
    assert rows[0]["principal_arn"] == SUE_ARN
    assert rows[0]["canary_name"] == "acme-prod-customer-exports"
    assert rows[0]["minutes_reset_to_alert"] == 1866
    assert_rule_fires_on(MFA, rows)


def test_recent_mfa_reset_okta_principal_and_window(lake, items):
    # carol: alert at 10:00, factor suspended at 09:00; only inside the 60-minute alert window
    assert pick(run(lake, items, MFA, now=dt.datetime(2024, 12, 13, 10, 30)), "alert_id", "identity") == [
        ("alert-carol", "carol@acme.com")
    ]
    # bob's reset is 10 days old: outside 7 days, inside 14 (mixed-case alternate_id lower-cased)
    rows = run(lake, items, MFA, params={"mfa_lookback_days": 14})
    assert ("alert-bob", "bob@acme.com", "okta-0002") in pick(rows, "alert_id", "identity", "reset_uuid")


def test_getobject_surge(lake, items):
    rows = run(lake, items, SURGE)
    assert pick(
        rows,
        "alert_id",
        "principal_arn",
        "window_requests",
        "window_bytes_out",
        "baseline_requests",
        "baseline_daily_avg",
    ) == [("alert-sue", SUE_ARN.replace("sue.johnson", "Sue.Johnson"), 121, 6028441, 12, 0.4)]
    # The fixture's alert logs send the ARN in two casings: they match as one principal
    # (case-insensitively) and the row reports one of the ARNs as sent, not a lower-cased copy.
    assert rows[0]["alert_time"] == "2024-12-13 16:20:00.000000"
    assert (rows[0]["surge_multiple"], rows[0]["min_requests"]) == (10, 100)
    assert_rule_fires_on(SURGE, rows)


def test_getobject_surge_thresholds_come_from_the_params_cte(lake, items):
    # etl-reader: 8 reads around its alert, baseline ~1/day: not above 10x even with a low minimum...
    rows = run(lake, items, SURGE, params={"min_requests": 5})
    assert [row["alert_id"] for row in rows] == ["alert-sue"]
    # ...but above 5x
    rows = run(lake, items, SURGE, params={"min_requests": 5, "surge_multiple": 5})
    assert pick(rows, "alert_id", "window_requests", "baseline_daily_avg") == [
        ("alert-etl", 8, 0.97),  # 29 daily reads in the 30 days before the 48 h window
        ("alert-sue", 121, 0.4),
    ]
    # the minimum count keeps a near-zero baseline from alerting on a handful of reads
    assert run(lake, items, SURGE, params={"min_requests": 200}) == []


def test_integration_silent(lake, items):
    rows = run(lake, items, SILENT)
    assert pick(rows, "last_health_check", "health_checks_30d", "hours_silent", "max_silence_hours") == [
        ("2024-12-13 08:00:00.000000", 33, 9.0, 6)
    ]
    assert_rule_fires_on(SILENT, rows)
    assert run(lake, items, SILENT, now=dt.datetime(2024, 12, 13, 9, 0)) == []
    assert run(lake, items, SILENT, params={"max_silence_hours": 12}) == []


def test_integration_silent_with_no_health_check_at_all(tmp_path, items):
    empty = lake_from_folder(tmp_path)
    try:
        rows = empty.run(items[SILENT], now=NOW)
    finally:
        empty.close()
    assert pick(rows, "last_health_check", "health_checks_30d", "hours_silent") == [(None, 0, None)]
    assert_rule_fires_on(SILENT, rows)


def test_every_tracebit_query_is_executed_here(items):
    """A new query in queries/ must get an execution test in this file (and be added here)."""
    covered = {
        "Tracebit.Pivot.PrincipalGetObjectHistory",
        "Tracebit.Pivot.IdentityOktaMFAResets",
        "Tracebit.Pivot.PrincipalActivityAroundAlert",
        MFA,
        SURGE,
        SILENT,
        # executed in test_aws_mfa_queries.py
        "Tracebit.Pivot.PrincipalAWSCredentialChanges",
        "Tracebit.Query.CanaryPrincipalRecentAWSMFATampering",
        # executed in test_audit_log_type.py and test_audit_replay.py
        "Tracebit.Pivot.PackChangesBeforeAlert",
        # executed in test_canary_credentials.py
        "Tracebit.Pivot.SourceIPCloudTrailActivity",
        "Tracebit.Pivot.SourceIPOktaActivity",
        "Tracebit.Query.CanaryCredentialSourceIPActivity",
    }
    assert {name for name in items if name.startswith("Tracebit.")} == covered
