"""DuckDB SQL, generated from a Panther schema, that checks and loads raw events in bulk.

Log types whose timestamps this SQL parses are loaded by DuckDB alone: no event becomes a Python
object. ``load_select(log_type, source_sql)`` is the SELECT that turns the
``(file, pos, doc)`` rows of ``source_sql`` (``doc``: one event's JSON text) into the lake table's
columns plus ``reason``: NULL when the event loads, else why it is skipped (the same reasons as
``ingest.reason_of`` gives for the Python checks: ``malformed JSON``, ``not a JSON object``,
``<path>: required field missing``, ``<path>: wrong type``, ``<path>: bad timestamp``,
``<path>: value not allowed``, ``p_log_type: does not match the file's log type``).

What the SQL checks: the type of every field outside arrays (objects recursively), required
fields, int ranges, ``validate.allow`` values, and that timestamps parse (RFC 3339, or the
``YYYY-MM-DD HH:MM:SS[.fffffffff]`` form of events exported from Panther). Arrays are checked to be
arrays, and their elements to be non-null values of the element's JSON type (deeper inside an
array nothing is checked); they are kept as they are (VARIANT). Unknown fields are not loaded, as Panther
drops fields its schema does not declare. The ``p_*`` columns are computed here: ``p_row_id``
(``enrich.deterministic_row_id`` of log type, file and position), ``p_event_time`` (the
``isEventTime`` field), ``p_parse_time`` and the ``p_any_*`` indicator columns (the rules of
``enrich.scan`` in SQL; IPv6 addresses are recognised by shape). Event times before 1970 are
skipped (``bad timestamp``), as ``ingest`` does in Python.

For a log type read by real-time rules, ``load_select(..., rule_events=True)`` keeps ``doc`` (with
``candidates``, the rules' InlineFilters as SQL, only for the events they may pass), and
``rule_events_select`` turns the stored rows into the events as ``enrich`` returns them, as JSON
text, except those ``needs_python_sql`` leaves to Python.

Where the time goes: each event's text is parsed once per function that reads many paths at once
(``json_type`` of every leaf, ``json_extract_string`` of the leaves read as text, ``json_extract``
of those kept as JSON: ``Extracted``), never once per field; an indicator-bearing value is stripped
and matched as an ARN once per row (``indicator_columns``) and the ``p_any_*`` columns are built
from those, with string functions where they answer what a regular expression would.

``sql_loadable(log_type)``: whether every timestamp of the schema is RFC 3339, which this SQL parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracebit_pack.lake.embedded import SOURCE_ID
from tracebit_pack.logs.enrich import DIRECT_COLUMNS
from tracebit_pack.logs.schemas import MAX_JSON_DEPTH, FieldSpec, load_schema
from tracebit_pack.text import lit

if TYPE_CHECKING:  # the loader passes it; this module only reads its paths and condition
    from tracebit_pack.engine.match_sql import Pushdown

PANTHER_TS = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?"
RFC3339_TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})"
JSON_TYPES = {
    "string": ("VARCHAR",),
    "int": ("BIGINT", "UBIGINT"),
    "bigint": ("BIGINT", "UBIGINT"),  # json_type of a positive integer: UBIGINT
    "float": ("BIGINT", "UBIGINT", "DOUBLE"),
    "boolean": ("BOOLEAN",),
    "timestamp": ("VARCHAR",),
    "object": ("OBJECT",),
    "array": ("ARRAY",),
}
WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())  # what str.strip() removes
_OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = rf"{_OCTET}(\.{_OCTET}){{3}}"
IPV6 = r"([0-9A-Fa-f]{0,4}:){2,7}([0-9A-Fa-f]{0,4}|\d+\.\d+\.\d+\.\d+)(%[0-9A-Za-z]+)?"
EMAIL = (
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


def _json_path(names: tuple[str, ...]) -> str:
    return "$" + "".join('."' + n.replace("\\", "\\\\").replace('"', '\\"') + '"' for n in names)


@dataclass(frozen=True)
class Leaf:
    """A field outside arrays: its path, spec and index in the extracted ``v`` list (1-based)."""

    path: tuple[str, ...]
    spec: FieldSpec
    index: int

    @property
    def label(self) -> str:
        return ".".join(self.path)


def leaves(log_type: str) -> list[Leaf]:
    """Every field reachable through objects only, depth first (top-level fields first in order)."""
    out: list[Leaf] = []

    def walk(fields: tuple[FieldSpec, ...], prefix: tuple[str, ...]) -> None:
        for spec in fields:
            out.append(Leaf((*prefix, spec.name), spec, len(out) + 1))
            if spec.type == "object":
                walk(spec.fields, (*prefix, spec.name))

    walk(load_schema(log_type).fields, ())
    return out


@dataclass(frozen=True)
class Extracted:
    """Where each leaf's parts are, in the lists one parse of ``doc`` extracts for every row.

    ``ty[leaf.index]``: every leaf's JSON type (``json_type``: NULL when missing); ``ty[root]``
    the type of the event itself. ``s[k]``: the string value (``json_extract_string``) of the
    leaves a check, a column or an indicator reads as text; ``j[k]``: the JSON value of the
    leaves kept or walked as JSON (object, array and ``json`` columns; arrays). One list per
    function, so that each row's text is parsed once per list, not once per field.
    """

    leaves: tuple[Leaf, ...]
    strings: dict[tuple[str, ...], int]
    jsons: dict[tuple[str, ...], int]

    @property
    def root(self) -> int:
        return len(self.leaves) + 1

    @property
    def log_type_index(self) -> int:
        """Index in ``s`` of the event's own ``p_log_type`` (an export may carry one)."""
        return len(self.strings) + 1

    def s(self, leaf: Leaf) -> str:
        return f"s[{self.strings[leaf.path]}]"

    def j(self, leaf: Leaf) -> str:
        return f"j[{self.jsons[leaf.path]}]"


_CHECKED_AS_TEXT = ("int", "bigint", "timestamp")


def extracted(log_type: str) -> Extracted:
    """The extraction plan of ``log_type``: which leaves are read as text, which as JSON."""
    all_leaves = leaves(log_type)
    strings: dict[tuple[str, ...], int] = {}
    jsons: dict[tuple[str, ...], int] = {}
    for leaf in all_leaves:
        spec = leaf.spec
        kept_as_json = spec.type in ("object", "array", "json") and len(leaf.path) == 1
        if kept_as_json or spec.type == "array":
            jsons[leaf.path] = len(jsons) + 1
        if spec.type in ("object", "array", "json"):
            continue
        read_as_text = (
            len(leaf.path) == 1
            or spec.type in _CHECKED_AS_TEXT
            or (spec.allow and spec.type == "string")
            or (spec.indicators and spec.type == "string")
        )
        if read_as_text:
            strings[leaf.path] = len(strings) + 1
    return Extracted(tuple(all_leaves), strings, jsons)


def sql_loadable(log_type: str) -> bool:
    """True when every timestamp field of the schema is RFC 3339 (what this SQL can parse)."""
    return all(
        leaf.spec.type != "timestamp" or set(leaf.spec.time_formats) == {"rfc3339"}
        for leaf in leaves(log_type)
    )


def _ts_ok(text: str) -> str:
    return (
        f"(regexp_full_match({text}, {lit(RFC3339_TS)}) OR regexp_full_match({text}, {lit(PANTHER_TS)})) "
        f"AND TRY_CAST({text} AS TIMESTAMPTZ) IS NOT NULL"
    )


def reason_sql(log_type: str, x: Extracted) -> str:
    """CASE expression: why the row cannot load, or NULL (uses ``doc``, ``ty``, ``s`` and ``j``)."""
    all_leaves = x.leaves
    by_path = {leaf.path: leaf for leaf in all_leaves}
    whens = [
        ("root IS NULL", "malformed JSON"),
        ("root <> 'OBJECT'", "not a JSON object"),
        (
            f"coalesce(s[{x.log_type_index}], {lit(log_type)}) <> {lit(log_type)}",
            "p_log_type: does not match the file's log type",
        ),
    ]
    for leaf in all_leaves:
        t = f"ty[{leaf.index}]"
        value = x.s(leaf) if leaf.path in x.strings else None
        present = f"coalesce({t}, 'NULL') <> 'NULL'"
        parent = by_path.get(leaf.path[:-1])
        parent_ok = f"ty[{parent.index}] = 'OBJECT'" if parent else "TRUE"
        if leaf.spec.required:
            whens.append((f"{parent_ok} AND NOT ({present})", f"{leaf.label}: required field missing"))
        accepted = JSON_TYPES.get(leaf.spec.type)
        if accepted is None:  # json: anything
            continue
        types = ", ".join(lit(a) for a in accepted)
        whens.append((f"{present} AND {t} NOT IN ({types})", f"{leaf.label}: wrong type"))
        if leaf.spec.type in ("int", "bigint"):
            sized = "INTEGER" if leaf.spec.type == "int" else "BIGINT"
            whens.append((f"{present} AND TRY_CAST({value} AS {sized}) IS NULL", f"{leaf.label}: wrong type"))
        if leaf.spec.type == "timestamp":
            whens.append((f"{present} AND NOT ({_ts_ok(value)})", f"{leaf.label}: bad timestamp"))
        element = leaf.spec.element
        if leaf.spec.type == "array" and element is not None:  # the elements' own JSON types
            items = f"json_type({x.j(leaf)}, '$[*]')"
            whens.append(
                (f"{t} = 'ARRAY' AND list_contains({items}, 'NULL')", f"{leaf.label}[]: null array element")
            )
            if element.type in JSON_TYPES:
                kinds = ", ".join(lit(a) for a in JSON_TYPES[element.type])
                whens.append(
                    (
                        f"{t} = 'ARRAY' AND len(list_filter({items}, lambda x: x NOT IN ({kinds}))) > 0",
                        f"{leaf.label}[]: wrong type",
                    )
                )
        if leaf.spec.allow and leaf.spec.type == "string":
            allowed = ", ".join(lit(a) for a in leaf.spec.allow)
            whens.append((f"{present} AND {value} NOT IN ({allowed})", f"{leaf.label}: value not allowed"))
    event_time = load_schema(log_type).event_time_path
    if event_time in by_path:  # as ingest's Python path: an event time before 1970 is skipped
        value = x.s(by_path[event_time])
        whens.append(
            (f"TRY_CAST({value} AS TIMESTAMPTZ) < TIMESTAMPTZ '1970-01-01 00:00:00+00'", "bad timestamp")
        )
    body = " ".join(f"WHEN {cond} THEN {lit(reason)}" for cond, reason in whens)
    return f"CASE WHEN doc IS NULL THEN NULL {body} ELSE NULL END"


# ----------------------------------------------------------------------------- p_any_* columns


def _strip(text: str) -> str:
    """SQL of ``text`` without leading and trailing whitespace, as Python's ``str.strip()``."""
    return f"trim({text}, {lit(WHITESPACE)})"


def _stripped(text: str) -> str:
    """SQL of ``text`` stripped (``_strip``), NULL when that leaves nothing; ``trim`` runs only
    for a text that starts or ends with whitespace, as few do."""
    spaces = ", ".join(str(ord(c)) for c in WHITESPACE)
    return (
        f"CASE WHEN {text} = '' THEN NULL WHEN ord({text}) NOT IN ({spaces}) "
        f"AND ord(right({text}, 1)) NOT IN ({spaces}) THEN {text} "
        f"ELSE nullif({_strip(text)}, '') END"
    )


def _array_strings(leaf: Leaf, x: Extracted) -> list[tuple[tuple[str, ...], str]]:
    """``(indicators, VARCHAR[] expression)`` for the string fields inside an array field.

    As ``enrich._walk``: through objects and arrays at any depth, strings only.
    """
    out: list[tuple[tuple[str, ...], str]] = []

    def walk(spec: FieldSpec, path: str) -> None:
        if spec.type == "string" and spec.indicators:
            expr = (
                f"CASE WHEN ty[{leaf.index}] = 'ARRAY' THEN list_transform(list_filter("
                f"json_extract({x.j(leaf)}, {lit(path)}), lambda x: json_type(x) = 'VARCHAR'), "
                "lambda x: x ->> '$') END"
            )
            out.append((spec.indicators, expr))
        elif spec.type == "object":
            for child in spec.fields:
                walk(child, path + _json_path((child.name,))[1:])
        elif spec.type == "array" and spec.element is not None:
            walk(spec.element, path + "[*]")

    if leaf.spec.element is not None:
        walk(leaf.spec.element, "$[*]")
    return out


def _arn(value: str) -> str:
    """``value`` when it is an ARN (``arn:[^:]+:[^:]+:[^:]*:[^:]*:.*``, by string functions)."""
    return (
        f"CASE WHEN starts_with({value}, 'arn:') AND split_part({value}, ':', 2) <> '' "
        f"AND split_part({value}, ':', 3) <> '' "
        f"AND strlen({value}) - strlen(replace({value}, ':', '')) >= 5 THEN {value} END"
    )


def _twelve_digits(value: str) -> str:
    """``value`` when it is exactly twelve ASCII digits (``\\d{12}``), else NULL."""
    return f"CASE WHEN strlen({value}) = 12 AND translate({value}, '0123456789', '') = '' THEN {value} END"


def _matches(value: str, pattern: str) -> str:
    return f"CASE WHEN regexp_full_match({value}, {lit(pattern)}) THEN {value} END"


def _is_ip(value: str) -> str:
    return f"(regexp_full_match({value}, {lit(IPV4)}) OR regexp_full_match({value}, {lit(IPV6)}))"


def _host_split(host: str, *, stripped: bool = False) -> dict[str, str]:
    """A hostname into ip / domain contributions (stripped, then its brackets, as ``enrich._host``)."""
    h = f"nullif(trim({host if stripped else _strip(host)}, '[]'), '')"
    return {
        "p_any_ip_addresses": f"CASE WHEN {_is_ip(h)} THEN {h} END",
        "p_any_domain_names": f"CASE WHEN NOT {_is_ip(h)} THEN {h} END",
    }


def _contributions(indicator: str, value: str) -> dict[str, str]:
    """``{p_any column: VARCHAR expression}`` that ``indicator`` adds for ``value``: a stripped,
    non-empty string or NULL. Each expression is the value that goes in the column, or NULL."""
    if indicator in DIRECT_COLUMNS:
        return {DIRECT_COLUMNS[indicator]: value}
    if indicator == "ip":
        return {"p_any_ip_addresses": f"CASE WHEN {_is_ip(value)} THEN {value} END"}
    if indicator == "email":
        return {"p_any_emails": _matches(value, EMAIL)}
    if indicator == "hostname":
        return _host_split(value, stripped=True)
    if indicator == "url":
        host = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)"
        return _host_split(f"regexp_extract({value}, {lit(host)}, 1)")
    if indicator == "net_addr":
        return _host_split(
            f"CASE WHEN starts_with({value}, '[') THEN split_part(substr({value}, 2), ']', 1) "
            f"WHEN length({value}) - length(replace({value}, ':', '')) = 1 "
            f"THEN split_part({value}, ':', 1) ELSE {value} END"
        )
    if indicator in ("aws_arn", "aws_arn_only"):
        out = {"p_any_aws_arns": value}  # ``value``: an ARN or NULL (``arn_columns``)
        if indicator == "aws_arn":
            out["p_any_aws_account_ids"] = _twelve_digits(f"split_part({value}, ':', 5)")
            instance = r"arn:[^:]+:ec2:[^:]*:[^:]*:instance/i-[0-9a-f]{8}([0-9a-f]{9})?"
            out["p_any_aws_instance_ids"] = (
                f"CASE WHEN contains({value}, ':instance/') AND regexp_full_match({value}, {lit(instance)}) "
                f"THEN split_part({value}, 'instance/', 2) END"
            )
            session = f"regexp_extract({value}, '[^/]*$')"
            assumed = r"(?s)arn:[^:]+:sts:[^:]*:[^:]*:assumed-role/[^/]*/.+"
            out["p_any_emails"] = (
                f"CASE WHEN contains({value}, '@') AND regexp_full_match({value}, {lit(assumed)}) "
                f"AND regexp_full_match({session}, {lit(EMAIL)}) THEN {session} END"
            )
        return out
    raise ValueError(f"unknown indicator {indicator!r}")


ARN_INDICATORS = ("aws_arn", "aws_arn_only")


def _array_sources(x: Extracted) -> list[tuple[tuple[str, ...], str]]:
    """``(indicators, VARCHAR[] SQL)`` of every string field inside an array field, in order."""
    return [source for leaf in x.leaves if leaf.spec.type == "array" for source in _array_strings(leaf, x)]


def indicator_columns(x: Extracted) -> tuple[dict[str, str], dict[str, str]]:
    """Two layers of ``{column name: SQL}``, each computed once per row, read by ``p_any_sql``.

    First ``_x<k>``: the stripped, non-empty string value of an indicator-bearing string field
    outside arrays (else NULL); ``_l<n>``: the stripped, non-empty strings of the n-th string
    field inside arrays. Then, from the first layer, ``_a<k>`` and ``_al<n>``: those that are ARNs,
    for the fields whose indicators read ARNs.
    """
    values, arns = {}, {}
    for leaf in x.leaves:
        if leaf.spec.indicators and leaf.spec.type == "string":
            k = x.strings[leaf.path]
            values[f"_x{k}"] = f"CASE WHEN ty[{leaf.index}] = 'VARCHAR' THEN {_stripped(x.s(leaf))} END"
            if any(i in ARN_INDICATORS for i in leaf.spec.indicators):
                arns[f"_a{k}"] = _arn(f"_x{k}")
    for n, (indicators, expr) in enumerate(_array_sources(x), 1):
        values[f"_l{n}"] = (
            f"list_filter(list_transform(coalesce({expr}, []), lambda x: {_stripped('x')}), "
            "lambda x: x IS NOT NULL)"
        )
        if any(i in ARN_INDICATORS for i in indicators):
            arns[f"_al{n}"] = (
                f"list_filter(list_transform(_l{n}, lambda x: {_arn('x')}), lambda x: x IS NOT NULL)"
            )
    return values, arns


def _value_for(indicator: str, value: str, arn: str) -> str:
    """What ``_contributions`` is given for ``indicator``: the value, or for ARN indicators the ARN."""
    return arn if indicator in ARN_INDICATORS else value


def p_any_sql(log_type: str, x: Extracted) -> dict[str, str]:
    """``{p_any column: SQL}``: sorted distinct values, NULL when there are none (as Panther).

    Reads ``indicator_columns``. A field outside arrays adds one value or NULL (``list_distinct``
    drops the NULLs); a string field inside an array adds a list, each element through the same
    expressions.
    """
    scalars: dict[str, list[str]] = {}
    lists: dict[str, list[str]] = {}
    for leaf in x.leaves:
        if leaf.spec.indicators and leaf.spec.type == "string":
            k = x.strings[leaf.path]
            for indicator in leaf.spec.indicators:
                given = _value_for(indicator, f"_x{k}", f"_a{k}")
                for column, sql in _contributions(indicator, given).items():
                    scalars.setdefault(column, []).append(sql)
    for n, (indicators, _) in enumerate(_array_sources(x), 1):
        for indicator in indicators:
            source = f"_al{n}" if indicator in ARN_INDICATORS else f"_l{n}"
            for column, sql in _contributions(indicator, "x").items():
                lists.setdefault(column, []).append(
                    source if sql == "x" else f"list_transform({source}, lambda x: {sql})"
                )
    out = {}
    for column in load_schema(log_type).p_any_columns:
        parts = ([f"[{', '.join(scalars[column])}]"] if column in scalars else []) + lists.get(column, [])
        if not parts:
            out[column] = "NULL"
            continue
        merged = parts[0] if len(parts) == 1 else f"flatten([{', '.join(parts)}])"
        out[column] = f"nullif(list_sort(list_distinct({merged})), [])"
    return out


# ----------------------------------------------------------------------------- the SELECT


def _path_list(found: list[tuple[str, ...]], *extra: str) -> str:
    """SQL list of the JSON paths of ``found`` (then ``extra`` paths as written)."""
    return "[" + ", ".join([*(lit(_json_path(path)) for path in found), *map(lit, extra)]) + "]::VARCHAR[]"


def _column(leaf: Leaf, sql_type: str, x: Extracted) -> str:
    present = f"coalesce(ty[{leaf.index}], 'NULL') <> 'NULL'"
    if sql_type == "VARIANT":
        return f"CASE WHEN {present} THEN CAST({x.j(leaf)} AS VARIANT) END"
    if sql_type == "TIMESTAMP":
        return f"CASE WHEN {present} THEN CAST(TRY_CAST({x.s(leaf)} AS TIMESTAMPTZ) AS TIMESTAMP) END"
    if sql_type == "VARCHAR":
        return f"CASE WHEN {present} THEN {x.s(leaf)} END"
    return f"CASE WHEN {present} THEN TRY_CAST({x.s(leaf)} AS {sql_type}) END"


def needs_python_sql() -> str:
    """Condition on ``doc``: the rule event must be built in Python (``enrich``), not by this SQL.

    Events exported from Panther (a ``"p_`` key may be present: their ``p_*`` fields are dropped
    before enriching), and text that ``schemas.loads_json`` may refuse although DuckDB accepts it:
    a ``\\uD800``-style escape, more than ``MAX_JSON_DEPTH`` brackets (maybe nested deeper than
    ``loads_json`` accepts: ``deep_sql``), or 1,000 digits in a row
    in a text long enough to hold an integer longer than Python reads (4,300 digits).
    """
    return (
        "(contains(doc, '\"p_') OR regexp_matches(doc, '\\\\u[dD][89a-fA-F]') "
        f"OR {deep_sql()} "
        "OR (strlen(doc) > 4300 AND regexp_matches(doc, '[0-9]{1000}')))"
    )


def deep_sql() -> str:
    """Condition on ``doc``: more ``[`` and ``{`` than ``MAX_JSON_DEPTH``, so it may be nested
    deeper than ``schemas.loads_json`` accepts (Python then decides)."""
    # brackets are one byte each, so byte lengths count them (``translate`` measured far slower)
    return (
        f"(strlen(doc) > {2 * MAX_JSON_DEPTH} "
        f"AND strlen(doc) - strlen(replace(replace(doc, '[', ''), '{{', '')) > {MAX_JSON_DEPTH})"
    )


def rule_events_select(log_type: str, checked: str, parse_time: str, file_order: str) -> str:
    """SELECT ``t, file_order, pos, doc`` (the rule event as ``enrich`` returns it, as JSON text)
    for the loadable rows of ``checked`` (a table of ``load_select(..., rule_events=True)``), except
    those ``needs_python_sql`` leaves to Python.

    The raw text with the ``p_*`` fields appended (no re-serialisation: numbers stay as written, a
    repeated key keeps its last value, as ``json.loads`` reads it); empty ``p_any_*`` left out.
    Run on the stored table so that the ``p_any_*`` expressions are not evaluated twice.
    """
    fixed = (
        f"json_object('p_log_type', \"p_log_type\", "
        "'p_event_time', strftime(\"p_event_time\", '%Y-%m-%d %H:%M:%S.%f'), "
        f"'p_parse_time', strftime({parse_time}, '%Y-%m-%d %H:%M:%S.%f'), 'p_row_id', \"p_row_id\")"
    )
    anys = "".join(
        f' || CASE WHEN "{c}" IS NULL THEN \'\' ELSE \',"{c}":\' || to_json("{c}") END'
        for c in load_schema(log_type).p_any_columns
    )
    body = "left(_text, length(_text) - 1)"  # without its closing brace (whitespace before , is JSON)
    empty = r"strlen(_text) < 16 AND regexp_full_match(_text, '\s*\{\s*\}')"
    doc = (
        f"{body} || CASE WHEN {empty} THEN '' ELSE ',' END "
        f"|| substr({fixed}, 2, length({fixed}) - 2){anys} || '}}'"
    )
    return (
        f"SELECT {parse_time} AS t, {file_order} AS file_order, pos, {doc} AS doc "
        "FROM (SELECT *, CASE WHEN ends_with(doc, '}') THEN doc ELSE rtrim(doc, ' \t\r\n') END AS _text "
        f"FROM {checked} "
        f"WHERE reason IS NULL AND NOT {needs_python_sql()})"
    )


def load_select(
    log_type: str,
    source_sql: str,
    columns: list[tuple[str, str]],
    source_label: str,
    *,
    rule_events: bool = False,
    candidates: Pushdown | None = None,
) -> str:
    """SELECT ``file, pos, reason`` and the lake ``columns`` for the rows of ``source_sql``.

    And ``doc``: with ``rule_events``, that of the rows from which ``rule_events_select`` may build
    the events the real-time rules see: every row's, or with ``candidates`` (the log type's
    InlineFilters as SQL) only those they may pass and those ``needs_python_sql`` leaves to Python,
    so that the other events' text (most of a large log type's) is not stored; without, only that
    of rows ``deep_sql`` picks (else NULL).
    """
    x = extracted(log_type)
    top = {leaf.path[0]: leaf for leaf in x.leaves if len(leaf.path) == 1}
    schema = load_schema(log_type)
    event_time = "NULL"
    if schema.event_time_path:
        leaf = next(found for found in x.leaves if found.path == schema.event_time_path)
        event_time = _column(leaf, "TIMESTAMP", x)
    p_any = p_any_sql(log_type, x)
    computed = {
        "p_log_type": lit(log_type),
        "p_row_id": f"sha256(concat_ws(chr(31), {lit(log_type)}, file, CAST(pos AS VARCHAR)))[1:20]",
        "p_event_time": f"coalesce({event_time}, CAST(now() AS TIMESTAMP))",
        "p_parse_time": f"coalesce({event_time}, CAST(now() AS TIMESTAMP))",
        "p_schema_version": "0",
        "p_source_id": lit(SOURCE_ID),
        "p_source_label": lit(source_label),
        **p_any,
    }
    selects = []
    for name, sql_type in columns:
        if name in computed:
            selects.append(f'{computed[name]} AS "{name}"')
        else:
            selects.append(f'{_column(top[name], sql_type, x)} AS "{name}"')

    types = _path_list([leaf.path for leaf in x.leaves], "$")
    strings = _path_list(sorted(x.strings, key=x.strings.get), '$."p_log_type"')
    jsons = _path_list(sorted(x.jsons, key=x.jsons.get))
    values, arns = indicator_columns(x)
    stripped = "".join(f", {sql} AS {name}" for name, sql in values.items())
    arn_columns = "".join(f", {sql} AS {name}" for name, sql in arns.items())
    if not rule_events:  # only the text Python must check for depth (``deep_sql``)
        doc, filtered = f"CASE WHEN {deep_sql()} THEN doc END AS doc", ""
    elif candidates is None:
        doc, filtered = "doc", ""
    else:  # the filters' values (``_f``), parsed only from an object's text, as ``s`` and ``j``
        doc = f"CASE WHEN {needs_python_sql()} OR {candidates.where('doc')} THEN doc END AS doc"
        paths = ", ".join(lit(path) for path in candidates.paths)
        filtered = f", CASE WHEN root = 'OBJECT' THEN json_extract(doc, [{paths}]) END AS _f" if paths else ""
    # each list is one parse of the row's text; a row that is not an object gets none of them
    return (
        f"WITH src AS ({source_sql}), "
        f"parsed AS (SELECT file, pos, doc, try(json_type(doc, {types})) "
        "AS _ty FROM src WHERE doc IS NOT NULL), "
        f"typed AS (SELECT file, pos, doc, _ty[{x.root}] AS root, "
        "CASE WHEN root = 'OBJECT' THEN _ty END AS ty, "
        f"CASE WHEN root = 'OBJECT' THEN json_extract_string(doc, {strings}) END AS s, "
        f"CASE WHEN root = 'OBJECT' AND {bool(x.jsons)} THEN json_extract(doc, {jsons}) END AS j"
        f"{filtered} FROM parsed), "
        f"checked AS (SELECT *, {reason_sql(log_type, x)} AS reason{stripped} FROM typed), "
        f"indicated AS (SELECT *{arn_columns} FROM checked) "
        f"SELECT file, pos, reason, {', '.join(selects)}, {doc} FROM indicated"
    )
