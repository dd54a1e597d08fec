"""Group rule matches into alerts the way Panther does: dedup string, dedup period, threshold.

Semantics (Panther docs; PC ``rule.py`` defaults):

* Time is Panther's processing time: when the rule ran on the event, its arrival
  (``RuleResult.arrival_time``: ``p_parse_time``, or the scheduled run that returned the row),
  else its ``p_event_time``.
* Matches of one rule with the same dedup string are one group. A group's period starts when its
  first match is processed and lasts ``DedupPeriodMinutes`` (default 60): later matches inside the
  period join it (``opened <= t < opened + period``), across scheduled runs too; the first one at
  or after its end starts a new group (a new alert).
* ``Threshold`` (default 1): a group becomes an alert only when it reaches that many events.
  A group that never reaches it raises nothing (its matches are still signals).
* ``created_at``: when the alert is raised, the processing time of the match that brought the
  group to its threshold; its detection delay is ``created_at`` minus its earliest event time.
* Title, severity and alert context are those of the group's first event (Panther creates
  the alert from the event that opened it); the event count and first/last event times cover
  every event of the group.
* An alert pages unless its severity is Info (Panther closes those itself) or its
  ``destinations()`` returned ``[]`` (``["SKIP"]``: sent to no destination): ``Alert.pages``.
* ``CreateAlert: false`` rules never raise alerts: their groups are signals only
  (``Alert.create_alert`` is false and ``group_matches(...).alerts`` leaves them out).

Matches are grouped in processing-time order (a stable sort: ties keep their input order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tracebit_pack.engine.loaded_rule import RuleResult, RuleSettings
from tracebit_pack.times import parse_event_time as parse_time
from tracebit_pack.times import rfc3339_utc


@dataclass
class Alert:
    """One alert (or, for CreateAlert: false, one signal-only group)."""

    rule_id: str
    dedup: str
    severity: str | None
    title: str | None
    alert_context: dict
    first_event_time: datetime
    last_event_time: datetime
    event_count: int = 1
    destinations: list[str] | None = None
    create_alert: bool = True
    threshold: int = 1
    matches: list[RuleResult] = field(default_factory=list, repr=False)
    created_at: datetime | None = None  # when Panther would have raised it (None: not raised)
    opened_at: datetime | None = field(default=None, repr=False)  # start of its dedup period

    @property
    def reached_threshold(self) -> bool:
        return self.event_count >= self.threshold

    @property
    def pages(self) -> bool:
        """Whether the alert reaches someone: not Info, and not sent to no destination."""
        return self.severity != "INFO" and self.destinations != ["SKIP"]

    @property
    def detection_delay(self) -> timedelta | None:
        """``created_at`` minus the earliest event: how long the pack took to raise it."""
        return None if self.created_at is None else self.created_at - self.first_event_time

    def to_json(self) -> dict:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "pages": self.pages,
            "title": self.title,
            "dedup": self.dedup,
            "alert_context": self.alert_context,
            "event_count": self.event_count,
            "first_event_time": _iso(self.first_event_time),
            "last_event_time": _iso(self.last_event_time),
            "created_at": None if self.created_at is None else _iso(self.created_at),
            "detection_delay_seconds": (
                None if self.detection_delay is None else round(self.detection_delay.total_seconds())
            ),
        }


@dataclass
class Grouping:
    """Every dedup group, split into alerts and signal-only / below-threshold groups."""

    groups: list[Alert]

    @property
    def alerts(self) -> list[Alert]:
        return [g for g in self.groups if g.create_alert and g.reached_threshold]

    @property
    def signal_only(self) -> list[Alert]:
        return [g for g in self.groups if not g.create_alert]

    @property
    def below_threshold(self) -> list[Alert]:
        return [g for g in self.groups if g.create_alert and not g.reached_threshold]


def _iso(value: datetime) -> str:
    return rfc3339_utc(value, "milliseconds")


def match_time(match: RuleResult) -> datetime:
    parsed = parse_time(str(match.event_time or ""))
    if parsed is None:
        raise ValueError(f"rule {match.rule_id}: match has no usable p_event_time ({match.event_time!r})")
    return parsed


def processing_time(match: RuleResult) -> datetime:
    """When Panther ran the rule on the match: its arrival, else its event time."""
    parsed = parse_time(str(match.arrival_time or ""))
    return parsed if parsed is not None else match_time(match)


def group_matches(matches: Iterable[RuleResult], settings: Mapping[str, RuleSettings]) -> Grouping:
    """Group matched RuleResults into alerts, in processing-time order; ``settings`` by rule id."""
    open_groups: dict[tuple[str, str], Alert] = {}
    groups: list[Alert] = []
    matched = sorted((m for m in matches if m.matched), key=processing_time)
    for match in matched:
        rule = settings.get(match.rule_id, RuleSettings())
        when = match_time(match)
        processed = processing_time(match)
        dedup = match.dedup_string
        key = (match.rule_id, dedup)
        current = open_groups.get(key)
        period = timedelta(minutes=rule.dedup_period_minutes)
        if current is not None and current.opened_at is not None and processed < current.opened_at + period:
            current.event_count += 1
            current.first_event_time = min(current.first_event_time, when)
            current.last_event_time = max(current.last_event_time, when)
            current.matches.append(match)
            if current.created_at is None and current.reached_threshold:
                current.created_at = processed
            continue
        current = Alert(
            rule_id=match.rule_id,
            dedup=dedup,
            severity=match.severity,
            title=match.title,
            alert_context=match.alert_context,
            destinations=match.destinations,
            first_event_time=when,
            last_event_time=when,
            create_alert=rule.create_alert,
            threshold=rule.threshold,
            matches=[match],
            opened_at=processed,
            created_at=processed if rule.threshold <= 1 else None,
        )
        open_groups[key] = current
        groups.append(current)
    return Grouping(groups)


def group_alerts(matches: Iterable[RuleResult], settings: Mapping[str, RuleSettings]) -> list[Alert]:
    """Only the groups that raise an alert (CreateAlert true and Threshold reached)."""
    return group_matches(matches, settings).alerts
