"""Pivot queries for Tracebit alerts, rendered: the one place where a value enters a pivot's query.

Each pivot has a Snowflake SQL template and a PantherFlow template (``tracebit_pivot_templates``, the
single source of truth of both). ``render_pivots(context)`` fills
them with values from a Tracebit rule's alert context; ``render_pivot(name, params)`` is also used
to generate the saved queries in ``queries/tracebit_pivot_*.yml`` (``make queries``) and by
``tracebit-pack query run``.

* SQL: the principal (ARN or identity) sits in a leading ``WITH params AS (SELECT <literal> AS
  <name>)`` CTE. The time window is a Panther macro with LITERAL bounds,
  ``p_occurs_between('<start>', '<end>', alias)``, computed here from the alert time, so that
  Snowflake prunes micro-partitions on it.
* PantherFlow: only constructs that Panther's own published PantherFlow uses (the allow-list is
  ``tracebit_pack/query/pantherflow_attested.py``): values inline as escaped literals (no scalar
  ``let``), ``time.parse_timestamp(...) - time.parse_timespan(...)`` windows, ``strings.ilike``,
  ``agg.*``, ``time.trunc``, ``snowflake.func`` and ``sort ... asc``.

Matching of the principal is case-insensitive in both languages (``ILIKE`` / ``strings.ilike``);
``%`` and ``_`` in a value act as wildcards there, so an odd value can only widen the match.

Values from logs are attacker-controlled. ``sql_literal`` and ``pantherflow_literal`` turn any
string into exactly ONE string literal of the target language (quotes, backslashes, control and
invisible format characters are escaped), and templates only ever place values in those literals.
Times are parsed and re-formatted here, never copied.

The templates (``PIVOTS``) live in the global ``tracebit_pivot_templates``; this module renders them
and re-exports their names. Panther imports it under its GlobalID ``tracebit_pivots``. Everything
here is cheap and ``render_pivots`` never raises.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from tracebit_pivot_templates import (
    AWS_CREDENTIAL_CHANGE_EVENT_NAMES,
    AWS_MFA_TAMPERING_EVENT_NAMES,
    EXAMPLE_PARAMS,
    MFA_RESET_EVENT_TYPES,
    OKTA_TARGET_POSITIONS,
    PIVOTS,
)

# Values longer than this are not rendered (no real ARN or login is that long; keeps the alert
# context small). The pivot is skipped instead of truncating the value into a wrong query.
MAX_VALUE_LENGTH = 2048

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_UNIT_SECONDS = {"day": 86400, "hour": 3600}
_UNIT_SUFFIX = {"day": "d", "hour": "h"}
MAX_WINDOW = {"day": 3650, "hour": 87600}

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_SURROGATE = re.compile("[\ud800-\udfff]")

# Characters written as an escape instead of raw: every C0/C1 control character and DEL (Cc),
# invisible format characters such as bidi overrides and zero-width joiners (Cf), line/paragraph
# separators (Zl, Zp), surrogates (Cs), private use (Co) and unassigned code points (Cn).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
# Panther expands its SQL macros as text, possibly inside string literals: never let a value
# spell one. The first letter of a macro name is written as a \\u escape.
_SQL_MACRO = re.compile(r"(?i)p(?=_(?:occurs_|current_timestamp|matches))")


def _escape_char(char: str, quote_escape: str) -> str:
    if char == "\\":
        return "\\\\"
    if char == "'":
        return quote_escape
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    if (code < 0x80 and char.isprintable()) or (
        code <= 0xFFFF and unicodedata.category(char) not in _ESCAPED_CATEGORIES
    ):
        return char
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return char  # astral characters (emoji, CJK ext.) cannot break a literal: kept as they are


def _escape(value: str, quote_escape: str) -> str:
    if value.isascii() and value.isprintable() and "\\" not in value and "'" not in value:
        return value  # fast path: ordinary ARNs and emails
    return "".join(_escape_char(char, quote_escape) for char in value)


def sql_literal(value: str) -> str:
    """One Snowflake single-quoted string literal whose value is exactly ``value``.

    Snowflake processes backslash escapes in single-quoted literals: ``\\\\`` ``\\'`` ``\\n`` ``\\r``
    ``\\t`` ``\\b`` ``\\f`` ``\\uhhhh``. A quote is doubled (``''``, the ANSI form).
    """
    text = _escape(str(value), "''")
    if "_" in text:
        text = _SQL_MACRO.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
    return f"'{text}'"


def pantherflow_literal(value: str) -> str:
    """One PantherFlow single-quoted string literal whose value is exactly ``value``.

    PantherFlow (panther.md section 5) escapes the quote and the backslash with a backslash and
    supports ``\\n \\r \\t \\b \\f \\uhhhh``; ``"`` needs no escape inside single quotes.
    """
    return f"'{_escape(str(value), chr(92) + chr(39))}'"


def format_alert_time(value) -> str | None:
    """``'YYYY-MM-DD HH:MM:SS'`` in UTC from an rfc3339 / Panther timestamp string, or None."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and 10 <= len(value) <= 64:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return format_time(parsed)


def format_time(moment: datetime) -> str:
    """``moment.strftime(TIME_FORMAT)``. For a naive time of a four-digit year in whole seconds
    (every pivot window) ``isoformat`` writes the same text, three times faster."""
    if moment.tzinfo is None and not moment.microsecond and moment.year >= 1000:
        return moment.isoformat(" ")
    return moment.strftime(TIME_FORMAT)


def parse_alert_time(value: str) -> datetime:
    """``'YYYY-MM-DD HH:MM:SS'`` (UTC) as a datetime; ValueError for anything else."""
    if not isinstance(value, str):
        raise ValueError(f"alert_time must be 'YYYY-MM-DD HH:MM:SS', got {value!r}")
    return _parsed_alert_time(value)


@lru_cache(maxsize=64)
def _parsed_alert_time(text: str) -> datetime:
    # Every pivot of one alert reads the same alert_time (twice each); strptime is the cost.
    return datetime.strptime(text, TIME_FORMAT)


def window_size(name: str, params: dict) -> int:
    """The pivot's window option (e.g. lookback_days) from ``params``, or its default; ValueError."""
    option, default, unit, _ = PIVOTS[name]["window"]
    raw = params.get(option, default)
    text = str(raw).strip()
    if (
        isinstance(raw, bool)
        or not text.isascii()
        or not text.isdigit()
        or not 1 <= int(text) <= MAX_WINDOW[unit]
    ):
        raise ValueError(
            f"{option} must be a whole number of {unit}s from 1 to {MAX_WINDOW[unit]}, got {raw!r}"
        )
    return int(text)


def window(name: str, params: dict, size: int) -> tuple[datetime, datetime]:
    """``(start, end)`` of the pivot's time window around ``params``' alert_time (``size``: its
    ``window_size``)."""
    _, _, unit, after = PIVOTS[name]["window"]
    alert = parse_alert_time(params["alert_time"])
    before = timedelta(seconds=size * _UNIT_SECONDS[unit])
    later = before if after is None else timedelta(seconds=int(after[:-1]) * _UNIT_SECONDS[_unit_of(after)])
    try:
        return alert - before, alert + later
    except OverflowError:
        raise ValueError(f"the window around alert_time {params['alert_time']!r} is out of range") from None


def _unit_of(span: str) -> str:
    return {suffix: unit for unit, suffix in _UNIT_SUFFIX.items()}[span[-1]]


@lru_cache(maxsize=256)
def _template_format(template: str) -> str | None:
    """The template as a ``str.format_map`` pattern (its own braces doubled, each ``{{name}}`` a
    ``{name}``), or None when a placeholder name would read as a position."""
    parts = _PLACEHOLDER.split(template)  # text at even positions, names at odd ones
    if any(part.isdigit() for part in parts[1::2]):
        return None
    return "".join(
        "{" + part + "}" if n % 2 else part.replace("{", "{{").replace("}", "}}")
        for n, part in enumerate(parts)
    )


def _fill(template: str, values: dict) -> str:
    """The template with each placeholder replaced by its value (KeyError for an unknown one)."""
    pattern = _template_format(template)
    if pattern is None:
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    return pattern.format_map(values)


def render_pivot(name: str, params: dict) -> dict:
    """Render one pivot with ``params`` (raw values; escaped here).

    KeyError if a required parameter is missing; ValueError for an alert_time that is not
    ``YYYY-MM-DD HH:MM:SS`` or a window option (lookback_days / window_hours) out of range.
    """
    pivot = PIVOTS[name]
    _, _, unit, after = pivot["window"]
    values = {key: params[key] for key in pivot["params"]}
    size = window_size(name, params)
    start, end = window(name, params, size)
    span = f"{size}{_UNIT_SUFFIX[unit]}"
    sql_values = {key: sql_literal(values[key]) for key in pivot["values"]}
    sql_values["window_start"] = sql_literal(format_time(start))
    sql_values["window_end"] = sql_literal(format_time(end))
    pf_values = {key: pantherflow_literal(values[key]) for key in pivot["values"]}
    pf_values["alert_time"] = pantherflow_literal(format_time(parse_alert_time(values["alert_time"])))
    pf_values["before"] = pantherflow_literal(span)
    pf_values["after"] = pantherflow_literal(after or span)
    return {"sql": _fill(pivot["sql"], sql_values), "pantherflow": _fill(pivot["pantherflow"], pf_values)}


def _usable(value) -> str | None:
    """A non-empty string short enough to render and encodable as UTF-8 (no lone surrogate)."""
    if isinstance(value, str):
        value = value.strip()
        if value and len(value) <= MAX_VALUE_LENGTH and not _SURROGATE.search(value):
            return value
    return None


def pick_identity(identities) -> str | None:
    """The identity the Okta pivot searches: the first email in ``identities``, else the first one."""
    if not isinstance(identities, list | tuple):
        return None
    usable = [v.lower() for v in (_usable(i) for i in identities[:50]) if v]
    for value in usable:
        if "@" in value:
            return value
    return usable[0] if usable else None


def principal_user(arn) -> str | None:
    """The IAM user name of ``arn:...:user/<path>/<name>`` or the session name of
    ``arn:...:assumed-role/<role>/<session>`` / ``federated-user/<name>``; None otherwise."""
    arn = _usable(arn)
    if not arn or not arn.lower().startswith("arn:"):
        return None
    resource = arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    if kind.lower() == "assumed-role":
        rest = rest.partition("/")[2]
    elif kind.lower() not in ("user", "federated-user"):
        return None
    name = rest.rsplit("/", 1)[-1] if kind.lower() == "user" else rest
    return name or None


def pivot_params(context: dict) -> dict:
    """The pivot parameters available in an alert context (missing ones are left out).

    A principal that is not the customer's (``principal_scope`` other than ``customer``: a
    Tracebit-issued credential, or an account outside the customer's) is never a parameter: its
    activity is in none of the customer's logs. The alert's source IP is then the lead, and for a
    Tracebit-issued credential the owner's identities stand in for the principal: any ARN ending in
    ``/<first identity>`` (the owner's SSO role sessions) and the IAM user named after the owner.
    """
    params = {}
    scope = context.get("principal_scope")
    customer = scope in (None, "customer")
    arn = _usable(context.get("principal_arn")) if customer else None
    if arn:
        params["principal_arn"] = arn
    user = principal_user(arn)
    if user:
        params["principal_user"] = user
    owner = pick_identity(context.get("identities")) if scope == "tracebit_issued" else None
    if owner:
        params["principal_arn"] = f"arn:aws:%/{owner}"
        ids = [_usable(i) for i in context.get("identities")[:50]]
        params["principal_user"] = next((i.lower() for i in ids if i and "@" not in i), owner)
    ips = context.get("source_ips")
    source_ip = _usable(ips[0]) if not customer and isinstance(ips, list | tuple) and ips else None
    if source_ip:
        params["source_ip"] = source_ip
    identity = pick_identity(context.get("identities"))
    if identity:
        params["identity"] = identity
    alert_time = format_alert_time(context.get("alert_time"))
    if alert_time:
        params["alert_time"] = alert_time
    return params


def render_pivots(context: dict) -> dict:
    """``{QueryName: {"sql": str, "pantherflow": str}}`` for every pivot whose parameters are present.

    A pivot whose parameter is missing from the context (no ARN for an Okta or Azure principal,
    no identity, no parseable alert time) is left out. Never raises: on any error the pivots
    rendered so far are returned.
    """
    pivots: dict = {}
    try:
        if not hasattr(context, "get"):
            return pivots
        params = pivot_params(context)
        for name, pivot in PIVOTS.items():
            if all(key in params for key in pivot["params"]):
                pivots[name] = render_pivot(name, params)
    except Exception:  # noqa: BLE001 - alert context must never fail because of a pivot
        return pivots
    return pivots
