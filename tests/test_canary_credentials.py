"""Canary credentials as Tracebit sends them: the planted location is the identity, the source IP is
the lead, and Tracebit's own principal never reaches a pivot.

Data: Panther's own Tracebit credential sample (the "AWS Canary Credential Used" test of
panther-analysis' Tracebit rule, which is the first YAML test of ``Tracebit.CanaryCredentialUsed``)
and the native-format scenario ``scenarios/canary_credential_laptop``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import tracebit_credential as tc
import yaml

import tracebit_alert
import tracebit_pivots as tp
from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.logs.arrival import Arrival
from tracebit_pack.pack.items import find_item, load_items
from tracebit_pack.replay import replay

REPO = Path(__file__).resolve().parent.parent
CREDENTIAL_RULE = REPO / "rules" / "tracebit_rules" / "tracebit_canary_credential_used.yml"
SAMPLE_TEST = (
    "Panther's sample, AWS temporary credentials planted on a laptop, pivots on the owner and the IP"
)
LAPTOP = REPO / "scenarios" / "canary_credential_laptop"
TRACEBIT_ACCOUNT = "519571432283"


def _sample_event() -> dict:
    """Panther's sample as Tracebit delivers it (the YAML test's log without Panther's p_ fields)."""
    spec = yaml.safe_load(CREDENTIAL_RULE.read_text())
    log = next(test["Log"] for test in spec["Tests"] if test["Name"] == SAMPLE_TEST)
    return {key: value for key, value in log.items() if not key.startswith("p_")}


def _all_pivot_values(report) -> list[str]:
    return [str(value) for pivot in report.pivots for value in pivot.parameters.values()]


# ------------------------------------------------------------------------------------------------
# Done when: Panther's sample replays with pivots on the owner and the IP, none on Tracebit's account
# ------------------------------------------------------------------------------------------------


def test_panther_sample_pivots_run_on_the_owner_and_the_ip_never_on_tracebits_account(tmp_path):
    (tmp_path / "Tracebit.Alert.jsonl").write_text(json.dumps(_sample_event()) + "\n")
    # replay runs no pivot on a table the folder leaves empty: give it the laptop's CloudTrail and Okta
    shutil.copytree(LAPTOP / "AWS.CloudTrail", tmp_path / "AWS.CloudTrail")
    shutil.copy(LAPTOP / "Okta.SystemLog.json", tmp_path)
    report = replay(tmp_path)
    (alert,) = report.alerts
    assert alert.rule_id == "Tracebit.CanaryCredentialUsed"
    assert alert.alert_context["principal_arn"].startswith(f"arn:aws:sts::{TRACEBIT_ACCOUNT}:federated-user/")
    assert alert.alert_context["principal_note"].startswith("Tracebit-issued credential")
    values = _all_pivot_values(report)
    assert not [v for v in values if TRACEBIT_ACCOUNT in v or "15a1cfdf4eee48d78d9as66446dbcf43" in v]
    by_query = {p.query: p.parameters for p in report.pivots}
    assert by_query["Tracebit.Pivot.IdentityOktaMFAResets"]["identity"].startswith("john.smith@")
    assert by_query["Tracebit.Pivot.PrincipalAWSCredentialChanges"]["principal_user"] == "john.smith"
    assert by_query["Tracebit.Pivot.SourceIPCloudTrailActivity"]["source_ip"] == "212.36.35.20"
    assert by_query["Tracebit.Pivot.SourceIPOktaActivity"]["source_ip"] == "212.36.35.20"
    assert "john.smith" in alert.title and "212.36.35.20" in alert.title


# ------------------------------------------------------------------------------------------------
# Done when: the native-format scenario
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def laptop():
    # strict: every event of the native files (S3 objects, Okta array) must conform to its schema
    report = replay(LAPTOP, strict=True)
    assert report.skipped.total == 0
    return report


def test_laptop_scenario_raises_exactly_the_expected_alerts(laptop):
    spec = yaml.safe_load((LAPTOP / "expected.yml").read_text())
    assert laptop.alert_counts() == spec["alerts"]
    assert laptop.page_counts() == spec["pages"]
    assert laptop.rule_errors == {}
    severities = {a.rule_id: a.severity for a in laptop.alerts}
    for rule_id, severity in spec["severity"].items():
        assert severities[rule_id] == severity, rule_id


def test_laptop_scenario_alerts_name_the_owner_and_the_role_session(laptop):
    spec = yaml.safe_load((LAPTOP / "expected.yml").read_text())
    alerts = {a.rule_id: a for a in laptop.alerts}
    credential = alerts["Tracebit.CanaryCredentialUsed"]
    assert credential.alert_context["identities"][0] == spec["owner"]
    assert credential.alert_context["credential_placement"]["owner"] == "john.smith"
    # the MFA path for credentials: the owner's reset escalates the alert in real time
    assert credential.alert_context["recent_mfa_reset"]["identity"] == spec["owner"]
    assert "owner john.smith" in credential.title
    scheduled = alerts["Tracebit.CanaryPrincipalRecentMFAReset"]
    assert scheduled.alert_context["identities"] == [spec["owner"]]
    source_ip = alerts["Tracebit.CanaryCredentialSourceIPActivity"]
    assert spec["role_session"] in source_ip.alert_context["acted_as"]
    assert spec["role_session"] in source_ip.title
    assert source_ip.alert_context["identities"] == [spec["owner"]]


def test_laptop_scenario_mfa_correlation_fires_without_paging_again(laptop):
    alerts = {a.rule_id: a for a in laptop.alerts}
    credential = alerts["Tracebit.CanaryCredentialUsed"]
    assert credential.alert_context["mfa_correlation_identities"] == []
    assert credential.alert_context["mfa_escalated_identities"] == credential.alert_context["identities"]
    recorded = alerts["Tracebit.Correlation.OktaMFAReset.CanaryCredentialUsed.AlreadyPaged"]
    assert (recorded.severity, recorded.pages) == ("INFO", False)
    assert "john.smith@acme.com" in recorded.alert_context["identities"]
    assert "Tracebit.Correlation.OktaMFAReset.CanaryCredentialUsed" not in alerts


def test_laptop_scenario_okta_reset_arriving_late_pages_the_critical_correlation():
    # The reset reaches Panther 20 h late, after the credential alert: no real-time escalation,
    # so the Critical correlation pages at its next hourly run, and its Info companion is silent.
    late = Arrival(delays={"Okta.SystemLog": dt.timedelta(hours=20)})
    report = replay(LAPTOP, now=dt.datetime(2025, 2, 11, 14, tzinfo=dt.UTC), strict=True, arrival=late)
    alerts = {a.rule_id: a for a in report.alerts}
    assert alerts["Tracebit.CanaryCredentialUsed"].severity == "HIGH"
    assert alerts["Tracebit.CanaryCredentialUsed"].alert_context["mfa_escalated_identities"] == []
    critical = alerts["Tracebit.Correlation.OktaMFAReset.CanaryCredentialUsed"]
    assert (critical.severity, critical.pages) == ("CRITICAL", True)
    assert "john.smith@acme.com" in critical.alert_context["identities"]
    assert "Tracebit.Correlation.OktaMFAReset.CanaryCredentialUsed.AlreadyPaged" not in alerts


def test_laptop_scenario_pivots_follow_the_owner_and_the_ip(laptop):
    assert not [v for v in _all_pivot_values(laptop) if TRACEBIT_ACCOUNT in v]
    pivots = {p.query: p for p in laptop.pivots}
    ct = pivots["Tracebit.Pivot.SourceIPCloudTrailActivity"]
    assert {row["identity"] for row in ct.rows} == {
        "arn:aws:sts::693260565127:assumed-role/AWSReservedSSO_AdministratorAccess_3b1f2e4d5c6a7b8c/john.smith@acme.com"
    }
    assert sum(row["events"] for row in ct.rows) == 4
    okta = pivots["Tracebit.Pivot.SourceIPOktaActivity"]
    assert {row["identity"] for row in okta.rows} == {"john.smith@acme.com"}
    around = pivots["Tracebit.Pivot.PrincipalActivityAroundAlert"]
    assert [row["event_name"] for row in around.rows] == [
        "GetCallerIdentity",
        "ListBuckets",
        "ListSecrets",
        "ListUsers",
    ]
    assert all(p.error is None for p in laptop.pivots)


def test_source_ip_query_names_the_identities_the_ip_acted_as_and_nothing_else():
    query = find_item(load_items(REPO), "Tracebit.Query.CanaryCredentialSourceIPActivity")
    lake = lake_from_folder(LAPTOP)
    try:
        (row,) = lake.run(query, now=dt.datetime(2025, 2, 11, 10, 13, 5, tzinfo=dt.UTC))
        later = lake.run(query, now=dt.datetime(2025, 2, 11, 12, 0, tzinfo=dt.UTC))  # alert > 60 min old
        narrow = lake.run(
            query,
            now=dt.datetime(2025, 2, 11, 10, 13, 5, tzinfo=dt.UTC),
            params={"activity_window_hours": 0},
        )
    finally:
        lake.close()
    assert row["identities"] == (
        "arn:aws:sts::693260565127:assumed-role/AWSReservedSSO_AdministratorAccess_3b1f2e4d5c6a7b8c/"
        "john.smith@acme.com, john.smith@acme.com"
    )
    assert (
        row["events"] == 7
    )  # 4 CloudTrail calls, 3 Okta events from 212.36.35.20; the office IP is not in it
    assert "ListSecrets" in row["activity"] and "maria.garcia" not in row["activity"]
    assert later == [] and narrow == []


# ------------------------------------------------------------------------------------------------
# Item 1: where a credential was planted, and whose identities that makes it
# ------------------------------------------------------------------------------------------------


def _credential(name, *labels, kind="aws_temporary_security_credentials"):
    return {"name": name, "type": kind, "labels": dict(labels)}


@pytest.mark.parametrize(
    ("credential", "expected"),
    [
        (
            _credential("john.smith@us-sf01-596", ("source", "kandji"), ("source_type", "endpoint")),
            {"kind": "endpoint", "owner": "john.smith", "host": "us-sf01-596", "source": "kandji"},
        ),
        (  # Tracebit's CLI: named after the machine, labelled with its version
            _credential("JSMITH-MBP", ("tracebit_cli_version", "1.4.2"), kind="ssh"),
            {"kind": "endpoint", "owner": None, "host": "JSMITH-MBP"},
        ),
        (  # an owner that is an email of the customer's domain
            _credential("john.smith@acme.com", ("source_type", "endpoint")),
            {"kind": "endpoint", "owner": "john.smith@acme.com", "host": None},
        ),
        (  # labels win over the name
            _credential("build box", ("hostname", "us-sf01-777"), ("owner", "maria.garcia")),
            {"kind": "endpoint", "owner": "maria.garcia", "host": "us-sf01-777"},
        ),
        (
            _credential("payments", ("source", "custom"), ("source_type", "container")),
            {"kind": "container", "owner": None, "host": None},
        ),
        (  # Tracebit's GitHub Action
            _credential(
                "acme/payments-api@CI",
                ("source", "github"),
                ("source_type", "ci/cd"),
                ("github.repo", "acme/payments-api"),
                ("github.run_id", "14023456789"),
                ("github.workflow", "CI"),
            ),
            {
                "kind": "ci/cd",
                "repository": "acme/payments-api",
                "run_id": "14023456789",
                "run_url": "https://github.com/acme/payments-api/actions/runs/14023456789",
                "workflow": "CI",
                "owner": None,
            },
        ),
        (  # a CI/CD name without labels
            _credential("github-actions@acme/infra"),
            {"kind": "ci/cd", "repository": "acme/infra", "run_id": None, "run_url": None},
        ),
        (  # a CI/CD source type alone makes a CI/CD credential, whose run is read from the labels
            _credential("deploy-bot", ("source_type", "ci/cd"), ("run_id", "42"), ("hostname", "runner-7")),
            {"kind": "ci/cd", "repository": None, "run_id": "42", "host": None},
        ),
        (  # the repository label wins over the repository in a github-actions@ name
            _credential("github-actions@acme/other", ("github.repo", "acme/app")),
            {"kind": "ci/cd", "repository": "acme/app"},
        ),
        (  # source github without github.* labels still links the run
            _credential(
                "x", ("source", "GitHub"), ("source_type", "ci/cd"), ("repo", "acme/app"), ("run_id", "99")
            ),
            {"kind": "ci/cd", "run_url": "https://github.com/acme/app/actions/runs/99"},
        ),
        (  # any other CI system never gets a github.com link
            _credential(
                "x", ("source", "gitlab"), ("source_type", "ci/cd"), ("repo", "acme/app"), ("run_id", "99")
            ),
            {"kind": "ci/cd", "repository": "acme/app", "run_id": "99", "run_url": None},
        ),
        (  # in a container, <owner>@<name> keeps the owner; the container's name is not a host
            _credential("john.smith@payments-7f9c", ("source_type", "kubernetes")),
            {"kind": "kubernetes", "owner": "john.smith", "host": None},
        ),
        (  # a name ending in a customer's domain that is no email is an owner at a host
            _credential("ops/team@acme.com", ("source_type", "endpoint")),
            {"kind": "endpoint", "owner": None, "host": "acme.com"},
        ),
        (  # the last @ splits owner from host
            _credential("svc@build@us-sf01-596", ("source_type", "endpoint")),
            {"kind": "endpoint", "owner": "svc@build", "host": "us-sf01-596"},
        ),
        (  # a run id that is not a number never becomes a link
            _credential(
                "x", ("source_type", "ci/cd"), ("github.repo", "acme/a"), ("github.run_id", "1/../../x")
            ),
            {"kind": "ci/cd", "repository": "acme/a", "run_url": None},
        ),
    ],
)
def test_credential_placement(credential, expected):
    placement = tc.credential_placement(credential)
    assert set(placement) == set(tc.PLACEMENT_KEYS)
    assert {key: placement[key] for key in expected} == expected


@pytest.mark.parametrize(
    "credential", [None, "x", 3, [], {"labels": "oops", "name": 7}, {"labels": {None: None}}]
)
def test_credential_placement_bad_input_never_raises(credential):
    placement = tc.credential_placement(credential)
    assert placement is None or set(placement) == set(tc.PLACEMENT_KEYS)


def test_owner_identities_follow_the_one_configuration(monkeypatch):
    assert tc.owner_identities("John.Smith") == ["john.smith@acme.com", "john.smith"]
    assert tc.owner_identities("john.smith@acme.com") == ["john.smith@acme.com", "john.smith"]
    assert tc.owner_identities(None) == [] and tc.owner_identities("i-0abc12345678") == []
    monkeypatch.setattr(tc, "CUSTOMER_EMAIL_DOMAINS", ("corp.example", "example.org"))
    assert tc.owner_identities("jdoe") == ["jdoe@corp.example", "jdoe@example.org", "jdoe"]
    monkeypatch.setattr(tc, "CUSTOMER_EMAIL_DOMAINS", ())
    assert tc.owner_identities("jdoe") == ["jdoe"]
    monkeypatch.setattr(tc, "OWNER_IDENTITIES", {"jdoe": ("Jane.Doe@corp.example", "jane.doe")})
    assert tc.owner_identities("JDOE") == ["jane.doe@corp.example", "jane.doe"]


def test_an_owner_longer_than_an_email_can_be_has_no_identities():
    longest = "j" * (320 - len("@acme.com")) + "@acme.com"
    assert tc.owner_identities(longest) == [longest]  # its local part is too long for a username
    assert tc.owner_identities("j" + longest) == []


def test_principal_scope(monkeypatch):
    assert tc.principal_scope(True, "693260565127") == tc.SCOPE_TRACEBIT_ISSUED
    assert tc.principal_scope(False, TRACEBIT_ACCOUNT) == tc.SCOPE_CUSTOMER  # no accounts configured
    monkeypatch.setattr(tc, "CUSTOMER_AWS_ACCOUNT_IDS", ("693260565127",))
    assert tc.principal_scope(False, TRACEBIT_ACCOUNT) == tc.SCOPE_OUTSIDE
    assert tc.principal_scope(False, "693260565127") == tc.SCOPE_CUSTOMER
    assert tc.principal_scope(False, None) == tc.SCOPE_CUSTOMER


def test_a_principal_outside_the_customer_accounts_never_reaches_a_pivot(monkeypatch):
    """A resource alert whose principal is in another account: no principal pivot, the IP instead."""
    monkeypatch.setattr(tc, "CUSTOMER_AWS_ACCOUNT_IDS", ("693260565127",))
    event = _sample_event()
    event["discriminator"]["subtype"] = "canary_resource_accessed"
    context = tracebit_alert.alert_context(event)
    assert context["principal_scope"] == tc.SCOPE_OUTSIDE and context["identities"] == []
    params = tp.pivot_params(context)
    assert "principal_arn" not in params and "identity" not in params
    assert params["source_ip"] == "212.36.35.20"


def test_a_customer_principal_keeps_its_pivots_and_gets_no_ip_pivot():
    context = {
        "principal_scope": "customer",
        "principal_arn": "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com",
        "identities": ["sue.johnson@acme.com"],
        "source_ips": ["185.220.101.34"],
        "alert_time": "2024-12-13T16:20:00Z",
    }
    params = tp.pivot_params(context)
    assert params["principal_arn"] == context["principal_arn"] and "source_ip" not in params


# ------------------------------------------------------------------------------------------------
# Item 5: vendor fidelity
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("aws", "AWS credentials"),
        ("aws_temporary_security_credentials", "AWS temporary credentials"),
        ("ssh", "SSH key"),
        ("gitlab-cookie", "GitLab session cookie"),
        ("gitlab-username-password", "GitLab username and password"),
        ("npm-token", "npm token"),
        ("email", "email canary"),
        ("kubernetes", "Kubernetes credential"),
        ("context-bomb", "context bomb"),
        ("hashicorp_vault_token", "hashicorp_vault_token"),  # unknown: as sent, never dropped
        (None, None),
    ],
)
def test_credential_type_names(sent, shown):
    assert tc.credential_type_name(sent) == shown


def test_published_fields_missing_from_panthers_schema_are_used_when_present():
    event = _sample_event()
    context = tracebit_alert.alert_context(event)
    assert context["event_outcome"] is None
    assert (context["summary_title"], context["provider_account_id"], context["logs_url"]) == (
        None,
        None,
        None,
    )
    event["event"]["outcome"] = {"result": "failure", "code": "AccessDenied", "message": "not authorized"}
    event["canary"] = {
        "name": "acme-prod-backups",
        "type": "AWS::S3::Bucket",
        "deployed_at": "2024-08-01T10:00:00Z",
    }
    context = tracebit_alert.alert_context(event)
    assert context["event_outcome"] == {
        "result": "failure",
        "code": "AccessDenied",
        "message": "not authorized",
    }
    assert context["canaries"][0]["deployed_at"] == "2024-08-01T10:00:00Z"
    summary = {
        "discriminator": {"type": "tracebit_alert_summary"},
        "alert_id": "a1",
        "title": "Canary AWS credentials used",
        "provider_account_id": "693260565127",
        "logs_url": "https://community.tracebit.com/api/v1/alerts/a1/logs",
    }
    context = tracebit_alert.alert_context(summary)
    assert context["summary_title"] == "Canary AWS credentials used"
    assert context["provider_account_id"] == "693260565127"
    assert context["logs_url"].endswith("/alerts/a1/logs")


@pytest.mark.parametrize("outcome", ["AccessDenied", 7, [], {"result": None}, {"code": ["x"]}])
def test_odd_event_outcomes_never_raise(outcome):
    event = _sample_event()
    event["event"]["outcome"] = outcome
    context = tracebit_alert.alert_context(event)
    assert context["event_outcome"] is None or isinstance(context["event_outcome"], dict)
