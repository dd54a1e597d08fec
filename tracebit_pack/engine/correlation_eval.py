"""How a correlation rule matches: Panther's Group and Sequence semantics over signals.

``GroupSequenceEvaluation`` is the evaluating half of ``correlation.CorrelationRule`` (which
parses the YAML into ``items``, ``by_id``, ``criteria``, ``transitions``, ``lookback``, ``order``).
The choices made where Panther's documentation is silent are described in
``docs/correlation.md``; every one is covered by ``tests/test_correlation.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from tracebit_pack.engine.correlation_model import (
    CorrelationError,
    CorrelationMatch,
    Item,
    Signal,
    Transition,
    match_values,
    resolve,
)

MAX_KEYS = 10_000  # candidate join keys per rule evaluation (a guard, far above real use)


class GroupSequenceEvaluation:
    """The Group and Sequence evaluation of a parsed correlation rule (a mixin)."""

    rule_id: str
    where: str
    items: list[Item]
    by_id: dict[str, Item]
    criteria: dict[str, list[tuple[str, str]]]
    transitions: list[Transition]
    lookback: timedelta
    order: str | None

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
