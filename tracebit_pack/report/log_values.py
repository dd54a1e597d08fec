"""Values read from the replay report, made safe to show: every log value is attacker-controlled.

Why a module of its own: both the view model (``tracebit_pack.report.view_model``) and the page
(``tracebit_pack.report.html``) read the report defensively (a missing or oddly typed key degrades
that part of the page) and show its strings cleaned (``clean``: lone surrogates, control and bidi
characters shown as ``\\uXXXX``) before Jinja2's autoescape; the charts expect cleaned values too.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tracebit_pack.times import parse_event_time, rfc3339_utc

_SHOWN_AS_ESCAPES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def clean(value: Any) -> Any:
    """``value`` with every string made safe to write and to show: lone surrogates (which UTF-8
    cannot encode) and invisible control, format and bidi characters become a visible ``\\uXXXX``;
    tab and newline stay. Containers are cleaned recursively; other values are returned as they are."""
    if isinstance(value, str):
        return "".join(_clean_char(c) for c in value) if _needs_cleaning(value) else value
    if isinstance(value, dict):
        return {clean(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def _needs_cleaning(text: str) -> bool:
    return any(c not in "\t\n" and unicodedata.category(c) in _SHOWN_AS_ESCAPES for c in text)


def _clean_char(char: str) -> str:
    if char in "\t\n" or unicodedata.category(char) not in _SHOWN_AS_ESCAPES:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def text(value: Any) -> str:
    """A value as display text: strings as they are, lists of scalars joined, others as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, default=str, ensure_ascii=False)


def parse_time(value: Any) -> datetime | None:
    """An event time from the report (``2024-12-13T16:11:20Z``, ``2024-12-13 16:11:20.000000``) in UTC."""
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", value.strip()):
        return None
    parsed = parse_event_time(value)
    return parsed.astimezone(UTC) if parsed else None


def iso_utc(moment: datetime | None) -> str:
    """A time as every report shows it (``2024-12-13T16:11:20Z``); empty for None."""
    return rfc3339_utc(moment) if moment else ""


def safe_link(value: Any) -> str | None:
    """``value`` if it is an absolute http(s) URL with a host and no whitespace or quote; else None."""
    if not isinstance(value, str) or len(value) > 2048 or re.search(r"[\s\"'<>`\\]", value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.hostname else None


def as_dict(value: Any) -> dict:
    """``value`` if it is a dict, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    """``value`` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def nonblank_strings(value: Any) -> list[str]:
    """The non-blank strings of a list (anything else in it, or a non-list, left out)."""
    return [v for v in as_list(value) if isinstance(v, str) and v.strip()]
