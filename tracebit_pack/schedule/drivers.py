"""Which tables must have rows for a scheduled query to return any: the runs that can be skipped.

Most scheduled queries start from a few recent rows (new Tracebit alerts) and join them to
history. When the table those rows come from is empty inside the query's own literal time
window, the query returns nothing, and a run costs nothing to skip. ``drivers(sql)`` finds such
tables by reading the query (sqlglot, Snowflake dialect) and proving emptiness structurally:

* a SELECT is empty when its FROM source or any INNER / CROSS / comma-joined source is empty
  (the left side only, for a LEFT JOIN), unless it aggregates without GROUP BY (one row always);
* a UNION is empty when every branch is (its tables form one group: all must be empty);
* a CTE or sub-query is empty when its body is;
* a table reference ``panther_logs.public.<t> <alias>`` is empty when no visible row of ``<t>``
  falls in the window of a ``p_occurs_since(offset, alias[, column])`` that is one of the
  AND-ed conditions of the WHERE that names it.

Anything else proves nothing (no driver, the query runs every time). ``DriverIndex`` checks a
driver's window from its columns held in memory (for small tables, such as Tracebit's).
tests/test_schedule_runs.py checks that a skipped run would have returned no rows.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlglot
from sqlglot import exp

from tracebit_pack.lake.macros import parse_offset


@dataclass(frozen=True)
class Driver:
    table: str  # panther_logs.public table name
    column: str  # the window's column (p_event_time unless the macro names one)
    seconds: int  # the window's length


Group = frozenset  # of Driver: all empty -> the query is empty


def _conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    return [node]


def _windows(select: exp.Select) -> dict[str, list[tuple[str, int]]]:
    """alias -> [(column, seconds)] of the ``p_occurs_since`` AND-ed into this SELECT's WHERE."""
    where = select.args.get("where")
    out: dict[str, list[tuple[str, int]]] = {}
    for cond in _conjuncts(where.this if where is not None else None):
        if isinstance(cond, exp.Anonymous) and cond.name.lower() == "p_occurs_since":
            args = cond.expressions
            if len(args) < 2 or not isinstance(args[1], exp.Column):
                continue
            column = args[2].name if len(args) > 2 and isinstance(args[2], exp.Column) else "p_event_time"
            try:
                seconds = parse_offset(args[0].sql(dialect="snowflake"), "p_occurs_since")
            except Exception:  # noqa: BLE001 - an offset we cannot read proves nothing
                continue
            out.setdefault(args[1].name.lower(), []).append((column, seconds))
    return out


class _Analysis:
    def __init__(self, root: exp.Expression) -> None:
        self.ctes: dict[str, exp.Expression] = {}
        with_ = root.args.get("with") or root.args.get("with_")
        for cte in with_.expressions if with_ is not None else []:
            self.ctes[cte.alias_or_name.lower()] = cte.this

    def of(self, node: exp.Expression, windows: dict[str, list[tuple[str, int]]] | None = None) -> set[Group]:
        if isinstance(node, exp.Intersect):
            return self.of(node.left) | self.of(node.right)
        if isinstance(node, exp.Union):  # (UNION, EXCEPT: empty when the left side is)
            left, right = self.of(node.left), self.of(node.right)
            if isinstance(node, exp.Except):
                return left
            return {a | b for a in left for b in right}
        if isinstance(node, exp.Subquery):
            return self.of(node.this)
        if isinstance(node, exp.Select):
            return self._select(node)
        if isinstance(node, exp.Table):
            return self._table(node, windows or {})
        return set()

    def _select(self, select: exp.Select) -> set[Group]:
        aggregates = any(e.find(exp.AggFunc) for e in select.expressions)
        if aggregates and select.args.get("group") is None:
            return set()
        windows = _windows(select)
        out: set[Group] = set()
        source = select.args.get("from") or select.args.get("from_")
        if source is not None:
            out |= self.of(source.this, windows)
        for join in select.args.get("joins") or []:
            side = (join.side or "").upper()
            if side in ("LEFT", "RIGHT", "FULL"):
                continue
            out |= self.of(join.this, windows)
        return out

    def _table(self, table: exp.Table, windows: dict[str, list[tuple[str, int]]]) -> set[Group]:
        name = table.name.lower()
        if not table.db and name in self.ctes:
            return self.of(self.ctes[name])
        if (table.catalog or "").lower() != "panther_logs" or (table.db or "").lower() != "public":
            return set()
        alias = (table.alias or name).lower()
        return {frozenset({Driver(name, column, seconds)}) for column, seconds in windows.get(alias, [])}


def drivers(sql: str) -> set[Group]:
    """Groups of table windows; when every window of one group is empty, the query returns no
    rows (a UNION of two tables needs both empty). An empty set proves nothing."""
    try:
        root = sqlglot.parse_one(sql, read="snowflake")
    except Exception:  # noqa: BLE001 - a query sqlglot cannot read proves nothing
        return set()
    return _Analysis(root).of(root)


class DriverIndex:
    """Whether a driver's window holds a row arrived by T, from ``(column, p_parse_time)`` pairs
    read once per table and column. Tables over ``max_rows`` are not indexed (no answer)."""

    def __init__(
        self,
        read: Callable[[str, str], list[tuple[datetime, datetime]]],
        sizes: dict[str, int],
        max_rows: int = 50_000,
    ) -> None:
        self.read = read  # (table, column) -> [(column value, p_parse_time)] (naive UTC)
        self.sizes = sizes
        self.max_rows = max_rows
        self._pairs: dict[tuple[str, str], tuple[list[datetime], list[datetime]]] = {}

    def indexable(self, group: Group) -> bool:
        return all(self.sizes.get(d.table, 0) <= self.max_rows for d in group)

    def has_row(self, driver: Driver, moment: datetime) -> bool:
        key = (driver.table, driver.column)
        if key not in self._pairs:
            pairs = sorted(p for p in self.read(driver.table, driver.column) if p[0] is not None)
            self._pairs[key] = ([p[0] for p in pairs], [p[1] for p in pairs])
        values, arrivals = self._pairs[key]
        now = moment.replace(tzinfo=None)
        low = bisect.bisect_left(values, now - timedelta(seconds=driver.seconds))
        high = bisect.bisect_right(values, now)
        return any(a is not None and a <= now for a in arrivals[low:high])

    def empty(self, groups: set[Group], moment: datetime) -> bool:
        """Whether some indexable group has no row in any of its windows at ``moment``."""
        return any(
            self.indexable(group) and not any(self.has_row(d, moment) for d in group) for group in groups
        )
