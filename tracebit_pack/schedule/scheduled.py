"""Every scheduled query at each of its run times, its rows through the scheduled rules.

Each run at T sees the rows arrived by T (``as_of.QueryAtRuns.sql_as_of``) and "now" = T for its macros,
``p_occurs_*`` and ``p_current_timestamp()`` (and so for the ``params`` CTE built on them); the KV
cache's clock is T too. The rows go to every enabled scheduled rule naming the query; each match
is processed at T (``RuleResult.arrival_time``), so ``DedupPeriodMinutes`` and ``Threshold`` apply
across runs (``engine.alerts.group_matches``), and its signal is timed at T.

The seam for a faster engine: ``run_scheduled`` takes a ``QueryRunner``, any object whose
``rows_per_run(item, times)`` yields ``(T, rows)`` for every run time in order. ``PerRunQueries``,
the default, runs one SQL per run. Another runner must return the same rows run by run. (All the
runs of a query as one ``UNION ALL`` statement was measured and is slower: DuckDB's planning
time grows faster than the number of branches.)
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import duckdb

from tracebit_pack.engine.loaded_rule import RuleResult
from tracebit_pack.engine.rules import PackEngine
from tracebit_pack.errors import UserError
from tracebit_pack.lake.embedded import Lake, rows_as_dicts
from tracebit_pack.pack.items import AnalysisItem, table_name
from tracebit_pack.schedule.as_of import LakeAsOf, QueryAtRuns, arrival_bounds, tables_read
from tracebit_pack.schedule.drivers import DriverIndex, drivers
from tracebit_pack.schedule.runs import covering_end, run_times
from tracebit_pack.times import panther_time


class QueryRunner(Protocol):
    def rows_per_run(
        self, item: AnalysisItem, times: list[datetime]
    ) -> Iterable[tuple[datetime, list[dict]]]:
        """``(T, rows of the query at T on the data arrived by T)`` for each T, in order. It may
        start work when called (``run_scheduled`` starts every query's runs before taking any)
        and may say how many runs it answered without running (``proven_empty``)."""
        ...


class PerRunQueries:
    """One SQL per run: the query's SQL at T (translated once) over the rows arrived by T, written
    into the statement (``QueryAtRuns.sql_as_of``), so no clock is set between runs. A run whose
    driving tables (``drivers``) are empty in their windows returns no rows without running.

    Runs are independent reads of a lake nothing writes to while they run (the rules write only
    the KV cache, which no query reads), so ``WORKERS`` DuckDB cursors run them two at a time:
    DuckDB plans and runs a small statement on one thread and releases the GIL, so two cores run
    two runs. Each query keeps up to ``AHEAD`` runs submitted (``QueryRuns``); its rows are
    yielded in run order, as one at a time would. Use as a context manager (``close`` ends the
    workers).
    """

    WORKERS = 2
    AHEAD = 8  # runs in flight per query: bounds the rows held before the rules take them

    def __init__(self, lake: Lake, view: LakeAsOf) -> None:
        self.lake = lake
        self.view = view
        sizes = {table_name(t): n for t, n in lake.row_counts.items()}
        self.index = DriverIndex(self._pairs, sizes)
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._pool = ThreadPoolExecutor(self.WORKERS, thread_name_prefix="scheduled-run")

    def _pairs(self, table: str, column: str) -> list[tuple[datetime, datetime]]:
        sql = f'SELECT "{column}", p_parse_time FROM {self.view.stored(table)}'
        return self.lake.connection.execute(sql).fetchall()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """This worker's cursor on the lake, with the lake connection's session settings."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self.lake.connection.cursor()
            cursor.execute("SET TimeZone='UTC'")
            cursor.execute("USE panther_logs.public")
            self._local.cursor = cursor
            self._cursors.append(cursor)
        return cursor

    def submit(self, item_id: str, sql: str) -> Future:
        """Run ``sql`` (a run of ``item_id``) on a worker; its rows as the future's result."""
        return self._pool.submit(self._rows, item_id, sql)

    def _rows(self, item_id: str, sql: str) -> list[dict]:
        try:
            return rows_as_dicts(self._cursor().execute(sql))
        except Exception as err:  # noqa: BLE001 - DuckDB's errors: named like Lake.run names them
            first = str(err).splitlines()[0]
            raise UserError(f"{item_id}: the offline engine cannot execute it: {first}") from None

    def rows_per_run(self, item: AnalysisItem, times: list[datetime]) -> QueryRuns:
        """The runs of ``item``, started now (``QueryRuns``)."""
        return QueryRuns(self, item, times)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for cursor in self._cursors:
            cursor.close()
        self._cursors.clear()

    def __enter__(self) -> PerRunQueries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class QueryRuns:
    """The runs of one query on ``PerRunQueries``' workers, yielded in run order.

    Started when made: the query is translated and its first ``AHEAD`` runs are submitted, so a
    caller that makes the next query's runs before it takes this one's rows (``run_scheduled``)
    keeps the workers busy while it translates and runs the rules. ``proven_empty``: the runs
    answered without running (their drivers were empty).
    """

    def __init__(self, owner: PerRunQueries, item: AnalysisItem, times: list[datetime]) -> None:
        self.owner = owner
        self.item = item
        self.query = QueryAtRuns(owner.lake, item)
        self.groups = drivers(item.query or "")
        self.upcoming = iter(times)
        self.pending: deque[tuple[datetime, Future | None]] = deque()
        self.in_flight = 0
        self.proven_empty = 0
        self._fill()

    def _fill(self) -> None:
        """Submit runs until ``AHEAD`` are in flight (runs proven empty wait in line, unsubmitted)."""
        while self.in_flight < self.owner.AHEAD:
            moment = next(self.upcoming, None)
            if moment is None:
                return
            if self.groups and self.owner.index.empty(self.groups, moment):
                self.proven_empty += 1
                self.pending.append((moment, None))
                continue
            sql = self.query.sql_as_of(moment, self.owner.view)
            self.pending.append((moment, self.owner.submit(self.item.id, sql)))
            self.in_flight += 1

    def __iter__(self) -> QueryRuns:
        return self

    def __next__(self) -> tuple[datetime, list[dict]]:
        if not self.pending:
            raise StopIteration
        moment, future = self.pending.popleft()
        rows: list[dict] = []
        if future is not None:
            self.in_flight -= 1
            try:
                rows = future.result()
            except BaseException:
                self.cancel()
                raise
        self._fill()
        return moment, rows

    def cancel(self) -> None:
        """Drop the runs not yet taken (those already running finish, unread)."""
        for _, future in self.pending:
            if future is not None:
                future.cancel()
        self.pending.clear()
        self.upcoming = iter(())


@dataclass
class QueryRunsSummary:
    """What one scheduled query did over the backtest."""

    query: str
    rules: list[str]
    schedule: dict
    runs: int = 0
    rows: int = 0
    runs_with_rows: int = 0
    runs_proven_empty: int = 0  # answered without running: their driving tables were empty
    first_run: datetime | None = None
    last_run: datetime | None = None

    def to_json(self) -> dict:
        return {
            "query": self.query,
            "rules": self.rules,
            "schedule": self.schedule,
            "runs": self.runs,
            "rows": self.rows,
            "runs_with_rows": self.runs_with_rows,
            "runs_proven_empty": self.runs_proven_empty,
            "first_run": None if self.first_run is None else panther_time(self.first_run),
            "last_run": None if self.last_run is None else panther_time(self.last_run),
        }


@dataclass
class ScheduledOutcome:
    matches: list[RuleResult] = field(default_factory=list)
    signals: list[tuple[RuleResult, Mapping, datetime]] = field(default_factory=list)  # (match, row, T)
    errors: dict[str, list[str]] = field(default_factory=dict)
    not_evaluated: dict[str, str] = field(default_factory=dict)
    queries: dict[str, QueryRunsSummary] = field(default_factory=dict)


def query_runs(
    item: AnalysisItem, start: datetime, end: datetime | None, last_arrival: datetime
) -> list[datetime]:
    """The run times of ``item`` after ``start``: up to ``end``, or (None) up to the run that
    sees the last arrival."""
    schedule = item.spec.get("Schedule")
    stop = end if end is not None else covering_end(schedule, last_arrival, item.id)
    return run_times(schedule, start, stop, item.id)


def run_scheduled(
    engine: PackEngine,
    lake: Lake,
    *,
    start: datetime,
    end: datetime | None,
    last_arrival: datetime,
    skip: Callable[[AnalysisItem], str | None] = lambda item: None,
    runner: Callable[[Lake, LakeAsOf], QueryRunner] = PerRunQueries,
) -> tuple[ScheduledOutcome, dict[str, str]]:
    """Run every enabled scheduled rule's queries at their run times; also returns the queries
    not run, with why (``skip``)."""
    outcome = ScheduledOutcome()
    skipped: dict[str, str] = {}
    rules_of: dict[str, list[str]] = {}
    for loaded in engine.scheduled_rules.values():
        for name in loaded.spec.get("ScheduledQueries") or []:
            rules_of.setdefault(name, []).append(loaded.id)
    items = {i.id: i for i in engine.items if i.kind == "scheduled_query"}
    # A query starts with its data: before the first event of any table it reads arrived, its
    # answer ("no health check for 30 days") would be about the export, not the system.
    starts = {
        name: max(start, arrival_bounds(lake, tables_read(item.query or ""))[0] or start)
        for name, item in items.items()
    }
    with LakeAsOf(lake) as view:
        queries = runner(lake, view)
        try:
            # every query's runs are started first (a runner with workers translates each and
            # submits its first runs), then their rows go to the rules query by query
            started = []
            for name, rule_ids in rules_of.items():
                item = items.get(name)
                if item is None:
                    for rule_id in rule_ids:
                        outcome.errors.setdefault(rule_id, []).append(f"scheduled query {name!r} not found")
                    continue
                why_not = skip(item)
                if why_not:
                    skipped[name] = why_not
                    continue
                times = query_runs(item, starts[name], end, last_arrival)
                summary = QueryRunsSummary(name, rule_ids, dict(item.spec.get("Schedule") or {}))
                outcome.queries[name] = summary
                try:
                    started.append((summary, queries.rows_per_run(item, times)))
                except UserError as err:  # e.g. SQL the embedded lake cannot translate
                    _not_evaluated(outcome, summary, err)
            for summary, runs in started:
                try:
                    for moment, rows in runs:
                        _record(summary, moment, rows)
                        _run_rules(engine, summary.rules, moment, rows, outcome)
                    summary.runs_proven_empty = getattr(runs, "proven_empty", 0)
                except UserError as err:  # e.g. SQL the embedded lake cannot run
                    _not_evaluated(outcome, summary, err)
        finally:
            close = getattr(queries, "close", None)
            if close is not None:  # a runner with workers (PerRunQueries) ends them
                close()
    return outcome, skipped


def _not_evaluated(outcome: ScheduledOutcome, summary: QueryRunsSummary, err: UserError) -> None:
    reason = str(err).removeprefix(f"{summary.query}: ")
    for rule_id in summary.rules:
        outcome.not_evaluated[rule_id] = f"scheduled query {summary.query!r}: {reason}"[:300]


def _record(summary: QueryRunsSummary, moment: datetime, rows: list[dict]) -> None:
    summary.runs += 1
    summary.rows += len(rows)
    summary.runs_with_rows += bool(rows)
    summary.first_run = summary.first_run or moment
    summary.last_run = moment


def _run_rules(
    engine: PackEngine, rule_ids: list[str], moment: datetime, rows: list[dict], outcome: ScheduledOutcome
) -> None:
    if not rows:
        return
    when = panther_time(moment)
    for rule_id in rule_ids:
        engine.kv.now = moment.timestamp()
        for result, row in zip(engine.run_scheduled(rule_id, rows), rows, strict=True):
            result.event_time = when
            result.arrival_time = when
            if result.error:
                outcome.errors.setdefault(result.rule_id, []).append(result.error)
            if result.matched:
                outcome.matches.append(result)
                outcome.signals.append((result, row, moment))
