"""The scheduled MFA queries map a credential's owner with the global tracebit_customer (generated SQL)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.pack import customer_sql
from tracebit_pack.pack.items import find_item, load_items

REPO = Path(__file__).resolve().parent.parent
LAPTOP = REPO / "scenarios" / "canary_credential_laptop"
OKTA_QUERY = "Tracebit.Query.CanaryPrincipalRecentMFAReset"
AWS_QUERY = "Tracebit.Query.CanaryPrincipalRecentAWSMFATampering"
ALERT_TIME = dt.datetime(2025, 2, 11, 10, 13, 5, tzinfo=dt.UTC)


@pytest.mark.parametrize("name", customer_sql.QUERY_FILES, ids=lambda p: p.name)
def test_each_query_holds_the_block_the_global_generates(name):
    text = (REPO / name).read_text(encoding="utf-8")
    assert customer_sql.query_block(text) == customer_sql.render_block(REPO), (
        f"{name} is out of date with global_helpers/tracebit_customer.py: "
        "run .venv/bin/python -m tracebit_pack.pack.customer_sql"
    )


def _repo_with_customer(tmp_path: Path, settings: str) -> Path:
    """A copy of the repository's globals whose tracebit_customer ends with ``settings``."""
    shutil.copytree(REPO / "global_helpers", tmp_path / "global_helpers")
    customer = tmp_path / "global_helpers" / "tracebit_customer.py"
    customer.write_text(customer.read_text(encoding="utf-8") + "\n" + settings + "\n", encoding="utf-8")
    return tmp_path


def test_a_changed_global_no_longer_matches_the_shipped_queries(tmp_path):
    root = _repo_with_customer(tmp_path, 'CUSTOMER_EMAIL_DOMAINS = ("example.org", "acme.com")')
    block = customer_sql.render_block(root)
    assert "SELECT 'acme.com' AS domain\n    UNION ALL\n    SELECT 'example.org'" in block
    shipped = (REPO / customer_sql.QUERY_FILES[0]).read_text(encoding="utf-8")
    assert customer_sql.query_block(shipped) != block
    assert customer_sql.query_block(customer_sql.rewrite(shipped, block)) == block


def test_values_are_escaped_as_snowflake_literals(tmp_path):
    settings = (
        'OWNER_IDENTITIES = {"O\'Brien": ("o\'brien@acme.com", "back\\\\slash")}\nCUSTOMER_EMAIL_DOMAINS = ()'
    )
    block = customer_sql.render_block(_repo_with_customer(tmp_path, settings))
    assert "SELECT 'o''brien' AS owner, 'back\\\\slash' AS identity" in block
    assert "SELECT CAST(NULL AS VARCHAR) AS domain WHERE 1 = 0" in block  # no domain: an empty table


def _laptop_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "laptop"
    shutil.copytree(LAPTOP, folder)
    return folder


def _run(folder: Path, query_name: str) -> list[dict]:
    query = find_item(load_items(REPO), query_name)
    lake = lake_from_folder(folder)
    try:
        return lake.run(query, now=ALERT_TIME)
    finally:
        lake.close()


def test_okta_reset_of_the_owners_name_in_another_domain_is_not_the_owner(tmp_path):
    folder = _laptop_copy(tmp_path)
    okta = folder / "Okta.SystemLog.json"
    events = json.loads(okta.read_text())
    for event in events:
        if event["eventType"] == "user.mfa.factor.reset_all":
            for target in event["target"]:
                if target.get("type") == "User":
                    target["alternateId"] = "john.smith@other-company.example"
    okta.write_text(json.dumps(events))
    assert _run(folder, OKTA_QUERY) == []
    assert {row["identity"] for row in _run(LAPTOP, OKTA_QUERY)} == {"john.smith@acme.com"}


def test_aws_mfa_query_follows_the_credential_owner_not_tracebits_principal(tmp_path):
    folder = _laptop_copy(tmp_path)
    change = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDA2C6F4QW7ADMIN0001",
            "arn": "arn:aws:iam::693260565127:user/it.admin",
            "accountId": "693260565127",
            "userName": "it.admin",
        },
        "eventTime": "2025-02-10T16:20:11Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "DeactivateMFADevice",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.45",
        "userAgent": "aws-cli/2.22.35",
        "requestParameters": {
            "userName": "john.smith",
            "serialNumber": "arn:aws:iam::693260565127:mfa/john.smith-phone",
        },
        "responseElements": None,
        "requestID": "0d6f1c2e-5b7a-4e39-9c1d-2a3b4c5d6e7f",
        "eventID": "5e8a9b0c-1d2e-4f3a-8b7c-6d5e4f3a2b1c",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "693260565127",
        "eventCategory": "Management",
    }
    (folder / "AWS.CloudTrail" / "mfa_change.json").write_text(json.dumps({"Records": [change]}))
    (row,) = _run(folder, AWS_QUERY)
    assert (row["identity"], row["change_event_name"]) == ("john.smith", "DeactivateMFADevice")
    assert row["alert_id"] == "3e0f5b9a-7c21-4d8e-9f40-1a2b3c4d5e6f"
    assert _run(LAPTOP, AWS_QUERY) == []  # no change of John's IAM user in the shipped scenario
