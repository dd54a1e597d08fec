"""Saved and scheduled queries written in PantherFlow: found by their marker, run like SQL ones.

Why: panther-analysis marks a ``Query`` written in PantherFlow with the first line
``--pragma: pantherflow`` (``lookup_tables/okta/okta_ad_pantherflow_baseline_30day.yml``); ``query
run`` runs such a query with the PantherFlow executor instead of the SQL lake. ``--param name=value``
sets the scalar ``let name = <literal>;`` of the query, as it sets a literal of a SQL query's
``params`` CTE: the value is written as an escaped string literal, or as a number where the ``let``
holds a number.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from lark import Tree

from tracebit_pack.errors import UserError
from tracebit_pack.query.pantherflow import parse
from tracebit_pack.query.pantherflow_values import sql_string

PRAGMA = re.compile(r"^\s*--\s*pragma\s*:\s*pantherflow\s*$", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def is_pantherflow(query: str) -> bool:
    """Whether a saved query's text is PantherFlow: its first non-blank line is the pragma."""
    first = next((line for line in query.splitlines() if line.strip()), "")
    return bool(PRAGMA.match(first))


def with_params(text: str, params: dict[str, str]) -> str:
    """``text`` with each ``--param`` written into its scalar ``let``; UserError for a name that no
    scalar ``let`` binds, or a non-number for a ``let`` that holds a number."""
    if not params:
        return text
    literals = {}
    for statement in parse(text).children[:-1]:
        if not isinstance(statement, Tree) or statement.data != "let_stmt":
            continue
        pipeline = statement.children[1]
        value = pipeline.children[0]
        if len(pipeline.children) == 1 and isinstance(value, Tree) and value.data in ("string", "number"):
            literals[str(statement.children[0]).lower()] = value
    edits = []
    for name, raw in params.items():
        node = literals.get(name.lower())
        if node is None:
            bound = ", ".join(sorted(literals)) or "none"
            raise UserError(f"--param {name}: the query has no scalar let {name} (it has: {bound})")
        if node.data == "number" and not _NUMBER.match(raw):
            raise UserError(f"--param {name}: expected a number like {node.children[0]}, got {raw!r}")
        literal = raw.strip() if node.data == "number" else _pantherflow_string(raw)
        edits.append((node.meta.start_pos, node.meta.end_pos, literal))
    for start, end, literal in sorted(edits, reverse=True):
        text = text[:start] + literal + text[end:]
    return text


def _pantherflow_string(value: str) -> str:
    """A single-quoted PantherFlow literal of ``value`` (backslash, quote and control escapes)."""
    escaped = sql_string(value)[1:-1].replace("''", "\\'")
    for char, code in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\b", "\\b"), ("\f", "\\f")):
        escaped = escaped.replace(char, code)
    escaped = "".join(c if c.isprintable() or c == " " else f"\\u{ord(c):04x}" for c in escaped)
    return f"'{escaped}'"


def run_saved(folder: Path, query: str, now: datetime, params: dict[str, str]) -> list[dict]:
    """Rows of a saved PantherFlow query, its ``--param`` values set, over the lake of ``folder``."""
    from tracebit_pack.query.pantherflow_sql import run_on_folder  # duckdb only when a query runs

    return run_on_folder(with_params(query, params), folder, now)
