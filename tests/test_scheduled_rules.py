"""Scheduled rules on the rows of their scheduled queries: guards, boundaries, titles and context.

Rows come from SQL: a count can be null or arrive as a string, a column can be missing. Each rule
must then stay quiet (or say plainly what it knows), never fire on "None/day".
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tracebit_pack.engine.rules import PackEngine

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEDULED = REPO_ROOT / "rules" / "tracebit_scheduled_rules"
SURGE = "Tracebit.CanaryPrincipalGetObjectSurge"
MFA = "Tracebit.CanaryPrincipalRecentMFAReset"
SILENT = "Tracebit.IntegrationSilent"
MISSING = object()


@pytest.fixture(scope="module")
def engine() -> PackEngine:
    return PackEngine.load(REPO_ROOT)


def yaml_row(file: str, name: str) -> dict:
    spec = yaml.safe_load((SCHEDULED / file).read_text(encoding="utf-8"))
    return copy.deepcopy(next(test["Log"] for test in spec["Tests"] if test["Name"] == name))


SURGE_ROW = yaml_row(
    "tracebit_canary_principal_getobject_surge.yml",
    "High: 240 GetObject in 24 h by sue.johnson@acme.com's role, peaking 2 h before the alert, vs 2/day",
)
MFA_ROW = yaml_row(
    "tracebit_canary_principal_recent_mfa_reset.yml",
    "Canary alert after a help-desk MFA reset of the same identity",
)
SILENT_ROW = yaml_row("tracebit_integration_silent.yml", "Last health check 9 hours ago")


def with_(row: dict, **changes) -> dict:
    out = dict(row)
    for key, value in changes.items():
        if value is MISSING:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def run(engine: PackEngine, rule_id: str, row: dict):
    (result,) = engine.run_scheduled(rule_id, [row])
    assert result.error is None, result.error
    return result


# --- GetObject surge -------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["window_requests", "baseline_daily_avg", "surge_multiple", "min_requests"])
@pytest.mark.parametrize("value", [MISSING, None, "", "many", "NaN", [], {}, True])
def test_surge_needs_every_number(engine, key, value):
    assert run(engine, SURGE, with_(SURGE_ROW, **{key: value})).matched is False


@pytest.mark.parametrize("value", [MISSING, None, "", 7, ["arn:aws:iam::1:user/x"], {}])
def test_surge_needs_a_principal_arn_string(engine, value):
    # a non-string ARN would otherwise fire as "Tracebit canary principal None: ..."
    assert run(engine, SURGE, with_(SURGE_ROW, principal_arn=value)).matched is False


def test_surge_reads_numbers_sent_as_strings(engine):
    row = with_(SURGE_ROW, window_requests="240", baseline_daily_avg="2.0", surge_multiple="10")
    result = run(engine, SURGE, row)
    assert result.matched and "240 S3 GetObject" in result.title


def test_surge_thresholds_at_their_boundaries(engine):
    # at least min_requests, and strictly more than surge_multiple x the daily baseline
    base = with_(SURGE_ROW, min_requests=100, surge_multiple=10, baseline_daily_avg=10.0)
    assert run(engine, SURGE, with_(base, window_requests=101)).matched is True
    assert run(engine, SURGE, with_(base, window_requests=100)).matched is False  # == 10 x 10
    low = with_(base, baseline_daily_avg=1.0)
    assert run(engine, SURGE, with_(low, window_requests=100)).matched is True  # == min_requests
    assert run(engine, SURGE, with_(low, window_requests=99)).matched is False


def test_surge_output(engine):
    result = run(engine, SURGE, SURGE_ROW)
    arn = SURGE_ROW["principal_arn"]
    assert result.title == (
        f"Tracebit canary principal {arn}: 240 S3 GetObject in 24 h, peaking 2 h before the alert, "
        "vs 2.0/day baseline"
    )
    assert result.dedup == f"{SURGE_ROW['alert_id']}:{arn}"
    assert result.alert_context["principal_arns"] == [arn]
    assert result.alert_context["window_bytes_out"] == 73400320


def test_surge_context_without_a_principal(engine):
    module = engine.rule(SURGE).rule.module
    context = module.alert_context(with_(SURGE_ROW, principal_arn=None))
    assert context["principal_arns"] == [] and context["principal_arn"] is None


# --- recent MFA reset ------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["alert_id", "identity", "reset_event_type"])
@pytest.mark.parametrize("value", [MISSING, None, "", 7])
def test_mfa_reset_needs_both_sides(engine, key, value):
    assert run(engine, MFA, with_(MFA_ROW, **{key: value})).matched is False


def test_mfa_reset_output(engine):
    result = run(engine, MFA, MFA_ROW)
    assert result.severity == "CRITICAL"
    assert result.dedup == "7c1e2a44-6a51-4f0b-9d1e-2a8b6c1d0e01:sue.johnson@acme.com"
    assert result.alert_context["identities"] == ["sue.johnson@acme.com"]
    assert result.alert_context["okta_reset"]["actor"] == "helpdesk.agent@acme.com"
    assert result.alert_context["minutes_reset_to_alert"] == 1866
    no_actor = run(engine, MFA, with_(MFA_ROW, reset_actor=None))
    assert no_actor.title.endswith("by an unknown actor")


def test_mfa_reset_reference_is_the_portal_only_over_https(engine):
    module = engine.rule(MFA).rule.module
    assert module.reference(MFA_ROW) == "https://acme.tracebit.com/alerts/7c1e2a44"
    assert (
        module.reference(with_(MFA_ROW, tracebit_portal_url="javascript:alert(1)")) == "https://tracebit.com"
    )
    assert module.reference(with_(MFA_ROW, tracebit_portal_url=None)) == "https://tracebit.com"
    assert module.alert_context(with_(MFA_ROW, identity=None))["identities"] == []


# --- integration silent ----------------------------------------------------------------------


def test_silent_needs_a_threshold(engine):
    for value in (MISSING, None, "six"):
        assert run(engine, SILENT, with_(SILENT_ROW, max_silence_hours=value)).matched is False
        none_in_30_days = with_(SILENT_ROW, last_health_check=None, max_silence_hours=value)
        assert run(engine, SILENT, none_in_30_days).matched is False


def test_silent_threshold_boundary_and_unknown_hours(engine):
    assert run(engine, SILENT, with_(SILENT_ROW, hours_silent=6)).matched is True  # == threshold
    assert run(engine, SILENT, with_(SILENT_ROW, hours_silent=5.9)).matched is False
    assert run(engine, SILENT, with_(SILENT_ROW, hours_silent=None)).matched is False


def test_silent_titles_say_whether_a_health_check_was_seen(engine):
    seen = run(engine, SILENT, SILENT_ROW)
    assert seen.title == "Tracebit integration silent: last health check 2024-12-13 07:00:00.000 (9.0 h ago)"
    assert seen.alert_context["health_checks_30d"] == 2880
    never = run(engine, SILENT, with_(SILENT_ROW, last_health_check=None, health_checks_30d=0))
    assert never.title == "Tracebit integration silent: no health check received in 30 days"
    assert never.alert_context["health_checks_30d"] == 0
    assert never.dedup == seen.dedup == "tracebit-integration-silent"


def test_surge_title_without_a_count_says_zero(engine):
    module = engine.rule(SURGE).rule.module
    assert "principal arn:aws:" in module.title(with_(SURGE_ROW, window_requests=None))
    assert ": 0 S3 GetObject" in module.title(with_(SURGE_ROW, window_requests=None))
    assert ": 0 S3 GetObject" in module.title(with_(SURGE_ROW, window_requests=0))


def test_dedup_strings_are_cut_at_900_characters(engine):
    long_id = "a" * 1000
    surge = run(engine, SURGE, with_(SURGE_ROW, alert_id=long_id))
    assert surge.dedup == ("a" * 899 + "\u2026")
    mfa = run(engine, MFA, with_(MFA_ROW, alert_id=long_id))
    assert mfa.dedup == ("a" * 899 + "\u2026")
    short = run(engine, MFA, with_(MFA_ROW, alert_id="b" * 879))  # + ":sue.johnson@acme.com" = 900
    assert len(short.dedup) == 900 and short.dedup.endswith(":sue.johnson@acme.com")


def test_silent_title_cuts_the_last_health_check_at_40_characters(engine):
    result = run(engine, SILENT, with_(SILENT_ROW, last_health_check="2024-12-13 07:00:00.000" + "x" * 60))
    assert f"last health check 2024-12-13 07:00:00.000{'x' * 16}\u2026 (9.0 h ago)" in result.title
    exact = run(engine, SILENT, with_(SILENT_ROW, last_health_check="t" * 40))
    assert f"last health check {'t' * 40} (9.0 h ago)" in exact.title


@pytest.mark.parametrize(
    ("hours", "words"),
    [
        (-2, "peaking 2 h before the alert"),
        (-1, "peaking 1 h before the alert"),
        (0, "peaking in the hour of the alert"),
        (1, "peaking 1 h after the alert"),
        (6, "peaking 6 h after the alert"),
        (None, "around the alert"),
    ],
)
def test_surge_title_places_the_peak_before_in_or_after_the_alert_hour(engine, hours, words):
    result = run(engine, SURGE, with_(SURGE_ROW, surge_hours_from_alert=hours))
    assert f"240 S3 GetObject in 24 h, {words}, vs 2.0/day baseline" in result.title
