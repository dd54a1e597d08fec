"""The embedded lake: loading, column types, and queries with expected rows written by hand.

Fixture: tests/fixtures/lake_engine/basic (5 CloudTrail, 4 Okta, 2 Tracebit alerts, 1 summary,
2 health checks). "Now" is 2024-06-30T12:00:00Z.
"""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracebit_pack.errors import UserError
from tracebit_pack.lake.embedded import Lake, table_columns
from tracebit_pack.lake.transpile import UnsupportedConstruct
from tracebit_pack.loading.folder_lake import lake_from_folder

BASIC = Path(__file__).parent / "fixtures" / "lake_engine" / "basic"
NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
SUE_ARN = (
    "arn:aws:sts::693260565127:assumed-role/AWSReservedSSO_AdministratorAccess_5f2c/sue.johnson@acme.com"
)


@pytest.fixture(scope="module")
def lake():
    lake = lake_from_folder(BASIC)
    yield lake
    lake.close()


def test_row_counts(lake):
    assert lake.row_counts == {
        "AWS.CloudTrail": 5,
        "Okta.SystemLog": 4,
        "Panther.Audit": 0,
        "Tracebit.Alert": 2,
        "Tracebit.AlertSummary": 1,
        "Tracebit.HealthCheck": 2,
    }


def test_table_columns_follow_the_schema():
    columns = dict(table_columns("AWS.CloudTrail"))
    assert columns["eventName"] == "VARCHAR"
    assert columns["userIdentity"] == columns["requestParameters"] == columns["resources"] == "VARIANT"
    assert columns["eventTime"] == columns["p_event_time"] == "TIMESTAMP"
    assert columns["readOnly"] == "BOOLEAN"
    assert columns["p_any_emails"] == "VARCHAR[]"
    assert dict(table_columns("Okta.SystemLog"))["securityContext"] == "VARIANT"


def test_a_whole_row(lake):
    rows = lake.run("SELECT * FROM panther_logs.public.tracebit_healthcheck WHERE NOT is_healthy")
    assert rows == [
        {
            "discriminator": {"subtype": "okta_system_log", "type": "health_check"},
            "timestamp": "2024-06-30 06:00:00.000000",
            "is_healthy": False,
            "p_log_type": "Tracebit.HealthCheck",
            "p_row_id": rows[0]["p_row_id"],
            "p_event_time": "2024-06-30 06:00:00.000000",
            "p_parse_time": "2024-06-30 06:00:00.000000",
            "p_schema_version": 0,
            "p_source_id": "00000000-0000-4000-8000-000000000000",
            "p_source_label": "tracebit-pack offline lake",
        }
    ]
    assert len(rows[0]["p_row_id"]) == 20
    again = lake_from_folder(BASIC).run("SELECT p_row_id FROM tracebit_healthcheck WHERE NOT is_healthy")
    assert again == [{"p_row_id": rows[0]["p_row_id"]}]  # deterministic


def test_timestamps_are_utc(lake):
    rows = lake.run("SELECT eventTime, p_event_time FROM aws_cloudtrail WHERE eventName = 'ConsoleLogin'")
    assert rows == [{"eventTime": "2024-06-30 06:15:00.000000", "p_event_time": "2024-06-30 06:15:00.000000"}]


def test_group_by_with_since_macro_and_string_cast(lake):
    sql = """
        SELECT userIdentity:arn::string AS principal, COUNT(*) AS downloads,
               SUM(additionalEventData:bytesTransferredOut::int) AS bytes
        FROM panther_logs.public.aws_cloudtrail
        WHERE eventSource = 's3.amazonaws.com' AND eventName = 'GetObject' AND p_occurs_since('1 day')
        GROUP BY 1 ORDER BY 1
    """
    assert lake.run(sql, now=NOW) == [{"principal": SUE_ARN, "downloads": 2, "bytes": 29465}]
    # Six days later nothing is in the window; two days earlier only Bob's download is (Sue's, after
    # "now", are not seen).
    assert lake.run(sql, now=datetime(2024, 7, 6, 12, tzinfo=UTC)) == []
    assert lake.run(sql, now=datetime(2024, 6, 28, 10, tzinfo=UTC)) == [
        {"principal": "arn:aws:iam::012345678901:user/bob", "downloads": 1, "bytes": 5000}
    ]


def test_okta_target_indexing_is_zero_based(lake):
    sql = """
        SELECT uuid, eventType, target[0]:alternateId::string AS first_target,
               target[1]:alternateId::string AS second_target
        FROM panther_logs.public.okta_systemlog
        WHERE eventType LIKE 'user.mfa.factor.%' ORDER BY published
    """
    assert lake.run(sql) == [
        {
            "uuid": "a1f0e6b2-0004-11ef-9a4c-000000000004",
            "eventType": "user.mfa.factor.deactivate",
            "first_target": "Acme AWS SSO",
            "second_target": "bob@acme.com",
        },
        {
            "uuid": "a1f0e6b2-0001-11ef-9a4c-000000000001",
            "eventType": "user.mfa.factor.reset_all",
            "first_target": "sue.johnson@acme.com",
            "second_target": None,
        },
    ]


def test_join_tracebit_alert_to_okta_mfa_reset(lake):
    sql = """
        SELECT a.alert_id, o.eventType, o.actor:alternateId::string AS reset_by
        FROM panther_logs.public.tracebit_alert a
        JOIN panther_logs.public.okta_systemlog o
          ON LOWER(SPLIT_PART(a.principal:aws:arn::string, '/', -1)) = LOWER(o.target[0]:alternateId::string)
        WHERE o.eventType IN ('user.mfa.factor.reset_all', 'user.mfa.factor.deactivate')
          AND o.p_event_time BETWEEN DATEADD(day, -7, a.p_event_time) AND a.p_event_time
          AND p_occurs_since('7 days', a)
    """
    assert lake.run(sql, now=NOW) == [
        {"alert_id": "alrt-7f3a", "eventType": "user.mfa.factor.reset_all", "reset_by": "admin@acme.com"}
    ]


def test_array_contains_on_p_any_and_inclusive_between(lake):
    sql = """
        SELECT eventID FROM panther_logs.public.aws_cloudtrail
        WHERE ARRAY_CONTAINS('sue.johnson@acme.com'::variant, p_any_emails)
          AND p_occurs_between('2024-06-30T10:58:00Z', '2024-06-30T11:05:00.250Z')
        ORDER BY eventID
    """
    assert lake.run(sql) == [
        {"eventID": "5b0e1c8a-0002-4a4e-9d7e-000000000002"},
        {"eventID": "5b0e1c8a-0003-4a4e-9d7e-000000000003"},
    ]


def test_account_id_with_leading_zero_stays_a_string(lake):
    sql = """
        SELECT COUNT(*) AS n, COUNT_IF(recipientAccountId = '012345678901') AS by_recipient
        FROM panther_logs.public.aws_cloudtrail WHERE userIdentity:accountId = '012345678901'
    """
    assert lake.run(sql) == [{"n": 2, "by_recipient": 2}]
    assert lake.run(
        "SELECT COUNT(*) AS n FROM aws_cloudtrail WHERE userIdentity:accountId = 12345678901"
    ) == [{"n": 0}]


def test_flatten_value_and_index(lake):
    sql = """
        SELECT s.alert_id, c.value:name::string AS canary, c.index AS idx, c.value:aws.region AS region
        FROM panther_logs.public.tracebit_alertsummary s, LATERAL FLATTEN(input => s.canaries_accessed) c
    """
    assert lake.run(sql) == [
        {"alert_id": "alrt-7f3a", "canary": "acme-canary-bucket", "idx": 0, "region": "us-east-1"}
    ]
    sql = """
        SELECT i.value:name::string AS name, ARRAY_SIZE(s.indicators) AS n, i.value:details AS details
        FROM panther_logs.public.tracebit_alertsummary s, TABLE(FLATTEN(input => s.indicators)) i
        ORDER BY i.index DESC
    """
    assert lake.run(sql) == [
        {"name": "bulk_download", "n": 2, "details": None},
        {"name": "new_ip", "n": 2, "details": {"ip": "203.0.113.10"}},
    ]


def test_flatten_of_labels_filters_rows(lake):
    sql = """
        SELECT l.value:value::string AS env
        FROM tracebit_alert a, LATERAL FLATTEN(input => a.canary_credential:labels) l
        WHERE l.value:name = 'env'
    """
    assert lake.run(sql) == [{"env": "prod"}]


def test_array_size_object_keys_and_variant_text(lake):
    sql = """
        SELECT ARRAY_SIZE(resources) AS n_resources, ARRAY_SIZE(requestParameters) AS not_an_array,
               OBJECT_KEYS(requestParameters) AS keys, requestParameters::string AS params_text,
               ARRAY_SIZE(p_any_aws_arns) AS n_arns
        FROM aws_cloudtrail WHERE eventName = 'ListObjects'
    """
    [row] = lake.run(sql)
    assert row["n_resources"] == 1 and row["not_an_array"] is None and row["n_arns"] == 3
    assert sorted(row["keys"]) == ["Host", "bucketName", "list-type", "max-keys"]
    assert json.loads(row["params_text"]) == {
        "bucketName": "acme-canary-bucket",
        "Host": "acme-canary-bucket.s3.us-east-1.amazonaws.com",
        "list-type": "2",
        "max-keys": "1000",
    }


def test_numeric_looking_strings_and_mixed_case_keys(lake):
    sql = """
        SELECT requestParameters:"max-keys" = '1000' AS is_string,
               requestParameters:"max-keys"::int + 1 AS as_number,
               requestParameters:Host::string AS host, requestParameters:host AS lower_host
        FROM aws_cloudtrail WHERE eventName = 'ListObjects'
    """
    assert lake.run(sql) == [
        {
            "is_string": True,
            "as_number": 1001,
            "host": "acme-canary-bucket.s3.us-east-1.amazonaws.com",
            "lower_host": None,
        }
    ]


def test_unhealthy_integrations(lake):
    sql = "SELECT discriminator:subtype::string AS integration FROM tracebit_healthcheck WHERE NOT is_healthy"
    assert lake.run(sql) == [{"integration": "okta_system_log"}]


def test_params_cte(lake):
    sql = """
        WITH params AS (SELECT 'nobody@acme.com' AS email, 'GetObject' AS operation)
        SELECT COUNT(*) AS n FROM panther_logs.public.aws_cloudtrail, params
        WHERE ARRAY_CONTAINS(params.email::variant, p_any_emails) AND eventName = params.operation
    """
    assert lake.run(sql) == [{"n": 0}]
    assert lake.run(sql, params={"email": "sue.johnson@acme.com"}) == [{"n": 2}]
    assert lake.run(sql, params={"EMAIL": "sue.johnson@acme.com", "operation": "ListObjects"}) == [{"n": 1}]
    assert lake.run(sql, params={"email": "x' OR 1=1 OR 'a'='a"}) == [{"n": 0}]  # one literal, not SQL
    with pytest.raises(UserError, match="unknown parameter 'user'.*email, operation"):
        lake.run(sql, params={"user": "x"})
    with pytest.raises(UserError, match="no 'WITH params"):
        lake.run("SELECT 1 AS x", params={"user": "x"})


def test_items_are_run_by_query_text(lake):
    from tracebit_pack.pack.items import AnalysisItem

    item = AnalysisItem(
        path=BASIC / "q.yml",
        spec={
            "AnalysisType": "saved_query",
            "QueryName": "Q",
            "Query": "SELECT COUNT(*) AS n FROM tracebit_alert",
        },
    )
    assert lake.run(item) == [{"n": 2}]
    empty = AnalysisItem(path=BASIC / "q.yml", spec={"AnalysisType": "saved_query", "QueryName": "E"})
    with pytest.raises(UserError, match="E: the item has no Query"):
        lake.run(empty)


def test_engine_errors_name_the_query(lake):
    with pytest.raises(UnsupportedConstruct, match="cannot execute it: Catalog Error"):
        lake.run("SELECT * FROM panther_logs.public.nosuchtable")


# --------------------------------------------------------------------------- loading and bad input


def test_empty_tables_exist_for_log_types_without_a_file(tmp_path):
    shutil.copy(BASIC / "Tracebit.HealthCheck.jsonl", tmp_path)
    lake = lake_from_folder(tmp_path)
    assert lake.run("SELECT COUNT(*) AS n FROM panther_logs.public.aws_cloudtrail") == [{"n": 0}]
    assert lake.run("SELECT COUNT(*) AS n FROM panther_logs.public.tracebit_healthcheck") == [{"n": 2}]


def test_parse_time_option(tmp_path):
    shutil.copy(BASIC / "Tracebit.HealthCheck.jsonl", tmp_path)
    lake = lake_from_folder(tmp_path, parse_time=datetime(2024, 7, 1, tzinfo=UTC))
    assert lake.run("SELECT DISTINCT p_parse_time FROM tracebit_healthcheck") == [
        {"p_parse_time": "2024-07-01 00:00:00.000000"}
    ]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"Okta.SystemLog.jsonl": "{\n"}, r"Okta.SystemLog.jsonl:1: malformed JSON"),
        ({"okta.jsonl": "{}\n"}, "unknown log type 'okta'"),
        (
            {"Tracebit.HealthCheck.jsonl": '{"timestamp": "2024-06-30T06:00:00Z", "is_healthy": true}\n'},
            r"Tracebit.HealthCheck.jsonl:1: discriminator: required field missing",
        ),
        (
            {
                "Tracebit.HealthCheck.jsonl": '{"discriminator": {"type": "health_check", "subtype": "x"}, '
                '"timestamp": "2024-06-30T06:00:00Z", "is_healthy": true, "p_log_type": "x"}\n'
            },
            "p_log_type: 'x' does not match log type",
        ),
    ],
)
def test_bad_folders(tmp_path, files, message):
    shutil.copy(BASIC / "AWS.CloudTrail.jsonl", tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        lake_from_folder(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(UserError, match="data folder not found"):
        lake_from_folder(tmp_path / "missing")


def test_load_is_all_or_nothing():
    lake = Lake()
    good = json.loads((BASIC / "Tracebit.HealthCheck.jsonl").read_text().splitlines()[0])
    with pytest.raises(UserError, match="events:2: is_healthy"):
        lake.load_events("Tracebit.HealthCheck", [good, dict(good, is_healthy="no")], source="events")
    assert lake.run("SELECT COUNT(*) AS n FROM tracebit_healthcheck") == [{"n": 0}]
