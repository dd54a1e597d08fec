"""Fuzz every rule and scheduled rule of the pack in Panther's engine.

``python -m tracebit_pack.dev.fuzz --examples N`` (``make fuzz``) generates N events per *stream* and
runs each through every rule of that stream with ``panther_core``'s ``Rule.run``, in production
(``batch_mode=True``) **and** ``pat test`` (``batch_mode=False``) mode. A stream is a log type with
real-time rules (``Tracebit.Alert`` feeds three rules) or the row shape of one scheduled query, so
every rule sees at least N events. Events come from ``tracebit_pack.dev.strategies`` (hypothesis
strategies over the Panther schemas), drawn with a seeded generator in chunks over ``--jobs``
processes, and are enriched with Panther's ``p_*`` fields (``tracebit_pack.logs.enrich``) as Panther
would before running rules.

Properties checked (a violation is a failure; the command exits 1 if there is any):

* ``rule()`` never raises and returns a bool (both modes);
* on a matching event: ``title``, ``dedup``, ``severity``, ``runbook``, ``reference``,
  ``description``, ``destinations`` and ``alert_context`` never raise (test mode reports the
  exception; production mode would silently fall back to a default);
* the alert context serialises to JSON (no ``_error`` from the engine) and is under 200 KB;
* titles and dedup strings are under 1,000 characters (Panther truncates them).

Each distinct failure (rule, mode, property, exception type) is reported once with its count and
a shrunk event (keys deleted, strings and lists shortened while it still fails) to paste into
``tests/test_fuzz_rules.py`` as a regression case. ``--failures FILE`` writes them all as JSON.

Before each chunk the in-memory KV cache is reset and seeded by running realistic Okta MFA-reset
events through the signal rule (the real writer), so the Tracebit rules' escalation path runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from panther_core.enriched_event import PantherEvent

from tracebit_pack.dev import strategies
from tracebit_pack.dev.fuzz_checks import Failure, check_result
from tracebit_pack.dev.query_row_strategies import query_rows
from tracebit_pack.dev.shrink import shrink
from tracebit_pack.dev.value_strategies import IDENTITIES, MFA_RESET_EVENT_TYPES
from tracebit_pack.engine.loaded_rule import LoadedRule
from tracebit_pack.engine.rules import PackEngine
from tracebit_pack.pack.items import REPO_ROOT, find_item

PARSE_TIME = datetime(2024, 12, 20, tzinfo=UTC)
MODES = (("batch", True), ("test", False))

# --------------------------------------------------------------------------------------- streams


@dataclass
class Stream:
    """Events of one shape and the rules that run on them."""

    name: str  # a log type, or the scheduled query name
    rules: list[LoadedRule]
    strategy: Any
    log_type: str | None = None  # None for scheduled query rows

    @property
    def scheduled(self) -> bool:
        return self.log_type is None


def build_streams(engine: PackEngine) -> list[Stream]:
    """One stream per log type with real-time rules and one per scheduled query (sorted)."""
    by_log_type: dict[str, list[LoadedRule]] = {}
    for loaded in engine.rules.values():
        for log_type in loaded.spec.get("LogTypes") or []:
            by_log_type.setdefault(log_type, []).append(loaded)
    streams = [
        Stream(log_type, rules, strategies.events(log_type), log_type)
        for log_type, rules in sorted(by_log_type.items())
    ]
    by_query: dict[str, list[LoadedRule]] = {}
    for loaded in engine.scheduled_rules.values():
        for query in loaded.spec.get("ScheduledQueries") or []:
            by_query.setdefault(query, []).append(loaded)
    for query, rules in sorted(by_query.items()):
        sql = find_item(engine.items, query, "scheduled_query").query
        streams.append(Stream(query, rules, query_rows(sql)))
    return streams


def prepare(stream: Stream, raw: dict, engine: PackEngine) -> tuple[PantherEvent, dict]:
    """The event as a rule sees it: enriched with ``p_*`` fields, wrapped in a PantherEvent
    with the KV-cache clock at its time (``PackEngine.rule_event``, as the replay does)."""
    if stream.scheduled:
        return engine.rule_event(raw, scheduled=True), raw
    event = enrich_event(raw, stream.log_type)
    return engine.rule_event(event), event


def enrich_event(raw: dict, log_type: str) -> dict:
    """``enrich`` with a fixed parse time; a hostile event it cannot enrich gets the minimum."""
    from tracebit_pack.logs.enrich import enrich

    try:
        return enrich(raw, log_type, parse_time=PARSE_TIME, row_id="fuzz")
    except Exception:  # noqa: BLE001 - Panther would not have parsed it; keep fuzzing the rules
        return {**raw, "p_log_type": log_type, "p_event_time": "2024-12-20 00:00:00.000000"}


def run_rules(engine: PackEngine, stream: Stream, raw: dict) -> tuple[list[Failure], list[str]]:
    """Run one raw event through every rule of the stream in both modes: (failures, rules matched)."""
    event, _ = prepare(stream, raw, engine)
    failures: list[Failure] = []
    matched: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for loaded in stream.rules:
            for mode, batch_mode in MODES:
                result = engine.run_rule(loaded, event, batch_mode=batch_mode)
                for failure in check_result(loaded, result, event, mode):
                    failure.event = raw
                    failures.append(failure)
                if batch_mode and result.trigger_alert:
                    matched.append(loaded.id)
    return failures, matched


# --------------------------------------------------------------------------------------- KV seed

SIGNAL_LOG_TYPE = "Okta.SystemLog"


def seed_events() -> list[dict]:
    """Realistic Okta MFA resets of every identity of the strategies' pool, a day before the incident."""
    events = []
    for number, identity in enumerate(IDENTITIES):
        events.append(
            {
                "uuid": f"seed-{number}",
                "published": "2024-12-12T16:20:00.000Z",
                "eventType": MFA_RESET_EVENT_TYPES[number % len(MFA_RESET_EVENT_TYPES)],
                "actor": {"alternateId": "help.desk@acme.com", "type": "User"},
                "outcome": {"result": "SUCCESS"},
                "target": [{"type": "User", "alternateId": identity}],
            }
        )
    return events


def reset_kv(engine: PackEngine, streams: list[Stream]) -> None:
    """Empty the in-memory KV cache and seed it through the signal rule(s) on Okta.SystemLog."""
    engine.kv.clear()
    okta = next((s for s in streams if s.log_type == SIGNAL_LOG_TYPE), None)
    if okta is None:
        return
    for raw in seed_events():
        event, _ = prepare(okta, raw, engine)
        for loaded in okta.rules:
            engine.run_rule(loaded, event, batch_mode=True)


# ---------------------------------------------------------------------------------------- worker

_ENGINE: PackEngine | None = None
_STREAMS: dict[str, Stream] = {}


def _load(root: Path) -> tuple[PackEngine, dict[str, Stream]]:
    global _ENGINE, _STREAMS  # noqa: PLW0603 - one engine per worker process
    if _ENGINE is None or _ENGINE.root != root:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _ENGINE = PackEngine.load(root, batch_mode=True)
            if _ENGINE.load_errors:
                raise RuntimeError(f"rules failed to load: {_ENGINE.load_errors}")
            _STREAMS = {stream.name: stream for stream in build_streams(_ENGINE)}
    return _ENGINE, _STREAMS


@dataclass
class ChunkResult:
    stream: str
    events: int = 0
    matched: dict[str, int] = field(default_factory=dict)
    failures: dict[tuple, list] = field(default_factory=dict)  # signature -> [count, first Failure]
    seconds: float = 0.0


def run_chunk(task: tuple[str, str, int, int]) -> ChunkResult:
    """Generate ``count`` events of a stream with ``seed`` and run them (a worker task)."""
    root, name, count, seed = task
    engine, streams = _load(Path(root))
    stream = streams[name]
    reset_kv(engine, list(streams.values()))
    out = ChunkResult(name)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        events = islice(strategies.seeded_examples(stream.strategy, seed), count)
        for raw in events:
            failures, matched = run_rules(engine, stream, raw)
            out.events += 1
            for rule_id in matched:
                out.matched[rule_id] = out.matched.get(rule_id, 0) + 1
            for failure in failures:
                entry = out.failures.setdefault(failure.signature, [0, failure])
                entry[0] += 1
    out.seconds = time.perf_counter() - start
    return out


# ------------------------------------------------------------------------------------- shrinking


def shrink_failure(engine: PackEngine, streams: list[Stream], failure: Failure) -> Any:
    stream = next(s for s in streams if any(r.id == failure.rule_id for r in s.rules))

    def still_fails(candidate: Any) -> bool:
        if not isinstance(candidate, dict):
            return False
        found, _ = run_rules(engine, stream, candidate)
        return any(f.signature == failure.signature for f in found)

    reset_kv(engine, streams)
    if not still_fails(failure.event):
        return failure.event  # depends on KV state it cannot reproduce here: report as found
    return shrink(failure.event, still_fails)


# ------------------------------------------------------------------------------------------- CLI


def _plan(streams: list[Stream], examples: int, chunk: int, seed: int) -> list[tuple[str, int, int]]:
    tasks = []
    for index, stream in enumerate(streams):
        done = 0
        number = 0
        while done < examples:
            count = min(chunk, examples - done)
            tasks.append((stream.name, count, seed * 1_000_003 + index * 10_007 + number))
            done += count
            number += 1
    # interleave streams so the workers finish together (streams cost differently per event)
    tasks.sort(key=lambda t: (t[2] % 10_007, t[0]))
    return tasks


def _abbreviate(value: Any) -> Any:
    """Long strings shown as ``<first 40 characters>...(N chars)`` for the report."""
    if isinstance(value, dict):
        return {k: _abbreviate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_abbreviate(v) for v in value[:10]] + (
            [f"...({len(value)} items)"] if len(value) > 10 else []
        )
    if isinstance(value, str) and len(value) > 120:
        return f"{value[:40]}...({len(value)} chars)"
    return value


def _short(value: Any, limit: int = 1500) -> str:
    text = json.dumps(_abbreviate(value), ensure_ascii=True, default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def fuzz(
    root: Path,
    examples: int,
    *,
    jobs: int,
    chunk: int,
    seed: int,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, int], dict[str, int], list[tuple[int, Failure]], float]:
    """Run the fuzz: (events per rule, matches per rule, [(count, Failure)], seconds)."""
    engine, stream_map = _load(root)
    streams = list(stream_map.values())
    tasks = [
        (str(root), name, count, task_seed)
        for name, count, task_seed in _plan(streams, examples, chunk, seed)
    ]
    per_stream: dict[str, int] = {s.name: 0 for s in streams}
    matched: dict[str, int] = {}
    failures: dict[tuple, list] = {}
    start = time.perf_counter()
    if jobs > 1:
        context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
        with context.Pool(jobs) as pool:
            results = pool.imap_unordered(run_chunk, tasks)
            _collect(results, per_stream, matched, failures, total=len(tasks), log=log, start=start)
    else:
        _collect(map(run_chunk, tasks), per_stream, matched, failures, total=len(tasks), log=log, start=start)
    elapsed = time.perf_counter() - start
    per_rule = {}
    for stream in streams:
        for loaded in stream.rules:
            per_rule[loaded.id] = per_rule.get(loaded.id, 0) + per_stream[stream.name]
    found = []
    for count, failure in failures.values():
        failure.event = shrink_failure(engine, streams, failure)
        found.append((count, failure))
    return per_rule, matched, found, elapsed


def _collect(results, per_stream, matched, failures, *, total, log, start) -> None:
    for done, result in enumerate(results, start=1):
        per_stream[result.stream] += result.events
        for rule_id, count in result.matched.items():
            matched[rule_id] = matched.get(rule_id, 0) + count
        for signature, (count, failure) in result.failures.items():
            entry = failures.setdefault(signature, [0, failure])
            entry[0] += count
        if done % max(1, total // 20) == 0 or done == total:
            events = sum(per_stream.values())
            log(f"  {done}/{total} chunks, {events} events, {time.perf_counter() - start:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracebit-pack dev fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100_000, help="events per rule (default 100000)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    parser.add_argument("--chunk", type=int, default=2_000, help="events per worker task")
    parser.add_argument("--seed", type=int, default=7, help="base seed (runs are reproducible per seed)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="pack folder")
    parser.add_argument("--failures", type=Path, help="write every failure (with its shrunk event) as JSON")
    args = parser.parse_args(argv)

    print(
        f"fuzz: {args.examples} events per rule, both modes (batch = production, test = pat test), "
        f"{args.jobs} job(s), seed {args.seed}"
    )
    per_rule, matched, found, elapsed = fuzz(
        args.root.resolve(), args.examples, jobs=args.jobs, chunk=args.chunk, seed=args.seed
    )
    width = max(len(rule_id) for rule_id in per_rule)
    print(f"\n{'rule':<{width}}  {'events':>8}  {'matched':>8}  failures")
    for rule_id in sorted(per_rule):
        failed = sum(count for count, f in found if f.rule_id == rule_id)
        print(f"{rule_id:<{width}}  {per_rule[rule_id]:>8}  {matched.get(rule_id, 0):>8}  {failed}")
    print(f"\n{sum(per_rule.values())} rule-events in {elapsed:.0f} s")
    for count, failure in sorted(found, key=lambda x: (x[1].rule_id, x[1].check, x[1].mode)):
        print(
            f"\nFAIL {failure.rule_id} [{failure.mode}] {failure.check} ({count} events): {failure.message}"
        )
        print(f"  shrunk event: {_short(failure.event)}")
    if args.failures:
        args.failures.write_text(
            json.dumps(
                [dict(f.to_json(), count=c) for c, f in found], indent=2, ensure_ascii=True, default=str
            )
        )
    if found:
        print(f"\nfuzz: {len(found)} distinct failure(s)")
        return 1
    print("fuzz: no failures")
    return 0


def load_pack(root: Path = REPO_ROOT) -> tuple[PackEngine, dict[str, Stream]]:
    """For tests: the pack loaded once per process, and its streams by name."""
    return _load(root)


def stream_named(name: str, root: Path = REPO_ROOT) -> Stream:
    """For tests: the stream ``name`` (a log type or a scheduled query name) of the pack at ``root``."""
    return _load(root)[1][name]


def check_event(stream: Stream, raw: Mapping, root: Path = REPO_ROOT) -> list[Failure]:
    """For tests: the property violations of one raw event (KV cache reset and seeded first)."""
    engine, streams = _load(root)
    reset_kv(engine, list(streams.values()))
    failures, _ = run_rules(engine, stream, dict(raw))
    return failures


if __name__ == "__main__":
    sys.exit(main())
