"""When a scheduled query or a correlation rule runs: its ``Schedule`` as a list of run times.

* ``RateMinutes: N``: Panther runs the query again N minutes after its previous run. The phase
  is the moment the query was enabled, which nothing in the pack records; the backtest aligns
  the runs on the UTC clock, at whole multiples of N minutes since 1970-01-01T00:00Z (hourly
  queries at :00, every 30 minutes at :00 and :30, daily at midnight UTC).
* ``CronExpression``: five fields (minute, hour, day of month, month, day of week), in UTC, as
  Panther documents it, expanded by ``croniter``.

A run at T sees the data that arrived by T (``as_of``); "now" for its macros is T.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from croniter import croniter

from tracebit_pack.errors import UserError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_RUNS = 200_000  # per query and backtest: a guard against a schedule far finer than the data


def _rate(schedule: Mapping, where: str) -> int | None:
    rate = schedule.get("RateMinutes")
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
        raise UserError(f"{where}: Schedule.RateMinutes must be a positive integer, got {rate!r}")
    return rate


def _cron(schedule: Mapping, where: str) -> str | None:
    expression = schedule.get("CronExpression")
    if expression is None:
        return None
    text = str(expression).strip()
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise UserError(f"{where}: Schedule.CronExpression must be five cron fields, got {expression!r}")
    return text


def next_run(schedule: Mapping, after: datetime, where: str = "Schedule") -> datetime:
    """The first run strictly after ``after`` (UTC)."""
    if not isinstance(schedule, Mapping):
        raise UserError(f"{where}: no Schedule")
    rate = _rate(schedule, where)
    cron = _cron(schedule, where)
    if (rate is None) == (cron is None):
        raise UserError(f"{where}: Schedule needs exactly one of RateMinutes or CronExpression")
    after = after.astimezone(UTC)
    if rate is not None:
        step = timedelta(minutes=rate)
        return EPOCH + step * ((after - EPOCH) // step + 1)
    return croniter(cron, after).get_next(datetime).astimezone(UTC)


def run_times(schedule: Mapping, start: datetime, end: datetime, where: str = "Schedule") -> list[datetime]:
    """Every run T with ``start < T <= end``, in order."""
    out: list[datetime] = []
    moment = next_run(schedule, start, where)
    while moment <= end:
        out.append(moment)
        if len(out) > MAX_RUNS:
            raise UserError(f"{where}: more than {MAX_RUNS} runs between {start} and {end}")
        moment = next_run(schedule, moment, where)
    return out


def covering_end(schedule: Mapping, last_arrival: datetime, where: str = "Schedule") -> datetime:
    """The first run at or after ``last_arrival``: the run that sees the last event arrive."""
    return next_run(schedule, last_arrival - timedelta(microseconds=1), where)
