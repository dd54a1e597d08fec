"""Signals and the parts of a correlation rule: what the Group / Sequence evaluation works on.

A *signal* is one rule match: a mapping with ``p_rule_id``, ``p_event_time`` and the fields a
correlation rule can match on (``p_alert_context.<key>``, event fields, ``p_any_*``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tracebit_pack.errors import UserError
from tracebit_pack.times import parse_event_time as parse_time


class CorrelationError(UserError):
    """A correlation rule that cannot be evaluated (malformed or unsupported)."""


# --------------------------------------------------------------------------- signals


@dataclass(frozen=True)
class Signal:
    rule_id: str
    time: datetime
    data: Mapping = field(repr=False, compare=False, hash=False)
    index: int = 0  # input position (stable ordering and identity)

    @classmethod
    def from_dict(cls, data: Mapping, index: int = 0) -> Signal:
        rule_id = data.get("p_rule_id")
        when = data.get("p_event_time")
        parsed = when if isinstance(when, datetime) else parse_time(str(when or ""))
        if not rule_id or parsed is None:
            raise CorrelationError(
                f"signal {index}: needs p_rule_id and a p_event_time (got {rule_id!r}, {when!r})"
            )
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return cls(str(rule_id), parsed, data, index)


def resolve(data: Any, path: str) -> Any:
    """Value at a dotted path (``p_alert_context.identities``, ``target[0].alternateId``).

    Keys are looked up exactly, then case-insensitively (Panther events are case-insensitive).
    A flat key containing dots (``{"p_alert_context.x": v}``) is also accepted.
    """
    if isinstance(data, Mapping) and path in data:
        return data[path]
    current = data
    for part in split_path(path):
        if isinstance(part, int):
            if isinstance(current, list) and -len(current) <= part < len(current):
                current = current[part]
                continue
            return None
        if not isinstance(current, Mapping):
            return None
        if part in current:
            current = current[part]
            continue
        lowered = part.lower()
        for key, value in current.items():
            if isinstance(key, str) and key.lower() == lowered:
                current = value
                break
        else:
            return None
    return current


def split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for raw in path.split("."):
        chunk = raw
        while "[" in chunk and chunk.endswith("]"):
            name, _, rest = chunk.partition("[")
            if name:
                parts.append(name)
            index, _, tail = rest.partition("]")
            parts.append(int(index))
            chunk = tail.lstrip(".")
        if chunk:
            parts.append(chunk)
    return parts


def match_values(value: Any) -> frozenset:
    """The set of values a field offers for matching.

    Scalars give one value, lists give their scalar elements (list-to-list and scalar-to-list
    matching are set intersection), null / empty strings / objects give nothing (objects cannot
    be matched in Panther).
    """
    if value is None or isinstance(value, Mapping):
        return frozenset()
    if isinstance(value, list | tuple | set | frozenset):
        return frozenset(
            v for v in value if v is not None and v != "" and not isinstance(v, Mapping | list | tuple | set)
        )
    if value == "":
        return frozenset()
    return frozenset([value])


# --------------------------------------------------------------------------- rule model


@dataclass(frozen=True)
class Item:
    id: str
    rule_id: str
    min_count: int = 1
    max_count: int | None = None
    absence: bool = False


@dataclass(frozen=True)
class Transition:
    id: str
    from_id: str
    to_id: str
    within: timedelta
    from_path: str | None = None
    to_path: str | None = None


@dataclass
class CorrelationMatch:
    rule_id: str
    key: dict[str, Any]  # criterion / transition name -> matched value
    signals: dict[str, list[Signal]]  # item ID -> signals that satisfied it

    @property
    def all_signals(self) -> list[Signal]:
        seen: dict[int, Signal] = {}
        for sigs in self.signals.values():
            for s in sigs:
                seen[s.index] = s
        return sorted(seen.values(), key=lambda s: (s.time, s.index))

    @property
    def first_time(self) -> datetime:
        return self.all_signals[0].time

    @property
    def last_time(self) -> datetime:
        return self.all_signals[-1].time
