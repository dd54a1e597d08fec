"""`tracebit-pack query run` end to end, and its bad input (exit 2, one line, nothing printed)."""

import gzip
import json
import shutil
from pathlib import Path

import pytest
import yaml

from tracebit_pack.cli.main import main

BASIC = Path(__file__).parent / "fixtures" / "lake_engine" / "basic"
NOW = "2024-06-30T12:00:00Z"


@pytest.fixture
def root(tmp_path):
    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "downloads.yml").write_text(
        yaml.safe_dump(
            {
                "AnalysisType": "saved_query",
                "QueryName": "Test S3 Downloads",
                "Query": "WITH params AS (SELECT 'sue.johnson@acme.com' AS email)\n"
                "SELECT eventName, COUNT(*) AS n, MIN(p_event_time) AS first_seen\n"
                "FROM panther_logs.public.aws_cloudtrail, params\n"
                "WHERE ARRAY_CONTAINS(params.email::variant, p_any_emails) AND p_occurs_since('1 day')\n"
                "GROUP BY eventName ORDER BY eventName",
            }
        ),
        encoding="utf-8",
    )
    (queries / "health.yml").write_text(
        yaml.safe_dump(
            {
                "AnalysisType": "scheduled_query",
                "QueryName": "Test Unhealthy",
                "Enabled": True,
                "Schedule": {"RateMinutes": 60, "TimeoutMinutes": 5},
                "SnowflakeQuery": "SELECT discriminator:subtype::string AS integration "
                "FROM panther_logs.public.tracebit_healthcheck WHERE NOT is_healthy",
            }
        ),
        encoding="utf-8",
    )
    return tmp_path


def run(root, *args):
    return main(["query", "run", *args, "--path", str(root)])


def test_json_output(root, capsys):
    assert run(root, "Test S3 Downloads", "--data", str(BASIC), "--now", NOW, "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == [
        {"eventName": "GetObject", "n": 2, "first_seen": "2024-06-30 11:00:00.000000"},
        {"eventName": "ListObjects", "n": 1, "first_seen": "2024-06-30 10:55:00.000000"},
    ]


def test_param_and_table_output(root, capsys):
    assert (
        run(root, "Test S3 Downloads", "--data", str(BASIC), "--now", NOW, "--param", "email=bob@acme.com")
        == 0
    )
    assert capsys.readouterr().out == "(no rows)\n"
    assert run(root, "Test Unhealthy", "--data", str(BASIC), "--now", NOW) == 0
    assert capsys.readouterr().out == "integration    \n---------------\nokta_system_log\n(1 row)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["No Such Query", "--data", "{data}", "--now", NOW],
            "unknown QueryName 'No Such Query' (valid: Test S3 Downloads, Test Unhealthy)",
        ),
        (["Test Unhealthy", "--data", "{data}/missing", "--now", NOW], "data folder not found"),
        (["Test Unhealthy", "--data", "{data}", "--now", "2024-06-30"], "--now: expected an RFC 3339 time"),
        (
            ["Test Unhealthy", "--data", "{data}", "--now", NOW, "--param", "novalue"],
            "--param: expected name=value",
        ),
        (
            ["Test S3 Downloads", "--data", "{data}", "--now", NOW, "--param", "user=x"],
            "unknown parameter 'user'",
        ),
        (
            [
                "Test S3 Downloads",
                "--data",
                "{data}",
                "--now",
                NOW,
                "--param",
                "email=a",
                "--param",
                "email=b",
            ],
            "given twice",
        ),
        (["Test Unhealthy", "--data", "{data}", "--now", NOW, "--format", "csv"], "invalid choice: 'csv'"),
        (["Test Unhealthy", "--now", NOW], "--data"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(root, tmp_path, capsys, args, message):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(BASIC / "Tracebit.HealthCheck.jsonl", data)
    assert run(root, *[a.replace("{data}", str(data)) for a in args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err.count("\n") == 1
        and message in captured.err
        and captured.err.startswith("tracebit-pack: error:")
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "AWS.CloudTrail.jsonl",
            "{oops\n",
            "AWS.CloudTrail.jsonl:1: malformed JSON",
        ),
        ("CloudTrail.jsonl", "{}\n", "unknown log type 'CloudTrail'"),
    ],
)
def test_bad_data_folder(root, tmp_path, capsys, name, content, message):  # noqa: PLR0917
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(BASIC / "Tracebit.HealthCheck.jsonl", data)  # the table the query reads
    (data / name).write_text(content, encoding="utf-8")
    assert run(root, "Test Unhealthy", "--data", str(data), "--now", NOW) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err


def test_query_without_action(capsys):
    assert main(["query"]) == 2
    assert "missing action" in capsys.readouterr().err


# --------------------------------------------------------------------------- the pack's own queries
# Every answer is either correct rows or one error line with exit 2: never "no rows" because the
# query ran on other data (a default time, a wrong folder) than the user meant.

REPO_ROOT = Path(__file__).resolve().parent.parent
BLOG = REPO_ROOT / "scenarios" / "blog_incident"
SUE_ARN = "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com"
AROUND = "Tracebit.Pivot.PrincipalActivityAroundAlert"
HISTORY = "Tracebit.Pivot.PrincipalGetObjectHistory"
RESETS = "Tracebit.Query.CanaryPrincipalRecentMFAReset"


def pack_json(capsys, *args):
    assert main(["query", "run", *args, "--format", "json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_pivot_time_comes_from_now_not_from_the_example(capsys):
    def around(now: str, *extra: str) -> list[dict]:
        principal = ["--param", f"principal_arn={SUE_ARN}"]
        return pack_json(capsys, AROUND, "--data", str(BLOG), "--now", now, *principal, *extra)

    at_alert = around("2024-12-13T16:20:00Z")
    assert at_alert and all(row["event_time"].startswith("2024-12-13") for row in at_alert)
    # a week later the +-3 h window around --now is empty: the example's alert time is not used
    assert around("2024-12-20T16:20:00Z") == []
    # --param alert_time wins over --now (an offset is converted to UTC)
    assert around("2024-12-20T16:20:00Z", "--param", "alert_time=2024-12-13T17:20:00+01:00") == at_alert


def test_pivot_window_option_is_a_parameter(capsys):
    base = ["--data", str(BLOG), "--now", "2024-12-13T16:20:00Z", "--param", f"principal_arn={SUE_ARN}"]
    month = pack_json(capsys, HISTORY, *base)
    week = pack_json(capsys, HISTORY, *base, "--param", "lookback_days=7")
    assert len(week) < len(month)
    assert min(r["event_day"] for r in week) >= "2024-12-06"


def pack_error(capsys, *args) -> str:
    assert main(["query", "run", *args]) == 2
    captured = capsys.readouterr()
    assert (
        captured.out == ""
        and captured.err.count("\n") == 1
        and captured.err.startswith("tracebit-pack: error:")
    )
    return captured.err


NOW_OK = ["--now", "2024-12-13T16:20:00Z"]
ARN = ["--param", f"principal_arn={SUE_ARN}"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [AROUND, *NOW_OK, *ARN, "--param", "window_hours=abc"],
            "--param window_hours: window_hours must be a whole number",
        ),
        (
            [HISTORY, *NOW_OK, *ARN, "--param", "lookback_days=abc"],
            "--param lookback_days: lookback_days must be a whole number",
        ),
        (
            [HISTORY, *NOW_OK, *ARN, "--param", "lookback_days=0"],
            "lookback_days must be a whole number of days from 1",
        ),
        (
            [AROUND, *NOW_OK, *ARN, "--param", "alert_time=not a time"],
            "--param alert_time: expected a time with a timezone",
        ),
        (
            [AROUND, *NOW_OK, *ARN, "--param", "alert_time=2024-12-13T16:20:00"],
            "--param alert_time: expected a time with a timezone like 2024-12-13T16:20:00Z",
        ),
        ([AROUND, "--now", "2024-12-13T16:20:00", *ARN], "--now: '2024-12-13T16:20:00' has no timezone"),
        ([AROUND, "--now", "2024-12-13 16:20:00", *ARN], "has no timezone"),
        (
            [AROUND, *NOW_OK, "--param", "principal_arn=a\udcff"],
            "--param principal_arn: the value is not valid UTF-8",
        ),
        ([AROUND, "--now", "2024-12-13T16:20:00Z\udcff", *ARN], "--now: the value is not valid UTF-8"),
        ([AROUND, *NOW_OK], f"{AROUND} needs --param principal_arn=<value>"),
        (
            [AROUND, "--now", "9999-12-31T23:00:00Z", *ARN],
            "the window around alert_time '9999-12-31 23:00:00' is out",
        ),
        ([AROUND, *NOW_OK, *ARN, "--param", "identity=x"], "unknown parameter 'identity' for"),
        (
            [RESETS, *NOW_OK, "--param", "mfa_lookback_days=abc"],
            "--param mfa_lookback_days: expected a number like 7, got 'abc'",
        ),
        ([RESETS, *NOW_OK, "--language", "pantherflow"], "has no PantherFlow form"),
        (
            ["Tracebit.Pivot.Nope", *NOW_OK],
            "unknown QueryName 'Tracebit.Pivot.Nope' (valid: Tracebit.Pivot.IdentityOktaMFAResets, ",
        ),
    ],
)
def test_pack_query_bad_input(capsys, args, message):
    assert message in pack_error(capsys, *args[:1], "--data", str(BLOG), *args[1:])


@pytest.mark.parametrize("language", ["sql", "pantherflow"])
def test_folder_without_the_table_the_query_reads(tmp_path, capsys, language):
    shutil.copy(BLOG / "Okta.SystemLog.jsonl", tmp_path)
    err = pack_error(capsys, AROUND, "--data", str(tmp_path), *NOW_OK, *ARN, "--language", language)
    assert "no AWS.CloudTrail events for the table(s) the query reads" in err
    assert "found: Okta.SystemLog.jsonl)" in err


def test_an_empty_log_file_is_data_not_an_error(tmp_path, capsys):
    (tmp_path / "AWS.CloudTrail.jsonl").write_text("", encoding="utf-8")
    assert pack_json(capsys, AROUND, "--data", str(tmp_path), *NOW_OK, *ARN) == []


def test_folder_one_level_too_high_and_empty_folder(tmp_path, capsys):
    err = pack_error(capsys, AROUND, "--data", str(REPO_ROOT / "scenarios"), *NOW_OK, *ARN)
    assert (
        "no <LogType>.jsonl files directly in this folder; its subfolders "
        "aws_mfa_tampering, benign_baseline, blog_incident" in err
    )
    err = pack_error(capsys, AROUND, "--data", str(tmp_path), *NOW_OK, *ARN)
    assert "no <LogType>.jsonl files (nor <LogType>.json, <LogType>/ folders, .gz) in the folder" in err


def test_scheduled_query_missing_one_of_its_tables(tmp_path, capsys):
    shutil.copy(BLOG / "Okta.SystemLog.jsonl", tmp_path)
    err = pack_error(capsys, RESETS, "--data", str(tmp_path), *NOW_OK)
    assert "no Tracebit.Alert, Tracebit.AlertSummary events for the table(s)" in err


@pytest.mark.parametrize("language", ["sql", "pantherflow"])
def test_reads_every_layout_replay_reads(tmp_path, capsys, language):
    """CloudTrail's S3 objects (gzip ``{"Records": [...]}`` under dated folders) and Okta's JSON
    array give the same rows as the flat ``<LogType>.jsonl`` files."""
    trail = [json.loads(line) for line in (BLOG / "AWS.CloudTrail.jsonl").read_text().splitlines() if line]
    okta = [json.loads(line) for line in (BLOG / "Okta.SystemLog.jsonl").read_text().splitlines() if line]
    day = (
        tmp_path / "AWS.CloudTrail" / "AWSLogs" / "693260565127" / "CloudTrail" / "us-east-1" / "2024" / "12"
    )
    day.mkdir(parents=True)
    half = len(trail) // 2
    for n, records in enumerate((trail[:half], trail[half:])):
        with gzip.open(day / f"part{n}.json.gz", "wt", encoding="utf-8") as handle:
            json.dump({"Records": records}, handle)
    (tmp_path / "Okta.SystemLog.json").write_text(json.dumps(okta), encoding="utf-8")
    lang = ["--language", language]
    for pivot, param in (
        (AROUND, ARN),
        ("Tracebit.Pivot.IdentityOktaMFAResets", ["--param", "identity=sue.johnson@acme.com"]),
    ):
        flat = pack_json(capsys, pivot, "--data", str(BLOG), *NOW_OK, *param, *lang)
        assert flat
        assert pack_json(capsys, pivot, "--data", str(tmp_path), *NOW_OK, *param, *lang) == flat


def test_table_times_are_shown_as_replay_shows_them(capsys):
    """A timestamp column in replay's form (UTC, seconds, ``Z``); a DATE column as the date alone."""
    assert main(["query", "run", AROUND, "--data", str(BLOG), *NOW_OK, *ARN]) == 0
    table = capsys.readouterr().out
    assert "\n2024-12-13T14:05:11Z | s3.amazonaws.com " in table
    assert ".000000" not in table and "2024-12-13 14:05:11" not in table
    assert main(["query", "run", HISTORY, "--data", str(BLOG), *NOW_OK, *ARN]) == 0
    table = capsys.readouterr().out
    assert "\n2024-12-13 | acme-prod-customer-exports " in table
    assert "00:00:00" not in table


def test_query_run_reads_a_folder_in_native_formats(capsys):
    """CloudTrail S3 objects (AWS.CloudTrail/...json.gz) and Okta's JSON array count as the tables."""
    folder = REPO_ROOT / "scenarios" / "canary_credential_laptop"
    assert (
        main(
            [
                "query",
                "run",
                "Tracebit.Pivot.SourceIPCloudTrailActivity",
                "--data",
                str(folder),
                "--now",
                "2025-02-11T10:12:41Z",
                "--param",
                "source_ip=212.36.35.20",
                "--format",
                "json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert {row["event_name"] for row in rows} == {
        "GetCallerIdentity",
        "ListBuckets",
        "ListSecrets",
        "ListUsers",
    }
