"""Snowflake -> DuckDB rewrite: the wrong-answer traps of raw sqlglot, and what must raise.

Each trap is run both ways on the same lake: raw ``sqlglot.transpile`` gives a wrong answer (or
fails), the rewrite gives Snowflake's answer. If the rewrite regressed to raw sqlglot's output,
these tests would fail.
"""

from pathlib import Path

import duckdb
import pytest
import sqlglot

from tracebit_pack.errors import UserError
from tracebit_pack.lake.transpile import UnsupportedConstruct, transpile
from tracebit_pack.loading.folder_lake import lake_from_folder

BASIC = Path(__file__).parent / "fixtures" / "lake_engine" / "basic"
VARIANTS = {"userIdentity", "target", "principal", "requestParameters", "debugContext", "canaries_accessed"}


@pytest.fixture(scope="module")
def lake():
    lake = lake_from_folder(BASIC)
    yield lake
    lake.close()


def _raw(lake, sql):
    """What raw sqlglot would return (None if DuckDB rejects it)."""
    try:
        return lake.connection.execute(sqlglot.transpile(sql, read="snowflake", write="duckdb")[0]).fetchall()
    except duckdb.Error:
        return None


TRAPS = [
    # A string that looks like a number must compare as a string.
    ("SELECT COUNT(*) AS n FROM aws_cloudtrail WHERE userIdentity:accountId = '693260565127'", [{"n": 3}]),
    # ::string drops the JSON quotes.
    (
        "SELECT principal:aws:account_id::string AS acct FROM tracebit_alert WHERE alert_id = 'alrt-7f3a'",
        [{"acct": "693260565127"}],
    ),
    # target[0] is the first element (Snowflake arrays are 0-based).
    (
        "SELECT target[0]:alternateId::string AS t FROM okta_systemlog "
        "WHERE eventType = 'user.mfa.factor.reset_all'",
        [{"t": "sue.johnson@acme.com"}],
    ),
    # Keys are case-sensitive: requestUri exists, RequestUri does not.
    (
        "SELECT debugContext:debugData:requestUri::string AS a, "
        "debugContext:debugData:RequestUri::string AS b "
        "FROM okta_systemlog WHERE eventType = 'user.mfa.factor.reset_all'",
        [{"a": "/api/v1/users/reset_factors", "b": None}],
    ),
    # Join through ::string values (0 rows with raw sqlglot's quoted strings).
    (
        "SELECT COUNT(*) AS n FROM tracebit_alert a JOIN aws_cloudtrail c ON a.event:id::string = c.eventID",
        [{"n": 1}],
    ),
]


@pytest.mark.parametrize(("sql", "expected"), TRAPS)
def test_traps_are_answered_like_snowflake(lake, sql, expected):
    assert lake.run(sql) == expected
    raw = _raw(lake, sql)
    assert raw is None or raw != [tuple(row.values()) for row in expected], (
        "raw sqlglot was expected to be wrong"
    )


def test_rewrite_shapes():
    sql = transpile(
        "SELECT target[0]:alternateId::string, userIdentity:sessionContext.sessionIssuer:arn, "
        'principal:"Mixed" FROM t',
        variant_columns=VARIANTS,
    )
    assert sql == (
        "SELECT SF_VARIANT_TEXT(target[1]['alternateId']), "
        "userIdentity['sessionContext']['sessionIssuer']['arn'], principal['Mixed'] FROM t"
    )
    assert transpile("SELECT GET_PATH(userIdentity, 'a.b[2]') FROM t", variant_columns=VARIANTS) == (
        "SELECT userIdentity['a']['b'][3] FROM t"
    )
    assert transpile("SELECT eventName::string, TO_VARCHAR(x) FROM t", variant_columns=VARIANTS) == (
        "SELECT CAST(eventName AS TEXT), CAST(x AS TEXT) FROM t"
    )


def test_variant_casts_read_strings(lake):
    rows = lake.run(
        "SELECT additionalEventData:bytesTransferredOut::number AS n, "
        "userIdentity:sessionContext:attributes:creationDate::timestamp_ntz AS created, "
        "userIdentity:sessionContext:attributes:mfaAuthenticated::boolean AS mfa "
        "FROM aws_cloudtrail WHERE eventID = '5b0e1c8a-0002-4a4e-9d7e-000000000002'"
    )
    assert rows == [{"n": 28441, "created": "2024-06-30 10:40:00.000000", "mfa": False}]


def test_parse_json_is_a_variant(lake):
    assert lake.run(
        'SELECT PARSE_JSON(\'{"a": 5, "b": "5"}\'):a + 1 AS n, PARSE_JSON(\'{"b": "05"}\'):b AS s'
    ) == [{"n": 6, "s": "05"}]


def test_array_contains_on_a_variant_array(lake):
    rows = lake.run(
        "SELECT COUNT(*) AS n FROM tracebit_alertsummary "
        "WHERE ARRAY_CONTAINS('203.0.113.11'::variant, ip_addresses)"
    )
    assert rows == [{"n": 1}]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT TYPEOF(userIdentity) FROM aws_cloudtrail", "TYPEOF"),
        ("SELECT f.key FROM aws_cloudtrail t, LATERAL FLATTEN(input => t.resources) f", "FLATTEN column"),
        (
            "SELECT f.value FROM aws_cloudtrail t, LATERAL FLATTEN(input => t.resources, outer => true) f",
            "outer",
        ),
        (
            "SELECT f.value FROM aws_cloudtrail t, "
            "LATERAL FLATTEN(input => t.resources, recursive => true) f",
            "recursive",
        ),
        ("SELECT resources[*]:arn FROM aws_cloudtrail", "wildcard"),
        ("SELECT eventName:x FROM aws_cloudtrail", "colon path on eventName"),
        ("SELECT seq4() FROM aws_cloudtrail", "SEQ4"),
        ("SELECT JSON_EXTRACT_PATH_TEXT(x, 'a') FROM t", "JSON_EXTRACT_PATH_TEXT"),
        ("SELECT 1; SELECT 2", "2 statements"),
        ("DELETE FROM aws_cloudtrail", "only SELECT"),
        (
            "SELECT * FROM t MATCH_RECOGNIZE (PARTITION BY a ORDER BY b PATTERN (x) DEFINE x AS TRUE)",
            "MATCH_RECOGNIZE",
        ),
    ],
)
def test_unsupported_constructs_raise_naming_them(lake, sql, message):
    with pytest.raises(UnsupportedConstruct, match=message):
        lake.run(sql)


def test_parse_errors_and_unknown_macros_are_user_errors(lake):
    with pytest.raises(UserError, match="cannot parse the query"):
        lake.run("SELECT FROM WHERE (")
    with pytest.raises(UserError, match="p_matches"):
        lake.run("SELECT 1 FROM aws_cloudtrail WHERE p_matches(eventName, 'x')")
