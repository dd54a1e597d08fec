"""InlineFilters lowered to DuckDB SQL, so that events no rule would look at never leave DuckDB.

Panther evaluates a rule's ``InlineFilters`` before its Python ``rule()``; offline the same filter
runs in Python (``simple_rules.inline_filters``, on the logged dict, as panther_core's ``Filter``).
``rule_pushdown`` turns the filters of the rules of one log type into a SQL condition on the rule
event's JSON text; the loader keeps only the events for which it holds (``loading.ingest``).

The lowering is sound, never lossy: an event the Python filter would pass is always kept. Each
condition becomes SQL in three-valued logic: TRUE or FALSE where the SQL answer is exactly the
Python evaluator's (``match_expressions``), NULL ("cannot tell in SQL") anywhere else: a number
compared with a numeric string (Python's ``float()`` reads forms SQL does not), a case-folded
comparison of non-ASCII text, IP tests, ``[*]`` paths, multi-key conditions. ``AND``/``OR``/``NOT``
carry NULL as "unknown" (Kleene logic), and an event whose condition is NULL is kept; the Python
filter decides it.

The text of an event can also say something SQL would read differently from Python:
``json.loads`` keeps the last of repeated keys, while DuckDB's JSON path takes the first. So an
event is kept, whatever its condition, when a key name the filters read appears in its text more
than once, or the text has a ``\\u`` escape (a key may be spelled with one). Key names match
case-sensitively on both sides (the filters read the logged dict), and a key with a character JSON
may escape another way (``"``, ``\\``, ``/``) is not lowered: the Python filter decides.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracebit_pack.engine.match_expressions import NEGATED, Unsupported, key_steps, number
from tracebit_pack.text import lit

NUMERIC = "('BIGINT', 'UBIGINT', 'DOUBLE')"  # json_type of a JSON number
_PLAIN_KEY = re.compile(r"[\x20-\x7e]+")  # printable ASCII: counted in the text as written
_EXISTENCE = {
    "Exists": "{x} IS NOT NULL",
    "DoesNotExist": "{x} IS NULL",
    "IsNull": "({x} IS NULL OR json_type({x}) = 'NULL')",
    "IsNotNull": "({x} IS NOT NULL AND json_type({x}) <> 'NULL')",
    "IsNullOrEmpty": (
        "({x} IS NULL OR json_type({x}) = 'NULL' OR (json_type({x}) = 'VARCHAR' AND {x} ->> '$' = '') "
        "OR (json_type({x}) = 'ARRAY' AND json_array_length({x}) = 0) "
        "OR (json_type({x}) = 'OBJECT' AND CAST({x} AS VARCHAR) = '{{}}'))"
    ),
}
_EXISTENCE["IsNotNullOrEmpty"] = "NOT " + _EXISTENCE["IsNullOrEmpty"]
_TEXT = {
    "StartsWith": "starts_with({s}, {w})",
    "EndsWith": "suffix({s}, {w})",
    "Contains": "contains({s}, {w})",
}
_ORDER = {"IsGreaterThan": ">", "IsGreaterThanOrEqual": ">=", "IsLessThan": "<", "IsLessThanOrEqual": "<="}
_NEGATED = {**NEGATED, "IsNotIn": "IsIn"}


@dataclass
class Pushdown:
    """A condition on ``_f`` (the JSON values at ``paths``, extracted from the event text once) and
    on the event text itself; ``keys``: the key names whose spelling in the text is checked."""

    paths: list[str] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    condition: str = "TRUE"

    @property
    def reads_p_fields(self) -> bool:
        """Whether a key the condition reads (any case, any depth) could be a ``p_*`` field."""
        return any(key.lower().startswith("p_") for key in self.keys)

    def value(self, steps: Sequence[Any]) -> str | None:
        """SQL of the JSON value at ``steps`` (NULL when missing), or None: not expressible."""
        text = "$"
        for step in steps:
            if type(step) is int and step >= 0:
                text += f"[{step}]"
            elif type(step) is str and _PLAIN_KEY.fullmatch(step) and not set(step) & set('"\\/'):
                text += f'."{step}"'
                self.keys.add(step)
            else:  # [*], a negative index, a key the text check cannot count
                return None
        if text not in self.paths:
            self.paths.append(text)
        return f"_f[{self.paths.index(text) + 1}]"

    def where(self, text: str) -> str:
        """The condition on a row whose event text is the SQL ``text`` (``_f`` in scope)."""
        return f"({self.guard(text)} OR coalesce({self.condition}, TRUE))"

    def guard(self, text: str) -> str:
        """TRUE when the text may read differently in SQL and in Python (the event is kept): a key's
        quoted name written again after its first place (overlaps counted: only more cautious),
        or a ``\\u`` escape. One ``strpos`` and one ``contains`` per key, no copy of the text."""
        guards = [f"contains({text}, '\\u')"]
        for key in sorted(self.keys):
            quoted = lit(f'"{key}"')
            guards.append(f"contains(substr({text}, strpos({text}, {quoted}) + 1), {quoted})")
        return "(" + " OR ".join(guards) + ")"

    def select(self, source_sql: str, text: str = "doc") -> str:
        """The rows of ``source_sql`` that pass, with the same columns."""
        if not self.paths:
            return f"SELECT * FROM ({source_sql}) WHERE {self.where(text)}"
        extract = f"json_extract({text}, [{', '.join(lit(p) for p in self.paths)}])"
        return (
            f"SELECT * EXCLUDE (_f) FROM (SELECT *, {extract} AS _f FROM ({source_sql})) "
            f"WHERE {self.where(text)}"
        )


def rule_pushdown(filters_per_rule: Iterable[Any]) -> Pushdown | None:
    """The condition that keeps the events at least one of these rules' ``InlineFilters`` may pass.

    ``filters_per_rule``: each rule's ``InlineFilters`` (None or empty: the rule reads every event,
    so nothing can be left out: None is returned). Raises Unsupported as ``compile_expressions``.
    """
    pushdown = Pushdown()
    ors = []
    for filters in filters_per_rule:
        if not filters:
            return None
        ors.append(_all(pushdown, filters))
    pushdown.condition = " OR ".join(ors) if ors else "FALSE"
    return pushdown


def _all(pushdown: Pushdown, expressions: Any) -> str:
    if not isinstance(expressions, list):
        raise Unsupported(f"match expressions must be a list, got {type(expressions).__name__}")
    parts = [_lower(pushdown, e) for e in expressions]
    return "(" + " AND ".join(parts) + ")" if parts else "TRUE"


def _lower(pushdown: Pushdown, expr: Any) -> str:
    if not isinstance(expr, Mapping):
        raise Unsupported(f"match expression must be a mapping: {expr!r}")
    for name, joiner, empty in (("All", " AND ", "TRUE"), ("Any", " OR ", "FALSE")):
        if name in expr:
            inner = expr[name]
            if not isinstance(inner, list):
                raise Unsupported(f"{name} must hold a list of match expressions")
            parts = [_lower(pushdown, e) for e in inner]
            return "(" + joiner.join(parts) + ")" if parts else empty
    condition = expr.get("Condition")
    if condition in ("AlwaysTrue", "AlwaysFalse"):
        return "TRUE" if condition == "AlwaysTrue" else "FALSE"
    if (
        not isinstance(condition, str)
        or "Expressions" in expr
        or not any(k in expr for k in ("Key", "DeepKey", "KeyPath"))
    ):
        return "NULL"  # list comprehensions, multi-key conditions: the Python filter decides
    x = pushdown.value(key_steps(expr))
    if x is None:
        return "NULL"
    if condition in _EXISTENCE:
        return _EXISTENCE[condition].format(x=x)
    test = _test(x, condition, expr)
    # as the evaluator: a null or missing value fails the positive test; an inline filter on a
    # field the event does not have passes
    on_null = "TRUE" if condition in _NEGATED else "FALSE"
    return f"(CASE WHEN {x} IS NULL THEN TRUE WHEN json_type({x}) = 'NULL' THEN {on_null} ELSE {test} END)"


def _test(x: str, condition: str, expr: Mapping) -> str:
    """SQL of the test on a present, non-null value (negated conditions included)."""
    positive = _NEGATED.get(condition, condition)
    negate = condition in _NEGATED
    if "\x00" in repr(expr.get("Value")) + repr(expr.get("Values")):
        return "NULL"  # a NUL character cannot be placed in DuckDB's SQL text
    if positive == "IsIn":
        values = expr.get("Values") if "Values" in expr else [expr.get("Value")] if "Value" in expr else None
        if not isinstance(values, list) or not values:
            return "NULL"
        sql = "(" + " OR ".join(_equals(x, v, fold=False) for v in values) + ")"
    elif positive in ("Equals", "IEquals"):
        if "Value" not in expr:
            return "NULL"
        sql = _equals(x, expr["Value"], fold=positive == "IEquals")
    elif positive.removeprefix("I") in _TEXT and "Value" in expr:
        sql = _text(x, positive, str(expr["Value"]))
    elif positive in _ORDER and "Value" in expr:
        sql = _ordered(x, _ORDER[positive], number(expr["Value"]))
    else:  # IP tests and anything new: the Python filter decides
        return "NULL"
    return f"(NOT {sql})" if negate else sql


def _double(number: float) -> str:
    return f"CAST({lit(repr(number))} AS DOUBLE)"


def _ascii_text(x: str, test: str) -> str:
    """``test`` on the lower-cased string value where it is ASCII (casefold is lower there), else NULL."""
    s = f"({x} ->> '$')"
    return f"(CASE WHEN strlen({s}) = length({s}) THEN {test.format(s=f'lower({s})')} ELSE NULL END)"


def _equals(x: str, expected: Any, *, fold: bool) -> str:
    """SQL of ``match_expressions._equal(value, expected, fold)`` on a present, non-null value."""
    t = f"json_type({x})"
    as_double = f"TRY_CAST({x} ->> '$' AS DOUBLE)"
    if isinstance(expected, bool):
        return f"({t} = 'BOOLEAN' AND {x} ->> '$' = {lit(str(expected).lower())})"
    if isinstance(expected, int | float):
        wanted = float(expected)
        if math.isnan(wanted):
            return "FALSE"
        return (
            f"(CASE WHEN {t} IN {NUMERIC} THEN {as_double} = {_double(wanted)} "
            f"WHEN {t} = 'VARCHAR' THEN NULL ELSE FALSE END)"
        )
    if isinstance(expected, str):
        wanted = number(expected)
        numeric = "FALSE" if wanted is None or math.isnan(wanted) else f"{as_double} = {_double(wanted)}"
        if fold:
            text = _ascii_text(x, "{s} = " + lit(expected.casefold()))
        else:
            text = f"({x} ->> '$') = {lit(expected)}"
        return f"(CASE WHEN {t} IN {NUMERIC} THEN {numeric} WHEN {t} = 'VARCHAR' THEN {text} ELSE FALSE END)"
    return "FALSE"  # null, a list or an object equals nothing


def _text(x: str, condition: str, wanted: str) -> str:
    fold = condition.startswith("I")
    template = _TEXT[condition.removeprefix("I")]
    if fold:
        test = _ascii_text(x, template.format(s="{s}", w=lit(wanted.casefold())))
    else:
        test = template.format(s=f"({x} ->> '$')", w=lit(wanted))
    # Contains on a list is membership: the Python filter decides
    array = f"WHEN json_type({x}) = 'ARRAY' THEN NULL " if condition.endswith("Contains") else ""
    return f"(CASE WHEN json_type({x}) = 'VARCHAR' THEN {test} {array}ELSE FALSE END)"


def _ordered(x: str, operator: str, wanted: float | None) -> str:
    if wanted is None or math.isnan(wanted):
        return "FALSE"
    t = f"json_type({x})"
    return (
        f"(CASE WHEN {t} IN {NUMERIC} THEN TRY_CAST({x} ->> '$' AS DOUBLE) {operator} {_double(wanted)} "
        f"WHEN {t} = 'VARCHAR' THEN NULL ELSE FALSE END)"
    )
