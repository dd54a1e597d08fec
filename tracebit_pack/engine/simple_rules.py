"""Build a ``panther_core`` rule for any rule item: Python, Python + InlineFilters, or Simple Detection.

Panther runs all three with the same engine; offline, ``panther_core.rule.Rule`` runs the Python
ones and takes ``filters`` (run before ``rule()``). This module supplies what Panther's backend
would: ``InlineFilters`` become a ``panther_core`` filter built from the match-expression
evaluator (``match_expressions``), and a Simple Detection (YAML ``Detection:``, no ``Filename``)
becomes a ``Rule`` whose module is generated from its YAML: ``rule`` from ``Detection``,
``title`` from ``AlertTitle``, ``dedup`` from ``GroupBy``, ``severity`` from
``DynamicSeverities``, ``alert_context`` from ``AlertContext``. Anything the evaluator does not
implement raises ``NotEvaluated`` with the reason.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Callable, Mapping
from typing import Any

from panther_core.enriched_event import PantherEvent
from panther_core.filter import Filter
from panther_core.rule import Rule

from tracebit_pack.engine.match_expressions import (
    Predicate,
    Unsupported,
    compile_expressions,
    key_path_value,
    lookup,
)
from tracebit_pack.pack.items import AnalysisItem

_TITLE_FIELD = re.compile(r"\{([^{}]+)\}")


class NotEvaluated(Exception):
    """The offline engine cannot evaluate this item; ``str(err)`` says why."""


class MatchExpressionFilter(Filter):
    """A ``panther_core`` filter whose statement is a compiled match expression."""

    def __init__(self, predicate: Predicate):  # noqa: D107 - Filter.__init__ parses Panther's filter JSON
        # ``Rule.run`` calls ``filter`` on every event of the log type: a plain function stored on
        # the instance (no bound method built per call), the wrapper's class tested by identity.
        def run(event: Any) -> bool:
            # As panther_core's own Filter does: read the logged dict itself, not the PantherEvent
            # wrapper, so keys are matched exactly and no immutable wrapper is built per lookup.
            if event.__class__ is PantherEvent or isinstance(event, PantherEvent):
                event = event.raw_view()
            result = predicate(event)
            return result if result.__class__ is bool else bool(result)

        self.filter = run  # type: ignore[method-assign]


class _GeneratedRule(Rule):
    """A ``Rule`` whose module is given in the config (``"module"``) instead of loaded from a file."""

    @staticmethod
    def _load_detection(identifier: str, config: Mapping) -> types.ModuleType:
        return config["module"]


def inline_filters(item: AnalysisItem) -> list[Filter]:
    """The item's InlineFilters as panther_core filters (none: an empty list). Raises NotEvaluated."""
    spec = item.spec.get("InlineFilters")
    if not spec:
        return []
    try:
        predicate = compile_expressions(spec, inline=True)
    except Unsupported as err:
        raise NotEvaluated(f"InlineFilters: {err}") from None
    return [MatchExpressionFilter(predicate)]


def is_simple_detection(item: AnalysisItem) -> bool:
    return "Detection" in item.spec and not item.spec.get("Filename")


def build_rule(item: AnalysisItem, config: dict) -> Rule:
    """The panther_core rule for ``item`` (``config``: id, severity, dedup ... as for any rule).

    Raises NotEvaluated when the item has neither a body nor a Detection, or uses a
    construct the evaluator does not implement.
    """
    filters = inline_filters(item)
    if is_simple_detection(item):
        # panther_core requires a body or a path; _GeneratedRule uses the module instead
        config = {**config, "module": _simple_module(item), "body": "# generated from Detection"}
        rule: Rule = _GeneratedRule(config)
    elif item.body_path is not None:
        rule = Rule({**config, "path": str(item.body_path)})
    else:
        raise NotEvaluated("no Filename and no Detection")
    if filters:
        rule.filters = filters
    return rule


# --------------------------------------------------------------------------- simple detections


def _simple_module(item: AnalysisItem) -> types.ModuleType:
    spec = item.spec
    try:
        module = types.ModuleType(f"simple_detection_{item.id}")
        detection = compile_expressions(spec.get("Detection"))
        module.rule = detection
        if spec.get("AlertTitle") is not None:
            module.title = _title(str(spec["AlertTitle"]))
        if spec.get("GroupBy"):
            module.dedup = _group_by(spec["GroupBy"])
        if spec.get("AlertContext"):
            module.alert_context = _alert_context(spec["AlertContext"])
        if spec.get("DynamicSeverities"):
            module.severity = _dynamic_severity(
                spec["DynamicSeverities"], str(spec.get("Severity") or "INFO")
            )
    except Unsupported as err:
        raise NotEvaluated(f"Detection: {err}") from None
    return module


def _title(template: str) -> Callable[[Mapping], str]:
    """``AlertTitle``: each ``{KeyPath}`` replaced by the event's value ("" when missing)."""

    def render(event: Mapping) -> str:
        def field(match: re.Match) -> str:
            value = key_path_value(event, match[1].strip())
            return "" if value is None else str(value)

        return _TITLE_FIELD.sub(field, template)

    return render


def _check_key(spec: Any) -> Mapping:
    if not isinstance(spec, Mapping):
        raise Unsupported(f"key specifier must be a mapping: {spec!r}")
    lookup({}, spec)  # raises Unsupported for a malformed specifier
    return spec


def _group_by(specs: Any) -> Callable[[Mapping], str]:
    if not isinstance(specs, list):
        raise Unsupported("GroupBy must be a list of key specifiers")
    keys = [_check_key(s) for s in specs]
    return lambda event: ":".join("" if (v := lookup(event, k)) is None else str(v) for k in keys)


def _alert_context(entries: Any) -> Callable[[Mapping], dict]:
    if not isinstance(entries, list):
        raise Unsupported("AlertContext must be a list")
    pairs = []
    for entry in entries:
        if not isinstance(entry, Mapping) or "KeyName" not in entry or "KeyValue" not in entry:
            raise Unsupported(f"AlertContext entry needs KeyName and KeyValue: {entry!r}")
        pairs.append((str(entry["KeyName"]), _check_key(entry["KeyValue"])))

    def context(event: Mapping) -> dict:
        # through JSON so panther_core's immutable containers become plain values
        return json.loads(json.dumps({name: lookup(event, key) for name, key in pairs}, default=_plain))

    return context


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "__iter__"):
        return list(value)
    return str(value)


def _dynamic_severity(entries: Any, default: str) -> Callable[[Mapping], str]:
    if not isinstance(entries, list):
        raise Unsupported("DynamicSeverities must be a list")
    rules: list[tuple[str, Predicate]] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or "ChangeTo" not in entry:
            raise Unsupported(f"DynamicSeverities entry needs ChangeTo and Conditions: {entry!r}")
        rules.append((str(entry["ChangeTo"]).upper(), compile_expressions(entry.get("Conditions") or [])))

    def severity(event: Mapping) -> str:
        return next((level for level, test in rules if test(event)), default.upper())

    return severity
