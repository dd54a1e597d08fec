"""Correlation rules on their ``Schedule``: every run looks back ``LookbackWindowMinutes``.

A run at T evaluates the rule (``engine.correlation``, Panther's Group / Sequence semantics) on
the signals that had been produced by T (a signal is produced when its rule ran: the event's
arrival, or the scheduled run that returned the row) and whose event time lies in
``[T - LookbackWindowMinutes, T]``.

Overlapping runs (Panther recommends a lookback of at least 1.5 x RateMinutes, so every match
is seen by more than one run) raise a match once. Panther's documentation does not say how; our
**choice**: when a run finds a match for a join value, every signal in its window that supports
that join value is *seen*. A later match of the same rule and join value that uses a seen signal
is the same incident seen again, and raises nothing (its window's signals become seen too, so a
growing incident stays one alert); one made only of signals no earlier run matched on (a later
incident of the same identity) is a new alert. Its ``created_at`` is the run that first saw it.

Runs with no signal of the rule in their window are skipped: they cannot match. So are runs in
which no signal of the rule arrived since the previous evaluated run, when the rule has no
``Absence`` or ``MaxMatchCount`` item: the window only lost signals, so it cannot hold a match
the previous run did not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tracebit_pack.engine.correlation import CorrelationRule
from tracebit_pack.engine.correlation_model import CorrelationMatch, Signal, match_values, resolve
from tracebit_pack.schedule.runs import covering_end, run_times
from tracebit_pack.times import parse_event_time


@dataclass
class RaisedMatch:
    match: CorrelationMatch
    created_at: datetime
    runs: int = 0  # runs that saw it (or a match sharing its signals)


def arrival_of(signal: Signal) -> datetime:
    """When the signal was produced: the ``p_parse_time`` it carries, else its event time."""
    parsed = parse_event_time(str(signal.data.get("p_parse_time") or ""))
    return parsed if parsed is not None else signal.time


def supports(rule: CorrelationRule, signal: Signal, key: dict) -> bool:
    """Whether ``signal`` offers the join value ``key`` on every criterion of one of its items."""
    for item in rule.items:
        if item.rule_id != signal.rule_id:
            continue
        paths = rule.paths_for(item.id)
        if all(
            key[name] in match_values(resolve(signal.data, path))
            for name, path in paths.items()
            if name in key
        ):
            return True
    return False


def schedule_of(rule: CorrelationRule) -> dict:
    detection = rule.spec.get("Detection") or [{}]
    return dict(detection[0].get("Schedule") or {})


def run_correlation(
    rule: CorrelationRule,
    signals: Iterable[Signal],
    *,
    start: datetime,
    end: datetime | None,
    last_arrival: datetime,
) -> tuple[list[RaisedMatch], int]:
    """The matches ``rule`` raises over the backtest, and the number of its runs."""
    mine = sorted(
        ((arrival_of(s), s) for s in signals if s.rule_id in rule.rule_ids), key=lambda p: (p[0], p[1].index)
    )
    schedule = schedule_of(rule)
    stop = end if end is not None else covering_end(schedule, last_arrival, rule.rule_id)
    times = run_times(schedule, start, stop, rule.rule_id)
    watches_absence = any(i.absence or i.max_count is not None for i in rule.items)
    raised: dict[str, list[RaisedMatch]] = {}
    used: dict[str, set[int]] = {}
    out: list[RaisedMatch] = []
    arrived = 0  # signals arrived by the previous evaluated run
    for moment in times:
        visible = [s for a, s in mine if a <= moment and moment - rule.lookback <= s.time <= moment]
        now_arrived = sum(1 for a, _ in mine if a <= moment)
        fresh = now_arrived > arrived
        arrived = now_arrived
        if not visible or (not fresh and not watches_absence):
            continue
        for match in rule.evaluate(visible):
            key = json.dumps(match.key, sort_keys=True, default=str)
            ids = {s.index for s in match.all_signals}
            seen = used.setdefault(key, set())
            again = bool(ids & seen)
            seen |= ids | {s.index for s in visible if supports(rule, s, match.key)}
            if again:
                for r in raised.get(key, []):
                    r.runs += 1
                continue
            found = RaisedMatch(match, moment, runs=1)
            raised.setdefault(key, []).append(found)
            out.append(found)
    return out, len(times)
