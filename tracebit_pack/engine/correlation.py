"""Correlation rules (``AnalysisType: correlation_rule``) parsed and ready to evaluate offline.

``CorrelationRule`` checks a rule's YAML (one Group or Sequence, items, MatchCriteria or
Transitions) and evaluates it over signals: the replay's rule matches, or the signals a test's
``RuleOutputs`` describe (``correlation_rule_outputs``). The Group / Sequence semantics are in
``correlation_eval``; where Panther's documentation is silent, ``docs/correlation.md`` says what
was chosen.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from tracebit_pack.engine.correlation_eval import GroupSequenceEvaluation
from tracebit_pack.engine.correlation_model import (
    CorrelationError,
    CorrelationMatch,
    Item,
    Signal,
    Transition,
)
from tracebit_pack.errors import UserError
from tracebit_pack.pack.items import AnalysisItem, items_of, load_yaml

DEFAULT_LOOKBACK_MINUTES = 15
ORDERS = ("Chronological", "ReverseChronological")


def _int(spec: Mapping, key: str, default: int | None, where: str, minimum: int = 0) -> int | None:
    value = spec.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise CorrelationError(f"{where}: {key} must be an integer >= {minimum} (got {value!r})")
    return value


class CorrelationRule(GroupSequenceEvaluation):
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
        """Every match of the rule in these signals (any order; other rules' signals are ignored)."""
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


def correlation_rules(items: Iterable[AnalysisItem]) -> tuple[list[CorrelationRule], dict[str, str]]:
    """The enabled correlation rules that compile, and the others -> reason."""
    rules, skipped = [], {}
    for item in items_of(items, "correlation_rule"):
        if not item.spec.get("Enabled", False):
            continue
        try:
            rules.append(CorrelationRule(item.spec, item.path))
        except UserError as err:
            skipped[item.id] = f"correlation rule: {str(err).removeprefix(f'{item.path}: ')}"[:300]
    return rules, skipped
