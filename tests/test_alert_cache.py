"""Repeats escalate and one incident pages once: the ``tracebit_alert_cache`` KV contract, through
the global itself, the whole pack in the offline engine, and the real caching calls on moto's DynamoDB.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import boto3
import pytest
import tracebit_alert_cache as cache
from moto import mock_aws
from panther_core.enriched_event import PantherEvent
from panther_detection_helpers import caching

from tracebit_pack.engine.rules import PackEngine
from tracebit_pack.replay import replay

REPO_ROOT = Path(__file__).resolve().parent.parent
INCIDENT = REPO_ROOT / "scenarios" / "blog_incident"
DAY = 24 * 3600
T0 = 1_734_098_531  # 2024-12-13T14:02:11Z


def _alert_log():
    return json.loads((INCIDENT / "Tracebit.Alert.jsonl").read_text().splitlines()[0])


def _summary():
    return json.loads((INCIDENT / "Tracebit.AlertSummary.jsonl").read_text().splitlines()[0])


def alert_log(alert_id, when, ip="185.220.101.47", canary="acme-finance-payroll-archive"):
    log = copy.deepcopy(_alert_log())
    log.update(alert_id=alert_id, id=f"log-{alert_id}-{when}", timestamp=when.replace(" ", "T") + "Z")
    log["canary"]["name"] = log["canary"]["provider_id"] = canary
    log["canary"]["tracebit_id"] = f"cnry-{canary}"
    log["event"]["request"]["ip"] = ip
    log.update(p_log_type="Tracebit.Alert", p_event_time=f"{when}.000")
    return log


def summary(alert_id, when, classification="Unclassified"):
    log = copy.deepcopy(_summary())
    log.update(alert_id=alert_id, classification=classification, p_log_type="Tracebit.AlertSummary")
    log["p_event_time"] = f"{when}.000"
    return log


class FakeSets:
    """``add_to_string_set`` / ``remove_from_string_set`` over a dict, recording the TTLs given."""

    def __init__(self):
        self.sets: dict[str, set[str]] = {}
        self.ttls: dict[str, int | None] = {}

    def add(self, key, values, epoch_seconds=None):
        self.sets.setdefault(key, set()).update(values)
        self.ttls[key] = epoch_seconds
        return set(self.sets[key])

    def remove(self, key, values, epoch_seconds=None):
        self.sets[key] = self.sets.get(key, set()) - set(values)
        return set(self.sets[key])


def _record(sets, alert_id, when, canary="payroll", keys=(("ip", "185.220.101.47"),)):
    return cache.remember_activity(
        sets.add, sets.remove, when, alert_id=alert_id, canary_list=[{"name": canary}], keys=list(keys)
    )


# ---------------------------------------------------------------------------- the global


def test_a_second_alert_id_from_one_ip_within_24_hours_is_a_repeat():
    sets = FakeSets()
    assert _record(sets, "A1", T0) == []
    (repeat,) = _record(sets, "A2", T0 + 3600)
    assert repeat == {
        "kind": "ip",
        "value": "185.220.101.47",
        "alert_ids": ["A1", "A2"],
        "canaries": ["payroll"],
        "window_hours": 24,
    }
    assert sets.ttls["tracebit:recent:ip:185.220.101.47"] == T0 + 3600 + DAY


def test_several_logs_of_one_alert_and_one_canary_are_no_repeat():
    sets = FakeSets()
    for minute in range(5):
        assert _record(sets, "A1", T0 + 60 * minute) == []


def test_a_second_canary_in_one_alert_is_a_repeat_for_the_identity():
    sets = FakeSets()
    _record(sets, "A1", T0, canary="payroll", keys=[("identity", "sue@acme.com")])
    (repeat,) = _record(sets, "A1", T0 + 60, canary="hr-archive", keys=[("identity", "sue@acme.com")])
    assert (repeat["kind"], repeat["alert_ids"], repeat["canaries"]) == (
        "identity",
        ["A1"],
        ["hr-archive", "payroll"],
    )
    assert cache.repeat_title_suffix([repeat]) == " (repeat: 2 canaries from identity sue@acme.com in 24 h)"


def test_activity_older_than_24_hours_is_no_repeat_and_is_pruned():
    sets = FakeSets()
    _record(sets, "A1", T0)
    assert _record(sets, "A2", T0 + DAY + 1) == []
    assert all("A1" not in entry for entry in sets.sets["tracebit:recent:ip:185.220.101.47"])


@pytest.mark.parametrize("stored", ["", "not json", "42", '{"a": 1}', 42, None, ["alert=A1"], {"x"}])
def test_odd_cached_values_never_raise_and_never_escalate(stored):
    assert (
        cache.remember_activity(
            lambda *a, **k: stored,
            None,
            T0,
            alert_id="A2",
            canary_list=[{"name": "c"}],
            keys=[("ip", "1.2.3.4")],
        )
        == []
    )
    assert cache.alert_log_seen(cache.parse_string_set(stored)) is False


def test_a_failing_cache_means_no_repeat_and_an_unknown_alert_state():
    def boom(*args, **kwargs):
        raise RuntimeError("DynamoDB throttled")

    assert _record(type("S", (), {"add": boom, "remove": boom})(), "A1", T0) == []
    assert cache.remember_alert_log(boom, T0, "A1") is False
    assert cache.alert_state(boom, "A1") is None


def test_keys_are_capped_and_blank_values_skipped():
    keys = cache.activity_keys(["1.1.1.1", "", None, "2.2.2.2", "3.3.3.3", "4.4.4.4"], ["A@x.com", " "])
    assert keys == [("ip", "1.1.1.1"), ("ip", "2.2.2.2"), ("ip", "3.3.3.3"), ("identity", "A@x.com")]
    assert cache.recent_key("identity", " A@X.com ") == "tracebit:recent:identity:a@x.com"


def test_the_alert_state_says_whether_an_alert_log_and_an_mfa_escalation_paged():
    sets = FakeSets()
    assert cache.remember_alert_log(sets.add, T0, "A1", mfa_identity="Sue@Acme.com")
    state = cache.alert_state(lambda key, force_ttl_check: sets.sets.get(key, set()), "A1")
    assert cache.alert_log_seen(state) and cache.mfa_paged_for(state, "sue@acme.com")
    assert not cache.mfa_paged_for(state, "bob@acme.com")
    assert sets.ttls["tracebit:alert:A1"] == T0 + 1440 * 60


def _repeats_from(stored, epoch=T0, alert_id="A9", canary_list=()):
    """remember_activity on an IP whose set, after this alert is added, holds ``stored``."""
    return cache.remember_activity(
        lambda *args, **kwargs: set(stored),
        None,
        epoch,
        alert_id=alert_id,
        canary_list=list(canary_list),
        keys=[("ip", "1.2.3.4")],
    )


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("alert=A1@1734098531", ("alert", "A1", 1_734_098_531)),
        ("canary=ops@team@1734098531", ("canary", "ops@team", 1_734_098_531)),  # the last @ splits
        ("alert=@1734098531", None),  # no value
        ("alert=A1@soon", None),  # a time that is not a number
        ("alert=A1", None),
        ("A1@1734098531", None),
    ],
)
def test_an_entry_is_read_only_in_its_own_form(text, parsed):
    assert cache._parse_entry(text) == parsed


def test_entries_not_in_the_form_are_skipped_not_counted():
    stored = {f"alert=A1@{T0}", f"alert=@{T0}", "alert=A2@later", f"alert=A3@{T0}"}
    (repeat,) = _repeats_from(stored)
    assert repeat["alert_ids"] == ["A1", "A3"]


@pytest.mark.parametrize("stored", ['{"log": 1}', '"log"', "{}"])
def test_a_cached_json_object_or_string_is_no_set(stored):
    assert cache.parse_string_set(stored) == set()


def test_the_window_holds_entries_exactly_24_hours_away():
    edge = {f"alert=A1@{T0 - DAY}", f"alert=A2@{T0 + DAY}"}
    assert _repeats_from(edge)[0]["alert_ids"] == ["A1", "A2"]
    beyond = {f"alert=A1@{T0 - DAY - 1}", f"alert=A2@{T0 + DAY + 1}", f"alert=A3@{T0}"}
    assert _repeats_from(beyond) == []


def test_an_entry_beyond_the_window_does_not_hide_the_entries_after_it():
    # "alert=A0@<two days on>" sorts before the two alerts within the window
    stored = {f"alert=A0@{T0 + 2 * DAY}", f"alert=A1@{T0}", f"alert=A2@{T0 + 60}"}
    assert _repeats_from(stored)[0]["alert_ids"] == ["A1", "A2"]


def test_at_most_500_entries_of_a_set_are_considered():
    junk = [f"a-not-an-entry-{n:04d}" for n in range(498)]  # these sort first
    alerts = [f"alert=A1@{T0}", f"alert=A2@{T0}"]
    assert _repeats_from(junk + alerts)[0]["alert_ids"] == ["A1", "A2"]
    assert _repeats_from([*junk, "a-not-an-entry-extra", *alerts]) == []


def test_at_most_10_canaries_are_recorded_and_10_listed():
    recorded = {}

    def add(key, values, epoch_seconds=None):
        recorded[key] = list(values)
        return set(values)

    canaries = [{"name": f"canary-{n:02d}"} for n in range(12)]
    (repeat,) = cache.remember_activity(
        add, None, T0, alert_id="A1", canary_list=canaries, keys=[("ip", "1.2.3.4")]
    )
    (entries,) = recorded.values()
    assert len(entries) == 1 + 10
    assert repeat["canaries"] == [f"canary-{n:02d}" for n in range(10)]
    many_alerts = {f"alert=A{n:02d}@{T0}" for n in range(12)}
    assert _repeats_from(many_alerts)[0]["alert_ids"] == [f"A{n:02d}" for n in range(10)]


def test_a_canary_is_recorded_by_name_then_tracebit_id_then_provider_id_capped():
    def recorded_canary(canary):
        stored = []
        cache.remember_activity(
            lambda key, values, epoch_seconds=None: stored.extend(values) or set(),
            None,
            T0,
            alert_id=None,
            canary_list=[canary],
            keys=[("ip", "1.2.3.4")],
        )
        return [cache._parse_entry(entry)[1] for entry in stored]

    assert recorded_canary({"tracebit_id": "cnry-1", "provider_id": "bucket-1"}) == ["cnry-1"]
    assert recorded_canary({"provider_id": "bucket-1"}) == ["bucket-1"]
    assert recorded_canary({"name": "n" * 300}) == ["n" * 256]


def test_an_alert_with_nothing_to_record_reads_no_repeat():
    full = {f"alert=A1@{T0}", f"alert=A2@{T0}"}
    assert _repeats_from(full, alert_id=None, canary_list=[{"name": ""}]) == []


def test_a_failing_key_does_not_stop_the_next_one():
    def add(key, values, epoch_seconds=None):
        if key.startswith("tracebit:recent:ip:"):
            raise RuntimeError("DynamoDB throttled")
        return {f"alert=A1@{T0}", f"alert=A2@{T0}"}

    repeats = cache.remember_activity(
        add, None, T0, alert_id="A2", canary_list=[], keys=[("ip", "1.2.3.4"), ("identity", "sue")]
    )
    assert [(r["kind"], r["alert_ids"]) for r in repeats] == [("identity", ["A1", "A2"])]


def test_no_alert_id_reads_no_alert_state():
    assert cache.alert_state(lambda *args, **kwargs: {"log"}, None) is None
    assert cache.alert_state(lambda *args, **kwargs: {"log"}, "") is None


def test_stale_entries_without_a_remover_keep_the_repeat():
    stored = {f"alert=A0@{T0 - 2 * DAY}", f"alert=A1@{T0}", f"alert=A2@{T0}"}
    (repeat,) = _repeats_from(stored)  # no remove_from_string_set given
    assert repeat["alert_ids"] == ["A1", "A2"]


def test_the_options_of_remember_activity_are_named_never_positional():
    with pytest.raises(TypeError):
        cache.remember_activity(FakeSets().add, None, T0, "A1", [], [("ip", "1.2.3.4")])


def test_the_alert_state_is_read_with_a_ttl_check():
    calls = []

    def get(key, force_ttl_check=False):
        calls.append((key, force_ttl_check))
        return {"log"}

    assert cache.alert_state(get, "A1") == {"log"}
    assert calls == [("tracebit:alert:A1", True)]  # an expired state must not read as paged


# ---------------------------------------------------------------------------- the pack, offline


@pytest.fixture
def engine():
    engine = PackEngine.load(REPO_ROOT)
    engine.kv.clear()
    return engine


def _run(engine, log, rule_id):
    (result,) = [r for r in engine.run_event(log) if r.rule_id == rule_id]
    return result


def test_two_tracebit_alerts_from_one_ip_in_a_day_make_the_second_critical(engine):
    first = _run(engine, alert_log("A1", "2024-12-13 10:00:00"), "Tracebit.CanaryResourceAccessed")
    second = _run(
        engine,
        alert_log("A2", "2024-12-13 20:00:00", canary="acme-hr-archive"),
        "Tracebit.CanaryResourceAccessed",
    )
    assert first.severity == "HIGH" and "repeated_activity" not in first.alert_context
    assert second.severity == "CRITICAL"
    by_kind = {r["kind"]: r for r in second.alert_context["repeated_activity"]}
    assert by_kind["ip"]["alert_ids"] == ["A1", "A2"]
    assert by_kind["identity"]["canaries"] == ["acme-finance-payroll-archive", "acme-hr-archive"]
    assert "(repeat: 2 Tracebit alerts, 2 canaries from IP 185.220.101.47 in 24 h)" in second.title
    late = _run(engine, alert_log("A3", "2024-12-15 10:00:00"), "Tracebit.CanaryResourceAccessed")
    assert late.severity == "HIGH"  # A1 and A2 are more than 24 h before


def test_a_summary_pages_only_with_news_or_lost_alert_logs(engine):
    _run(engine, alert_log("A1", "2024-12-13 10:00:00"), "Tracebit.CanaryResourceAccessed")
    repeat = _run(engine, summary("A1", "2024-12-13 10:10:00"), "Tracebit.AlertSummary.NotBenign")
    assert (repeat.severity, repeat.destinations) == ("INFO", ["SKIP"])
    assert repeat.alert_context["no_page_reason"].startswith("Tracebit alert A1 already raised")
    news = _run(
        engine, summary("A1", "2024-12-13 10:20:00", "TruePositive"), "Tracebit.AlertSummary.NotBenign"
    )
    assert news.severity == "HIGH" and news.destinations is None
    after_dedup = _run(engine, summary("A1", "2024-12-14 10:00:01"), "Tracebit.AlertSummary.NotBenign")
    assert after_dedup.destinations is None  # the alert log's alert is older than the dedup period
    lost = _run(engine, summary("A9", "2024-12-14 10:30:00"), "Tracebit.AlertSummary.NotBenign")
    assert lost.destinations is None and "no_page_reason" not in lost.alert_context  # no alert log of A9
    assert lost.severity == "CRITICAL"  # and A1, A9 from one IP within 24 h: a repeat


def test_a_later_alert_log_never_records_a_reset_the_paging_alert_did_not_carry(engine):
    # The first alert log of A1 raises the alert (its severity is the alert's) before the reset is
    # cached; a later log of A1 finds the reset. The alert paged High, not on the reset, so the
    # scheduled MFA rule's row must still page the MFA fact.
    first = _run(engine, alert_log("A1", "2024-12-13 10:00:00"), "Tracebit.CanaryResourceAccessed")
    identity = first.alert_context["identities"][0]
    assert first.severity == "HIGH" and first.alert_context["mfa_escalated_identities"] == []
    engine.kv.put_dictionary(
        f"tracebit:mfa_reset:{identity}",
        {"source": "Okta", "event_type": "user.mfa.factor.reset_all", "event_time": "2024-12-13T10:02:00Z"},
        epoch_seconds=T0 + 7 * DAY,
    )
    later = _run(engine, alert_log("A1", "2024-12-13 10:05:00"), "Tracebit.CanaryResourceAccessed")
    assert later.severity == "CRITICAL"  # this log alone would escalate, but it joins A1's alert
    assert engine.kv.get_string_set("tracebit:alert:A1") == {"log"}
    row = {
        "alert_id": "A1",
        "identity": identity,
        "event_type": "user.mfa.factor.reset_all",
        "actor": "helpdesk.tier1@acme.com",
        "alert_time": "2024-12-13 10:00:00.000",
    }
    (scheduled,) = engine.run_scheduled("Tracebit.CanaryPrincipalRecentMFAReset", [row])
    assert scheduled.destinations is None and scheduled.severity != "INFO"
    assert "no_page_reason" not in scheduled.alert_context


def test_the_first_alert_log_escalated_on_a_reset_records_it_for_later_paths(engine):
    first = _run(engine, alert_log("A2", "2024-12-13 10:00:00"), "Tracebit.CanaryResourceAccessed")
    identity = first.alert_context["identities"][0]
    engine.kv.clear()
    engine.kv.put_dictionary(
        f"tracebit:mfa_reset:{identity}",
        {"source": "Okta", "event_type": "user.mfa.factor.reset_all"},
        epoch_seconds=T0 + 7 * DAY,
    )
    escalated = _run(engine, alert_log("A3", "2024-12-13 11:00:00"), "Tracebit.CanaryResourceAccessed")
    assert escalated.severity == "CRITICAL"
    _run(engine, alert_log("A3", "2024-12-13 11:05:00"), "Tracebit.CanaryResourceAccessed")
    assert engine.kv.get_string_set("tracebit:alert:A3") == {"log", f"mfa={identity}"}


def test_the_bundled_incident_pages_once_per_fact():
    report = replay(INCIDENT)
    paging = [a.rule_id for a in report.alerts if a.pages]
    assert sorted(paging) == ["Tracebit.CanaryPrincipalGetObjectSurge", "Tracebit.CanaryResourceAccessed"]
    quiet = {a.rule_id: a for a in report.alerts if not a.pages}
    assert set(quiet) == {"Tracebit.AlertSummary.NotBenign", "Tracebit.CanaryPrincipalRecentMFAReset"}
    assert all(a.severity == "INFO" and a.destinations == ["SKIP"] for a in quiet.values())
    assert not any(a.rule_id.startswith("Tracebit.Correlation.") for a in report.alerts)


# ---------------------------------------------------------------------------- real caching calls


@pytest.fixture
def kv_table(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("KV_STORE_TABLE_NAME", raising=False)
    with mock_aws():
        caching._KV_TABLE = None
        boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName="panther-kv-store",
            KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield
        caching._KV_TABLE = None


def test_repeats_and_alert_state_through_dynamodb(kv_table):
    now = int(dt.datetime.now(dt.UTC).timestamp())
    keys = [("ip", "185.220.101.47")]
    assert (
        cache.remember_activity(
            caching.add_to_string_set,
            caching.remove_from_string_set,
            now,
            alert_id="A1",
            canary_list=[],
            keys=keys,
        )
        == []
    )
    (repeat,) = cache.remember_activity(
        caching.add_to_string_set,
        caching.remove_from_string_set,
        now + 60,
        alert_id="A2",
        canary_list=[],
        keys=keys,
    )
    assert repeat["alert_ids"] == ["A1", "A2"]
    assert cache.remember_alert_log(caching.add_to_string_set, now, "A1", mfa_identity="sue@acme.com")
    state = cache.alert_state(caching.get_string_set, "A1")
    assert cache.alert_log_seen(state) and cache.mfa_paged_for(state, "sue@acme.com")
    assert cache.alert_state(caching.get_string_set, "never-seen") == set()


def test_a_summary_rule_reads_the_state_its_alert_log_rule_wrote_through_dynamodb(kv_table):
    engine = PackEngine.load(REPO_ROOT)
    resource = engine.rules["Tracebit.CanaryResourceAccessed"].rule.module
    summary_rule = engine.rules["Tracebit.AlertSummary.NotBenign"].rule.module
    for module in (resource, summary_rule):  # the real caching functions, not the offline store
        for name in ("add_to_string_set", "remove_from_string_set", "get_string_set", "get_dictionary"):
            if hasattr(module, name):
                setattr(module, name, getattr(caching, name))
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    log = PantherEvent(alert_log("R1", when))
    assert resource.rule(log) is True
    later = PantherEvent(summary("R1", when))
    assert summary_rule.rule(later) is True
    assert summary_rule.severity(later) == "INFO" and summary_rule.destinations(later) == []
