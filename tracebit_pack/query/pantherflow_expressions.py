"""PantherFlow expressions and functions as Snowflake SQL: the scalar half of the offline translation.

Why a module of its own: ``tracebit_pack.query.pantherflow_sql`` turns the pipe stages into nested
sub-queries; what each stage computes (a ``where`` condition, a ``project`` / ``extend`` column,
a ``summarize`` aggregation, a ``sort`` key) is an expression of one row, compiled here against the
columns of the relation it reads (``Relation``) into a typed ``Value``.

Supported:
  * expressions: field paths (``actor.alternateId`` reads the VARIANT column ``actor``), string /
    number / timespan (``37d``) / boolean / null literals, ``== != > < >= <=``, ``and or not``,
    ``x between a .. b`` (inclusive), ``x in [..]``, ``+ -`` of a timespan on a time;
  * functions (``SUPPORTED_FUNCTIONS``): ``time.parse_timestamp``, ``time.parse_timespan``,
    ``time.ago``, ``time.now``, ``time.trunc``, ``strings.ilike`` / ``contains`` / ``starts_with`` /
    ``ends_with``, ``agg.count``, ``agg.count_distinct``, ``agg.sum``, ``agg.avg``, ``agg.stddev``,
    ``agg.min``, ``agg.max``, ``math.round``, ``snowflake.func('DATE' | 'GET_PATH', ...)``.
Semantics chosen where Panther documents none: a VARIANT value compared with (or matched against)
a string is read as text (``::string``), with a number as a number; ``agg.sum`` / ``agg.avg`` of a
VARIANT read it as a number; ``time.ago`` and ``time.now`` use the ``now`` given to the run.
Anything else (``agg.arg_max``, ``re.matches``, ``arrays.overlap``, an unknown function) is an
UnsupportedConstruct naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tracebit_pack.errors import UserError
from tracebit_pack.lake.macros import ts_literal
from tracebit_pack.lake.transpile import UnsupportedConstruct
from tracebit_pack.query.pantherflow import decode_string, dotted_name
from tracebit_pack.times import parse_utc_text

SUPPORTED_FUNCTIONS = frozenset(
    {
        "time.parse_timestamp",
        "time.parse_timespan",
        "time.ago",
        "time.now",
        "time.trunc",
        "strings.ilike",
        "strings.contains",
        "strings.starts_with",
        "strings.ends_with",
        "agg.count",
        "agg.count_distinct",
        "agg.sum",
        "agg.avg",
        "agg.stddev",
        "agg.min",
        "agg.max",
        "math.round",
        "snowflake.func",
    }
)
SUPPORTED_SNOWFLAKE_FUNCTIONS = frozenset({"DATE", "GET_PATH"})

_AGGREGATES = {
    "agg.count": "COUNT",
    "agg.count_distinct": "COUNT",
    "agg.sum": "SUM",
    "agg.avg": "AVG",
    "agg.stddev": "STDDEV",
    "agg.min": "MIN",
    "agg.max": "MAX",
}
_STRING_FUNCTIONS = {
    "strings.contains": "CONTAINS",
    "strings.starts_with": "STARTSWITH",
    "strings.ends_with": "ENDSWITH",
}
_TRUNC_UNITS = {"second", "minute", "hour", "day", "week", "month", "quarter", "year"}
_SPAN_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SPAN = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GET_PATH = re.compile(r"\[(\d+)\]|\.?([A-Za-z_][A-Za-z0-9_]*)")
_COMPARE = {"==": "=", "!=": "<>", ">": ">", "<": "<", ">=": ">=", "<=": "<="}


@dataclass
class Value:
    """A compiled expression: its SQL and what it is (``variant``, ``string``, ``number``, ``time``,
    ``timespan``, ``bool``, ``scalar``); ``const`` holds the value of a literal or folded constant."""

    sql: str
    kind: str = "scalar"
    const: object = None


@dataclass
class Relation:
    """The rows a stage reads: their SQL, their columns and which of those are VARIANT (lower case)."""

    sql: str
    columns: list[str]
    variant: set[str] = field(default_factory=set)


def sql_string(value: str) -> str:
    """A Snowflake string literal holding exactly ``value``."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


class ExpressionTranslator:
    """Compiles the expressions of one query at time ``now`` (``time.ago`` / ``time.now``)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

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
        return Value("", "timespan", _span_seconds(str(node.children[0])))

    def x_true(self, node, rel, aggregate) -> Value:
        return Value("TRUE", "bool", True)

    def x_false(self, node, rel, aggregate) -> Value:
        return Value("FALSE", "bool", False)

    def x_null(self, node, rel, aggregate) -> Value:
        return Value("NULL", "scalar")

    def x_list(self, node, rel, aggregate) -> Value:
        raise UnsupportedConstruct("a list outside `x in [...]`")

    def x_path(self, node, rel, aggregate) -> Value:
        parts = [str(t) for t in node.children[0].children]
        column = parts[0]
        if column.lower() not in {c.lower() for c in rel.columns}:
            raise UserError(f"unknown column {column!r} (the query has: {', '.join(rel.columns)})")
        if len(parts) == 1:
            return Value(column, "variant" if column.lower() in rel.variant else "scalar")
        if column.lower() not in rel.variant:
            raise UnsupportedConstruct(
                f"field path {'.'.join(parts)!r} on {column!r}, which is not an object"
            )
        return Value(_colon_path(column, [(None, p) for p in parts[1:]]), "variant")

    def _text(self, value: Value) -> str:
        if value.kind == "timespan":
            raise UnsupportedConstruct("a timespan where a value is expected")
        return f"{value.sql}::string" if value.kind == "variant" else value.sql

    def _coerce(self, value: Value, other: Value) -> str:
        if value.kind != "variant" or other.kind == "variant":
            return self._text(value) if value.kind != "variant" else value.sql
        if other.kind == "number":
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

    def x_in(self, node, rel, aggregate) -> Value:
        value = self.expr(node.children[0], rel)
        items = [self.expr(c, rel) for c in node.children[1].children if c is not None]
        if not items:
            raise UnsupportedConstruct("`in` with an empty list")
        return Value(
            f"({self._coerce(value, items[0])} IN ({', '.join(self._text(i) for i in items)}))", "bool"
        )

    def x_and(self, node, rel, aggregate) -> Value:
        left, right = (self.expr(c, rel) for c in node.children)
        return Value(f"({self._text(left)} AND {self._text(right)})", "bool")

    def x_or(self, node, rel, aggregate) -> Value:
        left, right = (self.expr(c, rel) for c in node.children)
        return Value(f"({self._text(left)} OR {self._text(right)})", "bool")

    def x_not(self, node, rel, aggregate) -> Value:
        return Value(f"(NOT {self._text(self.expr(node.children[0], rel))})", "bool")

    def x_arith(self, node, rel, aggregate) -> Value:
        left, op, right = self._operands(node, rel)
        if right.kind == "timespan" and left.kind != "timespan":
            seconds = right.const if op == "+" else -right.const
            if left.kind == "time" and isinstance(left.const, datetime):
                moment = left.const + timedelta(seconds=seconds)
                return Value(ts_literal(moment), "time", moment)
            return Value(f"DATEADD(millisecond, {round(seconds * 1000)}, {left.sql})", "time")
        if left.kind == "number" and right.kind == "number":
            return Value(f"({left.sql} {op} {right.sql})", "number")
        raise UnsupportedConstruct(f"`{op}` between a {left.kind} and a {right.kind}")

    def x_call(self, node, rel, aggregate) -> Value:
        name = dotted_name(node.children[0])
        raw_args = [c for c in node.children[1:] if c is not None]
        if name not in SUPPORTED_FUNCTIONS:
            raise UnsupportedConstruct(f"function {name}")
        if name in _AGGREGATES:
            if not aggregate:
                raise UnsupportedConstruct(f"{name} outside summarize")
            return self._aggregate(name, [self.expr(a, rel) for a in raw_args])
        if name == "snowflake.func":
            return self._snowflake_func(raw_args, rel)
        args = [self.expr(a, rel) for a in raw_args]
        return getattr(self, "f_" + name.replace(".", "_"))(args)

    def _aggregate(self, name: str, args: list[Value]) -> Value:
        if name == "agg.count":
            if args:
                raise UnsupportedConstruct("agg.count with an argument")
            return Value("COUNT(*)", "agg")
        if len(args) != 1:
            raise UnsupportedConstruct(f"{name} with {len(args)} arguments")
        arg = args[0]
        if name == "agg.count_distinct":
            return Value(f"COUNT(DISTINCT {self._text(arg) if arg.kind == 'variant' else arg.sql})", "agg")
        sql = f"{arg.sql}::number" if arg.kind == "variant" and name in ("agg.sum", "agg.avg") else arg.sql
        return Value(f"{_AGGREGATES[name]}({sql})", "agg")

    def _snowflake_func(self, raw_args, rel) -> Value:
        if not raw_args or str(raw_args[0].data) != "string":
            raise UnsupportedConstruct("snowflake.func without a quoted function name")
        func = decode_string(str(raw_args[0].children[0])).upper()
        if func not in SUPPORTED_SNOWFLAKE_FUNCTIONS:
            raise UnsupportedConstruct(f"snowflake.func('{func}')")
        args = [self.expr(a, rel) for a in raw_args[1:]]
        if func == "DATE" and len(args) == 1:
            return Value(f"DATE({args[0].sql})", "scalar")
        if func == "GET_PATH" and len(args) == 2 and args[0].kind == "variant" and args[1].kind == "string":
            return Value(_colon_path(args[0].sql, _get_path_parts(str(args[1].const))), "variant")
        raise UnsupportedConstruct(f"snowflake.func('{func}') with these arguments")

    def f_time_parse_timestamp(self, args: list[Value]) -> Value:
        if len(args) != 1 or args[0].kind != "string":
            raise UnsupportedConstruct("time.parse_timestamp of anything but a quoted time")
        try:
            moment = parse_utc_text(str(args[0].const))
        except ValueError:
            raise UserError(f"time.parse_timestamp: cannot read the time {args[0].const!r}") from None
        return Value(ts_literal(moment), "time", moment)

    def f_time_parse_timespan(self, args: list[Value]) -> Value:
        if len(args) != 1 or args[0].kind != "string":
            raise UnsupportedConstruct("time.parse_timespan of anything but a quoted timespan")
        return Value("", "timespan", _span_seconds(str(args[0].const)))

    def f_time_ago(self, args: list[Value]) -> Value:
        if len(args) != 1 or args[0].kind != "timespan":
            raise UnsupportedConstruct("time.ago of anything but a timespan")
        moment = self.now - timedelta(seconds=args[0].const)
        return Value(ts_literal(moment), "time", moment)

    def f_time_now(self, args: list[Value]) -> Value:
        if args:
            raise UnsupportedConstruct("time.now with arguments")
        return Value(ts_literal(self.now), "time", self.now)

    def f_time_trunc(self, args: list[Value]) -> Value:
        if len(args) != 2 or args[0].kind != "string" or str(args[0].const).lower() not in _TRUNC_UNITS:
            raise UnsupportedConstruct(
                "time.trunc(<unit>, <time>) with a unit other than " + "/".join(sorted(_TRUNC_UNITS))
            )
        return Value(f"DATE_TRUNC('{str(args[0].const).lower()}', {args[1].sql})", "time")

    def f_strings_ilike(self, args: list[Value]) -> Value:
        if len(args) != 2:
            raise UnsupportedConstruct("strings.ilike with other than 2 arguments")
        return Value(f"({self._text(args[0])} ILIKE {self._text(args[1])})", "bool")

    def _string_function(self, name: str, args: list[Value]) -> Value:
        if len(args) != 2:
            raise UnsupportedConstruct(f"{name} with other than 2 arguments")
        return Value(f"{_STRING_FUNCTIONS[name]}({self._text(args[0])}, {self._text(args[1])})", "bool")

    def f_strings_contains(self, args):
        return self._string_function("strings.contains", args)

    def f_strings_starts_with(self, args):
        return self._string_function("strings.starts_with", args)

    def f_strings_ends_with(self, args):
        return self._string_function("strings.ends_with", args)

    def f_math_round(self, args: list[Value]) -> Value:
        if len(args) != 2 or args[1].kind != "number":
            raise UnsupportedConstruct("math.round(<number>, <digits>)")
        return Value(f"ROUND({args[0].sql}, {args[1].sql})", "number")


def _span_seconds(text: str) -> float:
    match = _SPAN.match(text.strip())
    if not match:
        raise UserError(f"cannot read the timespan {text!r} (e.g. '30m', '3h', '30d')")
    return int(match.group(1)) * _SPAN_UNITS[match.group(2)]


def _get_path_parts(path: str) -> list[tuple[int | None, str | None]]:
    parts: list[tuple[int | None, str | None]] = []
    pos = 0
    for match in _GET_PATH.finditer(path):
        if match.start() != pos:
            break
        parts.append((int(match.group(1)), None) if match.group(1) is not None else (None, match.group(2)))
        pos = match.end()
    if pos != len(path) or not parts:
        raise UnsupportedConstruct(f"GET_PATH path {path!r}")
    return parts


def _colon_path(base: str, parts: list[tuple[int | None, str | None]]) -> str:
    """Snowflake path syntax: ``base[0]:key.sub`` (keys are plain identifiers here)."""
    out = base
    first_key = ":" not in base
    for index, key in parts:
        if index is not None:
            out += f"[{index}]"
        else:
            if not _KEY.match(key):
                raise UnsupportedConstruct(f"field name {key!r}")
            out += (":" if first_key else ".") + key
            first_key = False
    return out
