"""Load a folder of logs, as users have them, into the lake; skip and count the events that do not conform.

The folder's files, their log types and layouts are found by ``logs.folder.discover``.
Events exported from Panther (``p_*`` fields, ``YYYY-MM-DD HH:MM:SS[.fffffffff]`` timestamps) are
accepted: their ``p_*`` fields are checked (``validate.validate_event`` with standard fields) and
recomputed.

Every file is read once, by DuckDB's own readers (``logs.folder.reader_sql``). Two paths from there
(a log type whose files are small, ``PYTHON_LOAD_BYTES``, always takes the second):

* log types whose timestamps DuckDB parses (``ingest_sql.sql_loadable``: all of this pack's) are
  checked, typed and enriched inside DuckDB by the SQL of ``ingest_sql.load_select``; for those
  read by a real-time rule the same SQL also builds the enriched event the rules see, as JSON
  text (Python builds it, with ``enrich``, only for Panther exports and text ``json.loads`` may
  refuse: ``ingest_sql.needs_python_sql``);
* the other log types, and with ``strict=True`` those read by a real-time rule (so that an
  unknown field is an error too), are checked against their schema in Python
  (``validate.validate_event``), enriched (``enrich``) and inserted into the lake in batches.

The rule log types' enriched events are kept, as JSON text, in a DuckDB staging table from which
``rule_events()`` streams them in event-time order (memory stays bounded); Python only decodes
them for the rules. Only the events a rule may match are kept: where every rule of a log type has
``InlineFilters``, their SQL form (``pushdowns``, from ``engine.match_sql``) is part of the load
statement, which keeps the text of only the events they may pass, and of the statement that stages
those, so the others never leave DuckDB.

A non-conforming event is skipped and counted per reason with a few ``file:line`` examples
(``Skipped``); with ``strict=True`` the first one is a UserError instead (nothing is loaded).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from tracebit_pack.engine.match_sql import Pushdown
from tracebit_pack.errors import UserError
from tracebit_pack.lake.embedded import table_columns
from tracebit_pack.loading.ingest_sql import (
    deep_sql,
    load_select,
    needs_python_sql,
    rule_events_select,
    sql_loadable,
)
from tracebit_pack.logs.arrival import Arrival
from tracebit_pack.logs.enrich import deterministic_row_id, enrich, event_time
from tracebit_pack.logs.folder import Source, reader_sql, weighs_more_than
from tracebit_pack.logs.schemas import LOG_TYPES, loads_json
from tracebit_pack.logs.validate import Problem, validate_event
from tracebit_pack.pack.items import table_name
from tracebit_pack.text import lit
from tracebit_pack.times import EARLIEST_EVENT_TIME

EXAMPLES_PER_REASON = 3
BATCH = 5000
# Up to this many bytes (decompressed), one load statement is planned without DuckDB's optimizer:
# on the bundled incident's CloudTrail file its passes over the schema-check expressions cost more
# CPU than the unoptimised statement takes to run; from about 10,000 events (a 1.5 MB gzip folder)
# the optimised statement is as fast or faster.
UNOPTIMISED_LOAD_BYTES = 1 << 20
# Up to this many bytes (decompressed) of one log type, its events are checked and enriched in
# Python: DuckDB's planning of the load statements (tens of ms each) costs more than the Python
# checks of so few events; measured on the bundled incident, whose Okta and Tracebit files
# (under 0.25 MB) load faster in Python and whose 0.9 MB of CloudTrail about as fast.
PYTHON_LOAD_BYTES = 1 << 18
# The optimizer pass that rewrites a long ``IN (...)`` list (the schema's allowed values, the
# whitespace characters) as a join with a constant table: a join does not keep the rows' order, and
# evaluated as a list the check is as fast. Off while a load statement runs (``Ingest._check``).
ORDER_BREAKING_PASSES = "in_clause"
SORT_WINDOW = 50_000  # rule events sorted at once (rule_events): bounds the sort's memory
RULE_EVENTS = "panther_logs.main._rule_events"  # staging for rule_events(), beside the lake's tables
FILES_PER_READ = 64  # S3 objects per DuckDB read: bounds the staging table's memory
SOURCE_LABEL = "tracebit-pack offline lake"


# ----------------------------------------------------------------------------- skipped events


@dataclass
class Skipped:
    """Events left out: count per reason, with the first few ``file:line`` of each."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, where: str, count: int = 1) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + count
        shown = self.examples.setdefault(reason, [])
        if len(shown) < EXAMPLES_PER_REASON:
            shown.append(where)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict:
        return {
            "total": self.total,
            "reasons": {
                reason: {"count": count, "examples": self.examples.get(reason, [])}
                for reason, count in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
            },
        }

    def summary(self) -> str:
        """One line for the text report."""
        if not self.counts:
            return "skipped 0 events"
        top = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        parts = [f"{reason} {count} (e.g. {self.examples[reason][0]})" for reason, count in top[:3]]
        more = f"; {len(top) - 3} more reason(s) (--format json lists them)" if len(top) > 3 else ""
        return f"skipped {self.total} event(s) that do not conform: " + "; ".join(parts) + more


_KINDS = (
    ("bad timestamp", "bad timestamp"),
    ("required field missing", "required field missing"),
    ("out of range", "wrong type"),
    ("expected", "wrong type"),
    ("not allowed (allowed", "value not allowed"),
    ("null array element", "null array element"),
    ("does not match log type", "does not match the file's log type"),
)


def reason_of(problem: Problem) -> str:
    """A countable reason for a schema problem: ``<path>: <kind>`` (array indexes dropped)."""
    path = re.sub(r"\[\d+\]", "[]", problem.path) or "<event>"
    kind = next((k for needle, k in _KINDS if needle in problem.reason), problem.reason)
    return f"{path}: {kind}"


def blocking(problems: list[Problem]) -> list[Problem]:
    """The problems that stop an event from loading: unknown fields are dropped, as Panther does."""
    return [p for p in problems if not p.reason.startswith("unknown field")]


# ----------------------------------------------------------------------------- finding the files


def rule_log_types(root: Path | None = None) -> set[str]:
    """Log types read by an enabled real-time rule of the pack under ``root``."""
    from tracebit_pack.pack.items import REPO_ROOT, items_of, load_items

    found: set[str] = set()
    for item in items_of(load_items(root or REPO_ROOT), "rule"):
        if item.spec.get("Enabled", False):
            found.update(str(t) for t in item.spec.get("LogTypes") or [])
    return found


# ----------------------------------------------------------------------------- loading


class Ingest:
    """Loads sources into ``lake``; keeps the rule log types' events for ``rule_events()``."""

    def __init__(
        self,
        lake,
        rule_log_types: set[str] | frozenset[str],
        *,
        strict: bool = False,
        parse_time: datetime | None = None,
        progress: Callable[[int], None] | None = None,
        arrival: Arrival | None = None,
        pushdowns: Mapping[str, Pushdown] | None = None,
        python_below: int | None = None,
    ) -> None:
        """``pushdowns``: per rule log type, the condition an event must meet to be kept for the
        rules (``engine.match_sql``: their InlineFilters in SQL); the others are kept whole.
        ``python_below``: a log type whose files hold no more bytes than this (decompressed) is
        checked in Python (default ``PYTHON_LOAD_BYTES``; 0: never for that reason)."""
        self.lake = lake
        self.python_below = PYTHON_LOAD_BYTES if python_below is None else python_below
        self.pushdowns = dict(pushdowns or {})
        self.connection: duckdb.DuckDBPyConnection = lake.connection
        self.rule_types = set(rule_log_types)
        # strict: the rule log types are checked in Python, which also refuses unknown fields
        self.python_types = {t for t in LOG_TYPES if not sql_loadable(t) or (strict and t in self.rule_types)}
        self.strict = strict
        self.parse_time = parse_time  # one p_parse_time for every row; else each row's arrival
        self.arrival = arrival or Arrival()
        self.progress = progress or (lambda n: None)
        self.skipped = Skipped()
        self.events_by_log_type: dict[str, int] = {}
        self.connection.execute(
            f"CREATE OR REPLACE TABLE {RULE_EVENTS} "
            "(t TIMESTAMP, file_order INTEGER, pos BIGINT, doc VARCHAR)"
        )
        self._file_order = 0
        self._order: dict[str, int] = {}  # file -> its rank among the sources (ties in rule_events)

    def load(self, sources: list[Source]) -> None:
        for source in sources:
            self._file_order += 1
            self._order[str(source.path)] = self._file_order
        by_type: dict[str, list[Source]] = {}
        for source in sources:
            by_type.setdefault(source.log_type, []).append(source)
        in_python = {
            log_type
            for log_type, mine in by_type.items()
            if log_type in self.python_types
            or (self.python_below > 0 and not weighs_more_than([s.path for s in mine], self.python_below))
        }
        for source in sources:
            if source.log_type in in_python:
                self._load_python(source)
        for log_type in sorted(set(by_type) - in_python):
            mine = by_type[log_type]
            records = [s.path for s in mine if s.layout == "records"]
            for start in range(0, len(records), FILES_PER_READ):  # S3 objects: many per DuckDB read
                self._load_sql(log_type, records[start : start + FILES_PER_READ], "records")
            for s in mine:
                if s.layout != "records":
                    self._load_sql(log_type, [s.path], s.layout)

    # ------------------------------------------------------------------ one file, any layout

    def _read(self, paths: list[Path], layout: str) -> duckdb.DuckDBPyConnection | None:
        """A cursor over ``file, pos, doc`` or None (the file is unreadable: skipped or UserError)."""
        cursor = self.connection.cursor()
        try:
            return cursor.execute(reader_sql(paths, layout))
        except duckdb.Error as err:
            if len(paths) == 1:
                self._file_error(paths[0], err)
            return None

    def _file_error(self, path: Path, err: duckdb.Error) -> None:
        """A file DuckDB cannot read as JSON: skipped (counted once) or, strict, a UserError.

        Running out of memory says nothing about the file: it is always an error, never a skip."""
        if isinstance(err, duckdb.OutOfMemoryException):
            raise UserError(
                f"{path}: DuckDB ran out of memory reading it: {str(err).splitlines()[0]}"
            ) from None
        if self.strict:
            raise UserError(f"{path}: malformed JSON file: {str(err).splitlines()[0]}") from None
        self.skipped.add("malformed JSON file", str(path))

    def _skip(self, reason: str, where: str, detail: str) -> None:
        if self.strict:
            raise UserError(f"{where}: {detail}")
        self.skipped.add(reason, where)

    def _where(self, file: str, pos: int, layout: str) -> str:
        return f"{file}:{pos}" if layout == "ndjson" else f"{file}: record {pos}"

    def _load_python(self, source: Source) -> None:
        cursor = self._read([source.path], source.layout)
        if cursor is None:
            return
        log_type = source.log_type
        loaded = 0
        while True:
            try:
                rows = cursor.fetchmany(BATCH)
            except duckdb.Error as err:  # DuckDB may stream: a bad file can fail mid-read
                self._file_error(source.path, err)
                break
            if not rows:
                break
            lake_rows, staged = [], []
            for file, pos, doc in rows:
                if doc is None or not doc.strip():
                    continue
                where = self._where(file, pos, source.layout)
                try:
                    event = loads_json(doc)
                except json.JSONDecodeError as err:
                    self._skip("malformed JSON", where, f"malformed JSON: {err.msg} (column {err.colno})")
                    continue
                except ValueError as err:  # nesting too deep, a huge integer, a lone surrogate
                    self._skip("malformed JSON", where, f"malformed JSON: {err}")
                    continue
                if not isinstance(event, dict):
                    self._skip(
                        "not a JSON object", where, f"expected a JSON object, got {type(event).__name__}"
                    )
                    continue
                exported = any(str(k).startswith("p_") for k in event)
                problems = validate_event(event, log_type, standard_fields=exported)
                if not self.strict:
                    problems = blocking(problems)
                if problems:
                    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                    self._skip(reason_of(problems[0]), where, f"{problems[0]}{more}")
                    continue
                raw = {k: v for k, v in event.items() if not str(k).startswith("p_")} if exported else event
                occurred = event_time(raw, log_type)
                if occurred is not None and occurred < EARLIEST_EVENT_TIME:
                    self._skip(
                        "bad timestamp", where, f"event time {occurred.isoformat()} is before 1970-01-01"
                    )
                    continue
                arrived = self.arrival.python(log_type, file, event, occurred)
                enriched = self._enrich(raw, log_type, file, pos, arrived)
                lake_rows.append(self.lake.row_from_enriched(log_type, enriched))
                staged.append((file, pos, enriched))
            if lake_rows:
                self.lake.insert_rows(log_type, lake_rows)
                self._stage(log_type, staged)
                loaded += len(lake_rows)
                self.progress(len(lake_rows))
        self._count(log_type, loaded)

    def _enrich(self, raw: dict, log_type: str, file: str, pos: int, arrived: datetime | None) -> dict:
        return enrich(
            raw,
            log_type,
            parse_time=self.parse_time or arrived,
            row_id=deterministic_row_id(log_type, file, pos),
        )

    def _stage(self, log_type: str, staged: list[tuple[str, int, dict]]) -> None:
        """Keep ``(file, pos, enriched event)`` for ``rule_events()``, ordered by arrival (those the
        rules' filters may pass)."""
        rows = (
            "SELECT CAST(unnest(?::VARCHAR[]) AS TIMESTAMP) AS t, unnest(?::INTEGER[]) AS file_order, "
            "unnest(?::BIGINT[]) AS pos, unnest(?::VARCHAR[]) AS doc"
        )
        self.connection.execute(
            f"INSERT INTO {RULE_EVENTS} {self._candidates(log_type, rows)}",
            [
                [e["p_parse_time"] for _, _, e in staged],
                [self._order.get(str(f), 0) for f, _, _ in staged],
                [p for _, p, _ in staged],
                [json.dumps(e, separators=(",", ":")) for _, _, e in staged],
            ],
        )

    def _parse_sql(self, log_type: str, paths: list[Path], *, doc: bool) -> str:
        """SQL of a checked row's ``p_parse_time``: the one given, else its arrival (``arrival``)."""
        if self.parse_time is None:
            return self.arrival.sql(log_type, paths, doc="doc" if doc else None)
        return f"'{self.parse_time.strftime('%Y-%m-%d %H:%M:%S.%f')}'::TIMESTAMP"

    def _rule_events_from_sql(self, log_type: str, paths: list[Path]) -> None:
        """Stage the checked rows' rule events: built in SQL (``ingest_sql.rule_events_select``),
        or here for events exported from Panther and text ``loads_json`` may refuse
        (``ingest_sql.needs_python_sql``); refused ones become ``malformed JSON``.
        """
        rows = self.connection.execute(
            f"SELECT file, pos, doc FROM _checked WHERE reason IS NULL AND {needs_python_sql()}"
        ).fetchall()
        staged = []
        for file, pos, doc in rows:
            try:
                event = loads_json(doc)
            except ValueError:
                self.connection.execute(
                    "UPDATE _checked SET reason = 'malformed JSON' WHERE file = ? AND pos = ?", [file, pos]
                )
                continue
            raw = {k: v for k, v in event.items() if not str(k).startswith("p_")}
            arrived = self.arrival.python(log_type, file, event, event_time(raw, log_type))
            staged.append((file, pos, self._enrich(raw, log_type, file, pos, arrived)))
        if staged:
            self._stage(log_type, staged)
        parse, rank = self._parse_sql(log_type, paths, doc=True), self._rank(paths)
        pushdown = self._pushed_into_load(log_type)
        if pushdown is not None:
            # filtered on the raw text, before the p_* fields are appended: the same answer (the
            # rows built here hold no "p_ key of their own), without building the others' events;
            # the load statement kept the text of only the rows the filters may pass (and of those
            # left to Python above), so the filters run again on those few
            source = "SELECT * FROM _checked WHERE reason IS NULL AND doc IS NOT NULL"
            select = rule_events_select(log_type, f"({pushdown.select(source, 'doc')})", parse, rank)
        else:
            select = self._candidates(log_type, rule_events_select(log_type, "_checked", parse, rank))
        self.connection.execute(f"INSERT INTO {RULE_EVENTS} {select}")

    def _pushed_into_load(self, log_type: str) -> Pushdown | None:
        """The InlineFilters' SQL of ``log_type`` when it reads the raw text only (no ``p_*``
        field): the load statement then keeps the text of the rows it may pass, not of all."""
        pushdown = self.pushdowns.get(log_type)
        return pushdown if pushdown is not None and not pushdown.reads_p_fields else None

    def _candidates(self, log_type: str, select: str) -> str:
        """The rows of ``select`` (``t, file_order, pos, doc``) that a rule of ``log_type`` may match:
        those its InlineFilters may pass (``pushdowns``), all when a rule reads every event."""
        pushdown = self.pushdowns.get(log_type)
        return select if pushdown is None else pushdown.select(select, "doc")

    def _rank(self, paths: list[Path]) -> str:
        """SQL of the rank of the row's ``file`` among the sources (the order they are read in)."""
        order = " ".join(f"WHEN {lit(str(p))} THEN {self._order.get(str(p), 0)}" for p in paths)
        return f"CASE file {order} ELSE 0 END"

    def _refuse_too_deep(self) -> None:
        """Rows of ``_checked`` nested deeper than ``loads_json`` accepts become ``malformed JSON``
        (for rule log types, ``_rule_events_from_sql`` parses them in Python anyway)."""
        rows = self.connection.execute(
            f"SELECT file, pos, doc FROM _checked WHERE reason IS NULL AND {deep_sql()}"
        )
        for file, pos, doc in rows.fetchall():
            try:
                loads_json(doc)
            except ValueError:
                self.connection.execute(
                    "UPDATE _checked SET reason = 'malformed JSON' WHERE file = ? AND pos = ?", [file, pos]
                )

    def _check(self, select: str, *, unoptimised: bool) -> None:
        """``_checked`` from the load statement ``select``, read in parallel yet in reading order, so
        that the lake's rows are inserted as they are, not sorted again (at a million CloudTrail
        events that sort was the costliest step after the check itself). DuckDB keeps insertion
        order through scans, projections and filters; ``ORDER_BREAKING_PASSES`` turns off the one
        optimizer pass that put joins into the statement (``tests/test_ingest_rule_events.py``
        checks the plan has none, ``tests/test_backtest.py`` the order). Settings are restored."""
        self.connection.execute(f"SET disabled_optimizers = '{ORDER_BREAKING_PASSES}'")
        if unoptimised:
            self.connection.execute("PRAGMA disable_optimizer")
        try:
            self.connection.execute(f"CREATE OR REPLACE TEMP TABLE _checked AS {select}")
        finally:
            self.connection.execute("RESET disabled_optimizers")
            self.connection.execute("PRAGMA enable_optimizer")

    def _load_sql(self, log_type: str, paths: list[Path], layout: str) -> None:
        if not paths:
            return
        columns = table_columns(log_type)
        rules = log_type in self.rule_types
        parse = self._parse_sql(log_type, paths, doc=rules)
        select = load_select(
            log_type,
            reader_sql(paths, layout),
            columns,
            SOURCE_LABEL,
            rule_events=rules,
            candidates=self._pushed_into_load(log_type),  # read only with rule events
        )
        try:
            self._check(select, unoptimised=not weighs_more_than(paths, UNOPTIMISED_LOAD_BYTES))
        except duckdb.Error as err:
            if len(paths) > 1:  # a malformed S3 object among many: one at a time
                for path in paths:
                    self._load_sql(log_type, [path], layout)
                return
            if self._read(paths, layout) is not None:  # readable, so the loading SQL failed
                raise UserError(f"{paths[0]}: cannot load: {str(err).splitlines()[0]}") from None
            return
        try:
            where = "file || CASE WHEN ? = 'ndjson' THEN ':' || pos ELSE ': record ' || pos END"
            if self.strict:  # malformed JSON first, as the Python path parses before it checks
                first = self.connection.execute(
                    f"SELECT {where}, reason FROM _checked WHERE reason IS NOT NULL "
                    "ORDER BY reason <> 'malformed JSON', file, pos LIMIT 1",
                    [layout],
                ).fetchone()
                if first:
                    raise UserError(f"{first[0]}: {first[1]}")
            if rules:
                self._rule_events_from_sql(log_type, paths)
            else:
                self._refuse_too_deep()
            bad = self.connection.execute(
                f"SELECT reason, count(*), list({where} ORDER BY file, pos)[1:3] "
                "FROM _checked WHERE reason IS NOT NULL GROUP BY reason ORDER BY reason",
                [layout],
            ).fetchall()
            for reason, count, examples in bad:
                self.skipped.counts[reason] = self.skipped.counts.get(reason, 0) + count
                shown = self.skipped.examples.setdefault(reason, [])
                shown.extend(examples[: max(0, 3 - len(shown))])
            names = ", ".join('"' + n.replace('"', '""') + '"' for n, _ in columns)
            projection = names.replace('"p_parse_time"', f'{parse} AS "p_parse_time"')
            inserted = self.connection.execute(
                f"INSERT INTO panther_logs.public.{table_name(log_type)} ({names}) "
                f"SELECT {projection} FROM _checked WHERE reason IS NULL"  # in reading order (_check)
            ).fetchone()
        finally:
            self.connection.execute("DROP TABLE IF EXISTS _checked")
        count = int(inserted[0]) if inserted else 0
        self.lake.row_counts[log_type] += count
        self._count(log_type, count)
        self.progress(count)

    def _count(self, log_type: str, count: int) -> None:
        if count:
            self.events_by_log_type[log_type] = self.events_by_log_type.get(log_type, 0) + count

    # ------------------------------------------------------------------ for the rules

    def rule_events(self, batch: int = BATCH) -> Iterator[dict]:
        """The rule log types' enriched events in arrival order (``p_parse_time``, then file and
        position: the order Panther processes them and writes its KV cache in), in batches.

        Sorted one slice of event time at a time, about ``SORT_WINDOW`` events each: a sort of
        them all, text included, does not fit in a bounded lake's memory (``Lake.for_sources``).
        """
        for where, params in self._time_slices():
            cursor = self.connection.cursor().execute(
                f"SELECT doc FROM {RULE_EVENTS} WHERE {where} ORDER BY t, file_order, pos", params
            )
            while rows := cursor.fetchmany(batch):
                for (doc,) in rows:
                    yield json.loads(doc)

    def _time_slices(self) -> list[tuple[str, list]]:
        """``(condition on t, parameters)`` of consecutive slices that cover every rule event."""
        slices = -(-self.rule_event_count() // SORT_WINDOW)
        cuts = []
        if slices > 1:  # quantiles of t (NULL when no event has one): slices of about equal size
            (found,) = self.connection.execute(
                f"SELECT list_sort(list_distinct(quantile_disc(t, ?::DOUBLE[]))) FROM {RULE_EVENTS}",
                [[k / slices for k in range(1, slices)]],
            ).fetchone()
            cuts = found or []
        edges = [None, *cuts, None]
        out = []
        for low, high in zip(edges, edges[1:], strict=False):
            bounds = [(">=", low), ("<", high)]
            where = " AND ".join(f"t {op} ?" for op, edge in bounds if edge is not None)
            out.append((where or "t IS NOT NULL", [edge for _, edge in bounds if edge is not None]))
        return [*out, ("t IS NULL", [])]  # last, as ORDER BY puts NULLs

    def rule_event_count(self) -> int:
        return int(self.connection.execute(f"SELECT count(*) FROM {RULE_EVENTS}").fetchone()[0])

    def latest_event_time(self) -> datetime | None:
        """The latest ``p_event_time`` in the lake (UTC), or None when it is empty."""
        return self._event_time_bound("max")

    def earliest_event_time(self) -> datetime | None:
        """The earliest ``p_event_time`` in the lake (UTC), or None when it is empty."""
        return self._event_time_bound("min")

    def _event_time_bound(self, aggregate: str) -> datetime | None:
        parts = " UNION ALL ".join(
            f"SELECT {aggregate}(p_event_time) AS t FROM panther_logs.public.{table_name(t)}"
            for t in LOG_TYPES
        )
        value = self.connection.execute(f"SELECT {aggregate}(t) FROM ({parts})").fetchone()[0]
        if value is None:
            return None
        from datetime import UTC

        return value.replace(tzinfo=UTC)

    def close(self) -> None:
        self.connection.execute(f"DROP TABLE IF EXISTS {RULE_EVENTS}")
