"""Panther match expressions (``Detection:``, ``InlineFilters:``, ``DynamicSeverities``) offline.

Panther compiles a YAML match expression server-side; ``pat test`` cannot evaluate one offline.
``compile_expressions`` turns the list that PAT's schema accepts
(``detection_schemas/analysis_config_schema.json``: ``MatchExpressions`` and
``InlineFilterMatchExpressions``) into a predicate over an event, once, at load time. Anything
this module does not implement raises ``Unsupported`` with the reason, so the caller reports
the item as "not evaluated" instead of running it with a silently different meaning.
docs/simple-detections.md lists the supported conditions and the semantics chosen.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

Predicate = Callable[[Mapping], bool]

_MISSING = object()
_KEY_SPECS = ("Key", "DeepKey", "KeyPath")
_INDEX = re.compile(r"^(?P<name>[^\[\]]*)(?P<indexes>(\[(-?\d+|\*)\])*)$")
_INDEX_PART = re.compile(r"\[(-?\d+|\*)\]")


class _Wildcard:
    """The ``[*]`` KeyPath step: every element of a list (the value becomes the list of results)."""

    def __repr__(self) -> str:
        return "[*]"


WILDCARD = _Wildcard()


class Unsupported(Exception):
    """A construct the offline evaluator does not implement (the item is "not evaluated")."""


# --------------------------------------------------------------------------- key specifiers


def compile_key(spec: Mapping) -> tuple[str, Callable[[Any], Any]]:
    """``Key``/``DeepKey``/``KeyPath`` -> (display name, getter returning the value or _MISSING)."""
    path = key_steps(spec)
    if len(path) == 1 and isinstance(path[0], str):  # a top-level field: one lookup, no walk
        name = path[0]

        def field(event: Any) -> Any:
            if not isinstance(event, Mapping):
                return _MISSING
            return event.get(name, _MISSING)

        return name, field
    return ".".join(str(p) for p in path), lambda event: _walk(event, path)


def key_steps(spec: Mapping) -> list[Any]:
    """The path a key specifier names: field names, list indexes and ``WILDCARD``. Raises Unsupported."""
    present = [name for name in _KEY_SPECS if name in spec]
    if len(present) != 1:
        raise Unsupported(f"expected exactly one of Key, DeepKey, KeyPath in {dict(spec)!r}")
    kind = present[0]
    raw = spec[kind]
    if kind == "Key":
        if not isinstance(raw, str):
            raise Unsupported(f"Key must be a string: {raw!r}")
        path: list[str | int] = [raw]
    elif kind == "DeepKey":
        if not isinstance(raw, list) or not raw or not all(isinstance(p, str | int) for p in raw):
            raise Unsupported(f"DeepKey must be a non-empty list of names and indexes: {raw!r}")
        path = list(raw)
    else:
        path = _parse_key_path(raw)
    return path


def _parse_key_path(text: Any) -> list[Any]:
    if not isinstance(text, str) or not text:
        raise Unsupported(f"KeyPath must be a non-empty string: {text!r}")
    path: list[Any] = []
    for part in text.split("."):
        match = _INDEX.match(part)
        if not match or (not match["name"] and not match["indexes"]):
            raise Unsupported(f"KeyPath {text!r}: cannot parse {part!r}")
        if match["name"]:
            path.append(match["name"])
        path.extend(WILDCARD if i == "*" else int(i) for i in _INDEX_PART.findall(match["indexes"]))
    return path


def _walk(value: Any, path: Sequence[Any]) -> Any:
    for n, step in enumerate(path):
        if step is WILDCARD:
            if not _is_list(value):
                return _MISSING
            found = [_walk(element, path[n + 1 :]) for element in value]
            rest_has_wildcard = any(s is WILDCARD for s in path[n + 1 :])
            flat: list[Any] = []
            for item in found:
                if item is _MISSING:
                    continue
                if rest_has_wildcard and _is_list(item):
                    flat.extend(item)
                else:
                    flat.append(item)
            return flat
        if isinstance(step, int):
            if not _is_list(value) or not -len(value) <= step < len(value):
                return _MISSING
            value = value[step]
        else:
            if not isinstance(value, Mapping):
                return _MISSING
            value = value.get(step, _MISSING)  # one lookup (case-insensitive in a PantherEvent)
            if value is _MISSING:
                return _MISSING
    return value


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


# --------------------------------------------------------------------------- value comparisons


def number(value: Any) -> float | None:
    """A value as the evaluator reads a number: ``float()`` of a string's stripped text; None for
    booleans and anything else (the SQL lowering, ``match_sql``, reads numbers the same way)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _equal(actual: Any, expected: Any, fold: bool = False) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual is expected
    if isinstance(actual, int | float) or isinstance(expected, int | float):
        a, b = number(actual), number(expected)
        return a is not None and b is not None and a == b
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold() if fold else actual == expected
    return False


def _text_test(test: Callable[[str, str], bool], fold: bool) -> Callable[[Any, Any], bool]:
    def run(actual: Any, expected: Any) -> bool:
        if not isinstance(actual, str):
            return False
        wanted = str(expected)
        if fold:
            return test(actual.casefold(), wanted.casefold())
        return test(actual, wanted)

    return run


def _contains(fold: bool) -> Callable[[Any, Any], bool]:
    substring = _text_test(lambda a, b: b in a, fold)

    def run(actual: Any, expected: Any) -> bool:
        if _is_list(actual):  # a list field: membership
            return any(_equal(element, expected, fold) for element in actual)
        return substring(actual, expected)

    return run


def _ordered(test: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def run(actual: Any, expected: Any) -> bool:
        a, b = number(actual), number(expected)
        return a is not None and b is not None and test(a, b)

    return run


def _ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _network(text: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        raise Unsupported(f"not a CIDR: {text!r}") from None


# Key/value conditions: name -> (comparison, negated). A negated condition is true when the
# positive one is false, including on a null or missing value.
_POSITIVE: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": _equal,
    "IEquals": lambda a, b: _equal(a, b, fold=True),
    "Contains": _contains(False),
    "IContains": _contains(True),
    "StartsWith": _text_test(str.startswith, False),
    "IStartsWith": _text_test(str.startswith, True),
    "EndsWith": _text_test(str.endswith, False),
    "IEndsWith": _text_test(str.endswith, True),
    "IsGreaterThan": _ordered(lambda a, b: a > b),
    "IsGreaterThanOrEqual": _ordered(lambda a, b: a >= b),
    "IsLessThan": _ordered(lambda a, b: a < b),
    "IsLessThanOrEqual": _ordered(lambda a, b: a <= b),
}
NEGATED = {  # negated condition -> the positive one it negates
    "DoesNotEqual": "Equals",
    "IDoesNotEqual": "IEquals",
    "DoesNotContain": "Contains",
    "IDoesNotContain": "IContains",
    "DoesNotStartWith": "StartsWith",
    "IDoesNotStartWith": "IStartsWith",
    "DoesNotEndWith": "EndsWith",
    "IDoesNotEndWith": "IEndsWith",
}
_MULTI_KEY = ("Equals", "DoesNotEqual", "IEquals", "IDoesNotEqual") + tuple(
    name for name in _POSITIVE if name.startswith("IsGreater") or name.startswith("IsLess")
)


def _empty(value: Any) -> bool:
    return value is _MISSING or value is None or (isinstance(value, str | Sequence | Mapping) and not value)


# Conditions that take no Value: name -> test of the (possibly missing) value.
_UNARY: dict[str, Callable[[Any], bool]] = {
    "Exists": lambda v: v is not _MISSING,
    "DoesNotExist": lambda v: v is _MISSING,
    "IsNull": lambda v: v is _MISSING or v is None,
    "IsNotNull": lambda v: v is not _MISSING and v is not None,
    "IsNullOrEmpty": _empty,
    "IsNotNullOrEmpty": lambda v: not _empty(v),
    "IsIPAddress": lambda v: _ip(v) is not None,
    "IsIPv4Address": lambda v: isinstance(_ip(v), ipaddress.IPv4Address),
    "IsIPv6Address": lambda v: isinstance(_ip(v), ipaddress.IPv6Address),
    "IsIPAddressPublic": lambda v: (ip := _ip(v)) is not None and ip.is_global,
    "IsIPAddressPrivate": lambda v: (ip := _ip(v)) is not None and ip.is_private,
}
_EXISTENCE = ("Exists", "DoesNotExist", "IsNull", "IsNotNull", "IsNullOrEmpty", "IsNotNullOrEmpty")


def _only_one(results: Iterable[bool]) -> bool:
    return sum(1 for r in results if r) == 1


def _none(results: Iterable[bool]) -> bool:
    return not any(results)


_COMBINATORS: dict[str, Callable[[Iterable[bool]], bool]] = {
    "All": all,
    "Any": any,
    "OnlyOne": _only_one,
    "None": _none,
}
_INLINE_COMBINATORS = ("All", "Any")
_ELEMENT_CONDITIONS: dict[str, Callable[[Iterable[bool]], bool]] = {
    "AnyElement": any,
    "AllElements": all,
    "OnlyOneElement": _only_one,
    "NoElement": _none,
}

SUPPORTED_CONDITIONS = tuple(
    sorted({*_POSITIVE, *NEGATED, *_UNARY, "IsIn", "IsNotIn", "IsIPAddressInCIDR", "IsIPAddressNotInCIDR"})
)


# --------------------------------------------------------------------------- compiling


def compile_expressions(expressions: Any, inline: bool = False) -> Predicate:
    """A list of match expressions (implicitly ``All``) -> predicate. Raises Unsupported.

    ``inline=True`` applies the InlineFilters rules: only ``All``/``Any`` combinators, and a
    filter on a field the event does not have passes (Panther's documented behaviour).
    """
    if expressions is None:
        return lambda event: True
    if not isinstance(expressions, list):
        raise Unsupported(f"match expressions must be a list, got {type(expressions).__name__}")
    parts = [_compile(expr, inline) for expr in expressions]
    if len(parts) == 1:  # the usual InlineFilters: one condition, called directly
        return parts[0]
    return lambda event: all(part(event) for part in parts)


def _compile(expr: Any, inline: bool) -> Predicate:
    if not isinstance(expr, Mapping):
        raise Unsupported(f"match expression must be a mapping: {expr!r}")
    if "Enrichment" in expr:
        raise Unsupported("enrichment match expressions need lookup table data")
    combinator = [name for name in _COMBINATORS if name in expr]
    if combinator:
        return _compile_combinator(expr, combinator[0], inline)
    condition = expr.get("Condition")
    if not isinstance(condition, str):
        raise Unsupported(f"match expression without a Condition: {dict(expr)!r}")
    if condition in ("AlwaysTrue", "AlwaysFalse"):
        answer = condition == "AlwaysTrue"
        return lambda event: answer
    if "Expressions" in expr:
        return _compile_elements(expr, condition, inline)
    if not any(name in expr for name in _KEY_SPECS):
        return _compile_multi_key(expr, condition)
    return _compile_key_condition(expr, condition, inline)


def _compile_combinator(expr: Mapping, name: str, inline: bool) -> Predicate:
    if len(expr) != 1:
        raise Unsupported(f"{name} must be the only key of its expression: {dict(expr)!r}")
    if inline and name not in _INLINE_COMBINATORS:
        raise Unsupported(f"InlineFilters do not allow the {name} combinator")
    inner = expr[name]
    if not isinstance(inner, list):
        raise Unsupported(f"{name} must hold a list of match expressions")
    parts = [_compile(e, inline) for e in inner]
    combine = _COMBINATORS[name]
    return lambda event: combine(part(event) for part in parts)


def _compile_elements(expr: Mapping, condition: str, inline: bool) -> Predicate:
    if inline:
        raise Unsupported("InlineFilters do not allow list comprehension expressions")
    if condition not in _ELEMENT_CONDITIONS:
        raise Unsupported(f"list comprehension condition {condition!r} is not supported offline")
    _, get = compile_key({k: v for k, v in expr.items() if k in _KEY_SPECS})
    inner = compile_expressions(expr["Expressions"])
    combine = _ELEMENT_CONDITIONS[condition]

    def run(event: Mapping) -> bool:
        value = get(event)
        if not _is_list(value):
            return condition == "NoElement"
        return combine(inner(e if isinstance(e, Mapping) else {}) for e in value)

    return run


def _compile_multi_key(expr: Mapping, condition: str) -> Predicate:
    specs = expr.get("Values")
    if not isinstance(specs, list) or len(specs) != 2 or not all(isinstance(s, Mapping) for s in specs):
        raise Unsupported(f"match expression without a key: {dict(expr)!r}")
    if condition not in _MULTI_KEY:
        raise Unsupported(f"multi-key condition {condition!r} is not supported offline")
    (_, left), (_, right) = compile_key(specs[0]), compile_key(specs[1])
    negated = condition.startswith("DoesNot") or condition.startswith("IDoesNot")
    compare = _POSITIVE[NEGATED.get(condition, condition)]

    def run(event: Mapping) -> bool:
        a, b = left(event), right(event)
        if a is _MISSING or b is _MISSING or a is None or b is None:
            return negated
        return compare(a, b) != negated

    return run


def _compile_key_condition(expr: Mapping, condition: str, inline: bool) -> Predicate:
    key = {k: v for k, v in expr.items() if k in _KEY_SPECS}
    _, get = compile_key(key)
    test = _leaf_test(expr, condition)
    existence = condition in _EXISTENCE

    def run(event: Mapping) -> bool:
        value = get(event)
        if value is _MISSING and inline and not existence:
            return True  # an inline filter on a field the event lacks passes
        return test(value)

    return _plain_equality(key, expr, condition, inline, run) or run


def _plain_equality(
    key: Mapping, expr: Mapping, condition: str, inline: bool, general: Predicate
) -> Predicate | None:
    """``run`` above, inlined for its commonest cases, or None: ``IsIn`` / ``IsNotIn`` of strings,
    ``Equals`` / ``DoesNotEqual`` of one string or boolean, on a field reached through named keys
    only. An InlineFilter on an event name, a subtype or a health flag tests one of these on every
    event of its log type.

    Decided here, through plain dicts (one lookup per key, no call per step): a value of the
    candidates' own type (one set lookup: for it, ``_equal`` is plain equality), a null (it fails
    the positive conditions, passes the negated ones) and a missing key (it passes an InlineFilter,
    else as a null). Any other event or value goes through ``general`` (that ``run``), so the
    answer is always its answer.
    """
    path = key_steps(key)
    if condition in ("IsIn", "IsNotIn"):
        candidates = expr.get("Values")
    elif condition in ("Equals", "DoesNotEqual") and "Value" in expr:
        candidates = [expr["Value"]]
    else:
        return None
    if not all(isinstance(step, str) for step in path) or not isinstance(candidates, list) or not candidates:
        return None
    kinds = {type(c) for c in candidates}
    if kinds not in ({str}, {bool}):
        return None
    (kind,) = kinds
    steps, wanted = tuple(path), frozenset(candidates)
    negated = condition in ("IsNotIn", "DoesNotEqual")

    if len(steps) == 1:  # a top-level field (an event name, a classification): no loop
        (step,) = steps

        def run_top(event: Any) -> bool:
            if type(event) is not dict:  # noqa: E721 - exactly a dict: its get is the plain lookup
                return general(event)
            value = event.get(step, _MISSING)
            if type(value) is kind:  # noqa: E721 - exactly the candidates' type (a bool is not an int)
                return (value in wanted) != negated
            if value is _MISSING:
                return inline or negated
            if value is None:
                return negated
            return general(event)

        return run_top

    def run(event: Any) -> bool:
        value = event
        for step in steps:
            if type(value) is not dict:  # noqa: E721 - exactly a dict: its get is the plain lookup
                return general(event)
            value = value.get(step, _MISSING)
            if value is _MISSING:
                return inline or negated
        if type(value) is kind:  # noqa: E721 - exactly the candidates' type (a bool is not an int)
            return (value in wanted) != negated
        if value is None:
            return negated
        return general(event)

    return run


def _leaf_test(expr: Mapping, condition: str) -> Callable[[Any], bool]:
    """The test one key's value must pass (the value may be _MISSING)."""
    has_value, has_values = "Value" in expr, "Values" in expr
    if condition in _UNARY:
        if has_value or has_values:
            raise Unsupported(f"condition {condition!r} takes no Value")
        return _UNARY[condition]
    if condition in ("IsIn", "IsNotIn", "IsIPAddressInCIDR", "IsIPAddressNotInCIDR"):
        values = expr.get("Values") if has_values else [expr.get("Value")] if has_value else None
        if not isinstance(values, list) or not values:
            raise Unsupported(f"condition {condition!r} needs Values")
        negated = "Not" in condition
        if "CIDR" in condition:
            networks = [_network(v) for v in values]

            def member(v: Any) -> bool:
                ip = _ip(v)
                return ip is not None and any(ip.version == n.version and ip in n for n in networks)

        else:
            # a string is compared with string candidates by equality alone (_equal): one set lookup,
            # which is what an InlineFilter on an event name costs on every event
            strings = frozenset(c for c in values if isinstance(c, str))
            others = [c for c in values if not isinstance(c, str)]

            def member(v: Any) -> bool:
                if isinstance(v, str):
                    return v in strings or any(_equal(v, candidate) for candidate in others)
                return any(_equal(v, candidate) for candidate in values)

        return lambda v: (v is not _MISSING and v is not None and member(v)) != negated
    if condition in _POSITIVE or condition in NEGATED:
        if not has_value:
            raise Unsupported(f"condition {condition!r} needs a Value")
        expected = expr["Value"]
        negated = condition in NEGATED
        compare = _POSITIVE[NEGATED.get(condition, condition)]
        return lambda v: (v is not _MISSING and v is not None and compare(v, expected)) != negated
    raise Unsupported(f"condition {condition!r} is not supported offline")


# --------------------------------------------------------------------------- reading fields


def lookup(event: Mapping, spec: Mapping) -> Any:
    """The value a key specifier names in ``event`` (None when missing). Raises Unsupported."""
    _, get = compile_key(spec)
    value = get(event)
    return None if value is _MISSING else value


def key_path_value(event: Mapping, path: str) -> Any:
    """The value at a dotted ``KeyPath`` (None when missing or unparsable)."""
    try:
        return lookup(event, {"KeyPath": path})
    except Unsupported:
        return None
