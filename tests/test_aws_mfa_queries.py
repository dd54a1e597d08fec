"""The CloudTrail MFA-tampering queries executed on the embedded lake: the scheduled query that joins
canary alerts to MFA / password changes of the same IAM user, and the credential-changes pivot.

Data: the ``scenarios/aws_mfa_tampering`` folder, plus small hand-made lakes for the edge cases
(denied calls, a user's own password change, a change older than the lookback, another user).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import pytest
import test_queries_exec
from test_queries_exec import assert_rule_fires_on, pick, run

import tracebit_pivots as tp
from tracebit_pack.lake.embedded import Lake
from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.query.pivots import run_pivot

items = test_queries_exec.items  # the pack's queries (a pytest fixture)
REPO_ROOT = Path(__file__).resolve().parent.parent
SCENARIO = REPO_ROOT / "scenarios" / "aws_mfa_tampering"
NOW = dt.datetime(2025, 1, 20, 3, 0, tzinfo=dt.UTC)
QUERY = "Tracebit.Query.CanaryPrincipalRecentAWSMFATampering"
PIVOT = "Tracebit.Pivot.PrincipalAWSCredentialChanges"
ACCOUNT = "693260565127"
CI_ARN = f"arn:aws:iam::{ACCOUNT}:user/ci-deployer"


@pytest.fixture(scope="module")
def lake():
    lake = lake_from_folder(SCENARIO)
    yield lake
    lake.close()


def iam_user(name):
    return {
        "type": "IAMUser",
        "principalId": f"AIDA2C6F4QW7{name.upper().replace('.', '')[:9]:X<9}",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "userName": name,
    }


def iam_call(when, caller, name, params, *, error=None, n=0):
    event = {
        "eventVersion": "1.09",
        "userIdentity": caller,
        "eventTime": when,
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.23",
        "userAgent": "aws-cli/2.15.30",
        "requestParameters": params,
        "responseElements": None,
        "requestID": f"5d0a3c1e-8f2b-4b7a-9c6d-{n:012d}",
        "eventID": f"3f6c1a2e-0b7d-4c8e-9a1f-{n:012d}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
    }
    if error:
        event["errorCode"] = error
    return event


def canary_alert(when, user):
    return {
        "discriminator": {"type": "tracebit_alert_log", "subtype": "canary_resource_accessed"},
        "id": f"log-{user}",
        "alert_id": f"alert-{user}",
        "timestamp": when,
        "provider": "aws",
        "severity": "high",
        "canary": {"name": "acme-finance-payroll-archive", "type": "AWS::S3::Bucket"},
        "principal": {"aws": {"arn": f"arn:aws:iam::{ACCOUNT}:user/{user}", "type": "IAMUser"}},
    }


def test_scenario_joins_the_canary_alert_to_the_three_changes_latest_first(lake, items):
    rows = run(lake, items, QUERY, now=NOW)
    assert pick(rows, "alert_id", "identity", "change_event_name", "change_actor") == [
        ("01JHZ4D6F8G2J5K7M9P1R3T5V7", "j.chen", "UpdateLoginProfile", CI_ARN),
        ("01JHZ4D6F8G2J5K7M9P1R3T5V7", "j.chen", "DeleteVirtualMFADevice", CI_ARN),
        ("01JHZ4D6F8G2J5K7M9P1R3T5V7", "j.chen", "DeactivateMFADevice", CI_ARN),
    ]
    assert rows[-1]["minutes_change_to_alert"] == 12  # 02:13 -> 02:25
    assert rows[0]["principal_arn"] == f"arn:aws:iam::{ACCOUNT}:user/j.chen"
    assert_rule_fires_on(QUERY, rows)


def test_scenario_an_hour_later_the_alert_is_out_of_the_window(lake, items):
    assert run(lake, items, QUERY, now=NOW + dt.timedelta(hours=1)) == []


def test_edge_cases_only_a_successful_change_by_another_principal_within_the_lookback(items):
    ortiz, lee = iam_user("m.ortiz"), iam_user("contractor.lee")
    admin = iam_user("ops.admin")
    trail = [
        # ortiz changes its own password: not a reset
        iam_call("2025-01-19T10:00:00Z", ortiz, "UpdateLoginProfile", {"userName": "m.ortiz"}, n=1),
        # denied attempt on ortiz's MFA: nothing changed
        iam_call(
            "2025-01-19T11:00:00Z",
            lee,
            "DeactivateMFADevice",
            {"userName": "m.ortiz"},
            error="AccessDenied",
            n=2,
        ),
        # adding a factor is not tampering
        iam_call("2025-01-19T12:00:00Z", ortiz, "EnableMFADevice", {"userName": "m.ortiz"}, n=3),
        # 9 days before the alert: outside the 7-day lookback
        iam_call("2025-01-11T02:00:00Z", admin, "DeactivateMFADevice", {"userName": "m.ortiz"}, n=4),
        # counts: the admin deletes ortiz's virtual device (user from the serialNumber ARN)
        iam_call(
            "2025-01-19T13:00:00Z",
            admin,
            "DeleteVirtualMFADevice",
            {"serialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/M.Ortiz"},
            n=5,
        ),
        # another user's change
        iam_call("2025-01-19T14:00:00Z", admin, "UpdateLoginProfile", {"userName": "j.chen"}, n=6),
    ]
    lake = Lake()
    try:
        lake.load_events("AWS.CloudTrail", trail)
        lake.load_events("Tracebit.Alert", [canary_alert("2025-01-20T02:30:00Z", "m.ortiz")])
        rows = run(lake, items, QUERY, now=NOW)
        assert pick(rows, "alert_id", "identity", "change_event_name", "change_event_id") == [
            ("alert-m.ortiz", "m.ortiz", "DeleteVirtualMFADevice", "3f6c1a2e-0b7d-4c8e-9a1f-000000000005")
        ]
        wider = run(lake, items, QUERY, now=NOW, params={"mfa_lookback_days": 10})
        assert [r["change_event_id"][-1] for r in wider] == ["5", "4"]
    finally:
        lake.close()


def test_pivot_lists_changes_to_and_by_the_principal(lake, items):
    params = {
        "principal_arn": CI_ARN,
        "principal_user": "ci-deployer",
        "alert_time": "2025-01-20 02:25:57",
    }
    rows = run_pivot(lake, tp, PIVOT, params, NOW)
    assert pick(rows, "event_name", "target_user", "performed_by") == [
        ("DeactivateMFADevice", "j.chen", CI_ARN),
        ("DeleteVirtualMFADevice", None, CI_ARN),  # the device named j.chen in its serialNumber
        ("UpdateLoginProfile", "j.chen", CI_ARN),
    ]


def test_pivot_for_the_victim_shows_what_was_done_to_it(lake, items):
    params = {
        "principal_arn": f"arn:aws:iam::{ACCOUNT}:user/j.chen",
        "principal_user": "j.chen",
        "alert_time": "2025-01-20 02:25:57",
    }
    rows = run_pivot(lake, tp, PIVOT, params, NOW)
    assert {r["performed_by"] for r in rows} == {CI_ARN}  # all done TO j.chen by ci-deployer
    assert len(rows) == 3
    other = run_pivot(lake, tp, PIVOT, dict(params, principal_user="m.ortiz"), NOW)
    # ortiz's own enrolment and password change, and the denied attempt on it (with its errorCode)
    assert pick(other, "event_name", "target_user", "error_code") == [
        ("EnableMFADevice", "m.ortiz", None),
        ("UpdateLoginProfile", "m.ortiz", None),
        ("DeactivateMFADevice", "m.ortiz", "AccessDenied"),
    ]


def test_an_access_key_created_for_another_user_counts_its_own_key_does_not(items):
    """panther-analysis AWS.IAM.Backdoor.User.Keys: CreateAccessKey by someone else is a takeover; a
    user creating its own key (no userName: the caller) is routine rotation."""
    ortiz, admin = iam_user("m.ortiz"), iam_user("ops.admin")
    trail = [
        iam_call("2025-01-19T10:00:00Z", ortiz, "CreateAccessKey", None, n=1),  # its own key
        iam_call("2025-01-19T11:00:00Z", admin, "CreateAccessKey", {"userName": "m.ortiz"}, n=2),
    ]
    with contextlib.closing(Lake()) as lake:
        lake.load_events("AWS.CloudTrail", trail)
        lake.load_events("Tracebit.Alert", [canary_alert("2025-01-20T02:30:00Z", "m.ortiz")])
        rows = run(lake, items, QUERY, now=NOW)
    assert pick(rows, "identity", "change_event_name", "change_actor") == [
        ("m.ortiz", "CreateAccessKey", admin["arn"])
    ]
