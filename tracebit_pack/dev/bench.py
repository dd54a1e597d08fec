"""Benchmark the pack against Panther's engine floor, the replay and each query.

``python -m tracebit_pack.dev.bench`` (``make bench`` also writes ``docs/benchmarks.md`` with ``--out``;
``--json`` for machine-readable output). Exits 1, naming each, when a goal is missed or a query fails:

1. **Rules.** For each real-time rule, µs per event through ``panther_core``'s ``Rule.run`` in
   production mode (``batch_mode=True``) on *matching* and on *non-matching* events of its log
   type, next to a floor rule ``def rule(event): return False`` loaded the same way and measured
   in the same run on the same events. Events are built as ``PantherEvent`` (with the log type's
   data model, as ``PackEngine`` does) before timing; a second figure includes the
   ``PantherEvent(...)`` construction in the loop (for rule and floor alike). Each figure is the
   best of ``--repeats`` passes over ``--events`` events, the rule's and the floor's passes
   alternating. Events: the bundled scenarios and the rules' own unit tests, topped up with clean
   generated events (``strategies.clean_events``: realistic values only) classified by the rule
   itself. Flags: a non-matching ratio above 1.5, a matching Tracebit
   event (its alert context with the rendered pivots included) above 300 µs. A rule with
   ``InlineFilters`` is also timed against a third side, the floor given those filters
   (``floor_rule(filters)``): what panther_core's filter evaluation costs before any of the
   rule's own Python, shown beside the goal, which stays against the plain floor.
2. **Replay.** ``tracebit_pack.replay.replay`` on the bundled scenario: events/s through the
   real-time rules (``rule_seconds``) and end to end (lake load, scheduled queries, correlation,
   pivots included), best of ``--replay-repeats``.
3. **Queries.** Every saved and scheduled query executed on the embedded lake (``Lake``) loaded
   with each bundled scenario, at that scenario's own "now" (its latest event time, the default
   ``--now`` of replay): ms per run (best of ``--repeats``), and the rows returned, so each
   scheduled query is also timed on the scenario where it finds something.

The KV cache is the engine's in-memory store: in Panther each ``get_dictionary`` is a DynamoDB
read (milliseconds), which this benchmark does not include.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from panther_core.enriched_event import PantherEvent
from panther_core.rule import Rule

from tracebit_pack.dev.bench_report import (
    MATCHING_US_GOAL,
    NON_MATCHING_RATIO_GOAL,
    machine,
    missed_goals,
    render,
)
from tracebit_pack.engine.loaded_rule import LoadedRule
from tracebit_pack.engine.rules import PackEngine
from tracebit_pack.logs.enrich import enrich
from tracebit_pack.logs.folder import read_events
from tracebit_pack.pack.items import REPO_ROOT, items_of
from tracebit_pack.times import parse_event_time as parse_time
from tracebit_pack.times import rfc3339_utc

FLOOR_BODY = "def rule(event):\n    return False\n"
DEFAULT_SCENARIO = REPO_ROOT / "scenarios" / "blog_incident"
PARSE_TIME = datetime(2024, 12, 20, tzinfo=UTC)


# ------------------------------------------------------------------------------------------ events


def scenario_events(root: Path = REPO_ROOT) -> dict[str, list[dict]]:
    """Every bundled scenario event, enriched, by log type."""
    out: dict[str, list[dict]] = {}
    for folder in scenario_folders(root):
        for log_type, events in folder_events(folder).items():
            out.setdefault(log_type, []).extend(events)
    return out


def folder_events(folder: Path) -> dict[str, list[dict]]:
    """The events of a log folder (``logs.folder.read_events``), enriched, by log type."""
    out: dict[str, list[dict]] = {}
    for found in read_events(folder):
        log_type = found.source.log_type
        out.setdefault(log_type, []).append(
            enrich(found.event, log_type, parse_time=PARSE_TIME, row_id=f"b{found.line}")
        )
    return out


def test_events(loaded: LoadedRule, log_type: str) -> list[dict]:
    """The rule's own unit-test logs (positive and negative), enriched."""
    out = []
    for test in loaded.item.tests:
        log = test.get("Log")
        if isinstance(log, dict) and not test.get("Mocks"):
            out.append(enrich(log, log_type, parse_time=PARSE_TIME, row_id="t"))
    return out


def generated_events(log_type: str, count: int, seed: int = 1) -> list[dict]:
    from tracebit_pack.dev import strategies

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = islice(strategies.seeded_examples(strategies.clean_events(log_type), seed), count)
        return [enrich(event, log_type, parse_time=PARSE_TIME, row_id="g") for event in raw]


def classify(engine: PackEngine, loaded: LoadedRule, events: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """(matching, non-matching) events for the rule, as it decides in the replay (production mode)."""
    matching, other = [], []
    for event in events:
        result = engine.run_rule(loaded, event, batch_mode=True)
        if result.detection_exception is None:
            (matching if result.trigger_alert else other).append(event)
    return matching, other


def fill(events: list[dict], size: int) -> list[dict]:
    """``size`` events cycling through ``events`` (distinct dict objects, in a fixed order)."""
    if not events:
        return []
    return [dict(events[i % len(events)]) for i in range(size)]


# ------------------------------------------------------------------------------------------ timing


def floor_rule(filters: list | None = None) -> Rule:
    """``return False``; with ``filters`` (a rule's InlineFilters), the least a rule with those
    filters costs in ``Rule.run``: panther_core runs them before ``rule()``, whose own code is the
    only difference left (``filtered_floor`` of the report)."""
    floor = Rule({"id": "Bench.Floor", "versionId": "0", "analysisType": "RULE", "body": FLOOR_BODY})
    if filters:
        floor.filters = list(filters)
    return floor


def _passes(rule: Rule, events: list[dict], model: Any) -> dict[str, Callable[[], None]]:
    """One timed pass per figure: prebuilt PantherEvents, and construction in the loop."""
    prebuilt = [PantherEvent(e, model) for e in events]

    def run_prebuilt() -> None:
        for event in prebuilt:
            rule.run(event, {}, {}, batch_mode=True)

    def run_building() -> None:
        for event in events:
            rule.run(PantherEvent(event, model), {}, {}, batch_mode=True)

    return {"prebuilt_us": run_prebuilt, "with_construction_us": run_building}


def measure(
    rules: dict[str, Rule], events: list[dict], model: Any, repeats: int
) -> dict[str, dict[str, float]]:
    """µs per event of each of ``rules`` (the rule and its floors): the best of ``repeats`` passes.

    Times panther_core's ``Rule.run`` itself, not ``PackEngine.run_rule``: the rule and the floor
    must go through exactly the same code, and the engine's per-event set-up is not the rule's cost.
    The passes of each side alternate, so that a busy moment of the machine slows all of them and
    not one side of a ratio.
    """
    sides = {side: _passes(rule, events, model) for side, rule in rules.items()}
    best = {side: dict.fromkeys(passes, float("inf")) for side, passes in sides.items()}
    for passes in sides.values():
        passes["prebuilt_us"]()  # warm-up (imports, caches)
    for _ in range(repeats):
        for figure in ("prebuilt_us", "with_construction_us"):
            for side, passes in sides.items():
                start = time.perf_counter()
                passes[figure]()
                best[side][figure] = min(best[side][figure], time.perf_counter() - start)
    return {side: {k: v / len(events) * 1e6 for k, v in figures.items()} for side, figures in best.items()}


def bench_rules(engine: PackEngine, *, size: int, repeats: int, root: Path) -> list[dict]:
    scenario = scenario_events(root)
    floor = floor_rule()
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for loaded in sorted(engine.rules.values(), key=lambda r: r.id):
            for log_type in loaded.spec.get("LogTypes") or []:
                model = engine.data_models.get(log_type)
                pool = scenario.get(log_type, []) + test_events(loaded, log_type)
                matching, other = classify(engine, loaded, pool)
                sources = {"matching": "scenario+tests", "non_matching": "scenario+tests"}
                if len(matching) < 5 or len(other) < 5:
                    gen_match, gen_other = classify(engine, loaded, generated_events(log_type, 400))
                    if len(matching) < 5:
                        matching += gen_match
                        sources["matching"] += "+generated"
                    if len(other) < 5:
                        other += gen_other
                        sources["non_matching"] += "+generated"
                row: dict[str, Any] = {"rule_id": loaded.id, "log_type": log_type}
                for kind, events in (("matching", matching), ("non_matching", other)):
                    batch = fill(events, size)
                    if not batch:
                        row[kind] = None
                        continue
                    engine.kv.clear()  # empty in-memory KV cache for every measurement
                    sides = {"rule": loaded.rule, "floor": floor}
                    if loaded.rule.filters:
                        sides["filtered_floor"] = floor_rule(loaded.rule.filters)
                    timed = measure(sides, batch, model, repeats)
                    rule_us, floor_us = timed["rule"], timed["floor"]
                    row[kind] = {
                        "distinct_events": len(events),
                        "source": sources[kind],
                        "rule": rule_us,
                        "floor": floor_us,
                        "ratio": rule_us["prebuilt_us"] / floor_us["prebuilt_us"],
                        "ratio_with_construction": rule_us["with_construction_us"]
                        / floor_us["with_construction_us"],
                        "filtered_floor": timed.get("filtered_floor"),
                    }
                    if "filtered_floor" in timed:
                        row[kind]["ratio_to_filtered_floor"] = (
                            rule_us["prebuilt_us"] / timed["filtered_floor"]["prebuilt_us"]
                        )
                flags = []
                nm = row.get("non_matching")
                if nm and nm["ratio"] > NON_MATCHING_RATIO_GOAL:
                    flags.append(f"non-matching {nm['ratio']:.2f}x floor > {NON_MATCHING_RATIO_GOAL}")
                m = row.get("matching")
                if log_type.startswith("Tracebit.") and m and m["rule"]["prebuilt_us"] > MATCHING_US_GOAL:
                    flags.append(f"matching {m['rule']['prebuilt_us']:.1f} us > {MATCHING_US_GOAL:.0f}")
                row["flags"] = flags
                rows.append(row)
    return rows


# ----------------------------------------------------------------------------------- replay, lake


def bench_replay(scenario: Path, root: Path, repeats: int) -> dict[str, Any]:
    from tracebit_pack.replay import replay

    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = PackEngine.load(root)
        for _ in range(repeats):
            engine.kv.clear()
            report = replay(scenario, root=root, engine=engine)
            if best is None or report.rule_seconds < best.rule_seconds:
                best = report
    assert best is not None
    return {
        "scenario": _relative(scenario, root),
        "events": best.events,
        "alerts": len(best.alerts),
        "rule_seconds": best.rule_seconds,
        "total_seconds": best.seconds,
        "rule_events_per_second": best.rule_events / best.rule_seconds if best.rule_seconds else None,
        "total_events_per_second": best.events / best.seconds if best.seconds else None,
    }


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def bench_queries(engine: PackEngine, scenario: Path, now: datetime, repeats: int) -> list[dict]:
    """ms per run of every saved and scheduled query on ``scenario``'s lake at ``now``."""
    from tracebit_pack.loading.folder_lake import lake_from_folder

    lake = lake_from_folder(scenario)
    rows = []
    try:
        for item in sorted(items_of(engine.items, "saved_query", "scheduled_query"), key=lambda i: i.id):
            entry: dict[str, Any] = {"query": item.id, "kind": item.kind}
            try:
                result = lake.run(item, now=now)
                best = float("inf")
                for _ in range(repeats):
                    start = time.perf_counter()
                    lake.run(item, now=now)
                    best = min(best, time.perf_counter() - start)
                entry.update(ms=best * 1e3, rows=len(result))
            except Exception as err:  # noqa: BLE001 - report the query that cannot run, keep going
                entry.update(ms=None, rows=None, error=str(err).splitlines()[0][:200])
            rows.append(entry)
    finally:
        lake.close()
    return rows


def scenario_folders(root: Path) -> list[Path]:
    """The bundled scenarios: every folder of ``scenarios/`` that holds ``<LogType>.jsonl`` files."""
    return sorted({file.parent for file in (root / "scenarios").glob("*/*.jsonl")})


def scenario_now(scenario: Path) -> datetime:
    """The scenario's own "now": its latest event time, the default ``--now`` of replay."""
    times = [
        parse_time(str(e.get("p_event_time") or ""))
        for events in folder_events(scenario).values()
        for e in events
    ]
    return max(t for t in times if t is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracebit-pack dev bench", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events per timed pass (default 2000)")
    parser.add_argument("--repeats", type=int, default=7, help="passes per figure; the best is kept")
    parser.add_argument("--replay-repeats", type=int, default=3)
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument("--root", type=Path, default=REPO_ROOT)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--out", type=Path, help="also write the results as Markdown to this file")
    args = parser.parse_args(argv)

    root = args.root.resolve()
    scenario = args.scenario.resolve()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = PackEngine.load(root)
    result = {
        "machine": machine(),
        "settings": {
            "events": args.events,
            "repeats": args.repeats,
            "replay_repeats": args.replay_repeats,
            "batch_mode": True,
        },
        "rules": bench_rules(engine, size=args.events, repeats=args.repeats, root=root),
        "replay": bench_replay(scenario, root, args.replay_repeats),
        "queries": [
            {
                "scenario": _relative(folder, root),
                "now": rfc3339_utc(scenario_now(folder)),
                "rows": bench_queries(engine, folder, scenario_now(folder), args.repeats),
            }
            for folder in scenario_folders(root)
        ],
    }
    command = "make bench" if args.out else "python -m tracebit_pack.dev.bench"
    text = render(result, command)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(json.dumps(result, indent=2) if args.json else text, end="" if not args.json else "\n")
    missed = missed_goals(result)
    for line in missed:
        print(f"bench: goal missed: {line}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
