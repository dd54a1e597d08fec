"""Expand Panther's SQL macros as text, with an injectable "now".

Panther expands its macros before a query reaches Snowflake, and real queries use forms that are
not SQL (``p_occurs_since(1h, , p_parse_time)``), so this works on the text, outside string
literals, quoted identifiers and comments. ``expand_macros(sql, now)`` returns Snowflake SQL.

Semantics chosen (Panther's exact expansion is not documented; every bound is inclusive):
  * ``p_occurs_since(offset[, alias[, column]])``
        -> ``(col >= <now - offset> AND col <= <now>)``  (the lake as of "now")
  * ``p_occurs_between(start, end[, alias[, column]])`` -> ``(col BETWEEN <start> AND <end>)``
  * ``p_occurs_around(time, offset[, alias[, column]])``
        -> ``(col BETWEEN <time - offset> AND <time + offset>)``
  * ``p_occurs_after(time[, alias[, column]])``  -> ``(col >= <time>)``
  * ``p_occurs_before(time[, alias[, column]])`` -> ``(col <= <time>)``
  * ``p_current_timestamp()`` -> ``<now>``
``column`` defaults to ``p_event_time``; an empty ``alias`` (``p_occurs_since(1h, , col)``) means
no qualifier. Offsets: an integer number of seconds, or ``'N unit'`` / ``N unit`` / ``Nunit``
(quoted or bare) with unit s|sec|second(s), m|min|minute(s), h|hr|hrs|hour(s), d|day(s),
w|wk|week(s). Times given as string literals (RFC 3339, ``YYYY-MM-DD[ HH:MM:SS[.f]]``) are
converted to UTC here; any other expression is cast with ``CAST(expr AS TIMESTAMP_NTZ)``.
Every time is rendered as ``CAST('YYYY-MM-DD HH:MM:SS.ffffff' AS TIMESTAMP_NTZ)`` (UTC).

Anything else that looks like a Panther macro (``p_matches(...)``, an unknown ``p_occurs_*``), a
malformed argument, or a Jinja-templated query raises MacroError naming it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tracebit_pack.errors import UserError
from tracebit_pack.times import panther_time, parse_utc_text


class MacroError(UserError):
    """A Panther macro that cannot be expanded faithfully (unknown, or malformed arguments)."""


MACROS = (
    "p_occurs_since",
    "p_occurs_between",
    "p_occurs_around",
    "p_occurs_after",
    "p_occurs_before",
    "p_current_timestamp",
)

_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604800),
}
_OFFSET = re.compile(r"^(\d+)\s*([a-z]*)$")
_IDENT = re.compile(r'^(?:[A-Za-z_][A-Za-z0-9_$]*|"[^"]+")(?:\.(?:[A-Za-z_][A-Za-z0-9_$]*|"[^"]+"))*$')
_MACRO_CALL = re.compile(r"\bp_[a-z0-9_]+\s*\(", re.IGNORECASE)


def ts_literal(moment: datetime) -> str:
    """``CAST('YYYY-MM-DD HH:MM:SS.ffffff' AS TIMESTAMP_NTZ)`` for ``moment`` (UTC)."""
    return f"CAST('{panther_time(moment)}' AS TIMESTAMP_NTZ)"


def parse_offset(text: str, macro: str = "macro") -> int:
    """Seconds in an offset argument: ``900``, ``'1 day'``, ``96 hrs``, ``1h``, ``'90d'``."""
    raw = text.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        raw = raw[1:-1].strip()
    match = _OFFSET.match(raw.lower())
    if not match or (match.group(2) and match.group(2) not in _UNITS):
        raise MacroError(f"{macro}: cannot read the offset {text.strip()!r} (e.g. 900, '1 day', 1h, '90d')")
    return int(match.group(1)) * _UNITS.get(match.group(2) or "s", 1)


# A time given in a macro string literal: RFC 3339, ``YYYY-MM-DD HH:MM:SS[.f]`` (UTC) or a date.


def _time_arg(text: str, macro: str) -> tuple[str, datetime | None]:
    """SQL for a time argument, and its value when it is a literal."""
    raw = text.strip()
    if not raw:
        raise MacroError(f"{macro}: a time argument is empty")
    if len(raw) >= 2 and raw[0] == raw[-1] == "'" and "'" not in raw[1:-1]:
        try:
            moment = parse_utc_text(raw[1:-1])
        except ValueError as err:
            raise MacroError(f"{macro}: cannot read the time {raw}: {err}") from None
        return ts_literal(moment), moment
    return f"CAST({raw} AS TIMESTAMP_NTZ)", None


def _column(args: list[str], start: int, macro: str) -> str:
    alias = args[start].strip() if len(args) > start else ""
    column = args[start + 1].strip() if len(args) > start + 1 else ""
    if len(args) > start + 2:
        raise MacroError(f"{macro}: too many arguments ({len(args)})")
    column = column or "p_event_time"
    for part, what in ((alias, "table alias"), (column, "column")):
        if part and not _IDENT.match(part):
            raise MacroError(f"{macro}: the {what} {part!r} is not an identifier")
    return f"{alias}.{column}" if alias else column


def _expand_one(name: str, args: list[str], now: datetime) -> str:
    macro = name.lower()
    if macro == "p_current_timestamp":
        if any(a.strip() for a in args):
            raise MacroError("p_current_timestamp takes no arguments")
        return ts_literal(now)
    if not args or not args[0].strip():
        raise MacroError(f"{macro}: missing arguments")
    if macro == "p_occurs_since":
        seconds = parse_offset(args[0], macro)
        col = _column(args, 1, macro)
        return f"({col} >= {ts_literal(now - timedelta(seconds=seconds))} AND {col} <= {ts_literal(now)})"
    if macro == "p_occurs_between":
        if len(args) < 2:
            raise MacroError("p_occurs_between needs a start and an end")
        start, _ = _time_arg(args[0], macro)
        end, _ = _time_arg(args[1], macro)
        return f"({_column(args, 2, macro)} BETWEEN {start} AND {end})"
    if macro == "p_occurs_around":
        if len(args) < 2:
            raise MacroError("p_occurs_around needs a time and an offset")
        _, moment = _time_arg(args[0], macro)
        if moment is None:
            raise MacroError("p_occurs_around: the time must be a string literal")
        delta = timedelta(seconds=parse_offset(args[1], macro))
        col = _column(args, 2, macro)
        return f"({col} BETWEEN {ts_literal(moment - delta)} AND {ts_literal(moment + delta)})"
    if macro in ("p_occurs_after", "p_occurs_before"):
        sql, _ = _time_arg(args[0], macro)
        op = ">=" if macro == "p_occurs_after" else "<="
        return f"({_column(args, 1, macro)} {op} {sql})"
    raise MacroError(f"unsupported Panther macro {name}()")


def _skip_quoted(sql: str, i: int) -> int:
    """Index after the quoted literal / identifier / comment starting at ``i`` (or ``i`` if none)."""
    ch = sql[i]
    if ch in ("'", '"'):
        j = i + 1
        while j < len(sql):
            if sql[j] == "\\" and ch == "'":
                j += 2
                continue
            if sql[j] == ch:
                if j + 1 < len(sql) and sql[j + 1] == ch:
                    j += 2
                    continue
                return j + 1
            j += 1
        raise MacroError("unterminated quoted string in the query")
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end < 0 else end
    if sql.startswith("/*", i):
        end = sql.find("*/", i + 2)
        if end < 0:
            raise MacroError("unterminated /* comment in the query")
        return end + 2
    return i


def _split_args(sql: str, start: int, name: str) -> tuple[list[str], int]:
    """Arguments of the call whose '(' is at ``start``; returns them and the index after ')'."""
    depth = 0
    args: list[str] = []
    current = start + 1
    i = start
    while i < len(sql):
        skip = _skip_quoted(sql, i)
        if skip != i:
            i = skip
            continue
        ch = sql[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[current:i])
                if len(args) == 1 and not args[0].strip():
                    args = []
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append(sql[current:i])
            current = i + 1
        i += 1
    raise MacroError(f"{name}: unbalanced parentheses")


# Where a quoted literal, a comment or a macro call may start; expand_macros copies the text between.
_MAY_START = re.compile(r"['\"/\-pP]")


def expand_macros(sql: str, now: datetime) -> str:
    """``sql`` with every Panther macro expanded for the given ``now`` (aware or naive UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if "-- pragma: template" in sql or "{{" in sql or "{%" in sql:
        raise MacroError("Jinja-templated queries (-- pragma: template, {{ }}, {% %}) are not supported")
    out: list[str] = []
    i = 0
    while i < len(sql):
        found = _MAY_START.search(sql, i)  # text up to the next quote, comment or p: kept as is
        if found is None:
            out.append(sql[i:])
            break
        if found.start() > i:
            out.append(sql[i : found.start()])
            i = found.start()
        skip = _skip_quoted(sql, i)
        if skip != i:
            out.append(sql[i:skip])
            i = skip
            continue
        match = _MACRO_CALL.match(sql, i) if sql[i] in "pP" and (i == 0 or not _is_word(sql[i - 1])) else None
        if match:
            name = match.group(0)[:-1].strip()
            if name.lower() not in MACROS:
                raise MacroError(f"unsupported Panther macro {name}()")
            args, end = _split_args(sql, match.end() - 1, name)
            # Macros may nest (e.g. p_current_timestamp() inside an argument).
            args = [expand_macros(a, now) if _MACRO_CALL.search(a) else a for a in args]
            out.append(_expand_one(name, args, now))
            i = end
            continue
        out.append(sql[i])
        i += 1
    return "".join(out)


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch in "_$.:"
