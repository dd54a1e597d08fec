"""What every YAML rule test promises, asserted on the alert Panther would create.

``pat test`` only checks a YAML test's ExpectedResult (true / false); it cannot check a title,
severity, dedup string or alert-context value. So every YAML test of every rule and scheduled rule
is also run here through ``panther_core`` (``tracebit_pack.engine.rules.PackEngine``, batch mode as in
production), and its output is compared with the expectations recorded for it in
``tests/rule_expectations/<RuleID>.yml`` (kept outside the analysis folders: pat rejects unknown
keys and files there). The format is described in ``tests/rule_expectations/README.md``.

A YAML test without recorded expectations fails, as does an expectation for a test that no longer
exists. Escalation is exercised through the engine's KV cache: the test's ``get_dictionary`` mock
value is stored under ``tracebit:mfa_reset:<identity>`` for the identity the expectation names.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path

import pytest
import yaml

from tracebit_pack.engine.rules import PackEngine
from tracebit_pack.times import parse_event_time as parse_time

REPO_ROOT = Path(__file__).resolve().parent.parent
EXPECTATIONS_DIR = Path(__file__).resolve().parent / "rule_expectations"
HOW_TO = (
    "record what the test promises in tests/rule_expectations/{rule_id}.yml under "
    "Tests: -> {name!r} (format: tests/rule_expectations/README.md)"
)
POSITIVE_KEYS = {
    "alert",
    "severity",
    "title_contains",
    "dedup",
    "context",
    "pivots",
    "mfa_reset_cached_for",
    "string_set_cached_for",
    "pages",
    "kv_cache_keys",
}
NEGATIVE_KEYS = {"alert", "kv_cache_keys"}
STRING_SET_MOCKS = ("add_to_string_set", "get_string_set")
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: 10x faster


def _load(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)  # noqa: S506 - a safe loader


def _rule_specs() -> list[tuple[Path, dict]]:
    specs = []
    for path in sorted((REPO_ROOT / "rules").rglob("*.yml")):
        spec = _load(path)
        if isinstance(spec, dict) and spec.get("AnalysisType") in ("rule", "scheduled_rule"):
            specs.append((path, spec))
    return specs


SPECS = _rule_specs()
CASES = [
    pytest.param(spec, test, id=f"{spec['RuleID']}::{test['Name']}")
    for _, spec in SPECS
    for test in spec.get("Tests") or []
]


@functools.cache
def _expectations(rule_id: str) -> dict:
    path = EXPECTATIONS_DIR / f"{rule_id}.yml"
    if not path.is_file():
        return {}
    data = _load(path) or {}
    assert data.get("RuleID") == rule_id, f"{path}: RuleID must be {rule_id!r}"
    return data.get("Tests") or {}


def _correlation_keys() -> dict[str, set[str]]:
    """RuleID -> the ``p_alert_context`` keys that a correlation rule matches that rule's alerts on."""
    keys: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / "correlation_rules").glob("*.yml")):
        spec = _load(path) or {}
        for block in spec.get("Detection") or []:
            groups = {
                entry["ID"]: entry["RuleID"] for entry in block.get("Group") or block.get("Sequence") or []
            }
            for criteria in (block.get("MatchCriteria") or {}).values():
                for match in criteria:
                    field = str(match.get("Match", ""))
                    if field.startswith("p_alert_context.") and match.get("GroupID") in groups:
                        keys.setdefault(groups[match["GroupID"]], set()).add(field.split(".", 2)[1])
    return keys


@pytest.fixture(scope="module")
def engine() -> PackEngine:
    return PackEngine.load(REPO_ROOT)


def _mock_value(test: dict, name: str):
    for mock in test.get("Mocks") or []:
        if mock.get("objectName") == name:
            return mock.get("returnValue")
    return None


def _run(engine: PackEngine, spec: dict, test: dict, expected: dict):
    engine.kv.clear()
    log = copy.deepcopy(test["Log"])
    if spec["AnalysisType"] == "rule":
        log.setdefault("p_log_type", (spec.get("LogTypes") or [""])[0])
    cached = _mock_value(test, "get_dictionary")
    identity = expected.get("mfa_reset_cached_for")
    if identity:
        assert cached, "mfa_reset_cached_for needs a non-empty get_dictionary mock in the YAML test"
        record = json.loads(cached) if isinstance(cached, str) else cached
        event_time = parse_time(str(log.get("p_event_time") or log.get("alert_time")))
        assert event_time is not None, "an escalation test needs p_event_time (the KV cache's clock)"
        expires = int(event_time.timestamp()) + 24 * 3600
        engine.kv.put_dictionary(f"tracebit:mfa_reset:{identity}", record, epoch_seconds=expires)
    else:
        assert not cached, (
            "the YAML test mocks get_dictionary with a record: name the identity it is cached for "
            "(mfa_reset_cached_for) so the escalation is asserted"
        )
    _seed_string_sets(engine, test, expected, log)
    if spec["AnalysisType"] == "scheduled_rule":
        (result,) = engine.run_scheduled(spec["RuleID"], [log])
    else:
        results = [r for r in engine.run_event(log) if r.rule_id == spec["RuleID"]]
        assert len(results) == 1, f"{spec['RuleID']} did not run on p_log_type {log['p_log_type']!r}"
        (result,) = results
    return result


def _seed_string_sets(engine: PackEngine, test: dict, expected: dict, log: dict) -> None:
    """A YAML test that mocks a string-set read with entries names the KV keys they are stored
    under (``string_set_cached_for``); the same entries are put there in the engine's KV cache."""
    entries = set()
    for name in STRING_SET_MOCKS:
        value = _mock_value(test, name)
        if value:
            entries |= set(json.loads(value) if isinstance(value, str) else value)
    keys = expected.get("string_set_cached_for") or []
    assert bool(entries) == bool(keys), (
        "a YAML test that mocks a string set with entries must name the KV keys they are cached "
        "under (string_set_cached_for), and only such a test"
    )
    if not keys:
        return
    event_time = parse_time(str(log.get("p_event_time") or log.get("alert_time")))
    expires = int(event_time.timestamp()) + 24 * 3600
    for key in keys:
        engine.kv.put_string_set(key, entries, epoch_seconds=expires)


@pytest.mark.parametrize(("spec", "test"), CASES)
def test_yaml_test_output_matches_its_expectations(engine, spec, test):
    rule_id, name = spec["RuleID"], test["Name"]
    expected = _expectations(rule_id).get(name)
    assert expected is not None, (
        f"{rule_id}: YAML test {name!r} has no recorded expectations: "
        + HOW_TO.format(rule_id=rule_id, name=name)
    )
    allowed = POSITIVE_KEYS if test["ExpectedResult"] else NEGATIVE_KEYS
    assert set(expected) <= allowed, f"{rule_id} / {name}: unknown keys {sorted(set(expected) - allowed)}"
    assert expected.get("alert") is test["ExpectedResult"], (
        f"{rule_id} / {name}: 'alert' must equal the test's ExpectedResult"
    )

    result = _run(engine, spec, test, expected)
    assert result.error is None, f"{rule_id} / {name}: {result.error}"
    assert result.matched is test["ExpectedResult"]
    if "kv_cache_keys" in expected:
        assert sorted(engine.kv.snapshot()) == sorted(expected["kv_cache_keys"])
    if not test["ExpectedResult"]:
        return

    for key in ("severity", "title_contains", "dedup"):
        assert key in expected, f"{rule_id} / {name}: a positive test must record {key!r}"
    assert result.severity == expected["severity"]
    assert expected["title_contains"], "title_contains needs at least one fragment"
    for fragment in expected["title_contains"]:
        assert fragment in result.title, f"{fragment!r} not in title {result.title!r}"
    assert result.dedup == expected["dedup"]
    context = result.alert_context
    for key, value in (expected.get("context") or {}).items():
        assert key in context, f"context key {key!r} missing (keys: {sorted(context)})"
        assert context[key] == value, f"context[{key!r}]"

    # Paging (docs/paging.md): a YAML test that expects no destination records pages: false, and a
    # non-paging alert is Info, sent to no destination, and says why.
    if test.get("ExpectedDestinations") == []:
        assert expected.get("pages") is False, "ExpectedDestinations: [] means pages: false"
    if "pages" in expected:
        quiet = (
            result.severity == "INFO" and result.destinations == ["SKIP"] and context.get("no_page_reason")
        )
        assert bool(quiet) is (not expected["pages"]), (result.severity, result.destinations)

    identity = expected.get("mfa_reset_cached_for")
    if identity:
        assert context["recent_mfa_reset"]["identity"] == identity
        assert context["recent_mfa_reset"]["key"] == f"tracebit:mfa_reset:{identity}"
        assert f"for {identity}" in result.title, "an escalated title names whose MFA was reset"
    else:
        assert "recent_mfa_reset" not in context

    if "pivots" in expected:
        rendered = context.get("pivots") or {}
        assert sorted(rendered) == sorted(expected["pivots"])
        for pivot, values in expected["pivots"].items():
            for value in values:
                # a string must appear in both languages; a mapping spells the value per language
                spelled = value if isinstance(value, dict) else {"sql": value, "pantherflow": value}
                assert set(spelled) == {"sql", "pantherflow"}, f"{pivot}: {value!r}"
                for language, text in spelled.items():
                    assert text in rendered[pivot][language], f"{pivot} {language} lacks {text!r}"


def test_every_expectation_belongs_to_a_yaml_test():
    names = {spec["RuleID"]: {test["Name"] for test in spec.get("Tests") or []} for _, spec in SPECS}
    for path in sorted(EXPECTATIONS_DIR.glob("*.yml")):
        rule_id = path.stem
        assert rule_id in names, f"{path.name}: no rule or scheduled rule {rule_id!r}"
        stale = set(_expectations(rule_id)) - names[rule_id]
        assert not stale, f"{path.name}: expectations for YAML tests that do not exist: {sorted(stale)}"


@pytest.mark.parametrize(("spec", "test"), CASES)
def test_expectations_hold_the_test_name_to_its_promise(spec, test):
    """A name that promises an escalation or a severity records it (so the promise is asserted)."""
    expected = _expectations(spec["RuleID"]).get(test["Name"]) or {}
    name = test["Name"]
    if re.search(r"escalat", name, re.IGNORECASE):
        assert expected.get("severity") == "CRITICAL" and expected.get("mfa_reset_cached_for"), name
    promised = re.search(r"\b(?:is still|stays|is)\s+(Info|Low|Medium|High|Critical)\b", name)
    if promised:
        assert expected.get("severity") == promised.group(1).upper(), name


def test_correlation_match_keys_are_pinned_for_every_alerting_test():
    """Renaming or dropping an alert-context key a correlation rule matches on must fail a test."""
    correlated = _correlation_keys()
    assert correlated, "no correlation rule matches on p_alert_context (parser out of date?)"
    by_id = {spec["RuleID"]: spec for _, spec in SPECS}
    for rule_id, keys in correlated.items():
        spec = by_id[rule_id]
        expectations = _expectations(rule_id)
        positives = [t["Name"] for t in spec.get("Tests") or [] if t["ExpectedResult"]]
        for key in keys:
            for name in positives:
                context = (expectations.get(name) or {}).get("context") or {}
                assert key in context, f"{rule_id} / {name}: expectations must pin context key {key!r}"
            assert any(
                ((expectations.get(name) or {}).get("context") or {}).get(key) for name in positives
            ), f"{rule_id}: no alerting test has a non-empty {key!r}"


ESCALATING_RULES = (
    "Tracebit.CanaryResourceAccessed",
    "Tracebit.CanaryCredentialUsed",
    "Tracebit.AlertLog.UnknownSubtype",
    "Tracebit.AlertSummary.NotBenign",
)
RESET_RECORD = {
    "event_type": "user.mfa.factor.reset_all",
    "event_time": "2024-12-12T09:14:03.000Z",
    "actor": "helpdesk.agent@acme.com",
    "uuid": "5b8a1f0e-9c6a-11ef-8e1b-2f4d3b6a7c01",
}


@pytest.mark.parametrize("rule_id", ESCALATING_RULES)
def test_every_tracebit_alert_rule_escalates_after_a_recent_mfa_reset(engine, rule_id):
    """For each rule: every alerting YAML test whose principal has an identity, run with and without
    a reset record for that identity in the KV cache."""
    spec = next(spec for _, spec in SPECS if spec["RuleID"] == rule_id)
    checked = 0
    for test in spec["Tests"]:
        if not test["ExpectedResult"] or _mock_value(test, "get_dictionary"):
            continue
        if any(_mock_value(test, name) for name in STRING_SET_MOCKS):
            continue  # its KV state is its own (repeats, paging)
        plain = _run(engine, spec, test, {})
        identities = plain.alert_context.get("identities") or []
        if not identities:
            continue
        assert plain.severity != "CRITICAL" or "recent_mfa_reset" not in plain.alert_context
        mocked = dict(test, Mocks=[{"objectName": "get_dictionary", "returnValue": json.dumps(RESET_RECORD)}])
        escalated = _run(engine, spec, mocked, {"mfa_reset_cached_for": identities[0]})
        # Tracebit's Info never pages, not even after a reset: the reset is in the context and title
        paged = "INFO" if str(test["Log"].get("severity")).lower() == "info" else "CRITICAL"
        assert escalated.severity == paged, test["Name"]
        assert escalated.alert_context["recent_mfa_reset"]["actor"] == "helpdesk.agent@acme.com"
        assert f"after Okta user.mfa.factor.reset_all for {identities[0]}" in escalated.title
        assert escalated.dedup == plain.dedup  # escalation never splits an alert
        checked += 1
    assert checked >= 1, f"{rule_id}: no alerting YAML test with an identity"
