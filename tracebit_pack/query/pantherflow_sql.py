"""Run PantherFlow offline: translate the supported subset to Snowflake SQL for the embedded lake.

Panther compiles PantherFlow to Snowflake SQL; so does this module, and the SQL then runs through
the same macro expansion, Snowflake-to-DuckDB rewrite (VARIANT semantics) and DuckDB lake as the
pack's SQL queries (``Lake.run``). Each pipe stage becomes a sub-query of the previous one; the
expressions inside a stage are compiled by ``tracebit_pack.query.pantherflow_expressions``.

Supported (``SUPPORTED_OPERATORS``, the grammar of ``tracebit_pack.query.pantherflow`` and the
expressions and functions of ``pantherflow_expressions``):
  * statements: ``let <name> = <tabular expression>;`` then the query; a scalar ``let`` is refused;
  * source: ``panther_logs.public.<table>`` or a ``let`` name;
  * operators: ``where``, ``project``, ``extend``, ``summarize ... by ...``, ``sort <key> asc|desc``.
Semantics chosen where Panther documents none: ``summarize`` returns the ``by`` columns first.
Anything else (``join``, ``union``, ``limit``, an unknown function) is an UnsupportedConstruct
naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lark import Tree

from tracebit_pack.errors import UserError
from tracebit_pack.lake.embedded import table_columns
from tracebit_pack.lake.transpile import UnsupportedConstruct
from tracebit_pack.logs.schemas import LOG_TYPES
from tracebit_pack.pack.items import table_name
from tracebit_pack.query.pantherflow import dotted_name, parse
from tracebit_pack.query.pantherflow_expressions import ExpressionTranslator, Relation, Value

SUPPORTED_OPERATORS = frozenset({"table", "let", "where", "project", "extend", "summarize", "sort"})


@dataclass
class Translation:
    sql: str
    tables: set[str]


def _tables() -> dict[str, str]:
    return {table_name(log_type): log_type for log_type in LOG_TYPES}


class _Translator(ExpressionTranslator):
    """The tabular half: statements, sources and pipe stages, each stage a sub-query."""

    def __init__(self, now: datetime) -> None:
        super().__init__(now)
        self.lets: dict[str, Relation] = {}
        self.tables: set[str] = set()
        self.counter = 0

    def query(self, tree: Tree) -> str:
        *statements, main = tree.children
        for statement in statements:
            name, pipeline = str(statement.children[0]), statement.children[1]
            source = pipeline.children[0]
            if len(pipeline.children) == 1 and not (isinstance(source, Tree) and source.data == "path"):
                raise UnsupportedConstruct(f"scalar let {name!r} (write the value inline)")
            self.lets[name.lower()] = self.pipeline(pipeline)
        return self.pipeline(main).sql

    def _alias(self) -> str:
        self.counter += 1
        return f"_pf{self.counter}"

    def source(self, node) -> Relation:
        if not (isinstance(node, Tree) and node.data == "path"):
            raise UnsupportedConstruct("a query source that is not a table or a let name")
        name = dotted_name(node.children[0])
        if "." not in name:
            if name.lower() not in self.lets:
                raise UnsupportedConstruct(f"unknown table or let name {name!r}")
            let = self.lets[name.lower()]
            return Relation(
                f"SELECT * FROM ({let.sql}) AS {self._alias()}", list(let.columns), set(let.variant)
            )
        parts = name.split(".")
        tables = _tables()
        if len(parts) != 3 or parts[0].lower() != "panther_logs" or parts[2].lower() not in tables:
            raise UserError(f"unknown table {name!r} (expected panther_logs.public.<table>)")
        table = parts[2].lower()
        self.tables.add(table)
        columns = table_columns(tables[table])
        return Relation(
            f"SELECT * FROM panther_logs.public.{table}",
            [c for c, _ in columns],
            {c.lower() for c, t in columns if t == "VARIANT"},
        )

    def pipeline(self, tree: Tree) -> Relation:
        relation = self.source(tree.children[0])
        for op in tree.children[1:]:
            relation = getattr(self, f"op_{op.data}")(op, relation)
        return relation

    def op_where(self, op: Tree, rel: Relation) -> Relation:
        cond = self.expr(op.children[0], rel)
        return Relation(
            f"SELECT * FROM ({rel.sql}) AS {self._alias()} WHERE {cond.sql}", rel.columns, rel.variant
        )

    def _assignments(
        self, node: Tree | None, rel: Relation, aggregate: bool = False
    ) -> list[tuple[str, Value]]:
        out = []
        for item in node.children if node is not None else []:
            if item.data == "named":
                name, expr = str(item.children[0]), item.children[1]
            else:
                expr = item.children[0]
                if not (
                    isinstance(expr, Tree) and expr.data == "path" and len(expr.children[0].children) == 1
                ):
                    raise UnsupportedConstruct("an unnamed computed column (write name = expression)")
                name = dotted_name(expr.children[0])
            out.append((name, self.expr(expr, rel, aggregate=aggregate)))
        return out

    def op_project(self, op: Tree, rel: Relation) -> Relation:
        items = self._assignments(op.children[0], rel)
        select = ", ".join(f"{v.sql} AS {name}" for name, v in items)
        return Relation(
            f"SELECT {select} FROM ({rel.sql}) AS {self._alias()}",
            [n for n, _ in items],
            {n.lower() for n, v in items if v.kind == "variant"},
        )

    def op_extend(self, op: Tree, rel: Relation) -> Relation:
        items = self._assignments(op.children[0], rel)
        names = {n.lower() for n, _ in items}
        kept = [c for c in rel.columns if c.lower() not in names]
        select = ", ".join([*kept, *(f"{v.sql} AS {name}" for name, v in items)])
        variant = {c for c in rel.variant if c not in names} | {
            n.lower() for n, v in items if v.kind == "variant"
        }
        return Relation(
            f"SELECT {select} FROM ({rel.sql}) AS {self._alias()}", [*kept, *(n for n, _ in items)], variant
        )

    def op_summarize(self, op: Tree, rel: Relation) -> Relation:
        aggs = self._assignments(op.children[0], rel, aggregate=True)
        keys = self._assignments(op.children[1], rel)
        if not aggs:
            raise UnsupportedConstruct("summarize without an aggregation")
        for name, value in aggs:
            if not value.kind.startswith("agg"):
                raise UnsupportedConstruct(f"summarize column {name!r} that is not an agg.* function")
        items = [*keys, *aggs]
        select = ", ".join(f"{v.sql} AS {name}" for name, v in items)
        group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}" if keys else ""
        return Relation(
            f"SELECT {select} FROM ({rel.sql}) AS {self._alias()}{group}",
            [n for n, _ in items],
            {n.lower() for n, v in keys if v.kind == "variant"},
        )

    def op_sort(self, op: Tree, rel: Relation) -> Relation:
        keys = [
            f"{self.expr(key.children[0], rel).sql} {str(key.children[1]).upper()}" for key in op.children
        ]
        return Relation(
            f"SELECT * FROM ({rel.sql}) AS {self._alias()} ORDER BY {', '.join(keys)}",
            rel.columns,
            rel.variant,
        )


def translate(text: str, now: datetime) -> Translation:
    """Snowflake SQL for a PantherFlow query, and the tables it reads."""
    translator = _Translator(now)
    sql = translator.query(parse(text))
    return Translation(sql, translator.tables)


def run_pantherflow(lake, text: str, now: datetime) -> list[dict]:
    """Rows of a PantherFlow query on ``lake`` (a ``tracebit_pack.lake.embedded.Lake``) at time ``now``."""
    return lake.run(translate(text, now).sql, now=now)
