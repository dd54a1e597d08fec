"""The AWS MFA-tampering signal: who it names, what it writes to the KV cache, and the escalation
of a Tracebit canary alert whose principal is that IAM user (user ARN, user name, or an assumed-role
session named after it). Runs the real ``put_dictionary`` / ``get_dictionary`` against moto's
DynamoDB (fixtures from test_kv_cache)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import test_kv_cache
from panther_core.enriched_event import PantherEvent
from panther_detection_helpers import caching
from test_kv_cache import load_module, recent

aws_env = test_kv_cache.aws_env  # pytest fixtures shared with the Okta signal's tests
kv_table = test_kv_cache.kv_table

REPO_ROOT = Path(__file__).resolve().parent.parent
AWS_SIGNAL = REPO_ROOT / "rules" / "tracebit_signal_rules" / "tracebit_aws_mfa_tampering_signal.py"
TRACEBIT_RULE = REPO_ROOT / "rules" / "tracebit_rules" / "tracebit_canary_resource_accessed.py"
ACCOUNT = "693260565127"
ADMIN = {
    "type": "AssumedRole",
    "principalId": "AROA2C6F4QW7ZB3VH8KMT:ops-admin",
    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ops-break-glass/ops-admin",
    "accountId": ACCOUNT,
}
JCHEN = {
    "type": "IAMUser",
    "principalId": "AIDA2C6F4QW7HJ2KD9RXE",
    "arn": f"arn:aws:iam::{ACCOUNT}:user/j.chen",
    "accountId": ACCOUNT,
    "userName": "j.chen",
}


@pytest.fixture
def signal():
    return load_module(AWS_SIGNAL, "_test_aws_mfa_tampering_signal")


@pytest.fixture
def tracebit_rule():
    return load_module(TRACEBIT_RULE, "_test_tracebit_canary_resource_accessed_aws")


def cloudtrail(name, params, when=None, *, identity=ADMIN, error=None, source="iam.amazonaws.com"):
    when = when or recent()
    raw = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "p_event_time": when.strftime("%Y-%m-%d %H:%M:%S.000"),
        "p_log_type": "AWS.CloudTrail",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "185.220.101.47",
        "requestParameters": params,
        "eventID": "3f6c1a2e-0b7d-4c8e-9a1f-6d2e4b8c0a11",
        "recipientAccountId": ACCOUNT,
    }
    if error:
        raw["errorCode"] = error
    return PantherEvent(raw)


def canary_alert(principal: dict, when: dt.datetime) -> PantherEvent:
    return PantherEvent(
        {
            "p_log_type": "Tracebit.Alert",
            "p_event_time": when.strftime("%Y-%m-%d %H:%M:%S.000"),
            "discriminator": {"type": "tracebit_alert_log", "subtype": "canary_resource_accessed"},
            "id": "log-1",
            "alert_id": "alert-1",
            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "severity": "high",
            "canary": {"name": "acme-finance-payroll-archive", "type": "AWS::S3::Bucket"},
            "principal": principal,
        }
    )


@pytest.mark.parametrize(
    "case",
    [
        (
            "DeactivateMFADevice",
            {"userName": "J.Chen", "serialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/x"},
            ADMIN,
            "j.chen",
            "requestParameters.userName",
        ),
        (
            "DeleteVirtualMFADevice",
            {"serialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/ops/j.chen"},
            ADMIN,
            "j.chen",
            "requestParameters.serialNumber",
        ),
        (
            "ResyncMFADevice",
            {"serialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/j.chen-phone"},
            JCHEN,
            "j.chen",
            "userIdentity.userName (own user)",
        ),
        (
            "UpdateLoginProfile",
            {"userName": "j.chen", "passwordResetRequired": False},
            ADMIN,
            "j.chen",
            "requestParameters.userName",
        ),
        ("CreateLoginProfile", {"userName": "j.chen"}, ADMIN, "j.chen", "requestParameters.userName"),
    ],
)
def test_signal_names_the_affected_iam_user_and_writes_the_contract_record(kv_table, signal, case):
    name, params, identity, who, resolved_from = case
    when = recent()
    event = cloudtrail(name, params, when, identity=identity)
    assert signal.rule(event) is True
    context = signal.alert_context(event)
    assert context["identities"] == [who]
    assert context["target_resolved_from"] == resolved_from
    assert context["target_user_arn"] == f"arn:aws:iam::{ACCOUNT}:user/{context['target_user']}"
    record = caching.get_dictionary(f"tracebit:mfa_reset:{who}", force_ttl_check=True)
    assert record["source"] == "AWS"
    assert record["event_type"] == name
    assert record["event_time"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert record["actor"] == identity["arn"]
    assert record["uuid"] == "3f6c1a2e-0b7d-4c8e-9a1f-6d2e4b8c0a11"
    item = kv_table.get_item(Key={"key": f"tracebit:mfa_reset:{who}"})["Item"]
    assert int(item["expiresAt"]) == int(when.timestamp()) + 7 * 24 * 3600
    assert json.loads(item["dictionary"]) == record


@pytest.mark.parametrize(
    "case",
    [
        ("DeactivateMFADevice", {"userName": "j.chen"}, ADMIN, "AccessDenied"),
        ("UpdateLoginProfile", {"userName": "j.chen"}, JCHEN, None),  # own password: not a reset
        ("EnableMFADevice", {"userName": "j.chen"}, ADMIN, None),
        ("DeleteVirtualMFADevice", {"serialNumber": "GAHT12345678"}, ADMIN, None),
        ("DeactivateMFADevice", {"userName": "has space"}, ADMIN, None),
        ("DeactivateMFADevice", None, ADMIN, None),
        ("DeactivateMFADevice", ["j.chen"], ADMIN, None),
    ],
)
def test_non_matching_events_write_nothing(kv_table, signal, case):
    name, params, identity, error = case
    assert signal.rule(cloudtrail(name, params, identity=identity, error=error)) is False
    assert kv_table.scan()["Items"] == []


@pytest.mark.parametrize("event_name", [["DeactivateMFADevice"], {"a": 1}, 7, None])
def test_non_string_event_names_are_ignored(signal, event_name):
    assert signal.rule(PantherEvent({"eventName": event_name, "p_log_type": "AWS.CloudTrail"})) is False


@pytest.mark.parametrize(
    "principal",
    [
        {
            "id": "AIDA2C6F4QW7HJ2KD9RXE",
            "aws": {"arn": f"arn:aws:iam::{ACCOUNT}:user/j.chen", "type": "IAMUser"},
        },
        {"id": "AIDA2C6F4QW7HJ2KD9RXE", "aws": {"username": "j.chen", "account_id": ACCOUNT}},
        {"aws": {"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ReadOnly/j.chen"}},
    ],
    ids=["user-arn", "username", "assumed-role-session"],
)
def test_canary_alert_of_that_user_escalates_to_critical_with_the_cloudtrail_event(
    kv_table,
    signal,
    tracebit_rule,
    principal,
):
    reset = recent()
    assert signal.rule(cloudtrail("DeactivateMFADevice", {"userName": "j.chen"}, reset)) is True
    alert = canary_alert(principal, reset + dt.timedelta(minutes=30))
    assert tracebit_rule.rule(alert) is True
    assert tracebit_rule.severity(alert) == "CRITICAL"
    record = tracebit_rule.alert_context(alert)["recent_mfa_reset"]
    assert (record["source"], record["event_type"], record["identity"]) == (
        "AWS",
        "DeactivateMFADevice",
        "j.chen",
    )
    assert record["actor"] == ADMIN["arn"]
    assert "after AWS DeactivateMFADevice for j.chen" in tracebit_rule.title(alert)


def test_canary_alert_of_another_user_is_not_escalated(kv_table, signal, tracebit_rule):
    reset = recent()
    assert signal.rule(cloudtrail("DeactivateMFADevice", {"userName": "j.chen"}, reset)) is True
    alert = canary_alert(
        {"aws": {"arn": f"arn:aws:iam::{ACCOUNT}:user/m.ortiz"}}, reset + dt.timedelta(minutes=5)
    )
    assert tracebit_rule.severity(alert) == "HIGH"
    assert "recent_mfa_reset" not in tracebit_rule.alert_context(alert)


# --- How the affected user is resolved, field by field -------------------------------------------


def test_user_name_in_the_request_wins_over_the_calling_iam_user(signal):
    event = cloudtrail("DeactivateMFADevice", {"userName": "j.chen"}, identity=dict(JCHEN, userName="alice"))
    assert signal.target_user(event)["name"] == "j.chen"
    assert signal.identities(event) == ["j.chen"]


def test_identity_center_user_id_is_read_only_without_a_user_name(signal):
    event = cloudtrail(
        "DeleteMfaDeviceForUser",
        {"userName": "j.chen", "userId": "9067d5c2a1-x"},
        source="sso-directory.amazonaws.com",
    )
    assert signal.target_user(event)["name"] == "j.chen"


def test_a_serial_that_is_an_arn_but_no_mfa_device_names_nobody(signal):
    event = cloudtrail("DeleteVirtualMFADevice", {"serialNumber": f"arn:aws:iam::{ACCOUNT}:user/j.chen"})
    assert signal.target_user(event)["name"] is None
    assert signal.identities(event) == []
    assert signal.rule(event) is False


def test_user_names_and_ids_are_capped_at_128_characters(signal):
    event = cloudtrail("DeactivateMFADevice", {"userName": "u" * 130})
    assert signal.target_user(event)["name"] == "u" * 128
    long_id = "d" * 130
    event = cloudtrail("DeleteMfaDeviceForUser", {"userId": long_id}, source="sso-directory.amazonaws.com")
    assert signal.target_user(event)["name"] == "d" * 128


def test_the_user_arn_takes_the_callers_account_when_the_event_has_no_recipient(signal):
    event = cloudtrail(
        "DeactivateMFADevice", {"userName": "j.chen"}, identity=dict(ADMIN, accountId="111122223333")
    )
    raw = dict(event.to_dict())
    raw.pop("recipientAccountId")
    assert signal.target_user(PantherEvent(raw))["arn"] == "arn:aws:iam::111122223333:user/j.chen"


def test_an_assumed_role_actor_is_named_by_its_user_name_when_cloudtrail_gives_one(signal):
    event = cloudtrail("DeactivateMFADevice", {"userName": "j.chen"}, identity=dict(ADMIN, userName="named"))
    assert signal.alert_context(event)["actor"]["user_name"] == "named"
    assert (
        signal.alert_context(cloudtrail("DeactivateMFADevice", {"userName": "j.chen"}))["actor"]["user_name"]
        == "ops-admin"
    )


def test_event_time_falls_back_to_p_event_time_only_without_event_time(signal):
    event = cloudtrail("DeactivateMFADevice", {"userName": "j.chen"})
    assert signal.alert_context(event)["event_time"] == event["eventTime"]
    raw = dict(event.to_dict())
    raw.pop("eventTime")
    assert signal.alert_context(PantherEvent(raw))["event_time"] == event["p_event_time"]


@pytest.mark.parametrize(
    "value, stored",
    [
        (True, "true"),
        (False, "false"),
        ("TRUE", "true"),  # a string where CloudTrail usually writes a boolean
        (" false ", "false"),
        ("yes", None),
        (None, None),  # no such flag in the call
    ],
)
def test_password_reset_required_is_recorded_as_true_false_or_null(kv_table, signal, value, stored):
    params = {"userName": "j.chen"}
    if value is not None:
        params["passwordResetRequired"] = value
    event = cloudtrail("UpdateLoginProfile", params)
    assert signal.rule(event) is True
    record = caching.get_dictionary("tracebit:mfa_reset:j.chen", force_ttl_check=True)
    assert record["password_reset_required"] == stored
    assert signal.alert_context(event)["password_reset_required"] == {"true": True, "false": False}.get(
        stored
    )
