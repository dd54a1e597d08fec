"""Plain text shared by the commands: a value on one line, a value clipped to a width, an aligned
table, and the check that an argument was valid UTF-8."""

from __future__ import annotations

import json

from tracebit_pack.errors import UserError


def lit(text: str) -> str:
    """A SQL string literal (quotes doubled): how a value is placed in DuckDB SQL."""
    return "'" + text.replace("'", "''") + "'"


def check_utf8(what: str, text: str) -> None:
    """UserError for text that came from bytes that are not UTF-8 (surrogate-escaped by Python)."""
    if any("\udc80" <= char <= "\udcff" for char in text):
        raise UserError(f"{what}: the value is not valid UTF-8")


def compact(value: object) -> str:
    """A string as it is; anything else as compact JSON (``default=str`` for dates and the like)."""
    return value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the last one an ellipsis when anything was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def aligned_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Header, a ``-+-`` rule and one line per row, each column padded to its widest cell."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
    return lines
