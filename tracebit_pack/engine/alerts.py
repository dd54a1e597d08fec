"""Group rule matches into alerts the way Panther does: dedup string, dedup period, threshold.

Semantics (Panther docs; PC ``rule.py`` defaults):

* Matches of one rule with the same dedup string are one group. A group's period starts at the
  time of its first event and lasts ``DedupPeriodMinutes`` (default 60): later events inside the
  period join it (``first <= t < first + period``); the first event at or after its end starts a
  new group (a new alert).
* ``Threshold`` (default 1): a group becomes an alert only when it reaches that many events.
  A group that never reaches it raises nothing (its matches are still signals).
* Title, severity and alert context are those of the group's first event (Panther creates
  the alert from the event that opened it); the event count and first/last event times cover
  every event of the group.
* An alert pages unless its severity is Info (Panther closes those itself) or its
  ``destinations()`` returned ``[]`` (``["SKIP"]``: sent to no destination): ``Alert.pages``.
* ``CreateAlert: false`` rules never raise alerts: their groups are signals only
  (``Alert.create_alert`` is false and ``group_matches(...).alerts`` leaves them out).

Matches must be given in event-time order (the replay sorts events before running rules);
ties keep their input order.
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

    @property
    def reached_threshold(self) -> bool:
        return self.event_count >= self.threshold

    @property
    def pages(self) -> bool:
        """Whether the alert reaches someone: not Info, and not sent to no destination."""
        return self.severity != "INFO" and self.destinations != ["SKIP"]

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


def group_matches(matches: Iterable[RuleResult], settings: Mapping[str, RuleSettings]) -> Grouping:
    """Group matched RuleResults (event-time order) into alerts; ``settings`` by rule id."""
    open_groups: dict[tuple[str, str], Alert] = {}
    groups: list[Alert] = []
    for match in matches:
        if not match.matched:
            continue
        rule = settings.get(match.rule_id, RuleSettings())
        when = match_time(match)
        dedup = match.dedup_string
        key = (match.rule_id, dedup)
        current = open_groups.get(key)
        period = timedelta(minutes=rule.dedup_period_minutes)
        if current is not None and when < current.first_event_time + period:
            current.event_count += 1
            current.last_event_time = max(current.last_event_time, when)
            current.matches.append(match)
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
        )
        open_groups[key] = current
        groups.append(current)
    return Grouping(groups)


def group_alerts(matches: Iterable[RuleResult], settings: Mapping[str, RuleSettings]) -> list[Alert]:
    """Only the groups that raise an alert (CreateAlert true and Threshold reached)."""
    return group_matches(matches, settings).alerts
