"""`tracebit-pack query run` end to end, and its bad input (exit 2, one line, nothing printed)."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tracebit_pack.cli import main

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
    return main(["query", "run", *args, "--root", str(root)])


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
            '{"eventVersion": "1.08"}\n{oops\n',
            "AWS.CloudTrail.jsonl:2: malformed JSON",
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
