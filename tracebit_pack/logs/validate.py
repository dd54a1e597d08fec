"""Check events against their Panther schema (the library behind ``validate-events [paths]``).

``validate_event(event, log_type)`` returns every problem as ``Problem(path, reason)``: wrong types,
missing required fields, timestamps that do not match the field's ``timeFormats`` (rfc3339 means
``YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm)``), values outside ``validate.allow``, and unknown fields
(keys are case-sensitive, as in Panther's data lake). ``json`` fields accept anything; a JSON
``null`` counts as absent.

``run_validation`` (the command ``validate-events``, in ``cli.validate``) checks
  * every test ``Log`` of every rule YAML (``AnalysisType: rule``) against the rule's ``LogTypes``
    (or the Log's ``p_log_type``, which must be one of them); standard ``p_*`` fields are allowed;
    tests of scheduled rules are skipped unless their Log names a known ``p_log_type``;
  * every line of every ``<LogType>.jsonl`` file (raw logs; an event with ``p_*`` fields is one
    exported from Panther, whose standard fields are checked as in a test Log).
Timestamps may also take the form Panther stores and exports (``2024-08-15 15:05:09.154000000``).
Directories are searched recursively. With no paths: rule YAMLs and ``.jsonl`` files under
``rules/``, and ``.jsonl`` files under ``scenarios/`` and ``tests/fixtures/`` (rule-shaped YAML
fixtures there are test inputs of other stages, not events).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tracebit_pack.errors import UserError
from tracebit_pack.logs.schemas import ALL_P_ANY, LOG_TYPES, FieldSpec, load_schema, log_type_of_file
from tracebit_pack.logs.schemas import read_jsonl as _read_jsonl
from tracebit_pack.pack import items as analysis
from tracebit_pack.times import parse_with_formats as parse_time

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

# Standard fields Panther adds to every row (allowed in rule test Logs, never in raw logs).
_PANTHER_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$")
STANDARD_FIELDS: dict[str, str] = {
    "p_log_type": "string",
    "p_row_id": "string",
    "p_event_time": "p_time",
    "p_parse_time": "p_time",
    "p_schema_version": "int",
    "p_source_id": "string",
    "p_source_label": "string",
    "p_source_file": "object",
    "p_udm": "object",
    "p_enrichment": "object",
    **{name: "p_any" for name in ALL_P_ANY},
    # Rule-match and signal rows (panther_rule_matches / panther_signals tables, and events copied
    # from an alert) carry the match: the rule, its tags and report mappings, the alert.
    "p_rule_id": "string",
    "p_rule_tags": "strings",
    "p_rule_reports": "reports",
    "p_rule_error": "string",
    "p_rule_severity": "severity",
    "p_alert_id": "string",
    "p_alert_context": "object",
    "p_alert_severity": "severity",
    "p_alert_creation_time": "p_time",
    "p_alert_update_time": "p_time",
}
SEVERITIES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")


@dataclass(frozen=True)
class Problem:
    """One schema problem: the field path (``a.b[0].c``; empty for the event itself) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path or '<event>'}: {self.reason}"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


# The JSON shape each Panther type needs. ``bool`` is an ``int`` in Python, so it fits only the
# types that list it; the value itself is shown where it is short and tells more than its type.
_SHAPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "bigint": (int,),
    "float": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
_SHOW_VALUE = frozenset({"int", "bigint", "boolean"})


def _shape_problem(value: object, t: str) -> str | None:
    shape = _SHAPES.get(t)
    if shape is None or (isinstance(value, shape) and (bool in shape or not isinstance(value, bool))):
        return None
    return f"expected {t}, got {_type_name(value)}" + (f" {value!r}" if t in _SHOW_VALUE else "")


def _check_value(value: object, spec: FieldSpec, path: str, out: list[Problem]) -> None:
    t = spec.type
    if t == "json":
        return
    problem = _shape_problem(value, t)
    if problem:
        out.append(Problem(path, problem))
        return
    if t in ("int", "bigint"):
        low, high = INT32 if t == "int" else INT64
        if not low <= value <= high:
            out.append(Problem(path, f"{value} is out of range for {t}"))
            return
    elif t == "timestamp":
        try:
            parse_time(value, spec.time_formats)
        except ValueError as err:
            out.append(Problem(path, f"bad timestamp ({'/'.join(spec.time_formats)}): {err}"))
            return
    elif t == "object":
        _check_object(value, spec.fields, path, out)
        return
    elif t == "array":
        assert spec.element is not None
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            if item is None:
                out.append(Problem(where, "null array element"))
            else:
                _check_value(item, spec.element, where, out)
        return
    if spec.allow and str(value) not in spec.allow:
        out.append(Problem(path, f"value {value!r} not allowed (allowed: {', '.join(spec.allow)})"))


_FIELD_MAPS: dict[int, tuple[tuple[FieldSpec, ...], dict[str, FieldSpec], dict[str, str]]] = {}


def _field_maps(fields: tuple[FieldSpec, ...]) -> tuple[dict[str, FieldSpec], dict[str, str]]:
    """``{name: spec}`` and ``{lower-case name: name}`` of an object's fields, built once per schema."""
    cached = _FIELD_MAPS.get(id(fields))
    if cached is None or cached[0] is not fields:
        cached = (fields, {f.name: f for f in fields}, {f.name.lower(): f.name for f in fields})
        _FIELD_MAPS[id(fields)] = cached
    return cached[1], cached[2]


def _check_object(
    obj: dict, fields: tuple[FieldSpec, ...], prefix: str, out: list[Problem], *, standard: bool = False
) -> None:
    known, lowered = _field_maps(fields)
    for spec in fields:
        if spec.required and obj.get(spec.name) is None:
            out.append(Problem(_join(prefix, spec.name), "required field missing"))
    for key, value in obj.items():
        path = _join(prefix, str(key))
        spec = known.get(key)
        if spec is None:
            if standard and key in STANDARD_FIELDS:
                _check_standard(key, value, out)
            elif str(key).startswith("p_") and not prefix:
                where = "a raw log (Panther adds it)" if not standard else "Panther's standard fields"
                out.append(Problem(path, f"standard field not allowed here: not in {where}"))
            elif str(key).lower() in lowered:
                out.append(
                    Problem(
                        path,
                        f"unknown field (keys are case-sensitive: did you mean "
                        f"{lowered[str(key).lower()]!r}?)",
                    )
                )
            else:
                out.append(Problem(path, "unknown field"))
            continue
        if value is not None:
            _check_value(value, spec, path, out)


def _check_standard(key: str, value: object, out: list[Problem]) -> None:
    kind = STANDARD_FIELDS[key]
    if value is None:
        return
    if kind == "string" and not isinstance(value, str):
        out.append(Problem(key, f"expected string, got {_type_name(value)}"))
    elif kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        out.append(Problem(key, f"expected int, got {_type_name(value)}"))
    elif kind == "object" and not isinstance(value, dict):
        out.append(Problem(key, f"expected object, got {_type_name(value)}"))
    elif kind == "p_time" and not (isinstance(value, str) and _PANTHER_TIME.match(value)):
        out.append(Problem(key, f"expected a timestamp 'YYYY-MM-DD HH:MM:SS.ffffff', got {value!r}"))
    elif kind in ("p_any", "strings") and not _strings(value):
        out.append(Problem(key, "expected a list of strings"))
    elif kind == "reports" and not (
        isinstance(value, dict) and all(isinstance(k, str) and _strings(v) for k, v in value.items())
    ):
        out.append(Problem(key, "expected an object of report name to a list of strings"))
    elif kind == "severity" and value not in SEVERITIES:
        out.append(Problem(key, f"expected one of {', '.join(SEVERITIES)}, got {value!r}"))


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def validate_event(event: object, log_type: str, *, standard_fields: bool = True) -> list[Problem]:
    """Every way ``event`` does not conform to the schema of ``log_type`` (empty list: conforms).

    ``standard_fields=True`` (rule test Logs) accepts Panther's standard ``p_*`` fields and checks
    their types (``p_log_type`` must equal ``log_type``); ``False`` (raw logs) rejects them.
    Raises UserError for an unknown log type.
    """
    schema = load_schema(log_type)
    if not isinstance(event, dict):
        return [Problem("", f"expected a JSON object, got {_type_name(event)}")]
    out: list[Problem] = []
    _check_object(event, schema.fields, "", out, standard=standard_fields)
    if standard_fields and event.get("p_log_type") not in (None, log_type):
        out.append(Problem("p_log_type", f"{event['p_log_type']!r} does not match log type {log_type!r}"))
    return out


# --------------------------------------------------------------------------- the command


@dataclass
class Report:
    events: int = 0
    files: int = 0
    skipped: int = 0
    lines: list[str] = field(default_factory=list)


def candidate_log_types(spec: dict, log: dict) -> tuple[list[str], str | None]:
    """Log types to check a rule test Log against (its ``p_log_type``, else the rule's ``LogTypes``
    that have a schema here), or a reason to report instead."""
    rule_types = [str(t) for t in spec.get("LogTypes") or []]
    declared = log.get("p_log_type")
    if declared is not None:
        if rule_types and declared not in rule_types:
            return [], f"p_log_type {declared!r} is not one of the rule's LogTypes {rule_types}"
        return ([declared] if declared in LOG_TYPES else []), None
    return [t for t in rule_types if t in LOG_TYPES], None


def closest_schema(log: dict, candidates: list[str]) -> tuple[str, list[Problem]] | None:
    """None if ``log`` conforms to one of the ``candidates`` log types (or there are none); else the
    candidate it is closest to (fewest problems) and those problems."""
    results = [(t, validate_event(log, t)) for t in candidates]
    if not results or any(not problems for _, problems in results):
        return None
    return min(results, key=lambda r: len(r[1]))


def check_rule_file(path: Path, spec: dict, report: Report) -> None:
    kind = spec.get("AnalysisType")
    for index, test in enumerate(spec.get("Tests") or []):
        name = (test or {}).get("Name") or f"test #{index + 1}"
        log = (test or {}).get("Log")
        if log is None:
            continue
        if not isinstance(log, dict):
            report.lines.append(f"{path}: {name}: <event>: Log must be a mapping")
            report.events += 1
            continue
        if kind == "scheduled_rule" and log.get("p_log_type") not in LOG_TYPES:
            report.skipped += 1  # a row of a scheduled query, not a log
            continue
        candidates, reason = candidate_log_types(spec, log)
        report.events += 1
        if reason:
            report.lines.append(f"{path}: {name}: p_log_type: {reason}")
            continue
        if not candidates:
            report.skipped += 1
            report.events -= 1
            continue
        found = closest_schema(log, candidates)
        if found is None:
            continue
        log_type, problems = found
        suffix = f" [{log_type}]" if len(candidates) > 1 else ""
        for problem in problems:
            report.lines.append(f"{path}: {name}: {problem}{suffix}")


def check_jsonl_file(path: Path, report: Report) -> None:
    log_type = log_type_of_file(path)
    for number, event in _read_jsonl(path):
        report.events += 1
        exported = any(str(key).startswith("p_") for key in event)  # copied from Panther
        for problem in validate_event(event, log_type, standard_fields=exported):
            report.lines.append(f"{path}:{number}: {problem}")


def _display(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _files(paths: Iterable[Path], suffixes: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in suffixes))
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"{path}: no such file or directory")
    return [_display(p) for p in found]


def run_validation(paths: Iterable[Path], *, jsonl_only: Iterable[Path] = ()) -> Report:
    """Validate rule YAMLs and ``.jsonl`` files under ``paths`` (and only ``.jsonl`` files under
    ``jsonl_only``); the problems are in ``Report.lines``."""
    report = Report()
    files = _files(paths, (".yml", ".yaml", ".jsonl")) + _files(jsonl_only, (".jsonl",))
    for path in files:
        if path.suffix == ".jsonl":
            check_jsonl_file(path, report)
            report.files += 1
            continue
        spec = analysis.load_yaml(path)
        if isinstance(spec, dict) and spec.get("AnalysisType") in ("rule", "scheduled_rule"):
            check_rule_file(path, spec, report)
            report.files += 1
    return report
