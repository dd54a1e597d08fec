"""PantherFlow expressions as Snowflake SQL: the scalar half of the offline translation.

Why a module of its own: ``tracebit_pack.query.pantherflow_sql`` turns the pipe stages into nested
sub-queries; what each stage computes (a ``where`` condition, a ``project`` / ``extend`` column,
a ``summarize`` aggregation, a ``sort`` key) is an expression of one row, compiled here against the
columns of the relation it reads (``Relation``) into a typed ``Value``. The functions are compiled
by ``pantherflow_functions``.

Supported: field paths (``actor.alternateId`` reads the VARIANT column ``actor``), bracket indexing
(``target[0].type``, ``foo['bar']``), scalar ``let`` names, anonymous functions ``fn (x) { ... }`` of
``arrays.map`` / ``arrays.filter``, string (all documented escapes) / number / timespan (``37d``,
``1.5s``) / boolean / null literals, lists and objects, ``== != > < >= <=``, ``and or not``,
``x [not] between a .. b`` (inclusive), ``x [not] in [..]`` and ``x [not] in <array>``, ``+ -`` of
a timespan on a time, ``+ - * / %`` and unary ``-`` of numbers, ``== null`` / ``!= null``.
Semantics chosen where Panther documents none: a VARIANT value compared with (or matched against)
a string is read as text (``::string``), with a number as a number.
"""

from __future__ import annotations

import json
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

_NOT_CONSTANT = object()
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
        return self.array_value([self.expr(c, rel) for c in node.children if c is not None])

    def array_value(self, items: list[Value]) -> Value:
        """A list: ``ARRAY_CONSTRUCT`` of its items, or the JSON of a constant list whose items are not
        all of one kind (DuckDB's lists hold one type)."""
        constant = [_json(i) for i in items]
        if all(c is not _NOT_CONSTANT for c in constant):
            kinds = {type(c).__name__ for c in constant if c is not None}
            if len(kinds) > 1 or "dict" in kinds:
                return Value(f"PARSE_JSON({sql_string(json.dumps(constant))})", "variant", constant)
        return Value(f"ARRAY_CONSTRUCT({', '.join(self.text(i) for i in items)})", "list", items)

    def x_object(self, node, rel, aggregate) -> Value:
        pairs = {}
        for pair in (c for c in node.children if c is not None):
            key, value = pair.children
            pairs[decode_string(str(key)) if key.type == "STRING" else str(key)] = self.expr(value, rel)
        constant = {k: _json(v) for k, v in pairs.items()}
        if _NOT_CONSTANT not in constant.values():
            return Value(f"PARSE_JSON({sql_string(json.dumps(constant))})", "variant", constant)
        fields = ", ".join(f"{sql_string(k)}, {v.sql}" for k, v in pairs.items())
        return Value(f"OBJECT_CONSTRUCT({fields})", "variant")

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
                return Value(
                    f"CASE WHEN {unmatched} THEN NULL ELSE OBJECT_CONSTRUCT({fields}) END", "variant"
                )
            if joined is not None and len(parts) == 2 and parts[1].lower() in joined:
                return Value(joined[parts[1].lower()], "scalar")
            raise UserError(f"unknown column {column!r} (the query has: {', '.join(rel.columns)})")
        if len(parts) == 1:
            kind = (
                "variant"
                if column.lower() in rel.variant
                else "array"
                if column.lower() in rel.arrays
                else "scalar"
            )
            return Value(column, kind)
        if column.lower() not in rel.variant:
            raise UnsupportedConstruct(
                f"field path {'.'.join(parts)!r} on {column!r}, which is not an object"
            )
        return Value(colon_path(column, [(None, p) for p in parts[1:]]), "variant")

    def x_index(self, node, rel, aggregate) -> Value:
        base = self.expr(node.children[0], rel)
        key = self.expr(node.children[1], rel)
        if base.kind not in ("variant", "array"):
            raise UnsupportedConstruct("indexing a value that is not an object or an array")
        if key.kind == "number" and float(key.const).is_integer():
            return Value(
                colon_path(base.sql, [(int(key.const), None)]),
                base.kind if base.kind == "array" else "variant",
            )
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
        if other.kind == "time" and value.kind in ("string", "scalar"):
            return f"{value.sql}::timestamp_ntz"
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
        if op in ("==", "!=") and "NULL" in (left.sql, right.sql):
            other = right if left.sql == "NULL" else left
            return Value(f"({self.text(other)} IS {'' if op == '==' else 'NOT '}NULL)", "bool")
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

    def x_add(self, node, rel, aggregate) -> Value:
        return self._arith(node, "+", rel, aggregate)

    def x_sub(self, node, rel, aggregate) -> Value:
        return self._arith(node, "-", rel, aggregate)

    def x_mul(self, node, rel, aggregate) -> Value:
        return self._arith(node, "*", rel, aggregate)

    def x_div(self, node, rel, aggregate) -> Value:
        return self._arith(node, "/", rel, aggregate)

    def x_mod(self, node, rel, aggregate) -> Value:
        return self._arith(node, "%", rel, aggregate)

    def x_neg(self, node, rel, aggregate) -> Value:
        value = self.expr(node.children[0], rel, aggregate)
        if value.kind == "number" and isinstance(value.const, float):
            return Value(f"-{value.sql}", "number", -value.const)
        if value.kind in ("number", "variant", "scalar", "agg"):
            return Value(f"(-{self._number(value)})", "agg" if value.kind == "agg" else "number")
        raise UnsupportedConstruct(f"`-` of a {value.kind}")

    def _number(self, value: Value) -> str:
        return f"{value.sql}::double" if value.kind == "variant" else value.sql

    def _arith(self, node, op: str, rel, aggregate) -> Value:
        left = self.expr(node.children[0], rel, aggregate)
        right = self.expr(node.children[1], rel, aggregate)
        if op in "+-" and right.kind == "timespan" and left.kind != "timespan":
            seconds = right.const if op == "+" else -right.const
            if left.kind == "time" and isinstance(left.const, datetime):
                moment = left.const + timedelta(seconds=seconds)
                return Value(ts_literal(moment), "time", moment)
            return Value(f"DATEADD(microsecond, {round(seconds * 1e6)}, {left.sql})", "time")
        if {left.kind, right.kind} <= {"number", "variant", "scalar", "agg"}:
            kind = "agg" if "agg" in (left.kind, right.kind) else "number"
            return Value(f"({self._number(left)} {op} {self._number(right)})", kind)
        raise UnsupportedConstruct(f"`{op}` between a {left.kind} and a {right.kind}")

    def x_lambda(self, node, rel, aggregate) -> Value:
        raise UnsupportedConstruct("an anonymous function outside arrays.map / arrays.filter")

    def lambda_sql(self, node, rel: Relation) -> str:
        """``fn (x) { body }`` as a Snowflake lambda ``x -> body``; the parameter is a VARIANT."""
        params = [str(t) for t in node.children[:-1] if t is not None]
        if len(params) != 1:
            raise UnsupportedConstruct("an anonymous function with other than one parameter")
        saved = dict(self.scalars)
        self.scalars.update({p: Value(p, "variant") for p in params})
        try:
            body = self.expr(node.children[-1], rel)
        finally:
            self.scalars = saved
        return f"{params[0]} -> {self.text(body)}"

    def x_call(self, node, rel, aggregate) -> Value:
        name = dotted_name(node.children[0])
        raw_args = [c for c in node.children[1:] if c is not None]
        if name not in SUPPORTED_FUNCTIONS:
            raise UnsupportedConstruct(f"function {name}")
        if name in AGGREGATES:
            if not aggregate:
                raise UnsupportedConstruct(f"{name} outside summarize")
            return self.aggregate(name, [self.expr(a, rel) for a in raw_args])
        if name in ("arrays.map", "arrays.filter"):
            if len(raw_args) != 2 or str(raw_args[1].data) != "lambda":
                raise UnsupportedConstruct(f"{name}(<array>, fn (<x>) {{ <expression> }})")
            sql = "TRANSFORM" if name == "arrays.map" else "FILTER"
            array = self.expr(raw_args[0], rel)
            return Value(f"{sql}({array.sql}, {self.lambda_sql(raw_args[1], rel)})", "variant")
        if name == "snowflake.func":
            func = quoted_name(raw_args[0]) if raw_args else None
            if func is None:
                raise UnsupportedConstruct("snowflake.func without a quoted function name")
            return self.snowflake_func(func.upper(), [self.expr(a, rel) for a in raw_args[1:]])
        args = [self.expr(a, rel) for a in raw_args]
        return getattr(self, "f_" + name.replace(".", "_"))(args)


def _json(value: Value) -> object:
    """The JSON value of a constant ``Value`` (a literal, or a list / object of them), else _NOT_CONSTANT."""
    if value.sql == "NULL":
        return None
    if value.kind in ("string", "bool"):
        return value.const
    if value.kind == "number" and isinstance(value.const, float):
        return int(value.const) if value.const.is_integer() else value.const
    if value.kind == "list":
        items = [_json(i) for i in value.const]
        return _NOT_CONSTANT if _NOT_CONSTANT in items else items
    if value.kind == "variant" and isinstance(value.const, (dict, list)):
        return value.const
    return _NOT_CONSTANT
