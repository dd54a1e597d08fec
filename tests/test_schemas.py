"""Schema field tree (tracebit_pack.logs.schemas)."""

from datetime import UTC, datetime

import pytest

from tracebit_pack.errors import UserError
from tracebit_pack.logs.schemas import LOG_TYPES, load_schema, log_type_of_file, parse_schema
from tracebit_pack.times import panther_time, parse_rfc3339
from tracebit_pack.times import parse_with_formats as parse_time


def test_the_six_log_types_have_schemas():
    assert LOG_TYPES == (
        "AWS.CloudTrail",
        "Okta.SystemLog",
        "Panther.Audit",
        "Tracebit.Alert",
        "Tracebit.AlertSummary",
        "Tracebit.HealthCheck",
    )


def test_field_tree_of_tracebit_alert():
    schema = load_schema("Tracebit.Alert")
    disc = schema.field("discriminator")
    assert disc.type == "object" and disc.required
    assert disc.field("type").allow == ("tracebit_alert_log",)
    assert disc.field("subtype").required is False
    ts = schema.field("timestamp")
    assert ts.type == "timestamp" and ts.is_event_time and ts.time_formats == ("rfc3339",)
    arn = schema.field("principal").field("aws").field("arn")
    assert arn.indicators == ("aws_arn",)
    labels = schema.field("canary_credential").field("labels")
    assert labels.type == "array" and labels.element.type == "object"
    assert [f.name for f in labels.element.fields] == ["name", "value"]
    assert schema.event_time_path == ("timestamp",)


def test_array_of_strings_element_carries_indicators():
    ips = load_schema("Tracebit.AlertSummary").field("ip_addresses")
    assert ips.element.type == "string" and ips.element.indicators == ("ip",)


def test_p_any_columns_follow_indicators():
    assert load_schema("AWS.CloudTrail").p_any_columns == (
        "p_any_actor_ids",
        "p_any_aws_account_ids",
        "p_any_aws_arns",
        "p_any_aws_instance_ids",
        "p_any_domain_names",
        "p_any_emails",
        "p_any_ip_addresses",
        "p_any_trace_ids",
        "p_any_usernames",
    )
    assert load_schema("Tracebit.HealthCheck").p_any_columns == ()


def test_okta_types():
    schema = load_schema("Okta.SystemLog")
    assert schema.field("securityContext").field("asNumber").type == "bigint"
    assert schema.field("authenticationContext").field("authenticationStep").type == "int"
    assert schema.field("target").element.field("id").required


def test_unknown_log_type_is_a_user_error():
    with pytest.raises(UserError, match="unknown log type 'AWS.Cloudtrail'"):
        load_schema("AWS.Cloudtrail")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"schema": "X.Y", "fields": [{"name": "a", "type": "text"}]}, "unknown field type 'text'"),
        ({"schema": "X.Y", "fields": [{"name": "a", "type": "string", "indicators": ["url2"]}]}, "url2"),
        ({"schema": "X.Y", "fields": [{"name": "a", "type": "array"}]}, "needs an element"),
        ({"schema": "X.Y", "fields": [{"name": "a", "type": "timestamp"}]}, "needs timeFormats"),
        ({"fields": []}, "not a Panther schema"),
    ],
)
def test_malformed_schemas_are_rejected(raw, message):
    with pytest.raises(UserError, match=message):
        parse_schema(raw)


def test_log_type_of_file(tmp_path):
    assert log_type_of_file(tmp_path / "Okta.SystemLog.jsonl") == "Okta.SystemLog"
    with pytest.raises(UserError, match="unknown log type 'okta'"):
        log_type_of_file(tmp_path / "okta.jsonl")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-30T11:00:00Z", datetime(2024, 6, 30, 11, tzinfo=UTC)),
        ("2024-06-30T13:00:00.5+02:00", datetime(2024, 6, 30, 11, 0, 0, 500000, tzinfo=UTC)),
        ("2024-06-30T11:00:00.123456789Z", datetime(2024, 6, 30, 11, 0, 0, 123456, tzinfo=UTC)),
        ("2024-06-30T00:30:00-01:00", datetime(2024, 6, 30, 1, 30, tzinfo=UTC)),
    ],
)
def test_parse_rfc3339(text, expected):
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text", ["2024-06-30 11:00:00Z", "2024-06-30T11:00:00", "2024-02-30T11:00:00Z", "yesterday", "2024-06-30"]
)
def test_parse_rfc3339_rejects(text):
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_parse_time_unix_and_panther_format():
    moment = parse_time(1719745200, ["unix"])
    assert moment == datetime(2024, 6, 30, 11, tzinfo=UTC)
    assert parse_time("1719745200000", ["unix_ms"]) == moment
    assert panther_time(moment) == "2024-06-30 11:00:00.000000"
