"""The Okta MFA-reset signal rule at its limits: which targets count, how many, how long, and what
reaches the KV cache when writing fails for one identity."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from panther_core.enriched_event import PantherEvent

SIGNAL_RULE = Path(__file__).resolve().parent.parent / "rules" / "tracebit_signal_rules"
SIGNAL_RULE = SIGNAL_RULE / "tracebit_okta_mfa_reset_signal.py"


@pytest.fixture
def signal(monkeypatch):
    spec = importlib.util.spec_from_file_location("_test_signal_rule_limits", SIGNAL_RULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.written = {}

    def put_dictionary(key, value, epoch_seconds=None):
        module.written[key] = (value, epoch_seconds)

    monkeypatch.setattr(module, "put_dictionary", put_dictionary)
    return module


def user(alternate_id):
    return {"type": "User", "alternateId": alternate_id}


def reset(targets, **fields):
    return PantherEvent(
        {
            "eventType": "user.mfa.factor.reset_all",
            "published": "2024-12-12T09:14:03.000Z",
            "p_event_time": "2024-12-12 09:14:03.000",
            "uuid": "5b8a1f0e-9c6a-11ef-8e1b-2f4d3b6a7c01",
            "actor": {"alternateId": "helpdesk.agent@acme.com", "type": "User"},
            "outcome": {"result": "SUCCESS"},
            "target": targets,
            **fields,
        }
    )


def test_only_the_first_50_targets_are_read(signal):
    apps = [{"type": "AppInstance", "alternateId": f"app{n}"} for n in range(49)]
    assert signal.target_identities(reset([*apps, user("a@acme.com")])) == ["a@acme.com"]
    assert signal.target_identities(reset([*apps, {"type": "AppInstance"}, user("a@acme.com")])) == []


def test_at_most_ten_identities(signal):
    users = [user(f"u{n}@acme.com") for n in range(12)]
    assert signal.target_identities(reset(users)) == [f"u{n}@acme.com" for n in range(10)]


def test_identity_length_limits(signal):
    longest = "x" * 311 + "@acme.com"
    assert len(longest) == 320
    assert signal.target_identities(reset([user(longest)])) == [longest]
    assert signal.target_identities(reset([user("y" + longest)])) == []
    assert signal.target_identities(reset([user(""), user(None), user(7)])) == []


def test_user_type_is_case_insensitive_and_identities_are_deduplicated(signal):
    targets = [
        {"type": "USER", "alternateId": "Sue@Acme.com"},
        user("sue@acme.com"),
        {"alternateId": "x@y.z"},
    ]
    assert signal.target_identities(reset(targets)) == ["sue@acme.com"]
    assert signal.target_identities(reset("sue@acme.com")) == []
    assert signal.target_identities(reset({"type": "User"})) == []


def test_records_expire_seven_days_after_the_reset(signal):
    assert signal.rule(reset([user("sue@acme.com")])) is True
    value, expires = signal.written["tracebit:mfa_reset:sue@acme.com"]
    assert expires == 1733994843 + 7 * 24 * 3600  # 2024-12-12T09:14:03Z + 7 days
    assert value == {
        "source": "Okta",
        "event_type": "user.mfa.factor.reset_all",
        "event_time": "2024-12-12T09:14:03.000Z",
        "actor": "helpdesk.agent@acme.com",
        "uuid": "5b8a1f0e-9c6a-11ef-8e1b-2f4d3b6a7c01",
    }


def test_a_failed_write_does_not_stop_the_next_identity(signal, monkeypatch):
    written = []

    def put_dictionary(key, value, epoch_seconds=None):
        if key.endswith("first@acme.com"):
            raise RuntimeError("throttled")
        written.append(key)

    monkeypatch.setattr(signal, "put_dictionary", put_dictionary)
    assert signal.rule(reset([user("first@acme.com"), user("second@acme.com")])) is True
    assert written == ["tracebit:mfa_reset:second@acme.com"]


@pytest.mark.parametrize("result", ["FAILURE", "deny", "Deny"])
def test_failed_outcomes_write_nothing(signal, result):
    assert signal.rule(reset([user("sue@acme.com")], outcome={"result": result})) is False
    assert signal.written == {}


def test_alert_context_with_odd_outcome_client_and_actor(signal):
    event = reset(
        [user("sue@acme.com")], outcome="SUCCESS", client={"ipAddress": "198.51.100.23"}, actor="admin"
    )
    context = signal.alert_context(event)
    assert context["outcome"] is None and context["outcome_reason"] is None
    assert context["client_ip"] == "198.51.100.23"
    assert context["actor"] == {"alternate_id": None, "id": None, "type": None, "display_name": None}
    full = signal.alert_context(reset([user("sue@acme.com")], outcome={"result": "SUCCESS", "reason": "r"}))
    assert (full["outcome"], full["outcome_reason"], full["client_ip"]) == ("SUCCESS", "r", None)
    assert full["event_time"] == "2024-12-12T09:14:03.000Z"


def test_one_character_identity_and_junk_targets_before_a_user(signal):
    assert signal.target_identities(reset([user("a")])) == ["a"]
    assert signal.target_identities(reset(["junk", 7, None, user("b@acme.com")])) == ["b@acme.com"]


def test_an_unreadable_event_time_still_records_the_reset_for_seven_days(signal):
    # panther_core raises on a non-string p_event_time: the record then expires 7 days from now
    assert signal.rule(reset([user("sue@acme.com")], p_event_time=5)) is True
    _, expires = signal.written["tracebit:mfa_reset:sue@acme.com"]
    assert expires == 7 * 24 * 3600  # below 1e9: the KV cache reads it as relative to now
