"""Conventions every item of the pack follows (Panther's content style), checked on the YAML.

pat checks the keys exist; these check what a reviewer would otherwise check by eye.
"""

import re

import pytest

from tracebit_pack.pack.items import REPO_ROOT, items_of, load_items

ITEMS = load_items(REPO_ROOT)
DETECTIONS = items_of(ITEMS, "rule", "scheduled_rule", "correlation_rule")
MITRE = re.compile(r"^TA\d{4}:T\d{4}(\.\d{3})?$")


def ids(items):
    return [item.id for item in items]


@pytest.mark.parametrize("item", DETECTIONS, ids=ids(DETECTIONS))
def test_detection_metadata(item):
    spec = item.spec
    assert item.id.startswith("Tracebit.") and item.id != "Tracebit.Alert"
    for key in ("DisplayName", "Description", "Runbook", "Severity", "Tags"):
        assert spec.get(key), f"{item.id}: missing {key}"
    techniques = (spec.get("Reports") or {}).get("MITRE ATT&CK") or []
    assert techniques and all(MITRE.match(t) for t in techniques), f"{item.id}: {techniques}"


@pytest.mark.parametrize("item", DETECTIONS, ids=ids(DETECTIONS))
def test_detection_has_positive_and_negative_tests(item):
    results = {test.get("ExpectedResult") for test in item.tests}
    assert {True, False} <= results, f"{item.id}: tests expect only {results}"


ALERTING_RULES = [i for i in items_of(ITEMS, "rule", "scheduled_rule") if i.spec.get("CreateAlert", True)]


@pytest.mark.parametrize("item", ALERTING_RULES, ids=ids(ALERTING_RULES))
def test_alerting_rules_choose_their_dedup_period(item):
    assert item.spec.get("DedupPeriodMinutes"), f"{item.id}: DedupPeriodMinutes not chosen"


SCHEDULED = items_of(ITEMS, "scheduled_query")


@pytest.mark.parametrize("item", SCHEDULED, ids=ids(SCHEDULED))
def test_scheduled_queries_are_valid_for_pat(item):
    schedule = item.spec["Schedule"]
    assert schedule["RateMinutes"] > 1
    assert schedule["RateMinutes"] >= schedule["TimeoutMinutes"]
    tables = re.findall(r"\bpanther_\w+\.\w+\.\w+", item.query)
    assert tables and all(t.split(".")[1] == "public" for t in tables)


CORRELATION = items_of(ITEMS, "correlation_rule")


@pytest.mark.parametrize("item", CORRELATION, ids=ids(CORRELATION))
def test_correlation_lookback_covers_the_schedule(item):
    detection = item.spec["Detection"][0]
    assert detection["LookbackWindowMinutes"] >= 1.5 * detection["Schedule"]["RateMinutes"]


# Every correlation rule in panther-analysis correlation_rules/ uses LookbackWindowMinutes 1800;
# the largest any Panther-published one uses is 2160 (a CrowdStrike Sequence rule). Panther's help
# lists "timed out (likely due to a too-large LookbackWindowMinutes value)" among correlation errors.
PANTHER_MAX_LOOKBACK_MINUTES = 2160


@pytest.mark.parametrize("item", CORRELATION, ids=ids(CORRELATION))
def test_correlation_lookback_is_within_panthers_practice(item):
    assert item.spec["Detection"][0]["LookbackWindowMinutes"] <= PANTHER_MAX_LOOKBACK_MINUTES


def test_the_seven_day_mfa_then_canary_span_stays_covered():
    """What the correlation rules no longer span (a reset 30 h to 7 days before the canary alert) is
    covered by the scheduled rules' mfa_lookback_days and the KV escalation's TTL."""
    import tracebit_mfa_cache

    assert tracebit_mfa_cache.MFA_RESET_TTL_SECONDS >= 7 * 24 * 3600
    for name in (
        "Tracebit.Query.CanaryPrincipalRecentMFAReset",
        "Tracebit.Query.CanaryPrincipalRecentAWSMFATampering",
    ):
        query = next(q for q in SCHEDULED if q.id == name).query
        days = re.search(r"(\d+) AS mfa_lookback_days", query)
        assert days and int(days.group(1)) >= 7, name
        rules = [r for r in items_of(ITEMS, "scheduled_rule") if name in r.spec["ScheduledQueries"]]
        assert rules and all(r.spec.get("Enabled") for r in rules), name


def test_every_scheduled_rule_names_existing_queries():
    queries = set(ids(SCHEDULED))
    for item in items_of(ITEMS, "scheduled_rule"):
        assert set(item.spec["ScheduledQueries"]) <= queries, item.id


def test_correlation_rules_reference_existing_rules():
    rules = set(ids(items_of(ITEMS, "rule", "scheduled_rule")))
    for item in CORRELATION:
        detection = item.spec["Detection"][0]
        for group in detection.get("Group") or detection.get("Sequence"):
            assert group["RuleID"] in rules, f"{item.id}: unknown {group['RuleID']}"


@pytest.mark.parametrize("item", DETECTIONS, ids=ids(DETECTIONS))
def test_display_names_are_words_not_rule_ids(item):
    """A title reads "canary credential used", not "canary CredentialUsed" (a RuleID fragment)."""
    camel = re.findall(r"\b[A-Za-z]*[a-z][A-Z]\w*", item.spec["DisplayName"])
    assert not [word for word in camel if word not in ("GetObject", "Tracebit")], f"{item.id}: {camel}"


@pytest.mark.parametrize("item", CORRELATION, ids=ids(CORRELATION))
def test_correlation_runbook_leads_to_the_signals_pivots(item):
    """A correlation rule is YAML only, so its alert has no pivots of its own: the runbook names
    the Tracebit signal that carries them, and every pivot it asks the analyst to run exists."""
    runbook = " ".join(item.spec["Runbook"].split())
    detection = item.spec["Detection"][0]
    groups = detection.get("Group") or detection.get("Sequence") or []
    present = [g for g in groups if not g.get("Absence")]  # an Absence item has no signal in the alert
    tracebit = [g["RuleID"] for g in present if not g["RuleID"].startswith("Tracebit.Signal.")]
    assert tracebit and all(rule_id in runbook for rule_id in tracebit), item.id
    assert "p_alert_context.pivots" in runbook, item.id
    pivots = set(ids(items_of(ITEMS, "saved_query")))
    named = set(re.findall(r"Tracebit\.Pivot\.\w+", runbook))
    assert named and named <= pivots, f"{item.id}: {named - pivots}"
