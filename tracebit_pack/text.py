"""Plain text shared by the commands: a value on one line, a value clipped to a width, an aligned
table, the check that an argument was valid UTF-8, and text made safe to print on a terminal."""

from __future__ import annotations

import json
import re

from tracebit_pack.errors import UserError

# Characters a terminal acts on instead of showing: C0 controls (ESC, BEL, line breaks, tab...),
# DEL, C1 controls (CSI...), and the Unicode line/paragraph separators and bidirectional controls
# that break or reorder what is shown.
_UNICODE_CONTROLS = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_INVISIBLE = re.compile(f"[\x00-\x1f{_UNICODE_CONTROLS}]")
_INVISIBLE_IN_JSON = re.compile(f"[{_UNICODE_CONTROLS}]")  # json.dumps escapes C0 in strings itself


def _escape_code(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` safe to print: every character of ``_INVISIBLE`` shown as ``\\xNN`` / ``\\uNNNN``
    (so one value stays on one line and cannot move the cursor, retitle or clear the terminal)."""
    return _INVISIBLE.sub(_escape_code, text)


def terminal_json(value: object, indent: int | None = 2) -> str:
    """``value`` as JSON readable on a terminal: non-ASCII text as is, but every character of
    ``_INVISIBLE`` in a string as a ``\\u`` escape (still the same JSON value)."""
    text = json.dumps(value, indent=indent, ensure_ascii=False, default=str)
    return _INVISIBLE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
