"""``Tracebit.CanaryCredentialSourceIPActivity`` on rows its YAML tests do not show: the title lists
at most three identities and counts the rest, attacker-controlled columns are capped, and only a
Tracebit portal link over HTTPS becomes the alert's reference.

The rows are the rule's first YAML test row (a realistic query row) with one column changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_kv_cache import load_module

RULES = Path(__file__).resolve().parent.parent / "rules" / "tracebit_scheduled_rules"
RULE_FILE = RULES / "tracebit_canary_credential_source_ip_activity"
SSO = "arn:aws:sts::693260565127:assumed-role/AWSReservedSSO_AdministratorAccess_3b1f2e4d5c6a7b8c/"


@pytest.fixture(scope="module")
def rule():
    return load_module(RULE_FILE.with_suffix(".py"), "_test_source_ip_activity_rule")


@pytest.fixture
def row():
    spec = yaml.safe_load(RULE_FILE.with_suffix(".yml").read_text(encoding="utf-8"))
    return dict(spec["Tests"][0]["Log"])


@pytest.mark.parametrize(
    "names, shown",
    [
        (["john.smith@acme.com"], "john.smith@acme.com"),
        (["a@acme.com", "b@acme.com", "c@acme.com"], "a@acme.com, b@acme.com, c@acme.com"),
        (
            ["a@acme.com", "b@acme.com", "c@acme.com", "d@acme.com"],
            "a@acme.com, b@acme.com, c@acme.com +1 more",
        ),
        (
            [f"{SSO}{n}@acme.com" for n in "abcdef"],
            f"{SSO}a@acme.com, {SSO}b@acme.com, {SSO}c@acme.com +3 more",
        ),
    ],
)
def test_title_lists_three_identities_and_counts_the_rest(rule, row, names, shown):
    row["identities"] = ", ".join(names)
    assert rule.title(row) == (
        "Tracebit canary credential john.smith@us-sf01-596 used from 212.36.35.20, "
        f"which also acted as {shown}"
    )
    assert rule.alert_context(row)["acted_as"] == names


def test_source_ip_in_the_title_is_capped_at_64_characters(rule, row):
    row["source_ip"] = "2001:db8:" + "f" * 100  # not an address: the column is whatever the logs held
    address = rule.title(row).split(" used from ", 1)[1].split(", which also acted as ", 1)[0]
    assert address == row["source_ip"][:63] + "\u2026"


def test_dedup_is_capped_at_900_characters(rule, row):
    row["alert_id"] = "a" * 1000
    assert rule.dedup(row) == "a" * 899 + "\u2026"
    row["alert_id"] = "a" * 886  # 886 + ":" + 13 characters of the address: exactly 900
    assert rule.dedup(row) == row["alert_id"] + ":212.36.35.20"


@pytest.mark.parametrize(
    "url, reference",
    [
        ("https://acme.tracebit.com/alerts/3e0f", "https://acme.tracebit.com/alerts/3e0f"),
        ("http://acme.tracebit.com/alerts/3e0f", "https://tracebit.com"),
        ("javascript:alert(1)", "https://tracebit.com"),
        (None, "https://tracebit.com"),
    ],
)
def test_reference_is_the_portal_link_only_over_https(rule, row, url, reference):
    row["tracebit_portal_url"] = url
    assert rule.reference(row) == reference


def test_identities_are_the_emails_among_the_sessions_and_logins(rule, row):
    row["identities"] = (
        f"{SSO}John.Smith@acme.com, arn:aws:iam::693260565127:user/deploy, Jane@Acme.com, deploy"
    )
    assert rule.alert_context(row)["identities"] == ["john.smith@acme.com", "jane@acme.com"]
