"""Run PantherFlow offline: translate it to Snowflake SQL for the embedded lake.

Panther compiles PantherFlow to Snowflake SQL; so does this module, and the SQL then runs through
the same macro expansion, Snowflake-to-DuckDB rewrite (VARIANT semantics) and DuckDB lake as the
pack's SQL queries (``Lake.run``). Each pipe stage becomes a sub-query of the previous one; the
expressions inside a stage are compiled by ``tracebit_pack.query.pantherflow_expressions``.

Supported (the grammar of ``tracebit_pack.query.pantherflow``):
  * statements: ``let <name> = <tabular expression>;`` and ``let <name> = <scalar>;``, then the query;
  * sources: ``panther_logs.public.<table>``, a ``let`` name, ``union <table or (query)>, ...``,
    ``datatable [{...}, ...]``, ``range <name> from <a> to <b> step <s>``;
  * operators: ``where``, ``project``, ``extend`` (also ``extend obj['key'] = value``, which sets or,
    with ``null``, removes a key of an object column), ``summarize ... by ...``, ``sort <key> [asc|desc]``,
    ``limit <n>``, ``union``, ``join kind=inner|leftouter|rightouter|fullouter|cross <name>=(<query>)
    [on $left.<a> == $right.<b> [and ...]]`` (``kind:`` too), ``search <text>``.
Semantics chosen where Panther documents none: ``summarize`` returns the ``by`` columns first; a
``sort`` key without a direction sorts descending (as in Kusto, whose syntax PantherFlow follows);
an unnamed computed column (``summarize agg.count() by eventType``) is named by its PantherFlow text
(``agg.count()``), as Snowflake names an unaliased expression by its text; ``union`` lines columns
up by name, a column missing from one side being null there; the right side of a ``join`` is one
object column named as the join names it (``stats.mean``), null when a left outer join found no
match; ``search`` keeps the rows in which some column's text contains the term, case-insensitively.
What needs Panther's own services is a ``NotSupportedOffline`` error; anything else outside the
language an ``UnsupportedConstruct`` naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from lark import Tree

from tracebit_pack.errors import UserError
from tracebit_pack.lake.embedded import table_columns
from tracebit_pack.lake.transpile import UnsupportedConstruct
from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.logs.schemas import LOG_TYPES
from tracebit_pack.pack.items import table_name
from tracebit_pack.query.pantherflow import TABULAR_OPERATORS, decode_string, dotted_name, parse
from tracebit_pack.query.pantherflow_expressions import ExpressionTranslator, Relation, Value, sql_string

SUPPORTED_OPERATORS = frozenset({"table", "let", "datatable", "range", *TABULAR_OPERATORS})
_JOIN_KINDS = {
    "inner": "INNER",
    "leftouter": "LEFT OUTER",
    "rightouter": "RIGHT OUTER",
    "fullouter": "FULL OUTER",
    "cross": "CROSS",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_NESTED = "__"
MAX_RANGE_ROWS = 100_000  # a joined column ``stats.mean`` is the SQL column ``stats__mean`` until the output


class NotSupportedOffline(UnsupportedConstruct):
    """PantherFlow that needs Panther's own services (its Search UI, its other databases)."""

    def __init__(self, why: str) -> None:
        super().__init__(f"not supported offline: {why}")


@dataclass
class Translation:
    sql: str
    tables: set[str]
    nested: dict[str, dict[str, str]] = field(default_factory=dict)


def _tables() -> dict[str, str]:
    return {table_name(log_type): log_type for log_type in LOG_TYPES}


def ident(name: str) -> str:
    """``name`` as a SQL column name: bare when it is an identifier, double-quoted otherwise."""
    return name if _IDENTIFIER.match(name) else '"' + name.replace('"', '""') + '"'


class _Translator(ExpressionTranslator):
    """The tabular half: statements, sources and pipe stages, each stage a sub-query."""

    def __init__(self, now: datetime, text: str) -> None:
        super().__init__(now)
        self.source_text = text
        self.lets: dict[str, Relation] = {}
        self.tables: set[str] = set()
        self.counter = 0

    def query(self, tree: Tree) -> Relation:
        """The rows of the query's last statement (a query of ``let`` statements only: the last one)."""
        *statements, main = tree.children
        last = None
        for statement in statements:
            name, pipeline = str(statement.children[0]), statement.children[1]
            source = pipeline.children[0]
            if len(pipeline.children) == 1 and not (
                isinstance(source, Tree) and source.data in ("path", "union_source", "datatable", "range")
            ):
                self.scalars[name] = self.expr(source, Relation("", []))
            else:
                last = self.lets[name.lower()] = self.pipeline(pipeline)
        if main is not None:
            return self.pipeline(main)
        if last is None:
            raise UnsupportedConstruct("a query without a table expression")
        return last

    def _alias(self) -> str:
        self.counter += 1
        return f"_pf{self.counter}"

    def source(self, node) -> Relation:
        if isinstance(node, Tree) and node.data == "union_source":
            first, *rest = node.children
            return self._union(self._union_item(first), rest)
        if isinstance(node, Tree) and node.data == "datatable":
            return self._datatable(node.children[0])
        if isinstance(node, Tree) and node.data == "range":
            return self._range(node)
        if not (isinstance(node, Tree) and node.data == "path"):
            raise UnsupportedConstruct("a query source that is not a table, a let name or union")
        return self._named_source(dotted_name(node.children[0]))

    def _named_source(self, name: str) -> Relation:
        if "." not in name:
            if name.lower() not in self.lets:
                raise UnsupportedConstruct(f"unknown table or let name {name!r}")
            let = self.lets[name.lower()]
            return Relation(
                f"SELECT * FROM ({let.sql}) AS {self._alias()}",
                list(let.columns),
                set(let.variant),
                set(let.arrays),
                dict(let.nested),
            )
        parts = name.split(".")
        if len(parts) == 3 and parts[0].lower() != "panther_logs":
            raise NotSupportedOffline(f"{name} is a table of Panther's own {parts[0]} database")
        tables = _tables()
        if len(parts) != 3 or parts[2].lower() not in tables:
            raise UserError(f"unknown table {name!r} (expected panther_logs.public.<table>)")
        table = parts[2].lower()
        self.tables.add(table)
        columns = table_columns(tables[table])
        return Relation(
            f"SELECT * FROM panther_logs.public.{table}",
            [c for c, _ in columns],
            {c.lower() for c, t in columns if t == "VARIANT"},
            {c.lower() for c, t in columns if t.endswith("[]")},
        )

    def _datatable(self, items: Tree) -> Relation:
        """``datatable [{...}, ...]``: one row per object, a column per key (null where a row lacks it)."""
        empty = Relation("", [])
        rows: list[dict[str, Value]] = []
        for item in (c for c in items.children if c is not None):
            if item.data != "object":
                raise UnsupportedConstruct("a datatable row that is not an object literal {...}")
            row = {}
            for pair in (c for c in item.children if c is not None):
                key, value = pair.children
                row[decode_string(str(key)) if key.type == "STRING" else str(key)] = self.expr(value, empty)
            rows.append(row)
        columns = list(dict.fromkeys(k for row in rows for k in row))
        if not columns:
            raise UnsupportedConstruct("a datatable without columns")
        selects = [
            "SELECT " + ", ".join(f"{row[c].sql if c in row else 'NULL'} AS {ident(c)}" for c in columns)
            for row in rows
        ]
        variant = {
            c.lower() for c in columns if any(r.get(c, Value("")).kind in ("variant", "list") for r in rows)
        }
        return Relation(" UNION ALL ".join(selects), columns, variant)

    def _range(self, node: Tree) -> Relation:
        """``range N from a to b step s``: the numbers a, a+s, ... up to b, in column N."""
        name, *bounds = node.children
        start, stop, step = (self.expr(b, Relation("", [])) for b in bounds)
        if (
            not all(v.kind == "number" and v.const is not None for v in (start, stop, step))
            or step.const <= 0
        ):
            raise UnsupportedConstruct("range with bounds and a positive step that are not number literals")
        count = int((stop.const - start.const) // step.const) + 1
        if count > MAX_RANGE_ROWS:
            raise UnsupportedConstruct(f"range of more than {MAX_RANGE_ROWS} rows")
        values = [start.const + i * step.const for i in range(max(count, 0))]
        text = [str(int(v)) if float(v).is_integer() else repr(v) for v in values]
        return Relation(" UNION ALL ".join(f"SELECT {v} AS {ident(str(name))}" for v in text), [str(name)])

    def _union_item(self, item: Tree) -> Relation:
        inner = item.children[0]
        if inner.data == "dotted":
            return self._named_source(dotted_name(inner))
        return self.pipeline(inner)

    def _union(self, first: Relation, items: list[Tree]) -> Relation:
        parts = [first, *(self._union_item(i) for i in items)]
        columns: list[str] = []
        for part in parts:
            columns.extend(c for c in part.columns if c.lower() not in {k.lower() for k in columns})
        selects = []
        for part in parts:
            have = {c.lower() for c in part.columns}
            cells = [ident(c) if c.lower() in have else f"NULL AS {ident(c)}" for c in columns]
            selects.append(f"SELECT {', '.join(cells)} FROM ({part.sql}) AS {self._alias()}")
        return Relation(
            " UNION ALL ".join(selects),
            columns,
            set().union(*(p.variant for p in parts)),
            set().union(*(p.arrays for p in parts)),
        )

    def pipeline(self, tree: Tree) -> Relation:
        relation = self.source(tree.children[0])
        for op in tree.children[1:]:
            relation = getattr(self, f"op_{op.data}")(op, relation)
        return relation

    def _wrap(self, rel: Relation, select: str, suffix: str = "", **changes) -> Relation:
        fields = {
            "columns": rel.columns,
            "variant": rel.variant,
            "arrays": rel.arrays,
            "nested": rel.nested,
            **changes,
        }
        return Relation(f"SELECT {select} FROM ({rel.sql}) AS {self._alias()}{suffix}", **fields)

    def op_where(self, op: Tree, rel: Relation) -> Relation:
        return self._wrap(rel, "*", f" WHERE {self.text(self.expr(op.children[0], rel))}")

    def op_limit(self, op: Tree, rel: Relation) -> Relation:
        return self._wrap(rel, "*", f" LIMIT {int(float(op.children[0]))}")

    def op_search(self, op: Tree, rel: Relation) -> Relation:
        term = self.expr(op.children[0], rel)
        if term.kind != "string":
            raise UnsupportedConstruct("search for anything but a quoted text or a scalar let of one")
        needle = sql_string(str(term.const).lower())
        columns = [ident(c) for c in rel.columns] + [
            c for joined in rel.nested.values() for c in joined.values()
        ]
        cond = " OR ".join(f"CONTAINS(LOWER({c}::string), {needle})" for c in columns) or "FALSE"
        return self._wrap(rel, "*", f" WHERE ({cond})")

    def op_union(self, op: Tree, rel: Relation) -> Relation:
        return self._union(rel, op.children)

    def _name(self, item: Tree) -> str:
        if item.data == "keyed":
            raise UnsupportedConstruct("setting an object key (`obj['key'] = value`) outside extend")
        if item.data == "named":
            return str(item.children[0])
        expr = item.children[0]
        if isinstance(expr, Tree) and expr.data == "path":
            return dotted_name(expr.children[0]).split(".")[-1]
        meta = expr.meta
        return " ".join(self.source_text[meta.start_pos : meta.end_pos].split())

    def _assignments(
        self, node: Tree | None, rel: Relation, aggregate: bool = False
    ) -> list[tuple[str, Value]]:
        items = node.children if node is not None else []
        return [(self._name(item), self.expr(item.children[-1], rel, aggregate=aggregate)) for item in items]

    def op_project(self, op: Tree, rel: Relation) -> Relation:
        items = self._assignments(op.children[0], rel)
        return self._wrap(
            rel,
            ", ".join(f"{v.sql} AS {ident(name)}" for name, v in items),
            columns=[n for n, _ in items],
            variant={n.lower() for n, v in items if v.kind == "variant"},
            arrays={n.lower() for n, v in items if v.kind == "array"},
            nested={},
        )

    def op_extend(self, op: Tree, rel: Relation) -> Relation:
        items: dict[str, tuple[str, Value]] = {}
        for item in op.children[0].children:
            if item.data == "keyed":
                name, value = self._set_key(item, rel, items)
            else:
                name, value = self._name(item), self.expr(item.children[-1], rel)
            items[name.lower()] = (name, value)
        names = set(items)
        kept = [c for c in rel.columns if c.lower() not in names]
        nested_columns = [c for joined in rel.nested.values() for c in joined.values()]
        select = ", ".join(
            [*map(ident, kept), *nested_columns, *(f"{v.sql} AS {ident(n)}" for n, v in items.values())]
        )
        return self._wrap(
            rel,
            select,
            columns=[*kept, *(n for n, _ in items.values())],
            variant={c for c in rel.variant if c not in names}
            | {k for k, (_, v) in items.items() if v.kind == "variant"},
            arrays={c for c in rel.arrays if c not in names}
            | {k for k, (_, v) in items.items() if v.kind == "array"},
        )

    def _set_key(self, item: Tree, rel: Relation, earlier: dict[str, tuple[str, Value]]) -> tuple[str, Value]:
        """``obj['key'] = value`` in ``extend``: the object column with the key set, or removed when
        the value is null ("Setting a key to null removes it from the object", the data types page),
        as Snowflake's ``OBJECT_INSERT(obj, key, value, TRUE)`` / ``OBJECT_DELETE(obj, key)``."""
        target, key_node, value_node = item.children
        if not (isinstance(target, Tree) and target.data == "path" and len(target.children[0].children) == 1):
            raise UnsupportedConstruct("setting a key of anything but a column (`obj['key'] = value`)")
        column = str(target.children[0].children[0])
        name = next((c for c in rel.columns if c.lower() == column.lower()), column)
        base = earlier[name.lower()][1] if name.lower() in earlier else self.expr(target, rel)
        key = self.expr(key_node, rel)
        value = self.expr(value_node, rel)
        if base.kind != "variant":
            raise UnsupportedConstruct(f"setting a key of {column!r}, which is not an object")
        if key.kind != "string":
            raise UnsupportedConstruct("setting an object key that is not a quoted text")
        if value.sql == "NULL":
            return name, Value(f"OBJECT_DELETE({base.sql}, {key.sql})", "variant")
        if value.kind in ("variant", "list", "array"):
            raise UnsupportedConstruct("setting an object key to an object or an array")
        return name, Value(f"OBJECT_INSERT({base.sql}, {key.sql}, {value.sql}, TRUE)", "variant")

    def op_summarize(self, op: Tree, rel: Relation) -> Relation:
        aggs = self._assignments(op.children[0], rel, aggregate=True)
        keys = self._assignments(op.children[1], rel)
        if not aggs and not keys:
            raise UnsupportedConstruct("summarize without an aggregation or a by key")
        for name, value in aggs:
            if not value.kind.startswith("agg"):
                raise UnsupportedConstruct(f"summarize column {name!r} that is not an agg.* function")
        items = [*keys, *aggs]
        group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}" if keys else ""
        return self._wrap(
            rel,
            ", ".join(f"{v.sql} AS {ident(name)}" for name, v in items),
            group,
            columns=[n for n, _ in items],
            variant={n.lower() for n, v in keys if v.kind == "variant"},
            arrays={n.lower() for n, v in keys if v.kind == "array"},
            nested={},
        )

    def op_sort(self, op: Tree, rel: Relation) -> Relation:
        keys = [
            f"{self.expr(key.children[0], rel).sql} {str(key.children[1] or 'desc').upper()}"
            for key in op.children
        ]
        return self._wrap(rel, "*", f" ORDER BY {', '.join(keys)}")

    def op_join(self, op: Tree, rel: Relation) -> Relation:
        *params, on = op.children
        options = {str(p.children[0]).lower(): str(p.children[1]) for p in params if p.data == "join_option"}
        rights = [p for p in params if p.data == "join_right"]
        unknown = set(options) - {"kind"}
        if unknown or len(rights) != 1:
            raise UnsupportedConstruct("join other than `join kind=<kind> <name>=(<query>) on ...`")
        kind = options.get("kind", "inner").lower()
        if kind not in _JOIN_KINDS:
            raise UnsupportedConstruct(f"join kind={kind} (supported: {', '.join(_JOIN_KINDS)})")
        name, right = str(rights[0].children[0]), self.pipeline(rights[0].children[1])
        left_alias, right_alias = self._alias(), self._alias()
        if (kind == "cross") != (on is None):
            raise UnsupportedConstruct(
                "a join condition (`on ...`) with every kind but cross, and none with cross"
            )
        cond = (
            ""
            if on is None
            else " ON " + " AND ".join(self._join_condition(on, rel, right, left_alias, right_alias))
        )
        joined = {c.lower(): f"{name}{_NESTED}{c}" for c in right.columns}
        select = ", ".join(
            [f"{left_alias}.{ident(c)}" for c in rel.columns]
            + [f"{left_alias}.{c}" for j in rel.nested.values() for c in j.values()]
            + [f"{right_alias}.{ident(c)} AS {ident(joined[c.lower()])}" for c in right.columns]
        )
        sql = (
            f"SELECT {select} FROM ({rel.sql}) AS {left_alias} {_JOIN_KINDS[kind]} JOIN "
            f"({right.sql}) AS {right_alias}{cond}"
        )
        nested = dict(rel.nested)
        nested[name.lower()] = {c: ident(v) for c, v in joined.items()}
        return Relation(sql, list(rel.columns), set(rel.variant), set(rel.arrays), nested)

    def _join_condition(self, node, left: Relation, right: Relation, la: str, ra: str) -> list[str]:
        if node.data == "and_":
            return [c for child in node.children for c in self._join_condition(child, left, right, la, ra)]
        if node.data != "compare" or str(node.children[1]) != "==":
            raise UnsupportedConstruct("a join condition other than $left.<a> == $right.<b> [and ...]")
        sides = {}
        for operand in (node.children[0], node.children[2]):
            parts = dotted_name(operand.children[0]).split(".") if operand.data == "path" else []
            if len(parts) != 2 or parts[0].lower() not in ("$left", "$right"):
                raise UnsupportedConstruct("a join condition other than $left.<a> == $right.<b> [and ...]")
            rel, alias = (left, la) if parts[0].lower() == "$left" else (right, ra)
            column = next((c for c in rel.columns if c.lower() == parts[1].lower()), None)
            if column is None:
                raise UserError(f"unknown column {parts[1]!r} on the {parts[0][1:]} side of the join")
            sides[parts[0].lower()] = f"{alias}.{ident(column)}"
        if len(sides) != 2:
            raise UnsupportedConstruct("a join condition that compares both sides ($left and $right)")
        return [f"{sides['$left']} = {sides['$right']}"]


def translate(text: str, now: datetime) -> Translation:
    """Snowflake SQL for a PantherFlow query, the tables it reads and its joined right sides."""
    translator = _Translator(now, text)
    relation = translator.query(parse(text))
    return Translation(relation.sql, translator.tables, relation.nested)


def nest_joined(rows: list[dict], nested: dict[str, dict[str, str]]) -> list[dict]:
    """Rows with each join's right-side columns gathered into one object column (null: no match)."""
    if not nested:
        return rows
    groups = []
    for columns in nested.values():
        sql_names = [sql.strip('"') for sql in columns.values()]
        groups.append((sql_names[0].split(_NESTED, 1)[0], sql_names))
    out = []
    for original in rows:
        row = dict(original)
        for label, sql_names in groups:
            values = {n.split(_NESTED, 1)[1]: row.pop(n, None) for n in sql_names}
            row[label] = values if any(v is not None for v in values.values()) else None
        out.append(row)
    return out


def run_pantherflow(lake, text: str, now: datetime) -> list[dict]:
    """Rows of a PantherFlow query on ``lake`` (a ``tracebit_pack.lake.embedded.Lake``) at time ``now``."""
    translation = translate(text, now)
    return nest_joined(lake.run(translation.sql, now=now), translation.nested)


def run_on_folder(text: str, folder: Path, now: datetime) -> list[dict]:
    """Rows of PantherFlow ``text`` over the lake of ``folder`` (a folder of ``<LogType>.jsonl``),
    which must hold every table the query reads (checked before anything is loaded)."""
    from tracebit_pack.lake.folder import check_folder

    check_folder(Path(folder), translate(text, now).tables)
    lake = lake_from_folder(folder)
    try:
        return run_pantherflow(lake, text, now)
    finally:
        lake.close()
