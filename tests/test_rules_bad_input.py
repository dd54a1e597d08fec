"""Bad input: every Tracebit rule run through panther_core (the engine Panther and pat use), in
batch mode (production) and non-batch mode (pat test: auxiliary-function errors are raised), on
events with missing, null and oddly typed fields. No function may raise; the outcome must be
sensible (an alert log always fires exactly one of the three Tracebit.Alert rules, a summary
alerts unless classified benign, a health check alerts unless healthy)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from unittest import mock

import pytest
import yaml
from panther_core.enriched_event import PantherEvent
from panther_core.rule import Rule

RULES_DIR = Path(__file__).resolve().parent.parent / "rules" / "tracebit_rules"
ALERT_RULES = (
    "Tracebit.CanaryResourceAccessed",
    "Tracebit.CanaryCredentialUsed",
    "Tracebit.AlertLog.UnknownSubtype",
)
MFA_RECORD = {
    "event_type": "user.mfa.factor.deactivate",
    "event_time": "2024-12-13T09:41:07.512Z",
    "actor": "helpdesk.tier1@acme.com",
    "uuid": "8d1f0c2e-b9a7-11ef-a3c4-5b6e7f8a9b0c",
}
ODD_VALUES = [
    None,
    "",
    "  ",
    "odd-string",
    0,
    7,
    -1.5,
    True,
    False,
    [],
    ["x", None, 3],
    {},
    {"unexpected": "x"},
]
SEVERITIES = {"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL", "DEFAULT"}


def _load_rules() -> dict[str, tuple[Rule, dict]]:
    rules = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        spec = yaml.safe_load(path.read_text())
        if spec.get("AnalysisType") != "rule":
            continue
        config = {
            "id": spec["RuleID"],
            "versionId": "test",
            "analysisType": "RULE",
            "path": str(path.parent / spec["Filename"]),
            "dedupPeriodMinutes": spec.get("DedupPeriodMinutes", 60),
            "severity": spec["Severity"].upper(),
        }
        rule = Rule(config)
        assert rule.setup_exception is None, rule.setup_exception
        rules[spec["RuleID"]] = (rule, spec)
    return rules


RULES = _load_rules()


@pytest.fixture(autouse=True)
def no_kv_store(monkeypatch):
    """No test may reach DynamoDB: every rule module's get_dictionary returns an empty cache."""
    for rule, _ in RULES.values():
        if hasattr(rule.module, "get_dictionary"):
            monkeypatch.setattr(rule.module, "get_dictionary", mock.MagicMock(return_value={}))


def base_log(rule_id: str, name: str) -> dict:
    _, spec = RULES[rule_id]
    return copy.deepcopy(next(test["Log"] for test in spec["Tests"] if test["Name"] == name))


BASE_ALERT = base_log(
    "Tracebit.CanaryResourceAccessed", "AWS assumed-role (Okta federated) GetObject on a canary S3 bucket"
)
BASE_CREDENTIAL = base_log(
    "Tracebit.CanaryCredentialUsed",
    "Panther's sample, AWS temporary credentials planted on a laptop, pivots on the owner and the IP",
)
BASE_SUMMARY = base_log("Tracebit.AlertSummary.NotBenign", "Unclassified summary of the blog incident alerts")
BASE_HEALTH = base_log("Tracebit.HealthCheck.Unhealthy", "Unhealthy integration alerts")

ALERT_PATHS = [
    ("discriminator",),
    ("discriminator", "subtype"),
    ("alert_id",),
    ("id",),
    ("tracebit_portal_url",),
    ("timestamp",),
    ("provider",),
    ("message",),
    ("severity",),
    ("canary",),
    ("canary", "name"),
    ("canary", "aws"),
    ("canary", "aws", "arn"),
    ("canary_credential",),
    ("canary_credential", "labels"),
    ("canary_credential", "aws"),
    ("principal",),
    ("principal", "id"),
    ("principal", "aws"),
    ("principal", "aws", "arn"),
    ("principal", "aws", "username"),
    ("principal", "okta"),
    ("principal", "google_cloud"),
    ("event",),
    ("event", "request"),
    ("event", "request", "ip"),
    ("event", "request", "user_agent"),
    ("event", "resources"),
]
SUMMARY_PATHS = [
    ("discriminator",),
    ("alert_id",),
    ("classification",),
    ("classification_reason",),
    ("severity",),
    ("ip_addresses",),
    ("canaries_accessed",),
    ("principal",),
    ("principal", "aws"),
    ("indicators",),
    ("start_time",),
    ("end_time",),
]
HEALTH_PATHS = [("discriminator",), ("discriminator", "subtype"), ("timestamp",), ("is_healthy",)]

MISSING = object()


def mutate(log: dict, path: tuple[str, ...], value) -> dict:
    out = copy.deepcopy(log)
    target = out
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    if value is MISSING:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = copy.deepcopy(value)
    return out


def variants(log: dict, paths: list[tuple[str, ...]]):
    for path in paths:
        for value in [MISSING, *ODD_VALUES]:
            label = "missing" if value is MISSING else repr(value)
            yield f"{'.'.join(path)}={label}", mutate(log, path, value)


def run(rule_id: str, log: dict, batch_mode: bool):
    rule, _ = RULES[rule_id]
    result = rule.run(PantherEvent(log), {}, {}, batch_mode=batch_mode)
    errors = {
        name: getattr(result, name)
        for name in dir(result)
        if name.endswith("_exception") and getattr(result, name) is not None
    }
    assert not errors, f"{rule_id} raised on {json.dumps(log, default=str)[:300]}: {errors}"
    if result.trigger_alert:
        assert isinstance(result.title_output, str) and result.title_output
        assert isinstance(result.dedup_output, str) and result.dedup_output
        assert result.severity_output in SEVERITIES
        assert result.reference_output.startswith("https://")
        context = json.loads(result.alert_context_output)
        assert "_error" not in context
    return result


@pytest.mark.parametrize("batch_mode", [True, False], ids=["batch", "pat-test"])
@pytest.mark.parametrize("base", [BASE_ALERT, BASE_CREDENTIAL], ids=["resource", "credential"])
def test_alert_logs_never_raise_and_fire_exactly_one_rule(base, batch_mode):
    for label, log in variants(base, ALERT_PATHS):
        fired = [rule_id for rule_id in ALERT_RULES if run(rule_id, log, batch_mode).trigger_alert]
        assert len(fired) == 1, f"{label}: {fired}"


@pytest.mark.parametrize("batch_mode", [True, False], ids=["batch", "pat-test"])
def test_summary_never_raises_and_alerts_unless_benign(batch_mode):
    for label, log in variants(BASE_SUMMARY, SUMMARY_PATHS):
        result = run("Tracebit.AlertSummary.NotBenign", log, batch_mode)
        assert result.trigger_alert, label  # no odd value is a benign classification
    for label, log in variants(dict(BASE_SUMMARY, classification="BenignPositive"), SUMMARY_PATHS):
        result = run("Tracebit.AlertSummary.NotBenign", log, batch_mode)
        assert result.trigger_alert is label.startswith("classification="), label


@pytest.mark.parametrize("batch_mode", [True, False], ids=["batch", "pat-test"])
def test_health_check_never_raises(batch_mode):
    for label, log in variants(BASE_HEALTH, HEALTH_PATHS):
        result = run("Tracebit.HealthCheck.Unhealthy", log, batch_mode)
        if label.startswith("is_healthy="):
            value = label.split("=", 1)[1]
            # Only a real "healthy" value stays quiet: True, 1, or a "true"-like string.
            assert result.trigger_alert is (value not in ("True", "1")), label
        else:
            assert result.trigger_alert, label  # is_healthy stays False


@pytest.mark.parametrize("batch_mode", [True, False], ids=["batch", "pat-test"])
def test_every_rule_on_empty_and_foreign_events(batch_mode):
    foreign = [
        {},
        {"p_log_type": "Tracebit.Alert"},
        {"p_log_type": "Tracebit.AlertSummary"},
        {"p_log_type": "Tracebit.HealthCheck"},
        BASE_HEALTH,
        BASE_SUMMARY,
        BASE_ALERT,
        {"discriminator": [], "principal": [], "canary": [], "event": [], "classification": {}},
        {
            "discriminator": {"subtype": ["canary_resource_accessed"]},
            "principal": {"aws": "arn:aws:iam::1:user/x"},
        },
    ]
    for rule_id in RULES:
        for log in foreign:
            run(rule_id, log, batch_mode)


def test_health_check_decisions():
    def fires(value):
        log = mutate(BASE_HEALTH, ("is_healthy",), value)
        return run("Tracebit.HealthCheck.Unhealthy", log, False)

    assert fires(False).trigger_alert and fires(False).severity_output == "MEDIUM"
    assert fires("false").trigger_alert and fires("false").severity_output == "MEDIUM"
    assert not fires(True).trigger_alert
    assert not fires("true").trigger_alert
    for unknown in (MISSING, None, "maybe", {}):
        result = fires(unknown)
        assert result.trigger_alert and result.severity_output == "LOW"
        assert "health unknown" in result.title_output


def test_summary_classification_decisions():
    def fires(value):
        return run("Tracebit.AlertSummary.NotBenign", mutate(BASE_SUMMARY, ("classification",), value), False)

    for benign in ("BenignPositive", "benignpositive", "BENIGN_POSITIVE", "FalsePositive", "false-positive"):
        assert not fires(benign).trigger_alert, benign
    for alerting in ("Unclassified", "TruePositive", "NeedsReview", MISSING, None, "", ["BenignPositive"], 1):
        assert fires(alerting).trigger_alert, alerting
    assert fires("TruePositive").severity_output == "HIGH"
    low_true_positive = mutate(
        mutate(BASE_SUMMARY, ("classification",), "TruePositive"), ("severity",), "low"
    )
    assert run("Tracebit.AlertSummary.NotBenign", low_true_positive, False).severity_output == "HIGH"


@pytest.mark.parametrize("rule_id", [*ALERT_RULES, "Tracebit.AlertSummary.NotBenign"])
def test_kv_store_failure_means_no_escalation(rule_id, monkeypatch):
    rule, _ = RULES[rule_id]
    monkeypatch.setattr(rule.module, "get_dictionary", mock.MagicMock(side_effect=RuntimeError("no AWS")))
    # Each log's own severity is High or Medium, so CRITICAL could only come from an escalation.
    log, expected = {
        "Tracebit.CanaryResourceAccessed": (BASE_ALERT, "HIGH"),
        "Tracebit.CanaryCredentialUsed": (mutate(BASE_CREDENTIAL, ("severity",), "Medium"), "HIGH"),
        "Tracebit.AlertLog.UnknownSubtype": (
            mutate(BASE_ALERT, ("discriminator", "subtype"), MISSING),
            "HIGH",
        ),
        "Tracebit.AlertSummary.NotBenign": (BASE_SUMMARY, "HIGH"),
    }[rule_id]
    for batch_mode in (True, False):
        result = run(rule_id, log, batch_mode)
        assert result.trigger_alert
        assert result.severity_output == expected
        assert "recent_mfa_reset" not in json.loads(result.alert_context_output)


@pytest.mark.parametrize("stored", [MFA_RECORD, json.dumps(MFA_RECORD)], ids=["dict", "json-string"])
def test_kv_store_mfa_reset_escalates(stored, monkeypatch):
    rule, _ = RULES["Tracebit.CanaryResourceAccessed"]
    get = mock.MagicMock(return_value=stored)
    monkeypatch.setattr(rule.module, "get_dictionary", get)
    result = run("Tracebit.CanaryResourceAccessed", BASE_ALERT, True)
    assert result.severity_output == "CRITICAL"
    context = json.loads(result.alert_context_output)
    assert context["recent_mfa_reset"]["actor"] == "helpdesk.tier1@acme.com"
    assert context["recent_mfa_reset"]["identity"] == "sue.johnson@acme.com"
    assert "after Okta user.mfa.factor.deactivate for sue.johnson@acme.com" in result.title_output
    get.assert_called_with("tracebit:mfa_reset:sue.johnson@acme.com", force_ttl_check=True)
    assert get.call_count == 1  # title, severity and alert_context share one lookup per event
