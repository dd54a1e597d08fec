"""Plain text shared by the commands: a value on one line, a value clipped to a width, an aligned
table, the check that an argument was valid UTF-8, and text made safe to print on a terminal."""

from __future__ import annotations

import json
import unicodedata

from tracebit_pack.errors import UserError

# Unicode categories shown as escapes rather than as themselves: controls (C0, DEL, C1: ESC, BEL,
# CSI...), format characters (bidirectional overrides...), lone surrogates, private use,
# unassigned, and the line/paragraph separators. A terminal acts on some of them, others reorder,
# break or hide what is shown.
SHOWN_AS_ESCAPES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str, keep: str = "") -> str:
    """``text`` safe to show: every character of a ``SHOWN_AS_ESCAPES`` category but those in
    ``keep`` written as ``\\xNN`` / ``\\uNNNN`` / ``\\UNNNNNNNN`` (on a terminal, one value stays
    on one line and cannot move the cursor, retitle or clear the screen)."""
    if text.isprintable():  # fast path: isprintable() is False for every category above
        return text
    return "".join(
        _escape(c) if c not in keep and unicodedata.category(c) in SHOWN_AS_ESCAPES else c for c in text
    )


def terminal_json(value: object, indent: int | None = 2) -> str:
    """``value`` as JSON readable on a terminal: non-ASCII text as is, but every character of a
    ``SHOWN_AS_ESCAPES`` category as a JSON ``\\u`` escape (still the same JSON value)."""
    text = json.dumps(value, indent=indent, ensure_ascii=False, default=str)
    if text.isprintable():
        return text
    # json.dumps escapes C0 controls inside strings itself: a raw newline here is indentation
    return "".join(
        json.dumps(c)[1:-1] if c != "\n" and unicodedata.category(c) in SHOWN_AS_ESCAPES else c for c in text
    )


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


def duration_text(seconds: object) -> str:
    """A duration at a glance: ``0s``, ``45s``, ``12m``, ``3h 05m``, ``2d 04h``; ``-`` when unknown."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return "-"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    hours, minutes = divmod(whole // 60, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"
