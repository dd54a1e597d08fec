"""The lake as a scheduled run at time T sees it, and a query's SQL at T without re-translating it.

``LakeAsOf(lake)`` (a context manager) moves the rows of every table of ``panther_logs.public``
aside (``stored``) and puts in its place a view of the rows whose ``p_parse_time`` is at or before
a clock (``at(T)``); on exit the tables are restored, whole.

``QueryAtRuns(lake, item)`` gives the DuckDB SQL of a scheduled query at each run time. The
backtest runs ``sql_as_of(T)``, which reads each table's stored rows arrived by T itself (the
arrival time written into the statement), so no clock is set between runs; ``sql_at(T)`` reads
the views, and tests/test_schedule_runs.py checks that both return the same rows. Panther's macros
are expanded at T (text, cheap); the expensive Snowflake-to-DuckDB translation is done once per
shape of the expanded SQL: its timestamp literals are swapped for placeholders, the shape is
translated once, and each run's literals are put back. ``Lake.to_duckdb`` is the reference:
tests/test_schedule_runs.py checks that both give the same SQL.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlglot
from sqlglot import exp

from tracebit_pack.lake.embedded import Lake
from tracebit_pack.lake.macros import expand_macros
from tracebit_pack.logs.schemas import LOG_TYPES
from tracebit_pack.pack.items import AnalysisItem, table_name
from tracebit_pack.times import panther_time

CLOCK = "panther_logs.main._run_clock"
STORED = "_arrived_all"  # suffix of a table while its name is a view
_TS = re.compile(r"'(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6})'")
_PLACEHOLDER = "'1001-01-01 00:00:00.{:06d}'"


class LakeAsOf:
    """Within ``with``: the lake's tables show only the rows arrived by the run time."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.connection = lake.connection
        self.tables = [table_name(t) for t in LOG_TYPES]

    def __enter__(self) -> LakeAsOf:
        self.connection.execute(f"CREATE OR REPLACE TABLE {CLOCK} (t TIMESTAMP)")
        self.connection.execute(f"INSERT INTO {CLOCK} VALUES (NULL)")
        for table in self.tables:
            self.connection.execute(f"ALTER TABLE panther_logs.public.{table} RENAME TO {table}{STORED}")
            self.connection.execute(
                f"CREATE VIEW panther_logs.public.{table} AS SELECT * FROM {self.stored(table)} "
                f"WHERE p_parse_time <= (SELECT t FROM {CLOCK})"
            )
        return self

    def stored(self, table: str) -> str:
        """The name that holds all of ``table``'s rows while it is a view."""
        return f"panther_logs.public.{table}{STORED}"

    def at(self, moment: datetime) -> None:
        """Show the rows that arrived at or before ``moment``."""
        self.connection.execute(f"UPDATE {CLOCK} SET t = ?", [panther_time(moment)])

    def __exit__(self, *exc: object) -> None:
        for table in self.tables:
            self.connection.execute(f"DROP VIEW IF EXISTS panther_logs.public.{table}")
            self.connection.execute(f"ALTER TABLE panther_logs.public.{table}{STORED} RENAME TO {table}")
        self.connection.execute(f"DROP TABLE IF EXISTS {CLOCK}")


_TABLE_REF = re.compile(r"panther_logs\.public\.([a-z0-9_]+)", re.IGNORECASE)


def tables_read(sql: str) -> set[str]:
    """The ``panther_logs.public`` tables a query names (lower case)."""
    return {name.lower() for name in _TABLE_REF.findall(sql)}


def arrival_bounds(lake: Lake, tables: set[str] | None = None) -> tuple[datetime | None, datetime | None]:
    """The earliest and latest ``p_parse_time`` in the lake's tables (all by default; UTC), None
    when they are empty."""
    names = [table_name(t) for t in LOG_TYPES if tables is None or table_name(t) in tables]
    if not names:
        return None, None
    parts = " UNION ALL ".join(
        f"SELECT min(p_parse_time) AS lo, max(p_parse_time) AS hi FROM panther_logs.public.{name}"
        for name in names
    )
    lo, hi = lake.connection.execute(f"SELECT min(lo), max(hi) FROM ({parts})").fetchone()
    return (None if lo is None else lo.replace(tzinfo=UTC)), (None if hi is None else hi.replace(tzinfo=UTC))


class QueryAtRuns:
    """A scheduled query's DuckDB SQL at each run time, translated once per shape."""

    def __init__(self, lake: Lake, item: AnalysisItem) -> None:
        self.lake = lake
        self.item = item
        self._shape: str | None = None
        self._translated = ""
        self._as_of: dict[str, str] = {}  # shape -> its translation over inline as-of tables

    def _shape_at(self, moment: datetime, view: LakeAsOf | None = None) -> tuple[str, list[str]]:
        """The translated shape of the query at ``moment`` and the timestamp literals it takes
        (with ``view``: each table read as of a run time still to be filled in)."""
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        expanded = expand_macros(self.item.query or "", moment)
        literals: list[str] = []

        def placeholder(found: re.Match) -> str:
            literals.append(found.group(0))
            return _PLACEHOLDER.format(len(literals))

        shape = _TS.sub(placeholder, expanded)
        if view is None:
            if shape != self._shape:
                self._translated = self.lake.to_duckdb(shape, moment)
                self._shape = shape
            return self._translated, literals
        if shape not in self._as_of:
            self._as_of[shape] = self.lake.to_duckdb(
                shape, moment, finish=lambda tree: inline_as_of(tree, view)
            )
        return self._as_of[shape], literals

    @staticmethod
    def _fill(translated: str, literals: list[str]) -> str:
        out = translated
        for n in range(len(literals), 0, -1):  # longest index first: .000012 before .000001
            out = out.replace(_PLACEHOLDER.format(n), literals[n - 1])
        return out

    def sql_at(self, moment: datetime) -> str:
        """What ``lake.to_duckdb(query, now=moment)`` returns, from the cached translation."""
        return self._fill(*self._shape_at(moment))

    def sql_as_of(self, moment: datetime, view: LakeAsOf) -> str:
        """``sql_at(moment)`` reading, in place of each table's ``LakeAsOf`` view, the rows of that
        table arrived by ``moment``: a statement that needs no clock set before it runs."""
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return self._fill(*self._shape_at(moment, view)).replace(ARRIVED_BY, f"'{panther_time(moment)}'")


ARRIVED_BY = "'1002-02-02 02:02:02.020202'"  # where a run's time goes in ``inline_as_of``'s SQL


def inline_as_of(tree: exp.Expression, view: LakeAsOf) -> None:
    """Replace, in a DuckDB query tree, each ``panther_logs.public`` table it reads by the rows of
    that table arrived by a time still to be filled in (``ARRIVED_BY``), under the same name."""
    tables = set(view.tables)
    for table in list(tree.find_all(exp.Table)):
        if (table.catalog or "").lower() != "panther_logs" or (table.db or "").lower() != "public":
            continue
        name = table.name.lower()
        if name not in tables:
            continue
        arrived = sqlglot.parse_one(
            f"SELECT * FROM {view.stored(name)} WHERE p_parse_time <= CAST({ARRIVED_BY} AS TIMESTAMP)",
            read="duckdb",
        )
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
        table.replace(exp.Subquery(this=arrived, alias=alias.copy()))
