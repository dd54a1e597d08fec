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

For a log type read by real-time rules, ``load_select(..., rule_events=True)`` keeps ``doc``, and
``rule_events_select`` turns the stored rows into the events as ``enrich`` returns them, as JSON
text, except those ``needs_python_sql`` leaves to Python.

``sql_loadable(log_type)``: whether every timestamp of the schema is RFC 3339, which this SQL parses.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracebit_pack.lake.embedded import SOURCE_ID
from tracebit_pack.logs.enrich import DIRECT_COLUMNS
from tracebit_pack.logs.schemas import MAX_JSON_DEPTH, FieldSpec, load_schema
from tracebit_pack.text import lit

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


def reason_sql(log_type: str, all_leaves: list[Leaf]) -> str:
    """CASE expression: why the row cannot load, or NULL (uses ``doc``, ``v`` and ``ty``)."""
    by_path = {leaf.path: leaf for leaf in all_leaves}
    whens = [
        ("NOT json_valid(doc)", "malformed JSON"),
        ("json_type(doc) <> 'OBJECT'", "not a JSON object"),
        (
            f"coalesce(json_extract_string(CASE WHEN v IS NOT NULL THEN doc END, '$.p_log_type'), "
            f"{lit(log_type)}) <> {lit(log_type)}",
            "p_log_type: does not match the file's log type",
        ),
    ]
    for leaf in all_leaves:
        t = f"ty[{leaf.index}]"
        value = f"(v[{leaf.index}] ->> '$')"
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
            items = f"json_type(v[{leaf.index}], '$[*]')"
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
        value = f"(v[{by_path[event_time].index}] ->> '$')"
        whens.append(
            (f"TRY_CAST({value} AS TIMESTAMPTZ) < TIMESTAMPTZ '1970-01-01 00:00:00+00'", "bad timestamp")
        )
    body = " ".join(f"WHEN {cond} THEN {lit(reason)}" for cond, reason in whens)
    return f"CASE WHEN doc IS NULL THEN NULL {body} ELSE NULL END"


# ----------------------------------------------------------------------------- p_any_* columns


def _strip(text: str) -> str:
    """SQL of ``text`` without leading and trailing whitespace, as Python's ``str.strip()``."""
    return f"trim({text}, {lit(WHITESPACE)})"


def _strings(leaf: Leaf) -> str:
    """VARCHAR[] of the string value of an indicator-bearing field (stripped by _contributions)."""
    if leaf.spec.type == "array" and leaf.spec.element is not None:
        return ""  # handled by _array_strings
    return f"CASE WHEN ty[{leaf.index}] = 'VARCHAR' THEN [v[{leaf.index}] ->> '$'] ELSE [] END"


def _array_strings(leaf: Leaf) -> list[tuple[tuple[str, ...], str]]:
    """``(indicators, VARCHAR[] expression)`` for the string fields inside an array field.

    As ``enrich._walk``: through objects and arrays at any depth, strings only.
    """
    out: list[tuple[tuple[str, ...], str]] = []

    def walk(spec: FieldSpec, path: str) -> None:
        if spec.type == "string" and spec.indicators:
            expr = (
                f"CASE WHEN ty[{leaf.index}] = 'ARRAY' THEN list_transform(list_filter("
                f"json_extract(v[{leaf.index}], {lit(path)}), lambda x: json_type(x) = 'VARCHAR'), "
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


def _keep(values: str, pattern: str) -> str:
    return f"list_filter({values}, lambda x: regexp_full_match(x, {lit(pattern)}))"


def _host_split(values: str) -> dict[str, str]:
    """A hostname list into ip / domain contributions (brackets stripped, as ``enrich._host``)."""
    hosts = f"list_filter(list_transform({values}, lambda x: trim({_strip('x')}, '[]')), lambda x: x <> '')"
    ip = (
        f"list_filter({hosts}, lambda x: regexp_full_match(x, {lit(IPV4)}) "
        f"OR regexp_full_match(x, {lit(IPV6)}))"
    )
    domain = (
        f"list_filter({hosts}, lambda x: NOT (regexp_full_match(x, {lit(IPV4)}) "
        f"OR regexp_full_match(x, {lit(IPV6)})))"
    )
    return {"p_any_ip_addresses": ip, "p_any_domain_names": domain}


def _contributions(indicator: str, values: str) -> dict[str, str]:
    """``{p_any column: VARCHAR[] expression}`` that ``indicator`` adds for ``values``."""
    stripped = f"list_transform({values}, lambda x: {_strip('x')})"
    values = f"list_filter({stripped}, lambda x: x IS NOT NULL AND x <> '')"
    if indicator in DIRECT_COLUMNS:
        return {DIRECT_COLUMNS[indicator]: values}
    if indicator == "ip":
        ipv4 = _keep(values, IPV4)
        return {"p_any_ip_addresses": f"list_concat({ipv4}, {_keep(values, IPV6)})"}
    if indicator == "email":
        return {"p_any_emails": _keep(values, EMAIL)}
    if indicator == "hostname":
        return _host_split(values)
    if indicator == "url":
        host = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)"
        return _host_split(f"list_transform({values}, lambda x: regexp_extract(x, {lit(host)}, 1))")
    if indicator == "net_addr":
        host = (
            "list_transform({v}, lambda x: CASE WHEN starts_with(x, '[') "
            "THEN split_part(substr(x, 2), ']', 1) "
            "WHEN length(x) - length(replace(x, ':', '')) = 1 THEN split_part(x, ':', 1) ELSE x END)"
        )
        return _host_split(host.format(v=values))
    if indicator in ("aws_arn", "aws_arn_only"):
        arns = _keep(values, r"(?s)arn:[^:]+:[^:]+:[^:]*:[^:]*:.*")
        out = {"p_any_aws_arns": arns}
        if indicator == "aws_arn":
            out["p_any_aws_account_ids"] = (
                f"list_filter(list_transform({arns}, lambda x: split_part(x, ':', 5)), "
                r"lambda x: regexp_full_match(x, '\d{12}'))"
            )
            out["p_any_aws_instance_ids"] = (
                f"list_transform(list_filter({arns}, lambda x: regexp_full_match(x, "
                r"'arn:[^:]+:ec2:[^:]*:[^:]*:instance/i-[0-9a-f]{8}([0-9a-f]{9})?')), "
                "lambda x: split_part(x, 'instance/', 2))"
            )
            out["p_any_emails"] = (
                f"list_filter(list_transform(list_filter({arns}, lambda x: regexp_full_match(x, "
                r"'(?s)arn:[^:]+:sts:[^:]*:[^:]*:assumed-role/[^/]*/.+')), "
                f"lambda x: regexp_extract(x, '[^/]*$')), lambda x: regexp_full_match(x, {lit(EMAIL)}))"
            )
        return out
    raise ValueError(f"unknown indicator {indicator!r}")


def p_any_sql(log_type: str, all_leaves: list[Leaf]) -> dict[str, str]:
    """``{p_any column: SQL}``: sorted distinct values, NULL when there are none (as Panther)."""
    parts: dict[str, list[str]] = {}
    for leaf in all_leaves:
        sources: list[tuple[tuple[str, ...], str]] = []
        if leaf.spec.type == "array":
            sources = _array_strings(leaf)
        elif leaf.spec.indicators and leaf.spec.type == "string":
            sources = [(leaf.spec.indicators, _strings(leaf))]
        for indicators, expr in sources:
            for indicator in indicators:
                for column, sql in _contributions(indicator, f"coalesce({expr}, [])").items():
                    parts.setdefault(column, []).append(sql)
    out = {}
    for column in load_schema(log_type).p_any_columns:
        exprs = parts.get(column)
        if not exprs:
            out[column] = "NULL"
            continue
        merged = exprs[0] if len(exprs) == 1 else f"flatten([{', '.join(exprs)}])"
        out[column] = f"nullif(list_sort(list_distinct({merged})), [])"
    return out


# ----------------------------------------------------------------------------- the SELECT


def _column(leaf: Leaf, sql_type: str) -> str:
    i = leaf.index
    present = f"coalesce(ty[{i}], 'NULL') <> 'NULL'"
    if sql_type == "VARIANT":
        return f"CASE WHEN {present} THEN CAST(v[{i}] AS VARIANT) END"
    if sql_type == "TIMESTAMP":
        return f"CASE WHEN {present} THEN CAST(TRY_CAST(v[{i}] ->> '$' AS TIMESTAMPTZ) AS TIMESTAMP) END"
    if sql_type == "VARCHAR":
        return f"CASE WHEN {present} THEN v[{i}] ->> '$' END"
    return f"CASE WHEN {present} THEN TRY_CAST(v[{i}] ->> '$' AS {sql_type}) END"


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
    return (
        f"(strlen(doc) > {2 * MAX_JSON_DEPTH} "
        f"AND length(doc) - length(replace(replace(doc, '[', ''), '{{', '')) > {MAX_JSON_DEPTH})"
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
) -> str:
    """SELECT ``file, pos, reason`` and the lake ``columns`` for the rows of ``source_sql``.

    And ``doc``: with ``rule_events`` every row's, from which ``rule_events_select`` builds the
    events the real-time rules see; without, only that of rows ``deep_sql`` picks (else NULL).
    """
    all_leaves = leaves(log_type)
    paths = ", ".join(lit(_json_path(leaf.path)) for leaf in all_leaves)
    top = {leaf.path[0]: leaf for leaf in all_leaves if len(leaf.path) == 1}
    schema = load_schema(log_type)
    event_time = "NULL"
    if schema.event_time_path:
        leaf = next(x for x in all_leaves if x.path == schema.event_time_path)
        event_time = _column(leaf, "TIMESTAMP")
    p_any = p_any_sql(log_type, all_leaves)
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
            selects.append(f'{_column(top[name], sql_type)} AS "{name}"')
    select = (
        f"WITH src AS ({source_sql}), "
        f"parsed AS (SELECT file, pos, doc, CASE WHEN json_valid(doc) AND json_type(doc) = 'OBJECT' "
        f"THEN json_extract(doc, [{paths}]) END AS v FROM src), "
        "typed AS (SELECT *, list_transform(v, lambda x: json_type(x)) AS ty FROM parsed), "
        f"checked AS (SELECT *, {reason_sql(log_type, all_leaves)} AS reason "
        "FROM typed WHERE doc IS NOT NULL) "
        f"SELECT file, pos, reason, {', '.join(selects)}, "
        # without rule events, only the text Python must check for depth (``deep_sql``)
        f"{'doc' if rule_events else f'CASE WHEN {deep_sql()} THEN doc END AS doc'} FROM checked"
    )
    return select
