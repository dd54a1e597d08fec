"""Backtest folders as users have them: native layouts, Panther exports, malformed events skipped.

The blog incident is rewritten into CloudTrail S3 objects (gzip, dated folders), an Okta System
Log JSON array, gzip and plain Tracebit NDJSON, part of it in Panther's export shape (``p_*``
fields, ``YYYY-MM-DD HH:MM:SS.fffffffff`` timestamps), with a known set of malformed events
added. It must raise the incident's alerts, and ``skipped`` must count exactly those events.
"""

import gzip
import json
from pathlib import Path

import duckdb
import pytest
import yaml

from tracebit_pack.cli.main import main
from tracebit_pack.errors import UserError
from tracebit_pack.lake.embedded import Lake
from tracebit_pack.loading import ingest as ingest_module
from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.loading.ingest import Ingest
from tracebit_pack.logs import folder as folder_module
from tracebit_pack.logs.folder import discover
from tracebit_pack.logs.schemas import LOG_TYPES
from tracebit_pack.replay import replay

INCIDENT = Path(__file__).resolve().parent.parent / "scenarios" / "blog_incident"
EXPECTED = yaml.safe_load((INCIDENT / "expected.yml").read_text())


def _events(log_type):
    return [json.loads(line) for line in (INCIDENT / f"{log_type}.jsonl").read_text().splitlines() if line]


def _snowflake(rfc3339):
    """``2024-12-13T16:11:20Z`` / ``...20.123Z`` as Panther shows it: ``2024-12-13 16:11:20.123000000``."""
    base, _, frac = rfc3339.rstrip("Z").partition(".")
    return base.replace("T", " ") + "." + frac.ljust(9, "0")


def _exported(event, log_type, time_key):
    """The event as copied from Panther's data explorer."""
    when = _snowflake(event[time_key])
    return {
        **event,
        time_key: when,
        "p_log_type": log_type,
        "p_event_time": when,
        "p_parse_time": when,
        "p_row_id": "8e4f0c2a1b3d5e7f9a0b",
        "p_source_label": "production",
        "p_schema_version": 0,
    }


def _gzip(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))


def build(folder):
    """The incident in native layouts; returns {reason: count} of the malformed events added."""
    trail = _events("AWS.CloudTrail")
    by_day = {}
    for n, event in enumerate(trail):
        record = _exported(event, "AWS.CloudTrail", "eventTime") if n % 50 == 0 else event
        by_day.setdefault(record["eventTime"][:10], []).append(record)
    for day, records in by_day.items():
        key = f"AWSLogs/693260565127/CloudTrail/us-east-1/{day.replace('-', '/')}/obj_{day}.json.gz"
        _gzip(folder / "AWS.CloudTrail" / key, json.dumps({"Records": records}))
    bad_record = dict(trail[0], eventID="bad-time", eventTime="yesterday")
    _gzip(
        folder / "AWS.CloudTrail" / "AWSLogs" / "late" / "obj_late.json.gz",
        json.dumps({"Records": [trail[1], bad_record]}),
    )
    (folder / "AWS.CloudTrail" / "extra.jsonl").write_text(
        json.dumps(trail[2]) + "\n" + '{"eventVersion": "1.09", "userIdentity": \n'
    )
    okta = _events("Okta.SystemLog")
    okta = [_exported(e, "Okta.SystemLog", "published") if n % 2 else e for n, e in enumerate(okta)]
    okta.insert(3, "not an event")
    (folder / "Okta.SystemLog.json").write_text(json.dumps(okta))
    alerts = [json.dumps(e) for e in _events("Tracebit.Alert")]
    alerts.insert(2, alerts[2][:-7])  # truncated line
    _gzip(folder / "Tracebit.Alert.jsonl.gz", "\n".join(alerts) + "\n")
    summary = _exported(_events("Tracebit.AlertSummary")[0], "Tracebit.AlertSummary", "timestamp")
    (folder / "Tracebit.AlertSummary.jsonl").write_text(json.dumps(summary) + "\n")
    checks = [json.dumps(e) for e in _events("Tracebit.HealthCheck")]
    checks[5:5] = ["", json.dumps({"timestamp": "2024-12-12T00:00:00Z", "is_healthy": True})]
    (folder / "Tracebit.HealthCheck.jsonl").write_text("\n".join(checks) + "\n")
    return {
        "eventTime: bad timestamp": 1,
        "malformed JSON": 2,
        "not a JSON object": 1,
        "discriminator: required field missing": 1,
    }


@pytest.fixture(scope="module")
def backtest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backtest")
    return folder, build(folder)


def test_native_layouts_raise_the_incident_alerts(backtest):
    folder, _ = backtest
    report = replay(folder)
    assert report.alert_counts() == EXPECTED["alerts"]
    severities = {a.rule_id: a.severity for a in report.alerts}
    for rule_id, severity in EXPECTED["severity"].items():
        assert severities[rule_id] == severity, rule_id
    # every conforming event is loaded: the incident's counts, plus the two extra CloudTrail copies
    assert report.events_by_log_type == {
        "AWS.CloudTrail": len(_events("AWS.CloudTrail")) + 2,
        "Okta.SystemLog": len(_events("Okta.SystemLog")),
        "Tracebit.Alert": len(_events("Tracebit.Alert")),
        "Tracebit.AlertSummary": 1,
        "Tracebit.HealthCheck": len(_events("Tracebit.HealthCheck")),
    }
    assert report.alerts_by_rule_day()["Tracebit.CanaryResourceAccessed"] == {"2024-12-13": 1}


def test_a_lake_that_spills_replays_the_same(backtest, monkeypatch):
    """Above ``IN_MEMORY_BYTES`` the lake's DuckDB memory is bounded and spills: same answers."""
    folder, _ = backtest
    in_memory = replay(folder)
    monkeypatch.setattr(folder_module, "IN_MEMORY_BYTES", 0)
    assert Lake.for_sources(discover(folder))._storage is not None  # this run spills
    spilled = replay(folder)
    assert spilled.alert_counts() == in_memory.alert_counts() == EXPECTED["alerts"]
    assert spilled.events_by_log_type == in_memory.events_by_log_type
    assert [p.rows for p in spilled.pivots] == [p.rows for p in in_memory.pivots]


def test_running_out_of_memory_is_an_error_not_a_skipped_file(tmp_path):
    """A file DuckDB could not read for lack of memory is not malformed: nothing is skipped silently."""
    ingest = Ingest(Lake(), set(LOG_TYPES), strict=False)
    with pytest.raises(UserError, match="ran out of memory"):
        ingest._file_error(tmp_path / "Tracebit.Alert.jsonl", duckdb.OutOfMemoryException("no block"))
    ingest._file_error(tmp_path / "Tracebit.Alert.jsonl", duckdb.InvalidInputException("bad JSON"))
    assert ingest.skipped.counts == {"malformed JSON file": 1}


def test_skipped_counts_exactly_the_malformed_events(backtest, capsys):
    folder, malformed = backtest
    assert main(["replay", str(folder), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["skipped"]["total"] == sum(malformed.values())
    assert {reason: r["count"] for reason, r in data["skipped"]["reasons"].items()} == malformed
    examples = data["skipped"]["reasons"]["malformed JSON"]["examples"]
    assert sorted(Path(e).name for e in examples) == ["Tracebit.Alert.jsonl.gz:3", "extra.jsonl:2"]
    assert data["skipped"]["reasons"]["eventTime: bad timestamp"]["examples"][0].endswith(
        "obj_late.json.gz: record 2"
    )
    assert data["skipped"]["reasons"]["discriminator: required field missing"]["examples"][0].endswith(
        "Tracebit.HealthCheck.jsonl:7"
    )
    assert data["alerts_by_rule_day"]["Tracebit.CanaryPrincipalGetObjectSurge"] == {"2024-12-13": 1}
    assert main(["replay", str(folder)]) == 0
    text = capsys.readouterr().out
    assert "skipped 5 event(s) that do not conform: malformed JSON 2" in text
    assert "Alerts per rule per day" in text


def test_strict_refuses_the_folder(backtest, capsys):
    folder, _ = backtest
    assert main(["replay", str(folder), "--strict"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("tracebit-pack: error: ") and len(captured.err.splitlines()) == 1


def test_cloudtrail_loaded_in_sql_matches_the_python_path(backtest):
    """The DuckDB-only load of CloudTrail gives the same rows as validating and enriching in Python."""
    folder, _ = backtest
    columns = "* EXCLUDE (p_source_label)"
    query = f"SELECT {columns} FROM aws_cloudtrail ORDER BY p_row_id"
    in_sql = lake_from_folder(folder, strict=False, python_log_types=())
    in_python = lake_from_folder(folder, strict=False, python_log_types={"AWS.CloudTrail"})
    sql_rows, python_rows = in_sql.run(query), in_python.run(query)
    assert len(sql_rows) == len(_events("AWS.CloudTrail")) + 2
    assert sql_rows == python_rows
    assert in_sql.skipped.counts == in_python.skipped.counts


def test_lake_default_stays_strict(backtest):
    folder, _ = backtest
    with pytest.raises(
        UserError, match=r"(malformed JSON|expected a JSON object|required field|bad timestamp)"
    ):
        lake_from_folder(folder)


def test_a_file_that_is_not_json_is_skipped_whole(tmp_path, capsys):
    """A truncated S3 object or API page is one skipped file; the other files still replay."""
    (tmp_path / "Okta.SystemLog.json").write_text('[{"uuid": ')
    _gzip(
        tmp_path / "AWS.CloudTrail" / "2024" / "12" / "13" / "cut.json.gz", '{"Records": [{"eventVersion": '
    )
    checks = _events("Tracebit.HealthCheck")
    (tmp_path / "Tracebit.HealthCheck.jsonl").write_text("".join(json.dumps(c) + "\n" for c in checks))
    assert main(["replay", str(tmp_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["events_by_log_type"] == {"Tracebit.HealthCheck": len(checks)}
    reason = data["skipped"]["reasons"]["malformed JSON file"]
    assert reason["count"] == 2
    assert sorted(Path(e).name for e in reason["examples"]) == ["Okta.SystemLog.json", "cut.json.gz"]
    assert main(["replay", str(tmp_path), "--strict"]) == 2
    assert "malformed JSON file" in capsys.readouterr().err


def _rule_events(folder, monkeypatch, window):
    monkeypatch.setattr(ingest_module, "SORT_WINDOW", window)
    ingest = Ingest(Lake(), set(LOG_TYPES))
    ingest.load(discover(folder))
    return ingest, list(ingest.rule_events())


def test_rule_events_sorted_in_time_slices_as_in_one_sort(backtest, monkeypatch):
    """Slices of event time (a large folder's sort) give the order of one sort of every event."""
    folder, _ = backtest
    _, whole = _rule_events(folder, monkeypatch, 10**9)
    ingest, sliced = _rule_events(folder, monkeypatch, 7)
    assert len(ingest._time_slices()) > 20
    assert sliced == whole
    times = [e["p_event_time"] for e in sliced]
    assert times == sorted(times) and len(set(times)) < len(times)  # ties kept in reading order


@pytest.mark.parametrize("layout", ["records", "ndjson", "array"])
def test_lake_rows_in_reading_order(tmp_path, layout):
    """Events are checked in parallel, yet the lake's rows stay in file and record order: S3 objects
    (many per statement), and one large NDJSON file or JSON array."""
    trail = _events("AWS.CloudTrail")
    if layout == "records":
        for n in range(12):
            records = [dict(trail[k % len(trail)], eventID=f"e{n}-{k}") for k in range(400)]
            _gzip(
                tmp_path / "AWS.CloudTrail" / f"2024/12/{n + 1:02d}/obj.json.gz",
                json.dumps({"Records": records}),
            )
        wanted = [f"e{n}-{k}" for n in range(12) for k in range(400)]
    else:
        records = [dict(trail[k % len(trail)], eventID=f"e{k}") for k in range(4800)]
        if layout == "ndjson":
            (tmp_path / "AWS.CloudTrail.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        else:
            (tmp_path / "AWS.CloudTrail.json").write_text(json.dumps(records))
        wanted = [r["eventID"] for r in records]
    lake = lake_from_folder(tmp_path, strict=False)
    ids = [row[0] for row in lake.connection.execute("SELECT eventID FROM aws_cloudtrail").fetchall()]
    assert ids == wanted
