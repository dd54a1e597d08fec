"""Panther log schemas as a field tree, and the ``<LogType>.jsonl`` files that hold raw logs.

The six schemas in ``tracebit_pack/logs/panther_schemas/`` are the contract: validation, enrichment and the
embedded lake are all computed from them.

Public API:
    LOG_TYPES                      sorted tuple of the log types that have a schema
    load_schema(log_type) -> Schema (cached; UserError for an unknown log type)
    FieldSpec                      name, type, required, fields, element, indicators, allow,
                                   is_event_time, time_formats
    read_jsonl(path) -> [(line_number, event_dict)]   (InputError at file:line if malformed)
    split_ndjson(text) -> lines    (split on ``\n`` only: U+2028, U+2029, U+0085 stay inside a line)
    loads_json(text) -> value      (json.loads; ValueError for nesting, huge integers, NaN, lone surrogates)
    log_type_of_file(path) -> str  (``AWS.CloudTrail.jsonl`` -> ``AWS.CloudTrail``; UserError if unknown)
    (times are parsed and formatted in ``tracebit_pack.times``)
"""

from __future__ import annotations

import functools
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from tracebit_pack.errors import InputError, Location, UserError
from tracebit_pack.yaml_loader import safe_load

SCHEMA_DIR = Path(__file__).resolve().parent / "panther_schemas"

# Panther schema field types.
SCALAR_TYPES = ("string", "int", "bigint", "float", "boolean", "timestamp")
NESTED_TYPES = ("object", "array", "json")
FIELD_TYPES = SCALAR_TYPES + NESTED_TYPES

# Schema indicator -> the p_any_* columns it can fill (panther.md section 4).
INDICATOR_COLUMNS: dict[str, tuple[str, ...]] = {
    "ip": ("p_any_ip_addresses",),
    "domain": ("p_any_domain_names",),
    "hostname": ("p_any_domain_names", "p_any_ip_addresses"),
    "url": ("p_any_domain_names", "p_any_ip_addresses"),
    "net_addr": ("p_any_domain_names", "p_any_ip_addresses"),
    "email": ("p_any_emails",),
    "username": ("p_any_usernames",),
    "aws_arn": ("p_any_aws_arns", "p_any_aws_account_ids", "p_any_aws_instance_ids", "p_any_emails"),
    "aws_arn_only": ("p_any_aws_arns",),
    "aws_account_id": ("p_any_aws_account_ids",),
    "aws_instance_id": ("p_any_aws_instance_ids",),
    "aws_tag": ("p_any_aws_tags",),
    "md5": ("p_any_md5_hashes",),
    "sha1": ("p_any_sha1_hashes",),
    "sha256": ("p_any_sha256_hashes",),
    "trace_id": ("p_any_trace_ids",),
    "actor_id": ("p_any_actor_ids",),
}
ALL_P_ANY = tuple(sorted({c for cols in INDICATOR_COLUMNS.values() for c in cols}))


@dataclass(frozen=True)
class FieldSpec:
    """One schema field (or the ``element`` of an array, whose name is empty)."""

    name: str
    type: str
    required: bool = False
    description: str = ""
    fields: tuple[FieldSpec, ...] = ()
    element: FieldSpec | None = None
    indicators: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    is_event_time: bool = False
    time_formats: tuple[str, ...] = ()

    def field(self, name: str) -> FieldSpec | None:
        """The child field ``name`` of an object field (case-sensitive), or None."""
        return _index(self.fields).get(name)

    @property
    def is_nested(self) -> bool:
        return self.type in NESTED_TYPES


@dataclass(frozen=True)
class Schema:
    """A log type's schema: its top-level fields."""

    log_type: str
    description: str
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec | None:
        return _index(self.fields).get(name)

    @functools.cached_property  # schemas are loaded once (load_schema); computed once each
    def event_time_path(self) -> tuple[str, ...] | None:
        """Path of the ``isEventTime`` field (outside arrays), or None."""
        return _find_event_time(self.fields, ())

    @functools.cached_property
    def p_any_columns(self) -> tuple[str, ...]:
        """The p_any_* columns this log type's indicators can fill (sorted)."""
        found: set[str] = set()

        def walk(spec: FieldSpec) -> None:
            for indicator in spec.indicators:
                found.update(INDICATOR_COLUMNS[indicator])
            for child in spec.fields:
                walk(child)
            if spec.element is not None:
                walk(spec.element)

        for top in self.fields:
            walk(top)
        return tuple(sorted(found))


@functools.cache
def _index(fields: tuple[FieldSpec, ...]) -> dict[str, FieldSpec]:
    return {f.name: f for f in fields}


def _find_event_time(fields: tuple[FieldSpec, ...], prefix: tuple[str, ...]) -> tuple[str, ...] | None:
    for spec in fields:
        if spec.is_event_time:
            return (*prefix, spec.name)
        if spec.type == "object":
            found = _find_event_time(spec.fields, (*prefix, spec.name))
            if found:
                return found
    return None


def _parse_field(raw: object, where: str, *, is_element: bool = False) -> FieldSpec:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: a field must be a mapping")
    name = "" if is_element else raw.get("name")
    if not is_element and (not isinstance(name, str) or not name):
        raise UserError(f"{where}: field without a name")
    here = f"{where}.{name}" if name else f"{where}[]"
    ftype = raw.get("type")
    if ftype not in FIELD_TYPES:
        raise UserError(f"{here}: unknown field type {ftype!r} (one of {', '.join(FIELD_TYPES)})")
    indicators = tuple(raw.get("indicators") or ())
    for indicator in indicators:
        if indicator not in INDICATOR_COLUMNS:
            raise UserError(f"{here}: unknown indicator {indicator!r}")
    fields: tuple[FieldSpec, ...] = ()
    if ftype == "object":
        fields = tuple(_parse_field(child, here) for child in raw.get("fields") or ())
    element = None
    if ftype == "array":
        if not isinstance(raw.get("element"), dict):
            raise UserError(f"{here}: an array field needs an element")
        element = _parse_field(raw["element"], here, is_element=True)
    formats = raw.get("timeFormats") or ([raw["timeFormat"]] if raw.get("timeFormat") else [])
    if ftype == "timestamp" and not formats:
        raise UserError(f"{here}: a timestamp field needs timeFormats")
    allow = tuple(str(v) for v in ((raw.get("validate") or {}).get("allow") or ()))
    return FieldSpec(
        name=name or "",
        type=ftype,
        required=bool(raw.get("required", False)),
        description=str(raw.get("description") or ""),
        fields=fields,
        element=element,
        indicators=indicators,
        allow=allow,
        is_event_time=bool(raw.get("isEventTime", False)),
        time_formats=tuple(formats),
    )


def parse_schema(raw: object, source: str = "schema") -> Schema:
    """Build a Schema from the parsed YAML of a Panther schema file."""
    if not isinstance(raw, dict) or not isinstance(raw.get("schema"), str):
        raise UserError(f"{source}: not a Panther schema (no 'schema' key)")
    log_type = raw["schema"]
    fields = tuple(_parse_field(f, log_type) for f in raw.get("fields") or ())
    return Schema(log_type=log_type, description=str(raw.get("description") or ""), fields=fields)


def _available() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in SCHEMA_DIR.glob("*.yml")))


LOG_TYPES: tuple[str, ...] = _available()


@functools.cache
def load_schema(log_type: str) -> Schema:
    """The schema of ``log_type`` (e.g. ``AWS.CloudTrail``); UserError if there is none."""
    if log_type not in LOG_TYPES:
        raise UserError(f"unknown log type {log_type!r} (known: {', '.join(LOG_TYPES)})")
    path = SCHEMA_DIR / f"{log_type}.yml"
    with path.open(encoding="utf-8") as handle:
        schema = parse_schema(safe_load(handle), str(path))
    if schema.log_type != log_type:
        raise UserError(f"{path}: schema name {schema.log_type!r} does not match the file name")
    return schema


def log_type_of_file(path: Path) -> str:
    """Log type of a ``<LogType>.jsonl`` file; UserError if the name is not a known log type."""
    path = Path(path)
    if path.suffix != ".jsonl":
        raise UserError(f"{path}: not a .jsonl file (expected <LogType>.jsonl)")
    if path.stem not in LOG_TYPES:
        raise UserError(
            f"{path}: unknown log type {path.stem!r} in the file name (expected one of "
            f"{', '.join(t + '.jsonl' for t in LOG_TYPES)})"
        )
    return path.stem


# A \uD800-\uDFFF escape: only then can a parsed string hold a lone surrogate (decoded UTF-8 cannot).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# The deepest nesting an event may have. Every tool that walks a log value (validation, enrichment,
# the rules, the lake's results, the reports) recurses a few frames per level: under this bound
# they all stay far from Python's recursion limit, so no input can make one of them crash.
MAX_JSON_DEPTH = 100


def json_depth(value: object, stop: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a JSON value (a scalar 0, ``[]`` 1, ``{"a": [1]}`` 2), walked without
    recursion; the walk stops as soon as it is past ``stop``."""
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= stop:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest


def _brackets(text: str | bytes) -> int:
    """``[`` and ``{`` in the text (strings included): never fewer than the nesting depth."""
    return text.count("[") + text.count("{") if isinstance(text, str) else text.count(b"[") + text.count(b"{")


def split_ndjson(text: str) -> list[str]:
    r"""NDJSON lines: split on ``\n`` only (``str.splitlines`` also splits on U+2028, U+2029, U+0085,
    which JSON allows raw inside strings). A trailing ``\r`` is JSON whitespace and stays."""
    return text.split("\n")


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


def loads_json(text: str | bytes) -> object:
    r"""``json.loads``, with every way it can fail or let through an unusable value as ValueError.

    Nesting deeper than ``MAX_JSON_DEPTH`` (or the interpreter's recursion limit), integers longer than
    ``sys.get_int_max_str_digits()`` (already ValueError), ``NaN`` / ``Infinity`` (Python reads
    them, JSON has no such values), and ``\ud800``-style escapes that leave a lone surrogate in a
    string (valid JSON, but not encodable text: every later write would fail).
    """
    try:
        value = json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise ValueError(f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)") from None
    except ValueError as err:
        if isinstance(err, json.JSONDecodeError) or "integer string conversion" not in str(err):
            raise
        raise ValueError(f"integer longer than {sys.get_int_max_str_digits()} digits") from None
    if _brackets(text) > MAX_JSON_DEPTH and json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    probe = text if isinstance(text, str) else text.decode("utf-8", "replace")
    if _SURROGATE_ESCAPE.search(probe):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                "a \\u escape names a lone surrogate (U+D800-U+DFFF): not valid Unicode"
            ) from None
    return value


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """Read one JSON object per line (blank lines skipped) as ``(line_number, event)``.

    A line that is not valid JSON, or not a JSON object, raises UserError ``file:line: reason``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {getattr(err, 'strerror', None) or err}", Location(path)) from None
    rows: list[tuple[int, dict]] = []
    for number, line in enumerate(split_ndjson(text), start=1):
        if not line.strip():
            continue
        try:
            event = loads_json(line)
        except json.JSONDecodeError as err:
            raise InputError(f"malformed JSON: {err.msg}", Location(path, number, err.colno)) from None
        except ValueError as err:
            raise InputError(f"malformed JSON: {err}", Location(path, number)) from None
        if not isinstance(event, dict):
            raise InputError(
                f"expected one JSON object per line, got {type(event).__name__}", Location(path, number)
            )
        rows.append((number, event))
    return rows
