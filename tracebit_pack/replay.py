"""The replay pipeline: a folder of logs through the whole pack, offline, into one ``ReplayReport``.

1. Read every event file of the folder (``<LogType>.jsonl``, ``<LogType>.json``, ``<LogType>/``
   folders of S3 objects, gzip or not; ``ingest``) into the embedded lake (``lake.Lake``), each
   file once: every event is schema-checked and enriched as Panther does; one that does not
   conform is skipped and counted (``--strict``: refused).
2. Run every enabled real-time rule on the events of its log types in event-time order with
   Panther's engine (``engine.PackEngine``; the KV cache is an in-memory store on the event
   clock), streamed from the lake in batches as the raw events with their ``p_*`` fields (built
   in SQL by ``ingest``). Log types without a real-time rule never leave DuckDB.
3. Run every scheduled query at each of its run times from the first arrival to "now"
   (``--now``, default: the run that sees the last event arrive), each run on the data arrived by
   then, and its rows through the scheduled rules (``schedule.scheduled``).
4. Group the matches into alerts (``alerts``: dedup string, DedupPeriodMinutes, Threshold,
   CreateAlert, each with ``created_at``) and run the correlation rules on their schedule over
   the signals (every match is a signal; ``schedule.correlation_runs``).
5. Run the pivot queries (``tracebit_pivots.PIVOTS``, rendered like the alert context's) for
   each alert's principal.

The report is rendered by ``report.terminal`` (text), ``report.html`` (one page) or as JSON, and
the command line is ``cli.replay``.

Bad input (missing folder, unknown log type, a bad ``--now``; with ``--strict`` also malformed
JSON with file:line or an event that does not match its schema) is one error line and exit code
2; the report is built completely before anything is printed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracebit_pack.engine.alerts import Alert, group_matches
from tracebit_pack.engine.correlation import CorrelationMatch, CorrelationRule, Signal, correlation_rules
from tracebit_pack.engine.loaded_rule import RuleResult
from tracebit_pack.engine.rules import PackEngine
from tracebit_pack.errors import UserError
from tracebit_pack.lake.embedded import Lake
from tracebit_pack.loading.ingest import Ingest, Skipped
from tracebit_pack.logs.arrival import Arrival
from tracebit_pack.logs.folder import discover, require_events
from tracebit_pack.logs.schemas import LOG_TYPES
from tracebit_pack.pack.items import (
    REPO_ROOT,
    table_name,
)
from tracebit_pack.query.pivots import run_pivot
from tracebit_pack.query.rerun import rerun_command
from tracebit_pack.schedule.as_of import arrival_bounds, tables_read
from tracebit_pack.schedule.correlation_runs import RaisedMatch, run_correlation
from tracebit_pack.schedule.scheduled import QueryRunsSummary, run_scheduled
from tracebit_pack.times import panther_time, rfc3339_utc

SEVERITY_ORDER = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3, "INFO": 4}


# --------------------------------------------------------------------------- data


@dataclass
class PivotResult:
    query: str
    parameters: dict
    rows: list[dict]
    alerts: list[str]  # "<rule_id>:<dedup>" of the alerts it was run for
    error: str | None = None

    def to_json(self) -> dict:
        out = {"query": self.query, "parameters": self.parameters, "rows": self.rows, "alerts": self.alerts}
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class ReplayReport:
    scenario: str
    now: datetime
    events: int
    events_by_log_type: dict[str, int]
    alerts: list[Alert]
    signals: int
    pivots: list[PivotResult]
    rule_errors: dict[str, list[str]] = field(default_factory=dict)
    not_evaluated: dict[str, str] = field(default_factory=dict)  # item ID -> reason
    rules_run: int = 0  # enabled rules, scheduled rules and correlation rules evaluated
    rules_by_log_type: dict[str, int] = field(default_factory=dict)  # real-time rules each log type ran
    load_seconds: float = 0.0
    seconds: float = 0.0
    rule_seconds: float = 0.0  # real-time rules only (the engine's throughput)
    first_event_time: datetime | None = None
    last_event_time: datetime | None = None
    skipped_queries: dict[str, str] = field(default_factory=dict)  # scheduled query -> why not run
    rule_events: int = 0  # events run through real-time rules (those their InlineFilters may pass)
    skipped: Skipped = field(default_factory=Skipped)
    scheduled_queries: dict[str, QueryRunsSummary] = field(default_factory=dict)  # runs and rows
    correlation_runs: dict[str, int] = field(default_factory=dict)  # correlation rule -> its runs
    arrival: dict[str, str] = field(default_factory=dict)  # log type -> how its p_parse_time is set

    def alerts_by_rule_day(self) -> dict[str, dict[str, int]]:
        """Alerts per rule per UTC day they were created (``created_at``): the noise to expect."""
        out: dict[str, dict[str, int]] = {}
        for alert in self.alerts:
            day = (alert.created_at or alert.first_event_time).strftime("%Y-%m-%d")
            per_day = out.setdefault(alert.rule_id, {})
            per_day[day] = per_day.get(day, 0) + 1
        return {rule: dict(sorted(days.items())) for rule, days in sorted(out.items())}

    def alert_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for alert in self.alerts:
            counts[alert.rule_id] = counts.get(alert.rule_id, 0) + 1
        return counts

    def page_counts(self) -> dict[str, int]:
        """Alerts that page (``Alert.pages``), per rule: what reaches an analyst."""
        counts: dict[str, int] = {}
        for alert in self.alerts:
            if alert.pages:
                counts[alert.rule_id] = counts.get(alert.rule_id, 0) + 1
        return counts

    def to_json(self) -> dict:
        return {
            "scenario": self.scenario,
            "now": rfc3339_utc(self.now),
            "events": self.events,
            "events_by_log_type": self.events_by_log_type,
            "signals": self.signals,
            "alerts": [a.to_json() for a in self.alerts],
            "pivots": [
                dict(p.to_json(), command=rerun_command(p.query, p.parameters, self.scenario, self.now))
                for p in self.pivots
            ],
            "rule_errors": self.rule_errors,
            "rules_run": self.rules_run,
            "rules_by_log_type": self.rules_by_log_type,
            "not_evaluated": self.not_evaluated,
            "seconds": {
                "load": round(self.load_seconds, 3),
                "rules": round(self.rule_seconds, 3),
                "total": round(self.seconds, 3),
            },
            "alerts_by_rule_day": self.alerts_by_rule_day(),
            "skipped": self.skipped.to_json(),
            "scheduled_queries": [q.to_json() for q in self.scheduled_queries.values()],
            "skipped_queries": self.skipped_queries,
            "correlation_runs": self.correlation_runs,
            "arrival": self.arrival,
        }


# --------------------------------------------------------------------------- loading


# --------------------------------------------------------------------------- running


def _signal(match: RuleResult, event: Mapping, when: str, produced: datetime | None = None) -> dict:
    """The signal of a match; ``produced``: when a scheduled run made it (its ``p_parse_time``)."""
    signal = dict(event)
    signal["p_rule_id"] = match.rule_id
    signal["p_event_time"] = when
    if produced is not None:
        signal["p_parse_time"] = panther_time(produced)
    signal["p_alert_context"] = match.alert_context
    return signal


def _correlation_alert(rule: CorrelationRule, raised: RaisedMatch) -> Alert:
    match: CorrelationMatch = raised.match
    context: dict[str, Any] = {"match": match.key, "groups": {}}
    identities: list[str] = []
    for item_id, signals in match.signals.items():
        context["groups"][item_id] = [{"rule_id": s.rule_id, "time": rfc3339_utc(s.time)} for s in signals]
        for s in signals:
            inner = s.data.get("p_alert_context") or {}
            for identity in inner.get("identities") or []:
                if isinstance(identity, str) and identity not in identities:
                    identities.append(identity)
            for key in (
                "principal_arn",
                "principal_scope",
                "alert_time",
                "alert_id",
                "canary_names",
                "source_ips",
            ):
                if inner.get(key) and key not in context:
                    context[key] = inner[key]
    context["identities"] = identities
    values = ", ".join(str(v) for v in match.key.values()) or "all"
    return Alert(
        rule_id=rule.rule_id,
        dedup=json.dumps(match.key, sort_keys=True, default=str),
        severity=rule.severity,
        title=f"{rule.title} ({values})",
        alert_context=context,
        first_event_time=match.first_time,
        last_event_time=match.last_time,
        event_count=len(match.all_signals),
        create_alert=rule.create_alert,
        created_at=raised.created_at,
    )


def pivot_parameters(engine: PackEngine, context: Mapping) -> dict[str, Any]:
    """Pivot parameters available in an alert context (``tracebit_pivots.pivot_params``)."""
    helper = engine.globals.get("tracebit_pivots")
    if helper is not None and hasattr(helper, "pivot_params"):
        try:
            return dict(helper.pivot_params(dict(context)))
        except Exception:  # noqa: BLE001 - a broken helper only costs the pivots
            return {}
    return {k: v for k, v in context.items() if isinstance(v, str)}


def run_pivots(
    engine: PackEngine, lake: Lake, alerts: list[Alert], now: datetime, not_run: dict[str, str] | None = None
) -> list[PivotResult]:
    """Each pivot once per principal; a pivot whose tables are all empty here goes to ``not_run``."""
    helper = engine.globals.get("tracebit_pivots")
    names = sorted(getattr(helper, "PIVOTS", {}))
    results: dict[tuple, PivotResult] = {}
    for alert in alerts:
        available = pivot_parameters(engine, alert.alert_context)
        if not available:
            continue
        for name in names:
            declared = helper.PIVOTS[name]["params"]
            if any(key not in available for key in declared):
                continue
            why_not = _no_data_reason(helper.PIVOTS[name]["sql"], lake)
            if why_not:
                if not_run is not None:
                    not_run[name] = why_not
                continue
            params = {key: available[key] for key in declared}
            # one run per query and principal: the highest-severity alert's alert_time wins
            key = (name, tuple(sorted((k, str(v).lower()) for k, v in params.items() if k != "alert_time")))
            label = f"{alert.rule_id}:{alert.dedup}"
            if key in results:
                results[key].alerts.append(label)
                continue
            try:
                rows = run_pivot(lake, helper, name, params, now)
                results[key] = PivotResult(name, params, rows, [label])
            except UserError as err:
                results[key] = PivotResult(name, params, [], [label], error=str(err))
    return list(results.values())


def _no_data_reason(query: str, lake: Lake) -> str | None:
    """Why a scheduled query or a pivot is not run: every table it reads is empty in this folder (its
    answer, such as "no health check for 30 days" or "no rows", would be about the folder, not the
    system)."""
    tables = tables_read(query)
    by_table = {table_name(log_type): log_type for log_type in lake.row_counts}
    log_types = sorted(by_table[t] for t in tables if t in by_table)
    if log_types and all(lake.row_counts[t] == 0 for t in log_types):
        return f"the folder has no {' / '.join(log_types)} events"
    return None


def replay(
    folder: Path,
    now: datetime | None = None,
    root: Path = REPO_ROOT,
    engine: PackEngine | None = None,
    *,
    progress: Callable[[str, int | None], Any] | None = None,
    strict: bool = False,
    arrival: Arrival | None = None,
) -> ReplayReport:
    """Replay ``folder``; ``progress(phase, total)`` may return a bar (``update(n)``, ``close()``)."""
    started = time.perf_counter()
    folder = Path(folder)
    sources = discover(folder)
    require_events(folder, sources)
    engine = engine or PackEngine.load(root)
    if not engine.items:
        raise UserError(f"{root}: no Panther analysis items found (point --path at a detections repository)")
    load_seconds = time.perf_counter() - started
    not_evaluated = dict(engine.not_evaluated)
    lake = Lake.for_sources(sources)
    try:
        rule_types = {t for t in LOG_TYPES if engine.rules_for(t)}
        pushdowns = {t: p for t in rule_types if (p := engine.pushdown(t)) is not None}
        ingest = Ingest(lake, rule_types, strict=strict, arrival=arrival, pushdowns=pushdowns)
        bar = progress("load", None) if progress else None
        ingest.progress = bar.update if bar is not None else ingest.progress
        try:
            ingest.load(sources)
        finally:
            if bar is not None:
                bar.close()
        if not ingest.events_by_log_type:
            why = f" ({ingest.skipped.summary()})" if ingest.skipped.total else ""
            raise UserError(f"{folder}: no events: nothing to replay{why}")
        settings = {
            loaded.id: loaded.settings
            for loaded in [*engine.rules.values(), *engine.scheduled_rules.values()]
        }
        matches: list[RuleResult] = []
        signals: list[dict] = []
        errors: dict[str, list[str]] = {}
        total = ingest.rule_event_count()
        bar = progress("rules", total) if progress else None
        rules_started = time.perf_counter()
        for n, event in enumerate(ingest.rule_events(), start=1):
            for result in engine.run_event(event):
                if result.error:
                    errors.setdefault(result.rule_id, []).append(result.error)
                if result.matched:
                    matches.append(result)
                    signals.append(_signal(result, event, event["p_event_time"]))
            if bar is not None and n % 1000 == 0:
                bar.update(1000)
        if bar is not None:
            bar.update(total % 1000)
            bar.close()
        rule_seconds = time.perf_counter() - rules_started
        latest = ingest.latest_event_time()
        earliest = ingest.earliest_event_time()
        first_arrival, last_arrival = arrival_bounds(lake)
        first_arrival = first_arrival or earliest or datetime.now(UTC)
        last_arrival = last_arrival or latest or first_arrival
        moment = now or last_arrival
        outcome, skipped_queries = run_scheduled(
            engine,
            lake,
            start=first_arrival,
            end=now,
            last_arrival=last_arrival,
            skip=lambda item: _no_data_reason(item.query or "", lake),
        )
        for rule_id, messages in outcome.errors.items():
            errors.setdefault(rule_id, []).extend(messages)
        not_evaluated.update(outcome.not_evaluated)
        matches.extend(outcome.matches)
        signals.extend(_signal(result, row, panther_time(at), at) for result, row, at in outcome.signals)
        grouping = group_matches(matches, settings)
        alerts = list(grouping.alerts)
        signal_objs = [Signal.from_dict(s, n) for n, s in enumerate(signals)]
        correlations, not_run = correlation_rules(engine.items)
        not_evaluated.update(not_run)
        correlation_runs: dict[str, int] = {}
        for rule in correlations:
            try:
                raised, runs = run_correlation(
                    rule, signal_objs, start=first_arrival, end=now, last_arrival=last_arrival
                )
            except UserError as err:
                not_evaluated[rule.rule_id] = str(err)[:300]
                continue
            correlation_runs[rule.rule_id] = runs
            for found in raised:
                alert = _correlation_alert(rule, found)
                if alert.create_alert:
                    alerts.append(alert)
        alerts.sort(key=lambda a: (SEVERITY_ORDER.get(a.severity or "", 9), a.first_event_time, a.rule_id))
        pivots = run_pivots(engine, lake, alerts, moment, skipped_queries)
    finally:
        lake.close()
    by_type = dict(sorted(ingest.events_by_log_type.items()))
    return ReplayReport(
        scenario=str(folder),
        now=moment,
        events=sum(by_type.values()),
        events_by_log_type=by_type,
        alerts=alerts,
        signals=len(signals),
        pivots=pivots,
        rule_errors={k: sorted(set(v))[:5] for k, v in errors.items()},
        not_evaluated={**engine.not_evaluated, **not_evaluated},  # data models fail lazily
        rules_run=len(engine.rules) + len(engine.scheduled_rules) + len(correlations),
        rules_by_log_type={log_type: len(engine.rules_for(log_type)) for log_type in sorted(by_type)},
        load_seconds=load_seconds,
        seconds=time.perf_counter() - started,
        rule_seconds=rule_seconds,
        first_event_time=earliest,
        last_event_time=latest,
        skipped_queries=skipped_queries,
        rule_events=total,
        skipped=ingest.skipped,
        scheduled_queries=outcome.queries,
        correlation_runs=correlation_runs,
        arrival=ingest.arrival.describe(),
    )
