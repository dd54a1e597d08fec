"""Fuzz properties of every rule and scheduled rule, bounded for the test command.

``python -m tracebit_pack.dev.fuzz --examples 100000`` (``make fuzz``) is the long run. Here:

* the regression events: every failure the fuzzer found, as a concrete (shrunk) event;
* the properties on a bounded number of hypothesis examples per stream (derandomized, so the test
  command is reproducible), in production (batch) and ``pat test`` mode;
* the strategies reach the matching path of every rule (so the properties on matching events are
  actually exercised).

``KNOWN_ISSUES`` lists the failures reported to the rule owner and not fixed yet: their regression
events are ``xfail`` and the property tests tolerate exactly those (rule, property) pairs. When a
fix lands, the regression event XPASSes: delete its entry from ``KNOWN_ISSUES``.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from itertools import islice

import pytest
from hypothesis import HealthCheck, given, settings

from tracebit_pack.dev import strategies, value_strategies
from tracebit_pack.dev.fuzz import check_event, load_pack, run_rules, stream_named
from tracebit_pack.dev.fuzz_checks import Failure
from tracebit_pack.logs.schemas import LOG_TYPES

# (rule id, property) -> what the rule owner has to change, for a finding not fixed yet.
KNOWN_ISSUES: dict[tuple[str, str], str] = {}
# All findings so far are fixed (the regression events below): d942c82 (signal rule-raised on a
# list/object eventType; titles, dedup and context of the Tracebit and scheduled rules over
# 1,000 chars / 200 KB) and eecf55d (signal rule context over 200 KB).

T = "2024-12-13T16:20:00Z"
LONG = "x" * 1_001  # past Panther's 1,000-character title / dedup limit
HUGE = "y" * 120_000  # two of these are past the 200 KB alert-context limit

# (stream, rule id, property, event): every failure found by the fuzzer, shrunk.
MFA_RESET = {"eventType": "user.account.reset_password", "target": [{"type": "User", "alternateId": "a@b.c"}]}

REGRESSIONS = [
    (
        "Okta.SystemLog",
        "Tracebit.Signal.OktaMFAReset",
        "alert_context-too-big",  # 40,000 non-ASCII characters are 240,000 once JSON-escaped
        {**MFA_RESET, "displayMessage": "\u00e9" * 40_000},
    ),
    (
        "Okta.SystemLog",
        "Tracebit.Signal.OktaMFAReset",
        "alert_context-too-big",
        {**MFA_RESET, "uuid": HUGE, "outcome": {"result": "SUCCESS", "reason": HUGE}},
    ),
    ("Okta.SystemLog", "Tracebit.Signal.OktaMFAReset", "rule-raised", {"eventType": []}),
    ("Okta.SystemLog", "Tracebit.Signal.OktaMFAReset", "rule-raised", {"eventType": {"a": 1}}),
    (
        "Tracebit.Alert",
        "Tracebit.AlertLog.UnknownSubtype",
        "title-too-long",
        {"discriminator": {"type": "tracebit_alert_log", "subtype": LONG}, "alert_id": "a1", "timestamp": T},
    ),
    (
        "Tracebit.Alert",
        "Tracebit.CanaryCredentialUsed",
        "title-too-long",
        {
            "discriminator": {"type": "tracebit_alert_log", "subtype": "canary_credential_used"},
            "alert_id": "a1",
            "timestamp": T,
            "canary_credential": {"name": LONG},
        },
    ),
    (
        "Tracebit.Alert",
        "Tracebit.CanaryResourceAccessed",
        "title-too-long",
        {
            "discriminator": {"type": "tracebit_alert_log", "subtype": "canary_resource_accessed"},
            "alert_id": "a1",
            "timestamp": T,
            "principal": {"id": LONG},
        },
    ),
    (
        "Tracebit.AlertSummary",
        "Tracebit.AlertSummary.NotBenign",
        "title-too-long",
        {"discriminator": {"type": "tracebit_alert_summary"}, "alert_id": "a1", "classification": LONG},
    ),
    (
        "Tracebit.HealthCheck",
        "Tracebit.HealthCheck.Unhealthy",
        "title-too-long",
        {"discriminator": {"type": "health_check", "subtype": LONG}, "timestamp": T, "is_healthy": False},
    ),
    (
        "Tracebit.Query.IntegrationSilent",
        "Tracebit.IntegrationSilent",
        "title-too-long",
        {"max_silence_hours": 6, "hours_silent": 7, "last_health_check": LONG},
    ),
    (
        "Tracebit.Query.CanaryPrincipalRecentMFAReset",
        "Tracebit.CanaryPrincipalRecentMFAReset",
        "title-too-long",
        {"alert_id": "a1", "identity": LONG, "reset_event_type": "user.mfa.factor.reset_all"},
    ),
    (
        "Tracebit.Query.CanaryPrincipalRecentMFAReset",
        "Tracebit.CanaryPrincipalRecentMFAReset",
        "dedup-too-long",
        {"alert_id": "a1", "identity": LONG, "reset_event_type": "user.mfa.factor.reset_all"},
    ),
    (
        "Tracebit.Query.CanaryPrincipalRecentMFAReset",
        "Tracebit.CanaryPrincipalRecentMFAReset",
        "alert_context-too-big",
        {"alert_id": HUGE, "identity": HUGE, "reset_event_type": "user.mfa.factor.reset_all"},
    ),
    (
        "Tracebit.Query.CanaryPrincipalGetObjectSurge",
        "Tracebit.CanaryPrincipalGetObjectSurge",
        "title-too-long",
        {
            "alert_id": "a1",
            "principal_arn": LONG,
            "window_requests": 500,
            "baseline_daily_avg": 1,
            "surge_multiple": 10,
            "min_requests": 100,
        },
    ),
    (
        "Tracebit.Query.CanaryPrincipalGetObjectSurge",
        "Tracebit.CanaryPrincipalGetObjectSurge",
        "dedup-too-long",
        {
            "alert_id": "a1",
            "principal_arn": LONG,
            "window_requests": 500,
            "baseline_daily_avg": 1,
            "surge_multiple": 10,
            "min_requests": 100,
        },
    ),
    (
        "Tracebit.Query.CanaryPrincipalGetObjectSurge",
        "Tracebit.CanaryPrincipalGetObjectSurge",
        "alert_context-too-big",
        {
            "alert_id": "a1",
            "principal_arn": HUGE,
            "window_requests": 500,
            "baseline_daily_avg": 1,
            "surge_multiple": 10,
            "min_requests": 100,
        },
    ),
    (
        "Tracebit.Query.CanaryPrincipalGetObjectSurge",
        "Tracebit.CanaryPrincipalGetObjectSurge",
        "title-raised",  # found before as_number: a numeric string past float range -> inf -> int()
        {
            "alert_id": "a1",
            "principal_arn": "a",
            "window_requests": "648" * 120,
            "baseline_daily_avg": "7",
            "surge_multiple": 309,
            "min_requests": 272,
        },
    ),
]

STREAMS = (
    "AWS.CloudTrail",
    "Okta.SystemLog",
    "Panther.Audit",
    "Tracebit.Alert",
    "Tracebit.AlertSummary",
    "Tracebit.HealthCheck",
    "Tracebit.Query.CanaryCredentialSourceIPActivity",
    "Tracebit.Query.CanaryPrincipalGetObjectSurge",
    "Tracebit.Query.CanaryPrincipalRecentAWSMFATampering",
    "Tracebit.Query.CanaryPrincipalRecentMFAReset",
    "Tracebit.Query.IntegrationSilent",
)


def _unexpected(failures: list[Failure]) -> list[str]:
    return [
        f"{f.rule_id} [{f.mode}] {f.check}: {f.message[:200]}"
        for f in failures
        if (f.rule_id, f.check) not in KNOWN_ISSUES
    ]


def _regression_params():
    for stream, rule_id, check, event in REGRESSIONS:
        known = KNOWN_ISSUES.get((rule_id, check))
        marks = (
            [pytest.mark.xfail(reason=f"reported to the rule owner: {known}", strict=False)] if known else []
        )
        yield pytest.param(stream, rule_id, check, event, marks=marks, id=f"{rule_id}-{check}")


@pytest.mark.parametrize(("stream", "rule_id", "check", "event"), list(_regression_params()))
def test_regression_event(stream, rule_id, check, event):
    failures = check_event(stream_named(stream), event)
    found = [f for f in failures if f.rule_id == rule_id and f.check == check]
    assert not found, f"{rule_id}: {found[0].check} [{found[0].mode}]: {found[0].message[:300]}"


def test_every_stream_is_fuzzed():
    """Every enabled rule and scheduled rule is reached by one of the streams above."""
    engine, streams = load_pack()
    assert set(streams) == set(STREAMS)
    fuzzed = {loaded.id for name in STREAMS for loaded in streams[name].rules}
    assert fuzzed == set(engine.rules) | set(engine.scheduled_rules)


FUZZ_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("name", STREAMS)
def test_properties_hold_on_generated_events(name):
    stream = stream_named(name)
    engine = load_pack()[0]

    @FUZZ_SETTINGS
    @given(stream.strategy)
    def check(raw):
        failures, _ = run_rules(engine, stream, raw)
        problems = _unexpected(failures)
        assert not problems, "\n".join(problems)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check()


def test_generated_events_reach_every_rule():
    """The realistic share of the strategies makes every rule match (matching-path properties run)."""
    matched: Counter[str] = Counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in STREAMS:
            stream = stream_named(name)
            engine = load_pack()[0]
            for raw in islice(strategies.seeded_examples(stream.strategy, 1), 100):
                _, hits = run_rules(engine, stream, raw)
                matched.update(hits)
    missing = {loaded.id for name in STREAMS for loaded in stream_named(name).rules} - set(matched)
    assert not missing, f"never matched in 100 events: {sorted(missing)}"


@pytest.mark.parametrize("log_type", LOG_TYPES)
def test_strategies_cover_every_schema(log_type):
    """Every schema's strategy yields dicts; realistic events carry every required top-level field."""
    from tracebit_pack.logs.schemas import load_schema

    required = {f.name for f in load_schema(log_type).fields if f.required}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for event in islice(strategies.seeded_examples(strategies.realistic_events(log_type), 3), 20):
            assert isinstance(event, dict)
            assert required <= set(event)
            json.dumps(event)  # plain JSON values only
        for event in islice(strategies.seeded_examples(strategies.events(log_type), 3), 20):
            assert isinstance(event, dict)


def test_mfa_event_types_match_the_pivots():
    import tracebit_pivots

    assert tuple(value_strategies.MFA_RESET_EVENT_TYPES) == tuple(tracebit_pivots.MFA_RESET_EVENT_TYPES)
