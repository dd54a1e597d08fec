"""When Panther would have had an event: its ``p_parse_time`` in the backtest.

In order of precedence:

1. an event exported from Panther keeps its own ``p_parse_time``;
2. an event in a CloudTrail S3 object named as CloudTrail names them,
   ``<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>.json.gz``, arrives at the delivery time
   in that name (never before its own event time: the name has minute precision);
3. any other event arrives at its event time plus the delay given for its log type
   (``--arrival-delay LOGTYPE=DURATION``, default 0).

The same rule is given as SQL (for rows loaded by DuckDB) and in Python (for the few events
``ingest`` enriches in Python).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tracebit_pack.errors import UsageError
from tracebit_pack.logs.schemas import LOG_TYPES
from tracebit_pack.times import parse_event_time

CLOUDTRAIL_OBJECT = re.compile(
    r"^\d{12}_CloudTrail(?:-Digest)?_[a-z0-9-]+_(\d{8}T\d{4}Z)_[A-Za-z0-9]+\.json(?:\.gz)?$"
)
_DURATION = re.compile(r"^(\d+)\s*(s|sec|m|min|h|hr|d|day)s?$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "day": 86400}


def delivery_time(path: str | Path) -> datetime | None:
    """The delivery time in a CloudTrail S3 object's name, or None for any other file."""
    found = CLOUDTRAIL_OBJECT.match(Path(str(path)).name)
    if not found:
        return None
    return datetime.strptime(found.group(1), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``1d`` (also ``15min``, ``2hr``, ``1day``) as a timedelta."""
    found = _DURATION.match(text.strip())
    if not found:
        raise UsageError(f"--arrival-delay: cannot read the duration {text!r} (e.g. 90s, 15m, 2h, 1d)")
    return timedelta(seconds=int(found.group(1)) * _UNIT_SECONDS[found.group(2).lower()])


def parse_delays(values: Iterable[str]) -> dict[str, timedelta]:
    """``LOGTYPE=DURATION`` flags as ``{log type: delay}`` (an unknown log type is an error)."""
    delays: dict[str, timedelta] = {}
    for value in values:
        log_type, sep, duration = value.partition("=")
        if not sep or log_type not in LOG_TYPES:
            raise UsageError(
                f"--arrival-delay {value!r}: expected LOGTYPE=DURATION, LOGTYPE one of {', '.join(LOG_TYPES)}"
            )
        delays[log_type] = parse_duration(duration)
    return delays


def _sql_ts(moment: datetime) -> str:
    return f"TIMESTAMP '{moment.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')}'"


@dataclass(frozen=True)
class Arrival:
    """How events arrive: a delay per log type (absent: 0); CloudTrail object names; exports."""

    delays: Mapping[str, timedelta] = field(default_factory=dict)

    def delay(self, log_type: str) -> timedelta:
        return self.delays.get(log_type, timedelta(0))

    def describe(self) -> dict[str, str]:
        """The rule for each log type, as the report states it."""
        out = {}
        for log_type in LOG_TYPES:
            seconds = int(self.delay(log_type).total_seconds())
            rule = f"event time + {seconds}s"
            if log_type == "AWS.CloudTrail":
                rule = f"S3 object name's delivery time, else {rule}"
            out[log_type] = f"exported p_parse_time, else {rule}"
        return out

    def python(
        self, log_type: str, path: str | Path, event: Mapping, occurred: datetime | None
    ) -> datetime | None:
        """The arrival of one event (``event`` as read, ``p_*`` fields included when exported)."""
        exported = event.get("p_parse_time")
        if isinstance(exported, str):
            parsed = parse_event_time(exported)
            if parsed is not None:
                return parsed
        delivered = delivery_time(path)
        if delivered is not None:
            return max(delivered, occurred) if occurred is not None else delivered
        return None if occurred is None else occurred + self.delay(log_type)

    def sql(self, log_type: str, paths: Iterable[Path], *, doc: str | None = "doc") -> str:
        """SQL of the arrival of a row of ``ingest``'s checked table (columns ``file``,
        ``"p_event_time"`` and, when ``doc`` is given, the event's JSON text)."""
        seconds = int(self.delay(log_type).total_seconds())
        default = '"p_event_time"' if not seconds else f'"p_event_time" + INTERVAL {seconds} SECOND'
        cases = []
        for path in paths:
            delivered = delivery_time(path)
            if delivered is not None:
                name = str(path).replace("'", "''")
                cases.append(f"WHEN '{name}' THEN greatest({_sql_ts(delivered)}, \"p_event_time\")")
        expr = f"CASE file {' '.join(cases)} ELSE {default} END" if cases else default
        if doc is None:
            return expr
        exported = (
            f"CAST(TRY_CAST(regexp_replace(json_extract_string({doc}, '$.p_parse_time'), "
            r"'(\.\d{6})\d+', '\1') AS TIMESTAMPTZ) AS TIMESTAMP)"
        )
        return f"coalesce(CASE WHEN contains({doc}, '\"p_parse_time\"') THEN {exported} END, {expr})"
