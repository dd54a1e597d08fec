"""Every parser and formatter of times the tooling uses, so each form is read and written one way.

Parsers:
    parse_rfc3339(text) -> datetime (UTC)       strict RFC 3339 with a timezone; ValueError
    parse_with_formats(value, time_formats)     a schema's Panther ``timeFormats``; ValueError
    parse_event_time(value) -> datetime | None  a ``p_event_time`` as rules and reports see it:
                                                RFC 3339 or Panther's ``YYYY-MM-DD HH:MM:SS[.f]`` (UTC)
    parse_utc_text(text) -> datetime (UTC)      a time written in a query: RFC 3339,
                                                ``YYYY-MM-DD HH:MM:SS[.f]`` (UTC) or a date; ValueError
    parse_now(text) -> datetime (UTC)           the ``--now`` flag of every command: RFC 3339 with a
                                                timezone; one-line UserError otherwise
Formatters:
    panther_time(moment, timespec)              ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (Panther's form)
    rfc3339_utc(moment, timespec)               ``YYYY-MM-DDTHH:MM:SS[.fff]Z``
    shown_time(text)                            a stored time as the text outputs show it (RFC 3339 Z)

The Panther global ``tracebit_pivots`` keeps its own small formatter: it runs inside Panther, where
only the standard library can be imported.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tracebit_pack.errors import UserError
from tracebit_pack.text import check_utf8

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")
_PANTHER_STORED = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NO_ZONE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_UNIX_SCALE = {"unix": 1, "unix_ms": 1_000, "unix_us": 1_000_000, "unix_ns": 1_000_000_000}

# The Unix epoch: an event time before it is corrupt data, not a log (replay refuses it).
EARLIEST_EVENT_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def _micro(frac: str | None) -> int:
    """Fractional seconds (up to 9 digits) as microseconds, truncated."""
    return int((frac or "0")[:6].ljust(6, "0"))


def parse_rfc3339(text: object) -> datetime:
    """Parse an RFC 3339 timestamp (``T`` separator, ``Z`` or ``+hh:mm``) into an aware UTC datetime.

    Fractions beyond microseconds are truncated. Raises ValueError if ``text`` is not RFC 3339.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an RFC 3339 string, got {type(text).__name__}")
    match = _RFC3339.match(text)
    if not match:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second, frac, zone = match.groups()
    offset = timedelta(0)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    try:
        naive = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), _micro(frac))
    except ValueError as err:
        raise ValueError(f"not a valid date/time: {text!r} ({err})") from None
    return (naive - offset).replace(tzinfo=UTC)


def parse_with_formats(value: object, time_formats: tuple[str, ...] | list[str]) -> datetime:
    """Parse ``value`` with the first matching Panther ``timeFormats`` entry; aware UTC datetime.

    Supported: ``rfc3339``, ``unix``, ``unix_ms``, ``unix_us``, ``unix_ns`` and strftime patterns.
    Whatever the formats, the form Panther stores and exports every timestamp in
    (``YYYY-MM-DD HH:MM:SS[.fffffffff]``, UTC; events copied from Panther carry it) is accepted too.
    Raises ValueError if no format matches.
    """
    if isinstance(value, str) and _PANTHER_STORED.match(value):
        return parse_rfc3339(value.replace(" ", "T", 1) + "Z")  # UTC, as Panther stores it
    errors = []
    for fmt in time_formats:
        try:
            if fmt == "rfc3339":
                return parse_rfc3339(value)
            if fmt in _UNIX_SCALE:
                if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                    raise ValueError(f"expected a number for {fmt}")
                seconds = float(value) / _UNIX_SCALE[fmt]
                return datetime.fromtimestamp(seconds, tz=UTC)
            if not isinstance(value, str):
                raise ValueError("expected a string")
            parsed = datetime.strptime(value, fmt)
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except (ValueError, OverflowError, OSError) as err:
            errors.append(str(err))
    raise ValueError(errors[0] if len(errors) == 1 else f"matches none of {list(time_formats)}")


def parse_event_time(value: str) -> datetime | None:
    """Parse rfc3339 or Panther's ``YYYY-MM-DD HH:MM:SS.fff`` (UTC) into an aware datetime, else None."""
    text = value.strip().replace("T", " ", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python accepts at most 6 fractional digits
    if "." in text:
        head, _, frac = text.partition(".")
        digits = ""
        rest = ""
        for i, ch in enumerate(frac):
            if not ch.isdigit():
                rest = frac[i:]
                break
            digits += ch
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_utc_text(text: str) -> datetime:
    """A time written in a query: RFC 3339, ``YYYY-MM-DD HH:MM:SS[.f]`` (UTC) or a date; ValueError."""
    if _DATE_ONLY.match(text):
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    if _PANTHER_STORED.match(text):
        head, _, frac = text.partition(".")
        moment = datetime.strptime(head, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        return moment + timedelta(microseconds=_micro(frac))
    return parse_rfc3339(text)


def parse_now(text: str) -> datetime:
    """``--now``: an RFC 3339 timestamp with a timezone (``2024-06-30T12:00:00Z``); UserError otherwise."""
    check_utf8("--now", text)
    try:
        return parse_rfc3339(text)
    except ValueError:
        if _NO_ZONE.match(text.strip()):
            raise UserError(f"--now: {text!r} has no timezone; add Z (UTC) or an offset (+02:00)") from None
        raise UserError(f"--now: expected an RFC 3339 time like 2024-06-30T12:00:00Z, got {text!r}") from None


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def panther_time(moment: datetime, timespec: str = "microseconds") -> str:
    """Format as Panther's p_event_time / p_parse_time: ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC."""
    # isoformat, not strftime: %Y gives "1" for year 1 on glibc, a timestamp nothing parses back
    return _naive_utc(moment).isoformat(sep=" ", timespec=timespec)


def rfc3339_utc(moment: datetime, timespec: str = "seconds") -> str:
    """Format as RFC 3339 in UTC with a ``Z``: ``YYYY-MM-DDTHH:MM:SS[.fff]Z`` (``timespec`` as isoformat)."""
    return _naive_utc(moment).isoformat(timespec=timespec) + "Z"


_SHOWN_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:Z|[+-]00:?00)?$"
)


def shown_time(text: str) -> str:
    """A lake / Panther timestamp as the text outputs show every time: RFC 3339 UTC with a ``Z``,
    milliseconds only when non-zero (``2024-12-12T22:41:07.311Z``); any other text as it is."""
    found = _SHOWN_TIMESTAMP.match(text)
    if not found:
        return text
    day, clock, fraction = found.groups()
    millis = (fraction or "").ljust(3, "0")[:3]
    return f"{day}T{clock}" + (f".{millis}" if millis.strip("0") else "") + "Z"
