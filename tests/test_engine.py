"""PackEngine: the pack loaded into panther_core, with the in-memory KV cache."""

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from panther_detection_helpers import caching

from tracebit_pack.engine import kv
from tracebit_pack.engine.kv import MemoryKVStore
from tracebit_pack.engine.rules import PackEngine
from tracebit_pack.errors import UserError
from tracebit_pack.times import parse_event_time as parse_time

FIXTURE_PACK = Path(__file__).parent / "fixtures" / "engine_pack"
FIXTURE_DIRS = ("detections", "models", "helpers")


@pytest.fixture
def engine():
    return PackEngine.load(FIXTURE_PACK, item_dirs=FIXTURE_DIRS)


def okta_reset(when="2024-12-12 22:41:07.000", target="Sue.Johnson@acme.com"):
    return {
        "p_log_type": "Okta.SystemLog",
        "p_event_time": when,
        "eventType": "user.mfa.factor.deactivate",
        "uuid": "u-1",
        "actor": {"alternateId": "helpdesk.agent@acme.com", "id": "00u1", "type": "User"},
        "client": {"ipAddress": "198.51.100.23"},
        "target": [{"alternateId": target, "id": "00u2", "type": "User"}],
    }


def canary(when="2024-12-12 23:00:00.000", principal="sue.johnson@acme.com", alert_id="A1"):
    return {
        "p_log_type": "Tracebit.Alert",
        "p_event_time": when,
        "discriminator": {"type": "tracebit_alert_log"},
        "alert_id": alert_id,
        "principal": {"id": principal},
        "canary": {"name": "payroll-archive"},
    }


def by_id(results):
    return {r.rule_id: r for r in results}


def test_loads_enabled_rules_models_and_globals(engine):
    assert set(engine.rules) == {
        "Fixture.Broken",
        "Fixture.Canary",
        "Fixture.Counter",
        "Fixture.Okta.MFAReset",
        "Fixture.Threshold",
    }
    assert "Fixture.Disabled" not in engine.rules
    assert set(engine.scheduled_rules) == {"Fixture.Scheduled"}
    assert set(engine.data_models) == {"Okta.SystemLog"}  # the disabled model is skipped
    assert engine.load_errors == {}
    assert engine.globals["engine_fixture_helpers"].reset_key("X") == "fixture:mfa_reset:x"


def test_rules_run_only_for_their_log_type(engine):
    assert [r.rule_id for r in engine.run_event(okta_reset())] == ["Fixture.Okta.MFAReset"]
    assert engine.run_event({"p_log_type": "Tracebit.HealthCheck"}) == []
    assert engine.run_event({"no": "log type"}) == []


def test_match_fields_data_model_and_default_severity(engine):
    signal = by_id(engine.run_event(okta_reset()))["Fixture.Okta.MFAReset"]
    assert signal.matched and signal.create_alert is False
    assert signal.severity == "INFO"
    assert signal.title == "Fixture Okta MFA reset (signal)"  # no title(): DisplayName
    assert signal.dedup == "defaultDedupString:Fixture.Okta.MFAReset"
    # udm() through the fixture data model: a JSONPath mapping and a Method mapping
    assert signal.alert_context == {"identities": ["sue.johnson@acme.com"], "source_ip": "198.51.100.23"}
    result = by_id(engine.run_event(canary()))["Fixture.Canary"]
    assert result.severity == "CRITICAL"  # the reset above is in the KV store


def test_kv_cache_escalates_in_event_time_and_expires(engine):
    plain = by_id(engine.run_event(canary(when="2024-12-12 22:00:00.000")))["Fixture.Canary"]
    assert plain.severity == "HIGH"  # DEFAULT resolved to the YAML Severity
    assert plain.alert_context["recent_mfa_reset"] == {}
    engine.run_event(okta_reset(when="2024-12-12 22:41:07.000"))
    key = "fixture:mfa_reset:sue.johnson@acme.com"
    assert key in engine.kv.snapshot()
    hot = by_id(engine.run_event(canary(when="2024-12-12 23:00:00.000")))["Fixture.Canary"]
    assert hot.severity == "CRITICAL"
    assert hot.title == "Canary payroll-archive accessed by sue.johnson@acme.com"
    assert hot.dedup == "A1"
    assert hot.alert_context["recent_mfa_reset"]["uuid"] == "u-1"
    # TTL = event time + 1 hour (the fixture rule): two hours later the entry has expired
    cold = by_id(engine.run_event(canary(when="2024-12-13 00:41:08.000")))["Fixture.Canary"]
    assert cold.severity == "HIGH"
    assert key not in engine.kv.snapshot()


def test_caching_functions_are_replaced_in_rules_and_helpers(engine):
    module = engine.rules["Fixture.Canary"].rule.module
    assert module.get_dictionary == engine.kv.get_dictionary
    assert module.get_dictionary is not caching.get_dictionary
    counter = engine.rules["Fixture.Counter"].rule.module
    assert counter.bump == engine.kv.increment_counter  # imported under another name
    assert counter.kv is not caching  # `import ... caching as kv` gets a stand-in module
    helper = engine.globals["engine_fixture_helpers"]
    assert helper.get_counter == engine.kv.get_counter


def test_without_the_real_caching_module_rules_get_the_stand_in_patched(tmp_path):
    """In a process that has not imported the real caching module (a CLI command), the engine puts
    the offline stand-in in its place: boto3 is never imported, the rules still use the store, and
    a stand-in function no engine bound refuses to run."""
    script = f"""
import sys
from tracebit_pack.engine import kv
from tracebit_pack.engine.rules import PackEngine
engine = PackEngine.load({str(FIXTURE_PACK)!r}, item_dirs={FIXTURE_DIRS!r})
assert sys.modules[kv.CACHING] is kv.STAND_IN and "boto3" not in sys.modules
module = engine.rules["Fixture.Canary"].rule.module
assert module.get_dictionary == engine.kv.get_dictionary
counter = engine.rules["Fixture.Counter"].rule.module
assert counter.bump == engine.kv.increment_counter and counter.kv is not kv.STAND_IN
assert engine.globals["engine_fixture_helpers"].get_counter == engine.kv.get_counter
try:
    kv.STAND_IN.get_counter("k")
except RuntimeError as err:
    assert "did not load" in str(err)
else:
    raise AssertionError("an unbound stand-in function ran")
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_the_stand_in_has_every_function_of_the_real_module():
    public = {
        n for n, v in vars(caching).items() if inspect.isfunction(v) and v.__module__ == caching.__name__
    }
    assert {n for n in public if not n.startswith("_")} == set(MemoryKVStore.FUNCTIONS)
    assert all(callable(getattr(kv.STAND_IN, n)) for n in MemoryKVStore.FUNCTIONS)


def test_counter_rule_uses_the_memory_store(engine):
    events = [
        {"p_log_type": "AWS.CloudTrail", "p_event_time": "2024-12-13 10:00:00", "eventName": "GetObject"}
    ]
    outcomes = []
    for i in range(4):
        event = dict(events[0], p_event_time=f"2024-12-13 10:0{i}:00.000")
        outcomes.append(by_id(engine.run_event(event))["Fixture.Counter"].matched)
    assert outcomes == [False, False, True, True]
    assert all(r.error is None for r in engine.run_event(events[0]))


def test_batch_mode_falls_back_on_helper_errors(engine):
    broken = by_id(engine.run_event(canary()))["Fixture.Broken"]
    assert broken.matched
    assert broken.title == "Fixture.Broken"  # title() raised: RuleID
    assert broken.severity == "LOW"  # invalid severity: the YAML value
    assert "_error" in broken.alert_context  # a set is not JSON serialisable


def test_test_mode_raises_helper_errors():
    strict = PackEngine.load(FIXTURE_PACK, batch_mode=False, item_dirs=FIXTURE_DIRS)
    broken = by_id(strict.run_event(canary()))["Fixture.Broken"]
    assert broken.error


def test_run_scheduled(engine):
    results = engine.run_scheduled(
        "Fixture.Scheduled", [{"principal": "a", "n": 10}, {"principal": "b", "n": 1}]
    )
    assert [r.matched for r in results] == [True, False]
    assert (
        results[0].title == "a did 10 things" and results[0].dedup == "a" and results[0].severity == "MEDIUM"
    )
    with pytest.raises(UserError):
        engine.run_scheduled("Nope", [])


def test_missing_pack_folder():
    with pytest.raises(UserError, match="not found"):
        PackEngine.load(Path("/nonexistent/pack"), item_dirs=FIXTURE_DIRS)


def test_memory_store_semantics():
    kv = MemoryKVStore()
    kv.now = 1_700_000_000
    kv.put_dictionary("d", {"a": 1}, epoch_seconds=60)  # relative (< 1e9): now + 60
    assert kv.get_dictionary("d") == {"a": 1}
    kv.now += 61
    assert kv.get_dictionary("d") == {}
    with pytest.raises(ValueError):
        kv.put_dictionary("bad", {"s": {1}})
    assert kv.increment_counter("c", epoch_seconds=100) == 1
    assert kv.increment_counter("c", 2, epoch_seconds=100) == 3  # every increment sets the TTL
    kv.now += 101
    assert kv.increment_counter("c", 5) == 5  # expired: PDH returns val itself
    assert kv.add_to_string_set("s", ["x", "y"]) == {"x", "y"}
    assert kv.remove_from_string_set("s", "x") == {"y"}
    assert kv.get_string_set("s") == {"y"}
    assert [kv.evaluate_threshold("t", threshold=2) for _ in range(3)] == [False, True, False]
    with pytest.raises(RuntimeError):
        kv.kv_table()


def test_parse_time_forms():
    assert parse_time("2024-12-13 16:20:00.123456789").microsecond == 123456
    assert parse_time("2024-12-13T16:20:00Z").tzinfo is not None
    assert parse_time("not a time") is None


def test_real_pack_loads_without_errors():
    engine = PackEngine.load()
    assert engine.load_errors == {}
    assert engine.rules, "the pack has no enabled real-time rules"
    assert all(lt in engine.data_models for lt in ("Tracebit.Alert", "Tracebit.AlertSummary"))
    # every Tracebit rule imports its caching function into the module: replaced by the store
    for loaded in engine.rules.values():
        for name in ("get_dictionary", "put_dictionary"):
            value = getattr(loaded.rule.module, name, None)
            assert value is None or value.__self__ is engine.kv


def test_run_rule_sets_the_clock_and_data_model_as_the_replay_does(engine):
    signal = engine.rule("Fixture.Okta.MFAReset")
    result = engine.run_rule(signal, okta_reset(when="2024-12-12 22:41:07.000"))
    assert engine.kv.now == parse_time("2024-12-12 22:41:07.000").timestamp()
    assert result.trigger_alert
    # the data model of Okta.SystemLog was applied (udm identities in the context)
    assert "sue.johnson@acme.com" in result.alert_context_output
    replayed = by_id(engine.run_event(okta_reset(when="2024-12-12 22:41:08.000")))["Fixture.Okta.MFAReset"]
    assert replayed.matched and engine.kv.now == parse_time("2024-12-12 22:41:08.000").timestamp()


def test_run_test_patches_mocks_and_leaves_the_clock(engine):
    engine.kv.now = 123.0
    loaded = engine.rule_of(next(i for i in engine.items if i.id == "Fixture.Disabled"))
    assert "Fixture.Disabled" not in engine.rules  # loaded for its tests only
    assert engine.rule_of(loaded.item) is loaded
    assert engine.run_test(loaded, canary()).trigger_alert
    mocked = engine.run_test(loaded, canary(), [{"objectName": "rule", "returnValue": False}, "not a mock"])
    assert not mocked.trigger_alert and mocked.detection_exception is None
    assert engine.kv.now == 123.0
