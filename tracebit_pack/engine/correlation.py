"""Evaluate Panther correlation rules (Group and Sequence) offline, over signals.

A *signal* is one rule match: a mapping with ``p_rule_id``, ``p_event_time`` and the fields a
correlation rule can match on (``p_alert_context.<key>``, event fields, ``p_any_*``). The same
evaluator runs the rules' ``Tests`` (``RuleOutputs``, see ``run_tests``) and the signals produced
by the replay. The semantics chosen where Panther's documentation is silent are described in
``docs/correlation.md``; every choice is covered by ``tests/test_correlation.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tracebit_pack.errors import UserError
from tracebit_pack.pack.items import load_yaml
from tracebit_pack.times import parse_event_time as parse_time

DEFAULT_LOOKBACK_MINUTES = 15
ORDERS = ("Chronological", "ReverseChronological")
# Integer occurrences in RuleOutputs are minutes from an arbitrary start: this one.
TEST_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
MAX_KEYS = 10_000  # candidate join keys per rule evaluation (a guard, far above real use)


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
    for part in _split_path(path):
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


def _split_path(path: str) -> list[str | int]:
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


def _int(spec: Mapping, key: str, default: int | None, where: str, minimum: int = 0) -> int | None:
    value = spec.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise CorrelationError(f"{where}: {key} must be an integer >= {minimum} (got {value!r})")
    return value


class CorrelationRule:
    """One correlation rule (``AnalysisType: correlation_rule``) ready to evaluate."""

    def __init__(self, spec: Mapping, path: Path | None = None):
        self.spec = spec
        self.path = path
        self.rule_id = str(spec.get("RuleID") or "")
        where = f"{path or '<rule>'}: {self.rule_id or '?'}"
        self.where = where
        detection = spec.get("Detection")
        if not isinstance(detection, list) or len(detection) != 1 or not isinstance(detection[0], Mapping):
            raise CorrelationError(f"{where}: Detection must be a list with one Group or Sequence")
        body = detection[0]
        self.kind = "Group" if "Group" in body else "Sequence" if "Sequence" in body else ""
        if not self.kind or ("Group" in body and "Sequence" in body):
            raise CorrelationError(f"{where}: Detection needs exactly one of Group or Sequence")
        self.lookback = timedelta(
            minutes=_int(body, "LookbackWindowMinutes", DEFAULT_LOOKBACK_MINUTES, where, minimum=1)  # type: ignore[arg-type]
        )
        self.order = body.get("EventEvaluationOrder")
        if self.order is not None and self.order not in ORDERS:
            raise CorrelationError(f"{where}: EventEvaluationOrder must be one of {', '.join(ORDERS)}")
        self.items = [self._item(raw, where) for raw in body[self.kind] or []]
        if not self.items:
            raise CorrelationError(f"{where}: {self.kind} has no items")
        ids = [i.id for i in self.items]
        if len(set(ids)) != len(ids):
            raise CorrelationError(f"{where}: duplicate {self.kind} item IDs")
        self.by_id = {i.id: i for i in self.items}
        if all(i.absence for i in self.items):
            raise CorrelationError(f"{where}: every {self.kind} item is an Absence; nothing can match")
        self.criteria: dict[str, list[tuple[str, str]]] = {}
        self.transitions: list[Transition] = []
        if self.kind == "Group":
            self._parse_criteria(body.get("MatchCriteria") or {}, where)
        else:
            self._parse_transitions(body.get("Transitions") or [], where)

    # -- parsing
    @staticmethod
    def _item(raw: Any, where: str) -> Item:
        if not isinstance(raw, Mapping) or not raw.get("ID") or not raw.get("RuleID"):
            raise CorrelationError(f"{where}: every item needs ID and RuleID (got {raw!r})")
        item_where = f"{where}: item {raw['ID']!r}"
        min_count = _int(raw, "MinMatchCount", 1, item_where, minimum=1)
        max_count = _int(raw, "MaxMatchCount", None, item_where, minimum=1)
        if max_count is not None and max_count < min_count:  # type: ignore[operator]
            raise CorrelationError(f"{item_where}: MaxMatchCount is below MinMatchCount")
        return Item(
            id=str(raw["ID"]),
            rule_id=str(raw["RuleID"]),
            min_count=min_count,  # type: ignore[arg-type]
            max_count=max_count,
            absence=bool(raw.get("Absence", False)),
        )

    def _parse_criteria(self, raw: Any, where: str) -> None:
        if not isinstance(raw, Mapping):
            raise CorrelationError(f"{where}: MatchCriteria must be a map")
        for name, entries in raw.items():
            if not isinstance(entries, list) or len(entries) < 2:
                raise CorrelationError(
                    f"{where}: MatchCriteria {name!r} needs at least two GroupID/Match entries"
                )
            pairs = []
            for entry in entries:
                if (
                    not isinstance(entry, Mapping)
                    or entry.get("GroupID") not in self.by_id
                    or not entry.get("Match")
                ):
                    raise CorrelationError(
                        f"{where}: MatchCriteria {name!r}: bad entry {entry!r} (unknown GroupID?)"
                    )
                pairs.append((str(entry["GroupID"]), str(entry["Match"])))
            if all(self.by_id[g].absence for g, _ in pairs):
                raise CorrelationError(f"{where}: MatchCriteria {name!r} only names Absence groups")
            self.criteria[str(name)] = pairs

    def _parse_transitions(self, raw: Any, where: str) -> None:
        order = {item.id: n for n, item in enumerate(self.items)}
        for before, after in itertools.pairwise(self.items):
            if before.absence and after.absence:
                raise CorrelationError(
                    f"{where}: two consecutive Absence items ({before.id!r}, {after.id!r}) are not supported"
                )
        for entry in raw:
            if (
                not isinstance(entry, Mapping)
                or entry.get("From") not in order
                or entry.get("To") not in order
            ):
                raise CorrelationError(f"{where}: Transition {entry!r}: From/To must name Sequence items")
            if order[entry["To"]] != order[entry["From"]] + 1:
                raise CorrelationError(
                    f"{where}: Transition {entry.get('ID')!r}: "
                    "only transitions between consecutive items are supported"
                )
            within = _int(
                entry, "WithinTimeFrameMinutes", None, f"{where}: Transition {entry.get('ID')!r}", 1
            )
            from_path = to_path = None
            match = entry.get("Match")
            if match is not None:
                if not isinstance(match, list) or len(match) != 1 or not isinstance(match[0], Mapping):
                    raise CorrelationError(
                        f"{where}: Transition {entry.get('ID')!r}: Match must have exactly 1 entry"
                    )
                # YAML 1.1 (PyYAML, as pat loads it) reads the key `On` as the boolean true.
                m = {("On" if k is True else k): v for k, v in match[0].items()}
                if m.get("On"):
                    from_path = to_path = str(m["On"])
                elif m.get("From") and m.get("To"):
                    from_path, to_path = str(m["From"]), str(m["To"])
                else:
                    raise CorrelationError(
                        f"{where}: Transition {entry.get('ID')!r}: Match needs On, or From and To"
                    )
            self.transitions.append(
                Transition(
                    id=str(entry.get("ID") or f"{entry['From']}->{entry['To']}"),
                    from_id=str(entry["From"]),
                    to_id=str(entry["To"]),
                    within=timedelta(minutes=within) if within else self.lookback,
                    from_path=from_path,
                    to_path=to_path,
                )
            )
        pairs = [(t.from_id, t.to_id) for t in self.transitions]
        if len(set(pairs)) != len(pairs):
            raise CorrelationError(f"{where}: two Transitions between the same items")

    @classmethod
    def from_file(cls, path: Path) -> CorrelationRule:
        spec = load_yaml(path)
        if not isinstance(spec, Mapping) or spec.get("AnalysisType") != "correlation_rule":
            raise CorrelationError(f"{path}: not a correlation rule")
        return cls(spec, path)

    # -- info
    @property
    def severity(self) -> str:
        return str(self.spec.get("Severity", "Info")).upper()

    @property
    def title(self) -> str:
        return str(self.spec.get("DisplayName") or self.rule_id)

    @property
    def create_alert(self) -> bool:
        return bool(self.spec.get("CreateAlert", True))

    @property
    def enabled(self) -> bool:
        return bool(self.spec.get("Enabled", False))

    @property
    def tests(self) -> list[Mapping]:
        return list(self.spec.get("Tests") or [])

    @property
    def rule_ids(self) -> set[str]:
        return {i.rule_id for i in self.items}

    def paths_for(self, item_id: str) -> dict[str, str]:
        """Criterion / transition name -> the field path this item is matched on."""
        out: dict[str, str] = {}
        for name, pairs in self.criteria.items():
            for group_id, path in pairs:
                if group_id == item_id:
                    out[name] = path
        for t in self.transitions:
            if t.from_id == item_id and t.from_path:
                out[t.id] = t.from_path
            if t.to_id == item_id and t.to_path:
                out[t.id] = t.to_path
        return out

    # -- evaluation
    def evaluate(self, signals: Iterable[Signal | Mapping]) -> list[CorrelationMatch]:
        sigs = [s if isinstance(s, Signal) else Signal.from_dict(s, n) for n, s in enumerate(signals)]
        sigs = [s for s in sigs if s.rule_id in self.rule_ids]
        sigs.sort(key=lambda s: (s.time, s.index))
        per_item = {item.id: [s for s in sigs if s.rule_id == item.rule_id] for item in self.items}
        if self.kind == "Group":
            matches = self._evaluate_group(per_item)
        else:
            matches = self._evaluate_sequence(per_item)
        # The same signals matched under several join values are one match.
        unique: dict[tuple, CorrelationMatch] = {}
        for m in matches:
            ident = tuple(sorted((k, tuple(s.index for s in v)) for k, v in m.signals.items()))
            unique.setdefault(ident, m)
        return list(unique.values())

    def _keys(
        self, per_item: Mapping[str, list[Signal]], names: dict[str, list[tuple[str, str]]]
    ) -> list[dict]:
        """Candidate join values: per criterion, values that every non-absent item offers."""
        choices: list[list[tuple[str, Any]]] = []
        for name, pairs in names.items():
            common: set | None = None
            for item_id, path in pairs:
                if self.by_id[item_id].absence:
                    continue
                offered: set = set()
                for s in per_item[item_id]:
                    offered |= match_values(resolve(s.data, path))
                common = offered if common is None else common & offered
            values = sorted(common or (), key=lambda v: (type(v).__name__, str(v)))
            if not values:
                return []
            choices.append([(name, v) for v in values])
        keys = []
        for combo in itertools.product(*choices):
            keys.append(dict(combo))
            if len(keys) > MAX_KEYS:
                raise CorrelationError(f"{self.where}: more than {MAX_KEYS} candidate join values")
        return keys

    def _supporting(self, per_item, key: Mapping[str, Any], names) -> dict[str, list[Signal]]:
        out = {}
        for item in self.items:
            checks = [
                (path, key[name]) for name, pairs in names.items() for gid, path in pairs if gid == item.id
            ]
            out[item.id] = [
                s
                for s in per_item[item.id]
                if all(value in match_values(resolve(s.data, p)) for p, value in checks)
            ]
        return out

    # Group ---------------------------------------------------------------
    def _evaluate_group(self, per_item: Mapping[str, list[Signal]]) -> list[CorrelationMatch]:
        present = [i for i in self.items if not i.absence]
        absent = [i for i in self.items if i.absence]
        matches = []
        for key in self._keys(per_item, self.criteria):
            supp = self._supporting(per_item, key, self.criteria)
            if any(len(supp[i.id]) < i.min_count for i in present):
                continue
            found = self._group_window(supp, present, absent)
            if found is not None:
                matches.append(CorrelationMatch(self.rule_id, key, found))
        return matches

    def _group_window(self, supp, present, absent) -> dict[str, list[Signal]] | None:
        """The first window (in EventEvaluationOrder) in which every present item has its count.

        The list order of a Group's items is not a requirement, with or without
        EventEvaluationOrder (PA github_pull_request_target_with_checkout_in_workflow: Chronological,
        and its "out of order" test expects a match). The order only decides which window is found
        first: the earliest (Chronological, the default) or the latest (ReverseChronological).
        """
        span = self.lookback
        anchors = sorted({s.time for i in present for s in supp[i.id]})
        if self.order == "ReverseChronological":
            latest_first = anchors[::-1]
            windows = [(t - span, t) for t in latest_first] + [(t, t + span) for t in latest_first]
        else:
            windows = [(t, t + span) for t in anchors] + [(t - span, t) for t in anchors]
        for start, end in windows:
            counted = {i.id: [s for s in supp[i.id] if start <= s.time <= end] for i in present}
            if any(len(counted[i.id]) < i.min_count for i in present):
                continue
            used = [s for i in present for s in counted[i.id]]
            first = min(s.time for s in used)
            last = max(s.time for s in used)
            # Absence and MaxMatchCount look at every signal within the lookback of the match,
            # before or after it (any scheduled run that sees the match could see those too).
            if self._absent_within(supp, absent, last - span, first + span):
                continue
            if self._too_many(supp, present, last - span, first + span):
                continue
            return counted
        return None

    @staticmethod
    def _too_many(supp, present: Sequence[Item], start: datetime, end: datetime) -> bool:
        return any(
            item.max_count is not None
            and sum(1 for s in supp[item.id] if start <= s.time <= end) > item.max_count
            for item in present
        )

    @staticmethod
    def _absent_within(supp, absent: Sequence[Item], start: datetime, end: datetime) -> bool:
        for item in absent:
            hits = [s for s in supp[item.id] if start <= s.time <= end]
            if len(hits) >= item.min_count:
                return True
        return False

    # Sequence ------------------------------------------------------------
    def _transition_names(self) -> dict[str, list[tuple[str, str]]]:
        names: dict[str, list[tuple[str, str]]] = {}
        for t in self.transitions:
            if t.from_path and t.to_path:
                names[t.id] = [(t.from_id, t.from_path), (t.to_id, t.to_path)]
        return names

    def _evaluate_sequence(self, per_item: Mapping[str, list[Signal]]) -> list[CorrelationMatch]:
        names = self._transition_names()
        by_pair = {(t.from_id, t.to_id): t for t in self.transitions}
        links = self._absence_links(by_pair)
        matches = []
        for key in self._keys(per_item, names):
            if any(key.get(a) != key.get(b) for a, b in links if a in key and b in key):
                continue
            supp = self._supporting(per_item, key, names)
            chain = self._chain(supp, by_pair, self._first_present(), None, None, {})
            if chain is not None:
                matches.append(CorrelationMatch(self.rule_id, key, chain))
        return matches

    def _first_present(self) -> int:
        return next(n for n, item in enumerate(self.items) if not item.absence)

    def _absence_links(self, by_pair) -> list[tuple[str, str]]:
        """Transition names whose join values must be equal: the two transitions around a middle
        Absence item that match it on the same field (A -> not B -> C on one field links A and C)."""
        links = []
        for n in range(1, len(self.items) - 1):
            if not self.items[n].absence:
                continue
            into = by_pair.get((self.items[n - 1].id, self.items[n].id))
            out = by_pair.get((self.items[n].id, self.items[n + 1].id))
            if into and out and into.to_path and into.to_path == out.from_path:
                links.append((into.id, out.id))
        return links

    def _within(self, by_pair, n: int) -> timedelta:
        """The time frame of the transition into item ``n`` (default: the lookback)."""
        transition = by_pair.get((self.items[n - 1].id, self.items[n].id)) if n > 0 else None
        return transition.within if transition else self.lookback

    @staticmethod
    def _vetoed(supp, item: Item, start: datetime, end: datetime) -> bool:
        return sum(1 for s in supp[item.id] if start <= s.time <= end) >= item.min_count

    def _chain(self, supp, by_pair, n: int, prev: datetime | None, first: datetime | None, used: dict):  # noqa: PLR0917
        """The first chain of present items from item ``n`` on, with every Absence item respected:
        a leading Absence vetoes the first present step if it occurs within its transition's time
        frame before that step; a middle one if it occurs between the step before it completed and
        the step after it completed; a trailing one within its time frame after the last step."""
        if n == len(self.items):
            return dict(used)
        item = self.items[n]
        if item.absence:
            assert prev is not None
            trailing = n == len(self.items) - 1  # a middle one is checked by the step after it
            if trailing and self._vetoed(supp, item, prev, prev + self._within(by_pair, n)):
                return None
            return self._chain(supp, by_pair, n + 1, prev, first, used)
        signals = supp[item.id]
        gap = self.items[n - 1] if n > 0 and self.items[n - 1].absence else None
        if prev is None:
            for a in range(len(signals) - item.min_count + 1):
                start = signals[a].time
                done = signals[a + item.min_count - 1]
                if done.time - start > self.lookback:
                    continue
                if gap is not None and self._vetoed(supp, gap, start - self._within(by_pair, n), start):
                    continue
                picked = signals[a : a + item.min_count]
                result = self._chain(supp, by_pair, n + 1, done.time, start, {item.id: picked})
                if result is not None:
                    return result
            return None
        within = self._within(by_pair, n)
        assert first is not None
        eligible = [
            s
            for s in signals
            if s.time >= prev and s.time - prev <= within and s.time - first <= self.lookback
        ]
        if item.max_count is not None and len(eligible) > item.max_count:
            return None
        tried: set[datetime] = set()
        for j in range(item.min_count - 1, len(eligible)):
            done = eligible[j]
            if done.time in tried:
                continue
            tried.add(done.time)
            if gap is not None and self._vetoed(supp, gap, prev, done.time):
                break  # a later completion only widens the window the Absence must stay out of
            picked = eligible[: j + 1]
            result = self._chain(supp, by_pair, n + 1, done.time, first, {**used, item.id: picked})
            if result is not None:
                return result
        return None


# --------------------------------------------------------------------------- RuleOutputs tests


@dataclass
class TestOutcome:
    rule_id: str
    name: str
    expected: bool
    actual: bool | None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.actual == self.expected


def _occurrence_time(value: Any, where: str) -> datetime:
    if isinstance(value, bool):
        raise CorrelationError(f"{where}: occurrence {value!r} is not a timestamp or a minute offset")
    if isinstance(value, int | float):
        return TEST_EPOCH + timedelta(minutes=value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_time(str(value))
    if parsed is None:
        raise CorrelationError(f"{where}: occurrence {value!r} is not a timestamp or a minute offset")
    return parsed


def _set_path(target: dict, path: str, value: Any) -> None:
    parts = [p for p in _split_path(path) if isinstance(p, str)]
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def signals_from_rule_outputs(rule: CorrelationRule, outputs: Any, where: str) -> list[Signal]:
    """Signals described by a test's ``RuleOutputs``.

    ``[{ID: <item ID>, Matches: {<field>: {<value>: [occurrence, ...]}}}]``: every occurrence
    (an rfc3339 timestamp, or an integer number of minutes from an arbitrary start) is one
    signal of the item's RuleID whose ``<field>`` equals ``<value>``; so the number of entries
    counts toward MinMatchCount. ``<field>`` is a field path (``p_alert_context.identities``)
    or the name of a MatchCriteria entry / Transition ID (then this item's Match path is used).
    Occurrences at the same time under different fields of one item are one signal carrying
    every field. An output without Matches is one signal at minute 0.
    """
    if not isinstance(outputs, list):
        raise CorrelationError(f"{where}: RuleOutputs must be a list")
    merged: dict[tuple[str, datetime, int], dict] = {}
    seen: dict[tuple[str, str, datetime], int] = {}
    for output in outputs:
        if not isinstance(output, Mapping) or output.get("ID") not in rule.by_id:
            raise CorrelationError(f"{where}: RuleOutputs entry {output!r}: ID must name a {rule.kind} item")
        item = rule.by_id[output["ID"]]
        aliases = rule.paths_for(item.id)
        matches = output.get("Matches")
        if not matches:
            merged.setdefault(
                (item.id, TEST_EPOCH, 0), {"p_rule_id": item.rule_id, "p_event_time": TEST_EPOCH}
            )
            continue
        if not isinstance(matches, Mapping):
            raise CorrelationError(
                f"{where}: {item.id}: Matches must be a map of field -> value -> occurrences"
            )
        for field_name, by_value in matches.items():
            path = aliases.get(str(field_name), str(field_name))
            if not isinstance(by_value, Mapping):
                raise CorrelationError(
                    f"{where}: {item.id}: Matches.{field_name} must map values to occurrences"
                )
            for value, occurrences in by_value.items():
                for occurrence in occurrences if isinstance(occurrences, list) else [occurrences]:
                    when = _occurrence_time(occurrence, f"{where}: {item.id}: {field_name}: {value}")
                    # the k-th occurrence at this time of this field joins the k-th signal at this time
                    k = seen.get((item.id, path, when), 0)
                    seen[(item.id, path, when)] = k + 1
                    base = {"p_rule_id": item.rule_id, "p_event_time": when}
                    _set_path(merged.setdefault((item.id, when, k), base), path, value)
    ordered = sorted(merged.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2]))
    return [Signal(data["p_rule_id"], data["p_event_time"], data, n) for n, (_, data) in enumerate(ordered)]


def run_tests(rule: CorrelationRule) -> list[TestOutcome]:
    outcomes = []
    for n, test in enumerate(rule.tests):
        name = str(test.get("Name") or f"test {n + 1}") if isinstance(test, Mapping) else f"test {n + 1}"
        expected = test.get("ExpectedResult") if isinstance(test, Mapping) else None
        if not isinstance(expected, bool):
            outcomes.append(
                TestOutcome(rule.rule_id, name, False, None, "ExpectedResult must be true or false")
            )
            continue
        try:
            signals = signals_from_rule_outputs(rule, test.get("RuleOutputs") or [], f"test {name!r}")
            actual = bool(rule.evaluate(signals))
        except UserError as err:
            outcomes.append(TestOutcome(rule.rule_id, name, expected, None, str(err)))
            continue
        outcomes.append(TestOutcome(rule.rule_id, name, expected, actual))
    return outcomes


def find_rule_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")))
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    return files


def load_rules(paths: Iterable[Path]) -> list[CorrelationRule]:
    """Every correlation rule in the given files / folders (other YAML files are ignored)."""
    rules = []
    for file in find_rule_files(paths):
        spec = load_yaml(file)
        if isinstance(spec, Mapping) and spec.get("AnalysisType") == "correlation_rule":
            rules.append(CorrelationRule(spec, file))
    return rules
