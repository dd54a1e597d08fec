"""Panther enrichment: p_event_time, p_parse_time, p_row_id and the p_any_* indicators."""

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tracebit_pack.logs.enrich import deterministic_row_id, enrich, indicator_values, scan
from tracebit_pack.logs.schemas import read_jsonl

FIXTURES = Path(__file__).parent / "fixtures" / "lake_engine" / "basic"
PARSED = datetime(2024, 7, 1, 0, 0, 1, 5, tzinfo=UTC)


def _events(log_type):
    return [e for _, e in read_jsonl(FIXTURES / f"{log_type}.jsonl")]


def test_standard_fields():
    event = _events("AWS.CloudTrail")[4]  # eventTime 2024-06-30T08:15:00+02:00
    out = enrich(event, "AWS.CloudTrail", parse_time=PARSED, row_id="row-1")
    assert out["p_log_type"] == "AWS.CloudTrail"
    assert out["p_event_time"] == "2024-06-30 06:15:00.000000"
    assert out["p_parse_time"] == "2024-07-01 00:00:01.000005"
    assert out["p_row_id"] == "row-1"
    assert event.get("p_log_type") is None  # the input is not modified


def test_event_time_falls_back_to_parse_time():
    out = enrich({"discriminator": {"type": "health_check"}}, "Tracebit.HealthCheck", parse_time=PARSED)
    assert out["p_event_time"] == out["p_parse_time"] == "2024-07-01 00:00:01.000005"
    assert len(out["p_row_id"]) == 20


def test_cloudtrail_indicators_including_email_in_assumed_role_arn():
    event = _events("AWS.CloudTrail")[1]
    assert indicator_values(event, "AWS.CloudTrail") == {
        "p_any_actor_ids": ["AROAXYZ5EXAMPLE", "AROAXYZ5EXAMPLE:sue.johnson@acme.com"],
        "p_any_aws_account_ids": ["693260565127"],
        "p_any_aws_arns": [
            "arn:aws:iam::693260565127:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_5f2c",
            "arn:aws:s3:::acme-canary-bucket",
            "arn:aws:s3:::acme-canary-bucket/backups/db-2024-06.sql.gz",
            "arn:aws:sts::693260565127:assumed-role/AWSReservedSSO_AdministratorAccess_5f2c/sue.johnson@acme.com",
        ],
        "p_any_emails": ["sue.johnson@acme.com"],
        "p_any_ip_addresses": ["203.0.113.10"],
        "p_any_trace_ids": ["ASIAXYZEXAMPLE01"],
        "p_any_usernames": ["AWSReservedSSO_AdministratorAccess_5f2c"],
    }


def test_cloudtrail_hostname_that_is_not_an_ip_is_a_domain():
    event = dict(_events("AWS.CloudTrail")[3], sourceIPAddress="s3.amazonaws.com")
    values = indicator_values(event, "AWS.CloudTrail")
    assert values["p_any_domain_names"] == ["s3.amazonaws.com"]
    assert "p_any_ip_addresses" not in values


def test_okta_indicators_arrays_of_objects_and_invalid_values():
    event = _events("Okta.SystemLog")[1]
    assert indicator_values(event, "Okta.SystemLog") == {
        "p_any_domain_names": ["amazonaws.com"],
        "p_any_emails": ["sue.johnson@acme.com"],
        "p_any_ip_addresses": ["203.0.113.10"],  # client.ipAddress and request.ipChain[0].ip, deduplicated
    }
    event = dict(event, actor=dict(event["actor"], alternateId="system@okta"))
    assert "p_any_emails" not in indicator_values(event, "Okta.SystemLog")  # not a valid address


def test_tracebit_alert_indicators_keep_case_and_sort():
    alert, okta_alert = _events("Tracebit.Alert")
    values = indicator_values(alert, "Tracebit.Alert")
    assert values["p_any_emails"] == ["Sue.Johnson@Acme.com"]
    assert values["p_any_aws_account_ids"] == ["693260565127"]
    assert values["p_any_actor_ids"] == ["AROAXYZ5EXAMPLE:Sue.Johnson@Acme.com"]
    assert values["p_any_ip_addresses"] == ["203.0.113.10"]
    assert indicator_values(okta_alert, "Tracebit.Alert") == {
        "p_any_actor_ids": ["00u1canary00000009", "canary.user@acme.com"],
        "p_any_emails": ["canary.user@acme.com"],
        "p_any_ip_addresses": ["198.51.100.99"],
    }


def test_summary_array_of_strings_and_nested_canaries():
    values = indicator_values(_events("Tracebit.AlertSummary")[0], "Tracebit.AlertSummary")
    assert values["p_any_ip_addresses"] == ["203.0.113.10", "203.0.113.11"]
    assert values["p_any_aws_arns"] == [
        "arn:aws:s3:::acme-canary-bucket",
        "arn:aws:sts::693260565127:assumed-role/AWSReservedSSO_AdministratorAccess_5f2c/sue.johnson@acme.com",
    ]


def test_scanners():
    out: dict[str, set[str]] = {}
    scan("aws_arn", "arn:aws:ec2:us-east-1:123456789012:instance/i-0abcdef1234567890", out)
    scan("aws_arn", "accounts.google.com", out)  # not an ARN: nothing
    scan("aws_arn", "arn:aws:sts::123456789012:assumed-role/Role/not-an-email", out)
    scan("url", "https://community.tracebit.com/alerts/1", out)
    scan("url", "http://10.0.0.1:8080/x", out)
    scan("net_addr", "192.0.2.1:443", out)
    scan("net_addr", "[2001:db8::1]:443", out)
    scan("hostname", "2001:db8::2", out)
    scan("ip", "not-an-ip", out)
    scan("email", "Name <a@b.com>", out)
    assert {k: sorted(v) for k, v in out.items()} == {
        "p_any_aws_arns": [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-0abcdef1234567890",
            "arn:aws:sts::123456789012:assumed-role/Role/not-an-email",
        ],
        "p_any_aws_account_ids": ["123456789012"],
        "p_any_aws_instance_ids": ["i-0abcdef1234567890"],
        "p_any_domain_names": ["community.tracebit.com"],
        "p_any_ip_addresses": ["10.0.0.1", "192.0.2.1", "2001:db8::1", "2001:db8::2"],
    }


def test_deterministic_row_id():
    assert deterministic_row_id("a", 1) == deterministic_row_id("a", 1) != deterministic_row_id("a", 2)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["1.2.3.4", "10.0.0.1", "::1", "bad", "1.2.3.4 "]), max_size=8))
def test_p_any_values_are_sorted_and_unique(ips):
    event = {"ip_addresses": ips}
    values = indicator_values(event, "Tracebit.AlertSummary").get("p_any_ip_addresses", [])
    assert values == sorted(set(values))
    assert set(values) == {ip.strip() for ip in ips if ip != "bad"}
