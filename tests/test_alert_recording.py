"""What ``tracebit_helpers.record_alert`` writes to the KV cache, whose repeats a rule reads back,
the once-per-event reads of the no-page decisions, and the parts of the alert context and title that
only odd logs reach (Tracebit's ``event.outcome``, oversized values, a credential without an owner).

Events are the rules' own YAML test logs (realistic, schema-conforming); odd shapes are made from
them by changing one field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from unittest import mock

import pytest
import yaml
from panther_core.enriched_event import PantherEvent

import tracebit_alert as alert
import tracebit_helpers as tb

RULES = Path(__file__).resolve().parent.parent / "rules" / "tracebit_rules"
SAMPLE = "Panther's sample, AWS temporary credentials planted on a laptop, pivots on the owner and the IP"
ALERT_ID = "fba46ed3-a454-4e85-a71a-9a89a257b150"
MFA_JSON = (
    '{"event_type": "user.mfa.factor.deactivate", "event_time": "2024-09-03T15:01:07.512Z", '
    '"actor": "helpdesk.tier1@acme.com", "uuid": "8d1f0c2e"}'
)


def _log(rule_file: str, name: str) -> dict:
    spec = yaml.safe_load((RULES / rule_file).read_text(encoding="utf-8"))
    return copy.deepcopy(next(test["Log"] for test in spec["Tests"] if test["Name"] == name))


def credential_log() -> dict:
    return _log("tracebit_canary_credential_used.yml", SAMPLE)


def summary_log() -> dict:
    return _log("tracebit_alert_summary_not_benign.yml", "Unclassified summary of the blog incident alerts")


class StringSets:
    """``add_to_string_set`` / ``get_string_set`` over a dict, as the caching helpers behave."""

    def __init__(self):
        self.sets: dict[str, set[str]] = {}
        self.ttls: dict[str, int | None] = {}
        self.reads = 0

    def add(self, key, values, epoch_seconds=None):
        self.sets.setdefault(key, set()).update(values)
        self.ttls[key] = epoch_seconds
        return set(self.sets[key])

    def get(self, key, force_ttl_check=False):
        self.reads += 1
        return json.dumps(sorted(self.sets.get(key, ())))


# ------------------------------------------------------------------------------ record_alert


def test_an_alert_rule_records_its_alert_log_unless_told_otherwise():
    sets = StringSets()
    assert tb.record_alert(PantherEvent(credential_log()), None, sets.add) is True
    assert sets.sets[f"tracebit:alert:{ALERT_ID}"] == {"log"}
    other = StringSets()
    tb.record_alert(PantherEvent(credential_log()), None, other.add, alert_log=False)
    assert f"tracebit:alert:{ALERT_ID}" not in other.sets
    assert "tracebit:recent:ip:212.36.35.20" in other.sets  # the activity is recorded either way


def test_the_alert_log_records_the_identity_whose_mfa_reset_escalated_it():
    sets = StringSets()
    get_dictionary = mock.MagicMock(return_value=MFA_JSON)
    # the first alert log of its alert (its state read, no ``log`` yet) records the reset
    tb.record_alert(PantherEvent(credential_log()), get_dictionary, sets.add, get_string_set=sets.get)
    assert sets.sets[f"tracebit:alert:{ALERT_ID}"] == {"log", "mfa=john.smith@acme.com"}
    without = StringSets()
    tb.record_alert(PantherEvent(credential_log()), None, without.add)
    assert without.sets[f"tracebit:alert:{ALERT_ID}"] == {"log"}


def test_an_unreadable_alert_state_records_no_reset():
    """Without the state the log cannot know it raised the alert: recording nothing may page the
    MFA fact twice, never not at all."""
    sets = StringSets()
    get_dictionary = mock.MagicMock(return_value=MFA_JSON)
    tb.record_alert(PantherEvent(credential_log()), get_dictionary, sets.add)  # no getter
    assert sets.sets[f"tracebit:alert:{ALERT_ID}"] == {"log"}
    failing = mock.MagicMock(side_effect=RuntimeError("DynamoDB throttled"))
    assert tb.escalation_to_record({"identity": "john.smith@acme.com"}, failing, ALERT_ID) is None


def test_the_options_of_record_alert_are_named_never_positional():
    """A bare True or False in a rule's call would silently mean a different option."""
    sets = StringSets()
    with pytest.raises(TypeError):
        tb.record_alert(PantherEvent(credential_log()), None, sets.add, None, False)


def test_an_event_without_a_readable_time_is_recorded_at_epoch_zero():
    sets = StringSets()
    assert tb.record_alert(credential_log(), None, sets.add) is True  # a plain dict: no event time
    assert sets.sets["tracebit:recent:ip:212.36.35.20"] == {f"alert={ALERT_ID}@0"}
    assert sets.ttls["tracebit:recent:ip:212.36.35.20"] == 24 * 3600


def test_a_failure_inside_the_recording_never_breaks_the_alert(monkeypatch):
    monkeypatch.setattr(tb, "activity_keys", mock.MagicMock(side_effect=RuntimeError("cache bug")))
    event = PantherEvent(credential_log())
    assert tb.record_alert(event, None, StringSets().add) is True
    assert tb.repeats_for_event(event) == []


def test_repeats_belong_to_the_event_that_found_them():
    sets = StringSets()
    first = PantherEvent(credential_log())
    second_log = credential_log()
    second_log["alert_id"] = "0c5e8d2a-1b3f-4a6c-9d7e-2f4a6b8c0d1e"
    second = PantherEvent(second_log)
    tb.record_alert(first, None, sets.add)
    tb.record_alert(second, None, sets.add)
    (repeat, *_) = tb.repeats_for_event(second)
    assert repeat["alert_ids"] == ["0c5e8d2a-1b3f-4a6c-9d7e-2f4a6b8c0d1e", ALERT_ID]
    assert tb.repeats_for_event(first) == []  # recorded before the second: no repeat of its own
    assert tb.repeats_for_event(None) == []


# ------------------------------------------------------------------------ no-page decisions


def test_a_summary_reads_its_alert_state_once_and_again_for_another_cache():
    event = PantherEvent(summary_log())
    paged, empty = StringSets(), StringSets()
    paged.add(f"tracebit:alert:{event['alert_id']}", ["log"])
    get_paged = paged.get  # one function object, as a rule module passes caching.get_string_set
    assert tb.summary_no_page_reason(event, get_paged).endswith("already raised an alert from its alert logs")
    assert tb.summary_no_page_reason(event, get_paged) is not None
    assert paged.reads == 1  # title, severity and destinations ask again: one read per event
    assert tb.summary_no_page_reason(event, empty.get) is None  # another cache is a new read


def test_a_summary_finds_the_alert_log_of_a_long_alert_id():
    """The alert log records its alert_id as the context keeps it (up to 1,024 characters); the
    summary must look it up the same way, or a long id pages twice."""
    long_id = "a" * 600
    alert_log, summary = credential_log(), summary_log()
    alert_log["alert_id"] = summary["alert_id"] = long_id
    sets = StringSets()
    tb.record_alert(PantherEvent(alert_log), None, sets.add)
    assert tb.summary_no_page_reason(PantherEvent(summary), sets.get) is not None


def test_a_scheduled_mfa_row_reads_its_alert_state_once_and_again_for_another_cache():
    row = {"alert_id": ALERT_ID, "identity": "john.smith@acme.com"}
    paged, empty = StringSets(), StringSets()
    paged.add(f"tracebit:alert:{ALERT_ID}", ["log", "mfa=john.smith@acme.com"])
    get_paged = paged.get
    assert "already paged on the MFA reset of john.smith@acme.com" in tb.mfa_row_no_page_reason(
        row, get_paged
    )
    assert tb.mfa_row_no_page_reason(row, get_paged) is not None
    assert paged.reads == 1
    assert tb.mfa_row_no_page_reason(row, empty.get) is None


# ------------------------------------------------------------- odd logs: outcome, caps, owner


@pytest.mark.parametrize(
    "outcome, expected",
    [
        (
            {"result": "failure", "code": "AccessDenied", "message": "not authorized"},
            {"result": "failure", "code": "AccessDenied", "message": "not authorized"},
        ),
        ({"code": "AccessDenied"}, {"result": None, "code": "AccessDenied", "message": None}),
        ({"result": "", "code": None}, None),
        ("AccessDenied", {"result": "AccessDenied", "code": None, "message": None}),
        ("  ", None),
        (None, None),
    ],
)
def test_tracebit_event_outcome_when_the_log_carries_it(outcome, expected):
    log = credential_log()
    log["event"]["outcome"] = outcome
    assert alert.event_outcome(PantherEvent(log)) == expected
    assert tb.rule_alert_context(PantherEvent(log))["event_outcome"] == expected


def test_event_outcome_values_are_capped():
    log = credential_log()
    log["event"]["outcome"] = {"result": "r" * 300, "code": "c" * 300, "message": "m" * 2000}
    assert alert.event_outcome(PantherEvent(log)) == {
        "result": "r" * 256,
        "code": "c" * 256,
        "message": "m" * 1024,
    }
    log["event"]["outcome"] = "AccessDenied " * 30
    assert alert.event_outcome(PantherEvent(log))["result"] == ("AccessDenied " * 30)[:256]


def test_summary_title_provider_account_and_logs_url_are_capped():
    log = summary_log()
    log["title"] = "T" * 2000
    log["provider_account_id"] = "1" * 300
    log["logs_url"] = "https://acme.tracebit.com/logs?q=" + "q" * 3000
    context = alert.alert_context(PantherEvent(log))
    assert context["summary_title"] == "T" * 1024
    assert context["provider_account_id"] == "1" * 256
    assert context["logs_url"] == log["logs_url"][:2048]


def test_a_credential_title_names_the_whole_source_address():
    log = credential_log()
    log["event"]["request"]["ip"] = "2001:0db8:85a3:0000:0000:8a2e:0370:7334%" + "e" * 40  # 80 characters
    title = tb.rule_title(PantherEvent(log), "credential")
    assert f" from {log['event']['request']['ip'][:64]}, planted on host us-sf01-596" in title


def test_a_credential_title_names_the_request_address_before_any_other():
    log = credential_log()
    log["ip_addresses"] = ["198.51.100.7"]  # a summary's field: listed after the request's address
    title = tb.rule_title(PantherEvent(log), "credential")
    assert " from 212.36.35.20, planted on host us-sf01-596" in title


def test_a_credential_without_an_owner_has_no_actor_user():
    log = credential_log()
    log["canary_credential"]["name"] = "us-sf01-596"  # Tracebit's CLI names a credential by its host
    assert tb.event_context(PantherEvent(log))["identities"] == []
    assert tb.actor_user(PantherEvent(log)) is None
    assert tb.actor_user(PantherEvent(credential_log())) == "john.smith"
