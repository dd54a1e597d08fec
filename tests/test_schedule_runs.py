"""The backtest's clock: run times, the lake as a run sees it, the per-run SQL, the runs proven
empty, arrival times, and correlation rules on their schedule."""

import gzip
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlglot

from tracebit_pack.engine.correlation import CorrelationRule
from tracebit_pack.engine.correlation_model import Signal
from tracebit_pack.errors import UsageError, UserError
from tracebit_pack.lake.embedded import Lake, to_jsonable
from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.logs.arrival import Arrival, delivery_time, parse_delays
from tracebit_pack.pack.items import REPO_ROOT, AnalysisItem, load_items
from tracebit_pack.schedule.as_of import ARRIVED_BY, LakeAsOf, QueryAtRuns, arrival_bounds, inline_as_of
from tracebit_pack.schedule.correlation_runs import run_correlation
from tracebit_pack.schedule.drivers import drivers
from tracebit_pack.schedule.runs import covering_end, run_times
from tracebit_pack.schedule.scheduled import PerRunQueries, query_runs

BLOG = REPO_ROOT / "scenarios" / "blog_incident"
SCHEDULED = [i for i in load_items(REPO_ROOT) if i.kind == "scheduled_query"]


def at(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def blog_lake():
    lake = lake_from_folder(BLOG, strict=False)
    yield lake
    lake.close()


# ----------------------------------------------------------------------------- run times


def test_rate_minutes_runs_align_on_the_utc_clock():
    start, end = at("2024-12-13T10:07:00Z"), at("2024-12-13T12:00:00Z")
    assert run_times({"RateMinutes": 60}, start, end) == [
        at("2024-12-13T11:00:00Z"),
        at("2024-12-13T12:00:00Z"),
    ]
    assert run_times({"RateMinutes": 30}, start, end)[:2] == [
        at("2024-12-13T10:30:00Z"),
        at("2024-12-13T11:00:00Z"),
    ]
    assert run_times({"RateMinutes": 1440}, start, at("2024-12-15T00:00:00Z")) == [
        at("2024-12-14T00:00:00Z"),
        at("2024-12-15T00:00:00Z"),
    ]
    # the backtest's default end: the run that sees the last arrival
    assert covering_end({"RateMinutes": 30}, at("2024-12-13T16:31:20Z")) == at("2024-12-13T17:00:00Z")
    assert covering_end({"RateMinutes": 30}, at("2024-12-13T17:00:00Z")) == at("2024-12-13T17:00:00Z")


def test_cron_expression_runs_in_utc():
    runs = run_times(
        {"CronExpression": "15 */6 * * *"}, at("2024-12-13T00:00:00Z"), at("2024-12-13T23:59:00Z")
    )
    assert runs == [at(f"2024-12-13T{h:02d}:15:00Z") for h in (0, 6, 12, 18)]


@pytest.mark.parametrize(
    "schedule",
    [
        {},
        {"RateMinutes": 0},
        {"RateMinutes": True},
        {"CronExpression": "* * *"},
        {"RateMinutes": 5, "CronExpression": "* * * * *"},
    ],
)
def test_a_bad_schedule_is_one_clear_error(schedule):
    with pytest.raises(UserError, match="Schedule"):
        run_times(schedule, at("2024-12-13T00:00:00Z"), at("2024-12-13T01:00:00Z"), "Q")


# ----------------------------------------------------------------------------- the lake at T


def test_a_run_sees_only_rows_arrived_by_its_time(blog_lake):
    count = "SELECT count(*) FROM panther_logs.public.tracebit_alert"
    total = blog_lake.connection.execute(count).fetchone()[0]
    with LakeAsOf(blog_lake) as view:
        view.at(at("2024-12-13T16:11:00Z"))
        assert blog_lake.connection.execute(count).fetchone()[0] == 0
        view.at(at("2024-12-13T16:12:00Z"))
        assert blog_lake.connection.execute(count).fetchone()[0] == 2  # 16:11:20 and 16:11:43
    assert blog_lake.connection.execute(count).fetchone()[0] == total == 5  # whole again


@pytest.mark.parametrize("item", SCHEDULED, ids=lambda i: i.id)
def test_query_sql_at_each_run_is_the_lake_translation(blog_lake, item):
    query = QueryAtRuns(blog_lake, item)
    for hours in range(0, 120, 11):
        moment = at("2024-12-09T00:00:00Z") + timedelta(hours=hours, minutes=30)
        assert query.sql_at(moment) == blog_lake.to_duckdb(item.query, moment)


def _rows(lake: Lake, sql: str) -> list[tuple]:
    return lake.connection.execute(sql).fetchall()


@pytest.mark.parametrize("scenario", ["blog_incident", "month_backtest"])
def test_a_runs_own_statement_reads_what_the_lake_showed_at_its_time(scenario):
    """``sql_as_of`` (the arrival time written into the statement, what the backtest runs) returns,
    in order, what the query returns on the lake's views with the clock at T: every scheduled query
    at every 48th run and at each of its last 6."""
    lake = lake_from_folder(REPO_ROOT / "scenarios" / scenario, strict=False)
    first, last = arrival_bounds(lake)
    compared = 0
    try:
        with LakeAsOf(lake) as view:
            for item in SCHEDULED:
                query = QueryAtRuns(lake, item)
                times = query_runs(item, first, None, last)
                for moment in sorted(set(times[::48] + times[-6:])):
                    view.at(moment)
                    expected = _rows(lake, query.sql_at(moment))
                    assert _rows(lake, query.sql_as_of(moment, view)) == expected, (item.id, moment)
                    compared += 1
    finally:
        lake.close()
    assert compared > 50


def test_runs_on_the_workers_yield_what_one_run_at_a_time_gives_in_order(blog_lake):
    """``PerRunQueries`` runs several runs at once on its cursors; each query's rows, run by run,
    are those of its statement run alone on the lake's connection (the runs proven empty too)."""
    first, last = arrival_bounds(blog_lake)
    with LakeAsOf(blog_lake) as view, PerRunQueries(blog_lake, view) as runner:
        with_rows = proven_empty = 0
        for item in SCHEDULED:
            every = query_runs(item, first, None, last)
            times = sorted(set(every[::20] + every[-12:]))  # the alerts' runs are among the last
            query = QueryAtRuns(blog_lake, item)
            runs = runner.rows_per_run(item, times)
            got = list(runs)
            assert [moment for moment, _ in got] == times
            groups = drivers(item.query)
            assert runs.proven_empty == sum(bool(groups) and runner.index.empty(groups, m) for m in times)
            proven_empty += runs.proven_empty
            for moment, rows in got:
                alone = blog_lake.connection.execute(query.sql_as_of(moment, view))
                names = [d[0] for d in alone.description]
                expected = [
                    {n: to_jsonable(v) for n, v in zip(names, row, strict=True)} for row in alone.fetchall()
                ]
                assert rows == expected, (item.id, moment)
                with_rows += bool(rows)
        assert proven_empty > 100 and with_rows >= 4, (proven_empty, with_rows)


def test_a_run_that_fails_is_the_error_of_its_query_and_stops_the_workers(blog_lake):
    query = "SELECT no_such_column FROM panther_logs.public.tracebit_alert"
    broken = AnalysisItem(SCHEDULED[0].path, {**SCHEDULED[0].spec, "Query": query})
    with LakeAsOf(blog_lake) as view:
        runner = PerRunQueries(blog_lake, view)
        runs = runner.rows_per_run(broken, [at("2024-12-13T17:00:00Z"), at("2024-12-13T18:00:00Z")])
        with pytest.raises(UserError, match="cannot execute it"):
            list(runs)
        runner.close()
        assert runner._pool._shutdown and not runner._cursors


def test_the_statement_of_a_run_counts_only_rows_arrived_by_its_time(blog_lake):
    tree = sqlglot.parse_one("SELECT count(*) FROM panther_logs.public.tracebit_alert AS a", read="duckdb")
    with LakeAsOf(blog_lake) as view:
        inline_as_of(tree, view)
        arrived = tree.sql(dialect="duckdb")
        for moment, expected in (("16:11:00", 0), ("16:11:20", 1), ("16:12:00", 2), ("17:00:00", 5)):
            sql = arrived.replace(ARRIVED_BY, f"'2024-12-13 {moment}.000000'")
            assert blog_lake.connection.execute(sql).fetchone()[0] == expected


def test_the_pack_queries_are_driven_by_new_tracebit_alerts():
    tables = {item.id: {frozenset(d.table for d in g) for g in drivers(item.query)} for item in SCHEDULED}
    both = frozenset({"tracebit_alert", "tracebit_alertsummary"})
    assert both in tables["Tracebit.Query.CanaryPrincipalRecentMFAReset"]
    assert both in tables["Tracebit.Query.CanaryPrincipalGetObjectSurge"]
    assert tables["Tracebit.Query.IntegrationSilent"] == set()  # an aggregate: a row even on no data


def test_drivers_prove_nothing_through_a_left_join_or_an_ungrouped_aggregate():
    base = "SELECT a.x FROM panther_logs.public.tracebit_alert a {join} WHERE p_occurs_since('1 day', a)"
    assert drivers(base.format(join=""))
    left = (
        "SELECT o.x FROM panther_logs.public.okta_systemlog o LEFT JOIN panther_logs.public.tracebit_alert a "
        "ON a.x = o.x WHERE p_occurs_since('1 day', a)"
    )
    assert drivers(left) == set()
    assert (
        drivers("SELECT count(*) FROM panther_logs.public.tracebit_alert a WHERE p_occurs_since('1 day', a)")
        == set()
    )
    either = "SELECT 1 FROM panther_logs.public.tracebit_alert a WHERE p_occurs_since('1 day', a) OR a.x = 1"
    assert drivers(either) == set()


def test_a_run_skipped_by_its_drivers_returns_what_the_query_would(blog_lake):
    skipped = 0
    with LakeAsOf(blog_lake) as view, PerRunQueries(blog_lake, view) as runner:
        for item in SCHEDULED:
            groups = drivers(item.query)
            for hours in range(0, 200, 3):
                moment = at("2024-12-06T00:00:00Z") + timedelta(hours=hours)
                if groups and runner.index.empty(groups, moment):
                    skipped += 1
                    view.at(moment)
                    assert blog_lake.run(item, now=moment) == [], (item.id, moment)
    assert skipped > 100


# ----------------------------------------------------------------------------- arrival


def test_cloudtrail_object_names_give_the_delivery_time():
    name = "693260565127_CloudTrail_us-east-1_20250312T1620Z_AbCdEf0123456789.json.gz"
    assert delivery_time(Path("AWSLogs/693260565127/CloudTrail/us-east-1/2025/03/12") / name) == at(
        "2025-03-12T16:20:00Z"
    )
    assert delivery_time("AWS.CloudTrail.jsonl") is None
    assert delivery_time("693260565127_CloudTrail_us-east-1_2025-03-12_x.json.gz") is None


def test_arrival_delays_are_read_per_log_type():
    assert parse_delays(["Okta.SystemLog=15m", "AWS.CloudTrail=2h"]) == {
        "Okta.SystemLog": timedelta(minutes=15),
        "AWS.CloudTrail": timedelta(hours=2),
    }
    for bad in ("Okta.SystemLog", "Nope=1h", "Okta.SystemLog=soon"):
        with pytest.raises(UsageError, match="--arrival-delay"):
            parse_delays([bad])


def _cloudtrail_object(folder, name, events):
    path = folder / "AWS.CloudTrail" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": events}).encode(), mtime=0))


@pytest.mark.parametrize("strict", [False, True], ids=["sql", "python"])
def test_arrival_in_sql_and_in_python_is_the_same(tmp_path, strict):
    events = [json.loads(line) for line in (BLOG / "AWS.CloudTrail.jsonl").read_text().splitlines()[:3]]
    first = at(events[0]["eventTime"])
    stamp = (first + timedelta(hours=3)).strftime("%Y%m%dT%H%MZ")
    _cloudtrail_object(tmp_path, f"693260565127_CloudTrail_us-east-1_{stamp}_X1.json.gz", events)
    okta = json.loads((BLOG / "Okta.SystemLog.jsonl").read_text().splitlines()[0])
    (tmp_path / "Okta.SystemLog.jsonl").write_text(json.dumps(okta) + "\n")
    from tracebit_pack.loading.ingest import Ingest
    from tracebit_pack.logs.folder import discover

    lake = Lake.for_sources(discover(tmp_path))
    ingest = Ingest(
        lake,
        {"AWS.CloudTrail", "Okta.SystemLog"},
        strict=strict,
        arrival=Arrival({"Okta.SystemLog": timedelta(minutes=7)}),
        python_below=0,  # not strict: the SQL path, small as the files are
    )
    ingest.load(discover(tmp_path))
    rows = lake.connection.execute(
        "SELECT p_parse_time FROM panther_logs.public.aws_cloudtrail ORDER BY p_event_time"
    ).fetchall()
    assert {r[0] for r in rows} == {(first + timedelta(hours=3)).replace(tzinfo=None, second=0)}
    okta_row = lake.connection.execute(
        "SELECT p_parse_time - p_event_time FROM panther_logs.public.okta_systemlog"
    ).fetchone()
    assert okta_row[0] == timedelta(minutes=7)
    staged = [e["p_parse_time"] for e in ingest.rule_events()]
    assert len(staged) == 4 and staged == sorted(staged)  # the rules see them in arrival order
    lake.close()


# ----------------------------------------------------------------------------- correlation runs

RULE = {
    "AnalysisType": "correlation_rule",
    "RuleID": "Test.Correlation",
    "Enabled": True,
    "Severity": "High",
    "Detection": [
        {
            "Group": [{"ID": "Reset", "RuleID": "Reset"}, {"ID": "Canary", "RuleID": "Canary"}],
            "MatchCriteria": {
                "who": [{"GroupID": "Reset", "Match": "user"}, {"GroupID": "Canary", "Match": "user"}]
            },
            "LookbackWindowMinutes": 2160,
            "Schedule": {"RateMinutes": 60, "TimeoutMinutes": 5},
        }
    ],
}


def signal(n, rule, when, arrived=None, user="sue"):
    data = {"p_rule_id": rule, "p_event_time": when, "user": user}
    if arrived:
        data["p_parse_time"] = arrived
    return Signal.from_dict(data, n)


def correlate(signals, end):
    rule = CorrelationRule(RULE)
    return run_correlation(rule, signals, start=at("2025-03-01T00:00:00Z"), end=at(end), last_arrival=at(end))


def test_overlapping_runs_raise_a_match_once_and_a_growing_incident_stays_one():
    signals = [
        signal(0, "Reset", "2025-03-01T10:00:00Z"),
        signal(1, "Canary", "2025-03-01T12:10:00Z"),
        signal(2, "Canary", "2025-03-01T15:10:00Z"),  # more of the same incident, three runs later
    ]
    raised, runs = correlate(signals, "2025-03-03T00:00:00Z")
    assert runs == 48
    assert len(raised) == 1
    assert raised[0].created_at == at("2025-03-01T13:00:00Z")  # the first run after both


def test_a_later_incident_on_new_signals_is_a_new_alert():
    signals = [
        signal(0, "Reset", "2025-03-01T10:00:00Z"),
        signal(1, "Canary", "2025-03-01T12:10:00Z"),
        signal(2, "Reset", "2025-03-06T10:00:00Z"),
        signal(3, "Canary", "2025-03-06T10:30:00Z"),
    ]
    raised, _ = correlate(signals, "2025-03-08T00:00:00Z")
    assert [r.created_at for r in raised] == [at("2025-03-01T13:00:00Z"), at("2025-03-06T11:00:00Z")]


def test_a_signal_counts_only_from_the_run_after_it_was_produced():
    signals = [
        signal(0, "Reset", "2025-03-01T10:00:00Z", arrived="2025-03-01T20:30:00Z"),  # e.g. a late log
        signal(1, "Canary", "2025-03-01T12:10:00Z"),
    ]
    raised, _ = correlate(signals, "2025-03-02T00:00:00Z")
    assert [r.created_at for r in raised] == [at("2025-03-01T21:00:00Z")]
