"""PantherFlow expressions as Snowflake SQL: the scalar half of the offline translation.

Why a module of its own: ``tracebit_pack.query.pantherflow_sql`` turns the pipe stages into nested
sub-queries; what each stage computes (a ``where`` condition, a ``project`` / ``extend`` column,
a ``summarize`` aggregation, a ``sort`` key) is an expression of one row, compiled here against the
columns of the relation it reads (``Relation``) into a typed ``Value``. The functions are compiled
by ``pantherflow_functions``.

Supported: field paths (``actor.alternateId`` reads the VARIANT column ``actor``), bracket indexing
(``target[0].type``, ``foo['bar']``), scalar ``let`` names, string (all documented escapes) /
number / timespan (``37d``, ``1.5s``) / boolean / null literals, ``== != > < >= <=``, ``and or
not``, ``x [not] between a .. b`` (inclusive), ``x [not] in [..]`` and ``x [not] in <array>``,
``+ -`` of a timespan on a time, ``+ - * / %`` of numbers.
Semantics chosen where Panther documents none: a VARIANT value compared with (or matched against)
a string is read as text (``::string``), with a number as a number.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tracebit_pack.errors import UserError
from tracebit_pack.lake.macros import ts_literal
from tracebit_pack.lake.transpile import UnsupportedConstruct
from tracebit_pack.query.pantherflow import decode_string, dotted_name
from tracebit_pack.query.pantherflow_functions import (
    AGGREGATES,
    SUPPORTED_FUNCTIONS,
    FunctionTranslator,
    quoted_name,
    span_seconds,
)
from tracebit_pack.query.pantherflow_values import Relation, Value, colon_path, sql_string

__all__ = ["ExpressionTranslator", "Relation", "SUPPORTED_FUNCTIONS", "Value", "sql_string"]

_COMPARE = {"==": "=", "!=": "<>", ">": ">", "<": "<", ">=": ">=", "<=": "<="}


class ExpressionTranslator(FunctionTranslator):
    """Compiles the expressions of one query at time ``now`` (``time.ago`` / ``time.now``);
    ``scalars`` holds the values of the query's scalar ``let`` statements."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.scalars: dict[str, Value] = {}

    def expr(self, node, rel: Relation, aggregate: bool = False) -> Value:
        kind = str(node.data)
        handler = getattr(self, f"x_{kind.rstrip('_')}", None)
        if handler is None:
            raise UnsupportedConstruct(f"PantherFlow expression {kind!r}")
        return handler(node, rel, aggregate)

    def x_string(self, node, rel, aggregate) -> Value:
        text = decode_string(str(node.children[0]))
        return Value(sql_string(text), "string", text)

    def x_number(self, node, rel, aggregate) -> Value:
        return Value(str(node.children[0]), "number", float(node.children[0]))

    def x_timespan(self, node, rel, aggregate) -> Value:
        """A timespan; used as a value (not added to a time) it is its length in seconds."""
        seconds = span_seconds(str(node.children[0]))
        return Value(repr(seconds), "timespan", seconds)

    def x_true(self, node, rel, aggregate) -> Value:
        return Value("TRUE", "bool", True)

    def x_false(self, node, rel, aggregate) -> Value:
        return Value("FALSE", "bool", False)

    def x_null(self, node, rel, aggregate) -> Value:
        return Value("NULL", "scalar")

    def x_list(self, node, rel, aggregate) -> Value:
        items = [self.expr(c, rel) for c in node.children if c is not None]
        return Value(f"ARRAY_CONSTRUCT({', '.join(self.text(i) for i in items)})", "list", items)

    def x_object(self, node, rel, aggregate) -> Value:
        pairs = []
        for pair in (c for c in node.children if c is not None):
            key, value = pair.children
            name = decode_string(str(key)) if key.type == "STRING" else str(key)
            pairs.append(f"{sql_string(name)}, {self.expr(value, rel).sql}")
        return Value(f"OBJECT_CONSTRUCT({', '.join(pairs)})", "variant")

    def x_path(self, node, rel, aggregate) -> Value:
        parts = [str(t) for t in node.children[0].children]
        column = parts[0]
        columns = {c.lower(): c for c in rel.columns}
        if column.lower() not in columns:
            if len(parts) == 1 and column in self.scalars:
                return self.scalars[column]
            joined = rel.nested.get(column.lower())
            if joined is not None and len(parts) == 1:
                fields = ", ".join(f"{sql_string(c)}, {sql}" for c, sql in joined.items())
                unmatched = " AND ".join(f"{sql} IS NULL" for sql in joined.values())
                return Value(f"CASE WHEN {unmatched} THEN NULL ELSE OBJECT_CONSTRUCT({fields}) END", "variant")
            if joined is not None and len(parts) == 2 and parts[1].lower() in joined:
                return Value(joined[parts[1].lower()], "scalar")
            raise UserError(f"unknown column {column!r} (the query has: {', '.join(rel.columns)})")
        if len(parts) == 1:
            kind = "variant" if column.lower() in rel.variant else "array" if column.lower() in rel.arrays else "scalar"
            return Value(column, kind)
        if column.lower() not in rel.variant:
            raise UnsupportedConstruct(f"field path {'.'.join(parts)!r} on {column!r}, which is not an object")
        return Value(colon_path(column, [(None, p) for p in parts[1:]]), "variant")

    def x_index(self, node, rel, aggregate) -> Value:
        base = self.expr(node.children[0], rel)
        key = self.expr(node.children[1], rel)
        if base.kind not in ("variant", "array"):
            raise UnsupportedConstruct("indexing a value that is not an object or an array")
        if key.kind == "number" and float(key.const).is_integer():
            return Value(colon_path(base.sql, [(int(key.const), None)]), base.kind if base.kind == "array" else "variant")
        if key.kind == "string" and base.kind == "variant":
            return Value(colon_path(base.sql, [(None, str(key.const))]), "variant")
        raise UnsupportedConstruct("an index that is not a whole number or a quoted key")

    def x_index_member(self, node, rel, aggregate) -> Value:
        indexed = self.x_index(node, rel, aggregate)
        if indexed.kind != "variant":
            raise UnsupportedConstruct("a field of an array element that is not an object")
        return Value(colon_path(indexed.sql, [(None, str(t)) for t in node.children[2].children]), "variant")

    def text(self, value: Value) -> str:
        return f"{value.sql}::string" if value.kind == "variant" else value.sql

    def _coerce(self, value: Value, other: Value) -> str:
        if value.kind != "variant" or other.kind == "variant":
            return self.text(value) if value.kind != "variant" else value.sql
        if other.kind in ("number", "timespan"):
            return f"{value.sql}::double"
        if other.kind == "bool":
            return f"{value.sql}::boolean"
        if other.kind == "time":
            return f"{value.sql}::timestamp_ntz"
        return f"{value.sql}::string"

    def _operands(self, node, rel) -> tuple[Value, str, Value]:
        """Left operand, operator and right operand of a binary node, in that order."""
        return self.expr(node.children[0], rel), str(node.children[1]), self.expr(node.children[2], rel)

    def x_compare(self, node, rel, aggregate) -> Value:
        left, op, right = self._operands(node, rel)
        return Value(f"({self._coerce(left, right)} {_COMPARE[op]} {self._coerce(right, left)})", "bool")

    def x_between(self, node, rel, aggregate) -> Value:
        value, low, high = (self.expr(c, rel) for c in node.children)
        bounds = f"{self._coerce(low, value)} AND {self._coerce(high, value)}"
        return Value(f"({self._coerce(value, low)} BETWEEN {bounds})", "bool")

    def x_not_between(self, node, rel, aggregate) -> Value:
        return Value(f"(NOT {self.x_between(node, rel, aggregate).sql})", "bool")

    def x_in(self, node, rel, aggregate) -> Value:
        value, container = self.expr(node.children[0], rel), self.expr(node.children[1], rel)
        if container.kind == "list":
            items = container.const
            if not items:
                return Value("FALSE", "bool", False)
            listed = ", ".join(self._coerce(i, value) for i in items)
            return Value(f"({self._coerce(value, items[0])} IN ({listed}))", "bool")
        if container.kind in ("array", "variant"):
            return Value(f"ARRAY_CONTAINS({self.text(value)}::variant, {container.sql})", "bool")
        raise UnsupportedConstruct("`in` on something that is neither a list nor an array")

    def x_not_in(self, node, rel, aggregate) -> Value:
        return Value(f"(NOT {self.x_in(node, rel, aggregate).sql})", "bool")

    def x_and(self, node, rel, aggregate) -> Value:
        left, right = (self.expr(c, rel) for c in node.children)
        return Value(f"({self.text(left)} AND {self.text(right)})", "bool")

    def x_or(self, node, rel, aggregate) -> Value:
        left, right = (self.expr(c, rel) for c in node.children)
        return Value(f"({self.text(left)} OR {self.text(right)})", "bool")

    def x_not(self, node, rel, aggregate) -> Value:
        return Value(f"(NOT {self.text(self.expr(node.children[0], rel))})", "bool")

    def x_arith(self, node, rel, aggregate) -> Value:
        left, op, right = (
            self.expr(node.children[0], rel, aggregate),
            str(node.children[1]),
            self.expr(node.children[2], rel, aggregate),
        )
        if op in "+-" and right.kind == "timespan" and left.kind != "timespan":
            seconds = right.const if op == "+" else -right.const
            if left.kind == "time" and isinstance(left.const, datetime):
                moment = left.const + timedelta(seconds=seconds)
                return Value(ts_literal(moment), "time", moment)
            return Value(f"DATEADD(microsecond, {round(seconds * 1e6)}, {left.sql})", "time")
        if {left.kind, right.kind} <= {"number", "variant", "scalar", "agg"}:
            kind = "agg" if "agg" in (left.kind, right.kind) else "number"
            sql_op = op if op != "%" else "%"
            num = [f"{v.sql}::double" if v.kind == "variant" else v.sql for v in (left, right)]
            return Value(f"({num[0]} {sql_op} {num[1]})", kind)
        raise UnsupportedConstruct(f"`{op}` between a {left.kind} and a {right.kind}")

    def x_call(self, node, rel, aggregate) -> Value:
        name = dotted_name(node.children[0])
        raw_args = [c for c in node.children[1:] if c is not None]
        if name not in SUPPORTED_FUNCTIONS:
            raise UnsupportedConstruct(f"function {name}")
        if name in AGGREGATES:
            if not aggregate:
                raise UnsupportedConstruct(f"{name} outside summarize")
            return self.aggregate(name, [self.expr(a, rel) for a in raw_args])
        if name == "snowflake.func":
            func = quoted_name(raw_args[0]) if raw_args else None
            if func is None:
                raise UnsupportedConstruct("snowflake.func without a quoted function name")
            return self.snowflake_func(func.upper(), [self.expr(a, rel) for a in raw_args[1:]])
        args = [self.expr(a, rel) for a in raw_args]
        return getattr(self, "f_" + name.replace(".", "_"))(args)
