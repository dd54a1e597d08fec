"""The offline PantherFlow executor: every pivot's PantherFlow returns the same rows as its SQL.

Same column names (in order) and the same multiset of rows, on the bundled scenarios and the
lake fixture, for the example principals and for generated hostile parameter values (quotes,
backslashes, ``%`` and ``_`` wildcards, newlines, unicode: ``tracebit_pack.dev.value_strategies``). Also:
the CLI's ``--language pantherflow --format json`` prints the same JSON as ``--language sql``, and
constructs outside the supported subset are errors that name them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracebit_pivots as tp
from tracebit_pack.cli.main import main
from tracebit_pack.dev import value_strategies
from tracebit_pack.errors import UserError
from tracebit_pack.lake.embedded import Lake
from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.query import pivots as pivot_run
from tracebit_pack.query.pantherflow_sql import run_pantherflow, translate

REPO_ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "blog_incident": REPO_ROOT / "scenarios" / "blog_incident",
    "benign_baseline": REPO_ROOT / "scenarios" / "benign_baseline",
    "aws_mfa_tampering": REPO_ROOT / "scenarios" / "aws_mfa_tampering",
    "detection_tampering": REPO_ROOT / "scenarios" / "detection_tampering",
    "canary_credential_laptop": REPO_ROOT / "scenarios" / "canary_credential_laptop",
    "fixture": REPO_ROOT / "tests" / "fixtures" / "lake",
}
NOW = dt.datetime(2024, 12, 13, 17, 0, tzinfo=dt.UTC)
SUE_ARN = "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com"
CHEN_ARN = "arn:aws:iam::693260565127:user/j.chen"  # the IAM user of scenarios/aws_mfa_tampering
# Where each pivot has rows to compare: the scenario and principal of its story.
NON_EMPTY = {
    "Tracebit.Pivot.PrincipalAWSCredentialChanges": ("aws_mfa_tampering", CHEN_ARN, "2025-01-20 02:25:57"),
    "Tracebit.Pivot.PackChangesBeforeAlert": ("detection_tampering", None, "2025-04-07 10:48:19"),
    "Tracebit.Pivot.SourceIPCloudTrailActivity": (
        "canary_credential_laptop",
        "212.36.35.20",
        "2025-02-11 10:12:41",
    ),
    "Tracebit.Pivot.SourceIPOktaActivity": (
        "canary_credential_laptop",
        "212.36.35.20",
        "2025-02-11 10:12:41",
    ),
}
PRINCIPALS = {
    "principal_arn": [
        SUE_ARN,
        "arn:aws:iam::693260565127:user/etl-reader",
        SUE_ARN.upper(),
        "%",
        CHEN_ARN,
    ],
    "identity": ["sue.johnson@acme.com", "DAVE@acme.com", "bob@acme.com", "carol@acme.com", "%"],
    None: [None],  # a pivot on the alert time alone (Tracebit.Pivot.PackChangesBeforeAlert)
    "source_ip": ["212.36.35.20", "203.0.113.45", "198.51.100.23", "%"],
}
ALERT_TIMES = ["2024-12-13 16:20:00", "2024-12-13 10:00:00", "2024-11-20 12:00:00", "2025-02-11 10:12:41"]


@pytest.fixture(scope="module")
def lakes():
    loaded = {name: lake_from_folder(folder) for name, folder in FOLDERS.items()}
    yield loaded
    for lake in loaded.values():
        lake.close()


def canonical(rows: list[dict]) -> tuple[list[list[str]], list[str]]:
    """Column names of every row, and the rows as sorted JSON (a multiset)."""
    return [list(row) for row in rows], sorted(json.dumps(row, sort_keys=True) for row in rows)


def both(lake: Lake, name: str, params: dict) -> tuple[list[dict], list[dict]]:
    sql_rows = pivot_run.run_pivot(lake, tp, name, params, NOW)
    pf_rows = pivot_run.run_pivot(lake, tp, name, params, NOW, language="pantherflow")
    return sql_rows, pf_rows


def value_key(name: str) -> str | None:
    values = tp.PIVOTS[name]["values"]
    return values[0] if values else None


def pivot_values(name: str, principal: str) -> dict[str, str]:
    """The principal in the pivot's first value parameter; a second one (the AWS credential pivot's
    principal_user) derived from it as the rules derive it from an alert context."""
    if value_key(name) is None:
        return {}
    values = {value_key(name): principal}
    for key in tp.PIVOTS[name]["values"][1:]:
        values[key] = tp.principal_user(principal) or principal
    return values


CASES = [
    (folder, name, principal, alert_time)
    for folder in FOLDERS
    for name in tp.PIVOTS
    for principal in PRINCIPALS[value_key(name)]
    for alert_time in ALERT_TIMES
]


@pytest.mark.parametrize(("folder", "name", "principal", "alert_time"), CASES)
def test_pantherflow_returns_the_sql_rows(lakes, folder, name, principal, alert_time):
    params = {**pivot_values(name, principal), "alert_time": alert_time}
    sql_rows, pf_rows = both(lakes[folder], name, params)
    assert canonical(pf_rows) == canonical(sql_rows)


def test_the_comparison_is_not_vacuous(lakes):
    """Every pivot returns rows on the blog incident, so the equality above compares real data."""
    for name in tp.PIVOTS:
        principal = SUE_ARN if value_key(name) == "principal_arn" else "sue.johnson@acme.com"
        folder, principal, alert_time = NON_EMPTY.get(name, ("blog_incident", principal, ALERT_TIMES[0]))
        sql_rows, pf_rows = both(
            lakes[folder], name, {**pivot_values(name, principal), "alert_time": alert_time}
        )
        assert sql_rows and len(pf_rows) == len(sql_rows), name
    wide = both(
        lakes["fixture"],
        "Tracebit.Pivot.PrincipalActivityAroundAlert",
        {"principal_arn": "%", "alert_time": ALERT_TIMES[0]},
    )
    narrow = both(
        lakes["fixture"],
        "Tracebit.Pivot.PrincipalActivityAroundAlert",
        {"principal_arn": SUE_ARN, "alert_time": ALERT_TIMES[0]},
    )
    assert len(wide[0]) > len(narrow[0])  # '%' is a wildcard in both languages


def runnable(value: str) -> bool:
    """Values a query can hold: no lone surrogate (not UTF-8), and no ``{{`` / ``{%``, which the
    offline macro expansion refuses as Jinja in either language (tests/test_macros.py)."""
    return (
        bool(value.strip())
        and "{{" not in value
        and "{%" not in value
        and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    )


values = st.one_of(
    st.sampled_from([v for v in value_strategies.HOSTILE_STRINGS if runnable(v)]),
    value_strategies.hostile_text,
    st.text(min_size=1, max_size=20),
).filter(runnable)


@pytest.mark.parametrize("name", list(tp.PIVOTS))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=values)
def test_hostile_values_same_rows_in_both_languages(lakes, name, value):
    params = {**pivot_values(name, value), "alert_time": "2024-12-13 16:00:00"}
    sql_rows, pf_rows = both(lakes["fixture"], name, params)
    assert canonical(pf_rows) == canonical(sql_rows)


def test_the_hostile_arn_of_the_fixture_is_found_by_both_languages(lakes):
    hostile = "arn:aws:sts::693260565127:assumed-role/x/o'brien\\\" --;|\n\u202e\u00e9' OR '1'='1"
    sql_rows, pf_rows = both(
        lakes["fixture"],
        "Tracebit.Pivot.PrincipalActivityAroundAlert",
        {"principal_arn": hostile, "alert_time": "2024-12-13 16:00:00"},
    )
    assert [r["event_name"] for r in pf_rows] == [r["event_name"] for r in sql_rows] == ["ListBuckets"]


@pytest.mark.parametrize("name", list(tp.PIVOTS))
def test_cli_prints_the_same_json_in_both_languages(name, capsys):
    principal = SUE_ARN if value_key(name) == "principal_arn" else "sue.johnson@acme.com"
    folder, principal, alert_time = NON_EMPTY.get(name, ("blog_incident", principal, "2024-12-13 16:20:00"))
    outputs = []
    for language in ("sql", "pantherflow"):
        args = ["query", "run", name, "--data", str(FOLDERS[folder])]
        args += ["--now", alert_time.replace(" ", "T") + "Z", "--format", "json", "--language", language]
        for key, value in pivot_values(name, principal).items():
            args += ["--param", f"{key}={value}"]
        assert main(args) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] and canonical(outputs[1]) == canonical(outputs[0])


# --------------------------------------------------------------------------- the supported subset

TABLE = "panther_logs.public.aws_cloudtrail"


def test_let_extend_time_ago_not_and_summarize_by_plain_column(lakes):
    query = f"""let reads = {TABLE}
| where p_event_time > time.ago(3d) and not (eventName != 'GetObject');
reads
| extend day = time.trunc('day', p_event_time), bucket = requestParameters.bucketName
| where strings.starts_with(bucket, 'acme-') and strings.contains(sourceIPAddress, '.')
| summarize n = agg.count(), first = agg.min(p_event_time),
    avg_bytes = agg.avg(additionalEventData.bytesTransferredOut) by day
| sort day desc"""
    rows = run_pantherflow(lakes["fixture"], query, NOW)
    sql = f"""SELECT DATE_TRUNC('day', p_event_time) AS day, COUNT(*) AS n, MIN(p_event_time) AS first,
    AVG(additionalEventData:bytesTransferredOut::number) AS avg_bytes
FROM {TABLE}
WHERE p_event_time > DATEADD(day, -3, CAST('2024-12-13 17:00:00' AS TIMESTAMP_NTZ))
    AND eventName = 'GetObject'
    AND STARTSWITH(requestParameters:bucketName::string, 'acme-') AND CONTAINS(sourceIPAddress, '.')
GROUP BY 1 ORDER BY day DESC"""
    expected = lakes["fixture"].run(sql, now=NOW)
    assert rows and rows == expected


@pytest.mark.parametrize(
    ("query", "named"),
    [
        (f"{TABLE} | take 10", "'take'"),
        (f"{TABLE} | join kind=semi x=({TABLE}) on $left.eventID == $right.eventID", "join kind=semi"),
        (f"{TABLE} | join kind=inner x=({TABLE}) on $left.eventID == eventID", "$left.<a> == $right.<b>"),
        ("panther_signals.public.correlation_signals", "not supported offline"),
        (f"{TABLE} | where eventName in 'x'", "neither a list nor an array"),
        (f"{TABLE} | where strings.lower(eventName) == 'x'", "strings.lower"),
        (f"{TABLE} | summarize s = agg.make_set(eventName)", "agg.make_set"),
        (f"{TABLE} | extend d = time.date_trunc('day', p_event_time)", "time.date_trunc"),
        (f"{TABLE} | extend d = snowflake.func('CURRENT_USER')", "snowflake.func('CURRENT_USER')"),
        (f"{TABLE} | where eventName =~ 'x'", "'where eventName"),
        ("panther_logs.public.no_such_table", "unknown table"),
        (f"{TABLE} | where nosuchcolumn == 1", "unknown column 'nosuchcolumn'"),
        (f"{TABLE} | where eventName.sub == 'x'", "eventName.sub"),
    ],
)
def test_unsupported_constructs_are_errors_naming_them(query, named):
    with pytest.raises(UserError) as err:
        translate(query, NOW)
    assert named in str(err.value)
    assert "\n" not in str(err.value)


def test_cli_pantherflow_error_is_one_line_and_exit_2(tmp_path, capsys):
    args = ["query", "run", "Tracebit.Query.IntegrationSilent", "--data", str(FOLDERS["blog_incident"])]
    assert main([*args, "--now", "2024-12-13T17:00:00Z", "--language", "pantherflow"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "has no PantherFlow form" in captured.err
