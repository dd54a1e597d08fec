"""What the PantherFlow translation passes around: compiled values, the relations a stage reads, and
Snowflake's path syntax for a field inside a VARIANT.

Why apart: the expression and the function halves of the translation
(``pantherflow_expressions``, ``pantherflow_functions``) and the tabular half (``pantherflow_sql``)
all use these, and none of them should import another only for its data types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tracebit_pack.lake.transpile import UnsupportedConstruct

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GET_PATH = re.compile(r"\[(\d+)\]|\.?([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class Value:
    """A compiled expression: its SQL and what it is (``variant``, ``array``, ``string``, ``number``,
    ``time``, ``timespan``, ``bool``, ``scalar``, ``agg``); ``const`` holds the value of a literal
    or folded constant."""

    sql: str
    kind: str = "scalar"
    const: object = None


@dataclass
class Relation:
    """The rows a stage reads: their SQL, their columns, which of those are VARIANT and which are
    arrays of strings (lower case), and the joined right sides (``{name: {column: SQL column}}``)."""

    sql: str
    columns: list[str]
    variant: set[str] = field(default_factory=set)
    arrays: set[str] = field(default_factory=set)
    nested: dict[str, dict[str, str]] = field(default_factory=dict)


def sql_string(value: str) -> str:
    """A Snowflake string literal holding exactly ``value``."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def get_path_parts(path: str) -> list[tuple[int | None, str | None]]:
    """``[0].type`` as ``[(0, None), (None, 'type')]``; UnsupportedConstruct for another shape."""
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


def colon_path(base: str, parts: list[tuple[int | None, str | None]]) -> str:
    """Snowflake path syntax: ``base[0]:key.sub``; a key that is not an identifier is quoted."""
    out = base
    first_key = ":" not in base
    for index, key in parts:
        if index is not None:
            out += f"[{index}]"
            continue
        name = key if _KEY.match(key) else '"' + key.replace('"', '""') + '"'
        out += (":" if first_key else ".") + name
        first_key = False
    return out
