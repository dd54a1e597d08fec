"""PantherFlow's functions as Snowflake SQL: the function half of the scalar translation.

Why a module of its own: ``tracebit_pack.query.pantherflow_expressions`` compiles operators, literals
and field paths; the functions Panther documents (date-time, strings, regex, arrays, math, the
``agg.*`` aggregations and ``snowflake.func``) are each a small rule of their own, kept here as the
methods of a mixin (``f_<module>_<name>``) so that a function is found by its PantherFlow name.

Semantics chosen where Panther documents none: ``time.ago`` and ``time.now`` use the ``now`` given
to the run; a time written without a zone is UTC; ``time.slice`` buckets by whole units counted
from the Unix epoch (Snowflake's ``TIME_SLICE``); ``agg.sum`` / ``agg.avg`` of a VARIANT read it
as a number.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tracebit_pack.errors import UserError
from tracebit_pack.lake.macros import ts_literal
from tracebit_pack.lake.transpile import UnsupportedConstruct
from tracebit_pack.query.pantherflow import decode_string
from tracebit_pack.query.pantherflow_values import Value, colon_path, get_path_parts
from tracebit_pack.times import parse_utc_text

AGGREGATES = {
    "agg.count": "COUNT",
    "agg.count_distinct": "COUNT",
    "agg.sum": "SUM",
    "agg.avg": "AVG",
    "agg.stddev": "STDDEV",
    "agg.min": "MIN",
    "agg.max": "MAX",
    "agg.arg_max": "MAX_BY",
    "agg.arg_min": "MIN_BY",
}
_STRING_FUNCTIONS = {
    "strings.contains": "CONTAINS",
    "strings.starts_with": "STARTSWITH",
    "strings.ends_with": "ENDSWITH",
}
SUPPORTED_FUNCTIONS = frozenset(
    {
        *AGGREGATES,
        *_STRING_FUNCTIONS,
        "time.parse_timestamp",
        "time.parse_timespan",
        "time.ago",
        "time.now",
        "time.trunc",
        "time.add",
        "time.diff",
        "time.slice",
        "strings.ilike",
        "re.matches",
        "arrays.overlap",
        "arrays.map",
        "arrays.filter",
        "arrays.len",
        "arrays.flatten",
        "arrays.difference",
        "arrays.intersection",
        "array",
        "object",
        "time.parse_date",
        "math.round",
        "snowflake.func",
    }
)
SUPPORTED_SNOWFLAKE_FUNCTIONS = frozenset({"DATE", "GET_PATH"})

# Units of timespan literals and of the unit argument of time.add / diff / slice / trunc.
_UNIT_NAMES = {
    "us": "microsecond",
    "microsecond": "microsecond",
    "microseconds": "microsecond",
    "ms": "millisecond",
    "millisecond": "millisecond",
    "milliseconds": "millisecond",
    "s": "second",
    "second": "second",
    "seconds": "second",
    "m": "minute",
    "minute": "minute",
    "minutes": "minute",
    "h": "hour",
    "hour": "hour",
    "hours": "hour",
    "d": "day",
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
    "month": "month",
    "months": "month",
    "quarter": "quarter",
    "year": "year",
    "y": "year",
    "years": "year",
}
_UNIT_SECONDS = {
    "microsecond": 1e-6,
    "millisecond": 0.001,
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
}
_NUMERIC = ("number", "scalar", "variant")
_TRUNC_UNITS = {"second", "minute", "hour", "day", "week", "month", "quarter", "year"}
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$")


def span_seconds(text: str) -> float:
    """Seconds of a timespan (``30m``, ``1.5s``, ``10us``, ``2 hours``); UserError otherwise."""
    match = _SPAN.match(text.strip())
    unit = _UNIT_NAMES.get(match.group(2).lower()) if match else None
    if unit not in _UNIT_SECONDS:
        raise UserError(f"cannot read the timespan {text!r} (e.g. '30m', '1.5s', '3h', '30d')")
    return float(match.group(1)) * _UNIT_SECONDS[unit]


def parse_timestamp(text: str) -> datetime:
    """A time as PantherFlow writes one: RFC 3339, ``YYYY-MM-DD[ T]HH:MM:SS[.f][Z|±hh:mm]`` or a
    date; without a zone it is UTC. UserError otherwise."""
    try:
        return parse_utc_text(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"time.parse_timestamp: cannot read the time {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class FunctionTranslator:
    """The ``f_*`` function rules; ``text`` (a value as SQL text) comes from the expression half."""

    now: datetime

    def text(self, value: Value) -> str:  # pragma: no cover - provided by ExpressionTranslator
        raise NotImplementedError

    def aggregate(self, name: str, args: list[Value]) -> Value:
        if name == "agg.count":
            if args:
                raise UnsupportedConstruct("agg.count with an argument")
            return Value("COUNT(*)", "agg")
        if name in ("agg.arg_max", "agg.arg_min"):
            if len(args) != 2:
                raise UnsupportedConstruct(f"{name}(<ordering value>, <returned value>)")
            order, value = args
            return Value(f"{AGGREGATES[name]}({value.sql}, {order.sql})", "agg")
        if len(args) != 1:
            raise UnsupportedConstruct(f"{name} with {len(args)} arguments")
        arg = args[0]
        if name == "agg.count_distinct":
            return Value(f"COUNT(DISTINCT {self.text(arg) if arg.kind == 'variant' else arg.sql})", "agg")
        sql = f"{arg.sql}::number" if arg.kind == "variant" and name in ("agg.sum", "agg.avg") else arg.sql
        return Value(f"{AGGREGATES[name]}({sql})", "agg")

    def snowflake_func(self, func: str, args: list[Value]) -> Value:
        if func not in SUPPORTED_SNOWFLAKE_FUNCTIONS:
            raise UnsupportedConstruct(f"snowflake.func('{func}')")
        if func == "DATE" and len(args) == 1:
            return Value(f"DATE({args[0].sql})", "scalar")
        if func == "GET_PATH" and len(args) == 2 and args[0].kind == "variant" and args[1].kind == "string":
            return Value(colon_path(args[0].sql, get_path_parts(str(args[1].const))), "variant")
        raise UnsupportedConstruct(f"snowflake.func('{func}') with these arguments")

    def f_time_parse_timestamp(self, args: list[Value]) -> Value:
        if len(args) != 1 or args[0].kind != "string":
            raise UnsupportedConstruct("time.parse_timestamp of anything but a quoted time")
        moment = parse_timestamp(str(args[0].const))
        return Value(ts_literal(moment), "time", moment)

    def f_time_parse_timespan(self, args: list[Value]) -> Value:
        if len(args) != 1 or args[0].kind != "string":
            raise UnsupportedConstruct("time.parse_timespan of anything but a quoted timespan")
        seconds = span_seconds(str(args[0].const))
        return Value(repr(seconds), "timespan", seconds)

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
        if len(args) != 2 or _unit(args[0]) not in _TRUNC_UNITS:
            raise UnsupportedConstruct(
                "time.trunc(<unit>, <time>) with a unit other than " + "/".join(sorted(_TRUNC_UNITS))
            )
        return Value(f"DATE_TRUNC('{_unit(args[0])}', {_time(args[1])})", "time")

    def f_time_add(self, args: list[Value]) -> Value:
        if len(args) != 3 or args[1].kind not in _NUMERIC or _unit(args[2]) is None:
            raise UnsupportedConstruct("time.add(<time>, <number>, <unit>)")
        return Value(f"DATEADD({_unit(args[2])}, {args[1].sql}, {_time(args[0])})", "time")

    def f_time_diff(self, args: list[Value]) -> Value:
        if len(args) != 3 or _unit(args[0]) is None:
            raise UnsupportedConstruct("time.diff(<unit>, <time>, <time>)")
        return Value(f"DATEDIFF({_unit(args[0])}, {_time(args[1])}, {_time(args[2])})", "number")

    def f_time_slice(self, args: list[Value]) -> Value:
        if len(args) != 3 or args[1].kind not in _NUMERIC or _unit(args[2]) not in _TRUNC_UNITS:
            raise UnsupportedConstruct("time.slice(<time>, <number>, <unit>)")
        unit = _unit(args[2]).upper()
        return Value(f"TIME_SLICE({_time(args[0])}, {args[1].sql}, '{unit}')", "time")

    def f_strings_ilike(self, args: list[Value]) -> Value:
        if len(args) != 2:
            raise UnsupportedConstruct("strings.ilike with other than 2 arguments")
        return Value(f"({self.text(args[0])} ILIKE {self.text(args[1])})", "bool")

    def _string_function(self, name: str, args: list[Value]) -> Value:
        if len(args) != 2:
            raise UnsupportedConstruct(f"{name} with other than 2 arguments")
        return Value(f"{_STRING_FUNCTIONS[name]}({self.text(args[0])}, {self.text(args[1])})", "bool")

    def f_strings_contains(self, args):
        return self._string_function("strings.contains", args)

    def f_strings_starts_with(self, args):
        return self._string_function("strings.starts_with", args)

    def f_strings_ends_with(self, args):
        return self._string_function("strings.ends_with", args)

    def f_re_matches(self, args: list[Value]) -> Value:
        if len(args) != 2:
            raise UnsupportedConstruct("re.matches(<text>, <pattern>)")
        # a search, as the anchors pySigma writes (`'^...$'`) show; Snowflake's REGEXP_LIKE is anchored
        return Value(f"(REGEXP_INSTR({self.text(args[0])}, {self.text(args[1])}) > 0)", "bool")

    def f_arrays_overlap(self, args: list[Value]) -> Value:
        if len(args) != 2:
            raise UnsupportedConstruct("arrays.overlap(<array>, <array>)")
        return Value(f"ARRAYS_OVERLAP({args[0].sql}, {args[1].sql})", "bool")

    def _array_function(
        self, name: str, sql: str, args: list[Value], arity: int, kind: str = "variant"
    ) -> Value:
        if len(args) != arity:
            raise UnsupportedConstruct(f"{name} with {len(args)} argument(s) (it takes {arity})")
        return Value(f"{sql}({', '.join(a.sql for a in args)})", kind)

    def f_arrays_len(self, args):
        return self._array_function("arrays.len", "ARRAY_SIZE", args, 1, "number")

    def f_arrays_flatten(self, args):
        return self._array_function("arrays.flatten", "ARRAY_FLATTEN", args, 1)

    def f_arrays_difference(self, args):
        return self._array_function("arrays.difference", "ARRAY_EXCEPT", args, 2)

    def f_arrays_intersection(self, args):
        return self._array_function("arrays.intersection", "ARRAY_INTERSECTION", args, 2)

    def array_value(self, items: list[Value]) -> Value:  # pragma: no cover - provided by ExpressionTranslator
        raise NotImplementedError

    def f_array(self, args: list[Value]) -> Value:
        return self.array_value(args)

    def f_object(self, args: list[Value]) -> Value:
        if len(args) % 2 or any(a.kind != "string" for a in args[::2]):
            raise UnsupportedConstruct("object('<key>', <value>, ...)")
        return Value(f"OBJECT_CONSTRUCT({', '.join(a.sql for a in args)})", "variant")

    def f_time_parse_date(self, args: list[Value]) -> Value:
        if (
            len(args) != 1
            or args[0].kind != "string"
            or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(args[0].const))
        ):
            raise UnsupportedConstruct("time.parse_date('<YYYY-MM-DD>')")
        return Value(f"DATE '{args[0].const}'", "scalar")

    def f_math_round(self, args: list[Value]) -> Value:
        if len(args) != 2 or args[1].kind != "number":
            raise UnsupportedConstruct("math.round(<number>, <digits>)")
        return Value(f"ROUND({args[0].sql}, {args[1].sql})", "number")


def _unit(value: Value) -> str | None:
    """The canonical unit of a quoted unit argument (``'hour'``, ``'h'``, ``'minutes'``), or None."""
    return _UNIT_NAMES.get(str(value.const).lower()) if value.kind == "string" else None


def _time(value: Value) -> str:
    return f"{value.sql}::timestamp_ntz" if value.kind == "variant" else value.sql


def quoted_name(node) -> str | None:
    """The text of a string-literal parse node, or None."""
    return decode_string(str(node.children[0])) if str(getattr(node, "data", "")) == "string" else None
