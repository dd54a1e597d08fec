"""The rule events of a log type loaded by SQL equal what ``enrich`` makes of each raw event.

Log types with a real-time rule and a schema DuckDB can check (all six of this pack) are loaded
with ``ingest_sql.load_select``, which also builds the events the rules see (``rule_events_select``).
For every event of the scenarios and the test fixtures, CloudTrail S3 objects, Panther exports and
generated hostile events, the event ``rule_events()`` yields must equal ``enrich`` of the raw
event as DuckDB read it (same ``p_row_id``; ``p_parse_time`` aside, as it is the parse time).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracebit_pack.dev.strategies import hostile_events, realistic_events
from tracebit_pack.engine.match_sql import rule_pushdown
from tracebit_pack.lake.embedded import Lake, table_columns
from tracebit_pack.loading import ingest as ingest_module
from tracebit_pack.loading.ingest import Ingest
from tracebit_pack.loading.ingest_sql import load_select, sql_loadable
from tracebit_pack.logs.enrich import deterministic_row_id, enrich, event_time
from tracebit_pack.logs.folder import discover, reader_sql
from tracebit_pack.logs.schemas import LOG_TYPES, loads_json
from tracebit_pack.pack.items import REPO_ROOT

LOG_TYPE = "AWS.CloudTrail"
FILES = sorted(
    [
        *REPO_ROOT.glob("scenarios/*/AWS.CloudTrail.jsonl"),
        *REPO_ROOT.glob("tests/fixtures/**/AWS.CloudTrail.jsonl"),
    ]
)
ALL_FILES = sorted(
    p
    for p in [*REPO_ROOT.glob("scenarios/*/*.jsonl"), *REPO_ROOT.glob("tests/fixtures/**/*.jsonl")]
    if p.stem in LOG_TYPES
)


def replayed(folder: Path, *, sql_only: bool = False, monkeypatch=None) -> tuple[Ingest, list[dict]]:
    """The rule events of ``folder`` loaded as ``replay`` loads them (not strict)."""
    lake = Lake()
    ingest = Ingest(lake, set(LOG_TYPES), python_below=0)  # small files too
    assert not ingest.python_types  # the SQL path
    if sql_only:  # no event may be enriched in Python

        def refuse(*args, **kwargs):
            raise AssertionError("rule event built in Python")

        monkeypatch.setattr(ingest_module, "enrich", refuse)
    sources = discover(folder)
    ingest.load(sources)
    return ingest, list(ingest.rule_events())


def expected(ingest: Ingest, folder: Path, loaded_only: set[str] | None = None) -> dict[str, dict]:
    """``enrich`` of every raw event of ``folder`` as DuckDB reads it, by ``p_row_id``."""
    out = {}
    for source in discover(folder):
        rows = ingest.connection.execute(reader_sql([source.path], source.layout)).fetchall()
        log_type = source.log_type
        for file, pos, doc in rows:
            row_id = deterministic_row_id(log_type, file, pos)
            if loaded_only is not None and row_id not in loaded_only:
                continue
            event = loads_json(doc)
            raw = {k: v for k, v in event.items() if not k.startswith("p_")}
            out[row_id] = enrich(raw, log_type, parse_time=event_time(raw, log_type), row_id=row_id)
    return out


def by_row_id(events: list[dict]) -> dict[str, dict]:
    return {e["p_row_id"]: {k: v for k, v in e.items() if k != "p_parse_time"} for e in events}


def without_parse_time(events: dict[str, dict]) -> dict[str, dict]:
    return {r: {k: v for k, v in e.items() if k != "p_parse_time"} for r, e in events.items()}


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_sql_rule_events_equal_enrich(tmp_path, monkeypatch, path):
    (tmp_path / path.name).write_bytes(path.read_bytes())
    ingest, events = replayed(tmp_path, sql_only=True, monkeypatch=monkeypatch)
    assert ingest.skipped.total == 0 and len(events) == ingest.events_by_log_type[path.stem]
    assert by_row_id(events) == without_parse_time(expected(ingest, tmp_path))
    times = [e["p_event_time"] for e in events]
    assert times == sorted(times)


def test_s3_objects_rule_events_equal_enrich(tmp_path, monkeypatch):
    events = [json.loads(line) for f in FILES for line in f.read_text().splitlines() if line.strip()]
    folder = tmp_path / "AWS.CloudTrail" / "2024" / "08" / "15"
    folder.mkdir(parents=True)
    for i in range(0, len(events), 7):
        with gzip.open(folder / f"object-{i:04}.json.gz", "wt") as out:
            json.dump({"Records": events[i : i + 7]}, out)
    ingest, got = replayed(tmp_path, sql_only=True, monkeypatch=monkeypatch)
    assert len(got) == len(events) and ingest.skipped.total == 0
    assert by_row_id(got) == without_parse_time(expected(ingest, tmp_path))


def _lake_contents(ingest: Ingest) -> dict[str, list[tuple]]:
    tables = [
        name
        for (name,) in ingest.connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'panther_logs' "
            "AND table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
    ]
    return {
        name: ingest.connection.execute(
            f"SELECT * FROM panther_logs.public.{name} ORDER BY p_row_id"
        ).fetchall()
        for name in tables
    }


@pytest.mark.parametrize("folder", ["blog_incident", "canary_credential_laptop"])
def test_a_small_load_planned_without_the_optimizer_loads_the_same_lake(monkeypatch, folder):
    """Small files are loaded by statements DuckDB does not optimise (planning would cost more
    than it saves); the lake and the rule events must be those of the optimised statements."""
    path = REPO_ROOT / "scenarios" / folder
    monkeypatch.setattr(ingest_module, "UNOPTIMISED_LOAD_BYTES", 1 << 40)
    plain, plain_events = replayed(path)
    monkeypatch.setattr(ingest_module, "UNOPTIMISED_LOAD_BYTES", 0)
    optimised, optimised_events = replayed(path)
    contents = _lake_contents(plain)
    assert sum(map(len, contents.values())) > 10
    assert contents == _lake_contents(optimised)
    assert plain_events == optimised_events
    assert plain.skipped.counts == optimised.skipped.counts


ORDER_KEEPING_OPERATORS = {"READ_JSON", "READ_CSV", "PROJECTION", "FILTER", "UNNEST", "STREAMING_WINDOW"}


def _operators(node: dict) -> set[str]:
    return {node["name"], *(name for child in node.get("children", []) for name in _operators(child))}


# InlineFilters lowered to SQL, as the loader passes them to a load statement (``candidates``)
FILTERED = rule_pushdown([[{"KeyPath": "eventName", "Condition": "IsIn", "Values": ["CreateAccessKey"]}]])


@pytest.mark.parametrize("candidates", [None, FILTERED], ids=["every text", "filtered"])
@pytest.mark.parametrize("layout", ["records", "ndjson", "array"])
@pytest.mark.parametrize("log_type", [t for t in LOG_TYPES if sql_loadable(t)])
def test_a_load_statement_keeps_reading_order(tmp_path, log_type, layout, candidates):
    """The lake's rows are inserted in the order the load statement leaves them (no sort): its plan,
    optimised as ``Ingest._check`` runs it, holds only operators that keep the rows' order (a join
    put in by an optimizer pass, an aggregate or a sort would not)."""
    files = {"records": ("a.json.gz", gzip.compress(b'{"Records": [{}]}')), "ndjson": ("b.jsonl", b"{}\n")}
    name, data = files.get(layout, ("c.json", b"[{}]"))
    (tmp_path / name).write_bytes(data)
    select = load_select(
        log_type,
        reader_sql([tmp_path / name], layout),
        table_columns(log_type),
        "x",
        rule_events=True,
        candidates=candidates,
    )
    with duckdb.connect() as connection:
        connection.execute(f"SET disabled_optimizers = '{ingest_module.ORDER_BREAKING_PASSES}'")
        (plan,) = json.loads(connection.execute(f"EXPLAIN (FORMAT json) {select}").fetchone()[1])
    assert _operators(plan) <= ORDER_KEEPING_OPERATORS


def sample() -> dict:
    return json.loads(FILES[0].read_text().splitlines()[0])


def test_a_filtered_load_statement_keeps_only_the_text_a_rule_event_may_need(tmp_path):
    """With the InlineFilters' SQL, the text of an event they cannot pass is not stored: it is most
    of a large log type's text. Kept: the events they may pass (a guard's cases too) and those
    built in Python (an export's ``p_*`` fields)."""
    base = {**sample(), "eventName": "GetObject"}
    lines = [
        json.dumps({**base, "eventName": "CreateAccessKey"}),  # passes the filter
        json.dumps(base),  # cannot pass
        json.dumps({**base, "p_log_type": LOG_TYPE}),  # an export: built in Python
        json.dumps({**base, "userAgent": "caf\u00e9"}),  # a \u escape: the guard keeps it
        json.dumps(base)[:-1] + ', "eventName": "CreateAccessKey"}',  # the key twice: the last passes
        json.dumps({**base, "eventTime": "yesterday"}),  # not loaded (bad timestamp)
    ]
    path = tmp_path / "AWS.CloudTrail.jsonl"
    path.write_text("\n".join(lines) + "\n")
    select = load_select(
        LOG_TYPE,
        reader_sql([path], "ndjson"),
        table_columns(LOG_TYPE),
        "x",
        rule_events=True,
        candidates=FILTERED,
    )
    with duckdb.connect() as connection:
        rows = connection.execute(
            f"SELECT pos, reason, doc IS NOT NULL FROM ({select}) ORDER BY pos"
        ).fetchall()
    assert [(pos, kept) for pos, reason, kept in rows if reason is None] == [
        (1, True),
        (2, False),
        (3, True),
        (4, True),
        (5, True),
    ]
    assert rows[5][1] is not None  # skipped, whatever its text


def test_text_as_written_and_odd_layout(tmp_path):
    base = sample()
    lines = [
        # numbers as written, a repeated key (the last wins), whitespace around the object
        "  { "
        + json.dumps(base)[1:-1]
        + ', "additionalEventData": {"n": 1E400, "m": 1.50, "big": 123456789012345678901234567890}'
        + ', "readOnly": false, "readOnly": true }  \t\r',
        json.dumps({**base, "sourceIPAddress": " 10.0.0.1 ", "userAgent": "x}"}, ensure_ascii=False),
        json.dumps({**base, "eventTime": "2024-03-01T12:00:00.123456789+05:30"}),
    ]
    (tmp_path / "AWS.CloudTrail.jsonl").write_text("\n".join(lines) + "\n")
    ingest, events = replayed(tmp_path)
    assert ingest.skipped.total == 0 and len(events) == 3
    assert by_row_id(events) == without_parse_time(expected(ingest, tmp_path))
    assert any(
        e["readOnly"] is True and e["additionalEventData"]["big"] == 123456789012345678901234567890
        for e in events
    )


def test_exports_and_hostile_text_go_through_python(tmp_path):
    base = sample()
    exported = {
        **base,
        "p_log_type": LOG_TYPE,
        "p_event_time": "2024-08-15 10:00:00.000000",
        "p_any_ip_addresses": ["203.0.113.9"],
        "p_source_label": "prod",
    }
    lines = [
        json.dumps(exported),
        json.dumps({**base, "requestParameters": {"x": "\\ud83d\\ude00 \ud83d\ude00"}}),
        json.dumps({**base, "requestParameters": {"deep": json.loads("[" * 300 + "]" * 300)}}),
        json.dumps({**base, "requestParameters": {"wide": [[1]] * 300}}),  # many brackets, shallow
        json.dumps(base)[:-1] + ', "requestParameters": {"deep": ' + "[" * 3000 + "]" * 3000 + "}}",
        json.dumps(base)[:-1] + ', "requestParameters": {"n": ' + "9" * 5000 + "}}",
        json.dumps(base).replace('"eventName"', '"requestParameters": {"s": "\\ud800"}, "eventName"'),
        json.dumps({**base, "eventTime": "1969-12-31T23:59:59Z"}),
    ]
    (tmp_path / "AWS.CloudTrail.jsonl").write_text("\n".join(lines) + "\n")
    ingest, events = replayed(tmp_path)
    assert len(events) == 3 == ingest.events_by_log_type[LOG_TYPE]
    assert ingest.skipped.counts == {"malformed JSON": 4, "bad timestamp": 1}  # 300 deep: refused
    loaded = {e["p_row_id"] for e in events}
    assert by_row_id(events) == without_parse_time(expected(ingest, tmp_path, loaded))


@pytest.mark.parametrize("log_type", LOG_TYPES)
# Few examples of many events each: the cost is the lake set up per example, not the events.
@settings(max_examples=8, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_generated_events_rule_events_equal_enrich(tmp_path_factory, log_type, data):
    strategy = st.one_of(realistic_events(log_type), hostile_events(log_type))
    generated = data.draw(st.lists(strategy, min_size=1, max_size=30))
    folder = tmp_path_factory.mktemp("generated")
    (folder / f"{log_type}.jsonl").write_text("\n".join(json.dumps(e) for e in generated) + "\n")
    ingest, events = replayed(folder)
    loaded = {e["p_row_id"] for e in events}
    assert len(events) + ingest.skipped.total == len(generated)
    assert by_row_id(events) == without_parse_time(expected(ingest, folder, loaded))


def test_skips_as_the_python_path(tmp_path, monkeypatch):
    """Non-conforming events are skipped for the same reasons by both paths."""
    base = sample()
    lines = [
        json.dumps(base),
        json.dumps({**base, "resources": [None]}),
        json.dumps({**base, "resources": ["arn:aws:s3:::bucket"]}),
        json.dumps({**base, "eventTime": "1969-12-31T23:59:59Z"}),
        json.dumps({**base, "eventTime": "yesterday"}),
        json.dumps(base)[:-1] + ', "requestParameters": {"n": ' + "9" * 5000 + "}}",
        "[1]",
        "{oops",
    ]
    (tmp_path / "AWS.CloudTrail.jsonl").write_text("\n".join(lines) + "\n")
    sql, _ = replayed(tmp_path)
    monkeypatch.setattr(ingest_module, "sql_loadable", lambda log_type: False)
    python = Ingest(Lake(), set(LOG_TYPES))
    assert LOG_TYPE in python.python_types
    python.load(discover(tmp_path))
    assert sql.skipped.to_json() == python.skipped.to_json()
    assert sql.skipped.total == 7 and sql.rule_event_count() == python.rule_event_count() == 1
