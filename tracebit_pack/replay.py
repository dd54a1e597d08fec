"""``tracebit-pack replay <scenario>``: replay a folder of logs through the whole pack, offline.

1. Read every event file of the folder (``<LogType>.jsonl``, ``<LogType>.json``, ``<LogType>/``
   folders of S3 objects, gzip or not; ``ingest``) into the embedded lake (``lake.Lake``), each
   file once: every event is schema-checked and enriched as Panther does; one that does not
   conform is skipped and counted (``--strict``: refused).
2. Run every enabled real-time rule on the events of its log types in event-time order with
   Panther's engine (``engine.PackEngine``; the KV cache is an in-memory store on the event
   clock), streamed from the lake in batches as the raw events with their ``p_*`` fields (built
   in SQL by ``ingest``). Log types without a real-time rule never leave DuckDB.
3. Run every enabled scheduled rule on the rows of its scheduled queries, executed over the lake
   at "now" (``--now``, default: the latest event time in the scenario).
4. Group the matches into alerts (``alerts``: dedup string, DedupPeriodMinutes, Threshold,
   CreateAlert) and evaluate the correlation rules on the signals (every match is a signal).
5. Print the investigation: each alert with severity, title and key context, then the pivot
   queries (``tracebit_pivots.PIVOTS``, rendered like the alert context's) run for each alert's
   principal.

Bad input (missing folder, unknown log type, a bad ``--now``; with ``--strict`` also malformed
JSON with file:line or an event that does not match its schema) is one error line and exit code
2; the report is built completely before anything is printed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracebit_pack.engine.alerts import Alert, group_matches
from tracebit_pack.engine.correlation import CorrelationMatch, CorrelationRule, Signal
from tracebit_pack.engine.rules import PackEngine, RuleResult
from tracebit_pack.errors import UserError
from tracebit_pack.lake.embedded import Lake
from tracebit_pack.logs.ingest import Ingest, Skipped, discover, needs_disk, require_events
from tracebit_pack.logs.schemas import LOG_TYPES
from tracebit_pack.pack.items import (
    REPO_ROOT,
    AnalysisItem,
    add_path_argument,
    repository,
    table_name,
)
from tracebit_pack.pack.not_evaluated import correlation_rules, summary_lines
from tracebit_pack.query.pivots import run_pivot
from tracebit_pack.text import aligned_table, clip, compact
from tracebit_pack.times import panther_time, rfc3339_utc
from tracebit_pack.times import parse_now as parse_now_flag

PROGRESS_DELAY_SECONDS = 2.0  # the bar shows only on runs longer than this
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
    rule_events: int = 0  # events of the log types that have real-time rules
    skipped: Skipped = field(default_factory=Skipped)

    def alerts_by_rule_day(self) -> dict[str, dict[str, int]]:
        """Alerts per rule per UTC day of their first event: the noise to expect."""
        out: dict[str, dict[str, int]] = {}
        for alert in self.alerts:
            day = alert.first_event_time.strftime("%Y-%m-%d")
            per_day = out.setdefault(alert.rule_id, {})
            per_day[day] = per_day.get(day, 0) + 1
        return {rule: dict(sorted(days.items())) for rule, days in sorted(out.items())}

    def alert_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for alert in self.alerts:
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
            "pivots": [p.to_json() for p in self.pivots],
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
        }


# --------------------------------------------------------------------------- loading


def parse_now(value: str | None) -> datetime | None:
    """``--now`` as every command reads it (RFC 3339 with a timezone), or None when not given."""
    return None if value is None else parse_now_flag(value)


# --------------------------------------------------------------------------- running


def _signal(match: RuleResult, event: Mapping, when: str) -> dict:
    signal = dict(event)
    signal["p_rule_id"] = match.rule_id
    signal["p_event_time"] = when
    signal["p_alert_context"] = match.alert_context
    return signal


def _correlation_alert(rule: CorrelationRule, match: CorrelationMatch) -> Alert:
    context: dict[str, Any] = {"match": match.key, "groups": {}}
    identities: list[str] = []
    for item_id, signals in match.signals.items():
        context["groups"][item_id] = [{"rule_id": s.rule_id, "time": rfc3339_utc(s.time)} for s in signals]
        for s in signals:
            inner = s.data.get("p_alert_context") or {}
            for identity in inner.get("identities") or []:
                if isinstance(identity, str) and identity not in identities:
                    identities.append(identity)
            for key in ("principal_arn", "alert_time", "alert_id", "canary_names", "source_ips"):
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


def run_pivots(engine: PackEngine, lake: Lake, alerts: list[Alert], now: datetime) -> list[PivotResult]:
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


_TABLE_REF = re.compile(r"panther_logs\.public\.([a-z0-9_]+)", re.IGNORECASE)


def _no_data_reason(item: AnalysisItem, lake: Lake) -> str | None:
    """Why a scheduled query is not run: every table it reads is empty in this folder (its answer,
    such as "no health check for 30 days", would be about the folder, not the system)."""
    tables = {name.lower() for name in _TABLE_REF.findall(item.query or "")}
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
    lake = Lake.on_disk() if needs_disk(sources) else Lake()
    try:
        ingest = Ingest(lake, {t for t in LOG_TYPES if engine.rules_for(t)}, strict=strict)
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
        moment = now or latest or datetime.now(UTC)
        now_text = panther_time(moment)
        engine.kv.now = moment.timestamp()
        skipped_queries: dict[str, str] = {}
        for loaded in engine.scheduled_rules.values():
            for query_name in loaded.spec.get("ScheduledQueries") or []:
                item = next(
                    (i for i in engine.items if i.kind == "scheduled_query" and i.id == query_name), None
                )
                if item is None:
                    errors.setdefault(loaded.id, []).append(f"scheduled query {query_name!r} not found")
                    continue
                why_not = _no_data_reason(item, lake)
                if why_not:
                    skipped_queries[query_name] = why_not
                    continue
                try:
                    rows = lake.run(item, now=moment)
                except UserError as err:  # e.g. SQL the embedded lake cannot run
                    reason = str(err).removeprefix(f"{query_name}: ")
                    not_evaluated[loaded.id] = f"scheduled query {query_name!r}: {reason}"[:300]
                    continue
                for result, row in zip(engine.run_scheduled(loaded.id, rows), rows, strict=True):
                    result.event_time = now_text
                    if result.error:
                        errors.setdefault(result.rule_id, []).append(result.error)
                    if result.matched:
                        matches.append(result)
                        signals.append(_signal(result, row, now_text))
        grouping = group_matches(matches, settings)
        alerts = list(grouping.alerts)
        signal_objs = [Signal.from_dict(s, n) for n, s in enumerate(signals)]
        correlations, not_run = correlation_rules(engine.items)
        not_evaluated.update(not_run)
        for rule in correlations:
            for match in rule.evaluate(signal_objs):
                alert = _correlation_alert(rule, match)
                if alert.create_alert:
                    alerts.append(alert)
        alerts.sort(key=lambda a: (SEVERITY_ORDER.get(a.severity or "", 9), a.first_event_time, a.rule_id))
        pivots = run_pivots(engine, lake, alerts, moment)
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
    )


# --------------------------------------------------------------------------- text report

KEY_CONTEXT = (
    ("principal", ("principal_arn", "principal_id")),
    ("identities", ("identities",)),
    ("canaries", ("canary_names",)),
    ("source IPs", ("source_ips",)),
    ("operation", ("event_operation",)),
    ("classification", ("classification",)),
    ("recent MFA reset", ("recent_mfa_reset",)),
    ("Okta reset", ("okta_reset",)),
    ("CloudTrail change", ("cloudtrail_event",)),
    ("window requests", ("window_requests",)),
    ("baseline/day", ("baseline_daily_avg",)),
    ("surge bucket", ("surge_bucket",)),
    ("surge window", ("surge_window_start",)),
    ("busiest hour", ("surge_busiest_hour",)),
    ("matched on", ("match",)),
    ("reset", ("reset_event_type",)),
)
TINY_EVENTS = 50  # fewer events than this: say the folder is too small to judge history
TINY_SPAN_HOURS = 24.0
RATE_MIN_EVENTS = 500  # below this, an events/s figure measures start-up, not throughput
MAX_LIST_ITEMS = 10
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:Z|[+-]00:?00)?$")
_TIME_COLUMNS = ("event_time", "event_day", "p_event_time", "hour")


def _ts(text: str) -> str:
    """A lake / Panther timestamp as rfc3339 UTC (``2024-12-12T22:41:07.311Z``); other text as is.

    Every time in the report is UTC, and says so."""
    found = _TIMESTAMP.match(text)
    if not found:
        return text
    day, clock, fraction = found.groups()
    millis = (fraction or "").ljust(3, "0")[:3]
    return f"{day}T{clock}" + (f".{millis}" if millis.strip("0") else "") + "Z"


def _short(value: Any, width: int = 60) -> str:
    return clip(_ts(compact(value).replace("\n", " ")), width)


def _mfa_text(record: Mapping) -> str:
    """An MFA / password reset record (KV cache, Okta or CloudTrail side) as one sentence, in full."""
    source = record.get("source") or ("AWS" if record.get("event_name") else "Okta")
    what = record.get("event_type") or record.get("event_name") or "an MFA reset"
    parts = [f"{source} {what}"]
    if record.get("identity"):
        parts.append(f"for {record['identity']}")
    if record.get("event_time"):
        parts.append(f"at {_ts(str(record['event_time']))}")
    if record.get("actor"):
        parts.append(f"by {record['actor']}")
    ident = record.get("uuid") or record.get("event_id")
    return " ".join(parts) + (f" (event {ident})" if ident else "")


def _value_text(key: str, value: Any) -> str:
    """A context value for the report: never cut mid-value (lists are capped by item, not by
    character), timestamps in UTC."""
    if isinstance(value, Mapping) and key in {"recent_mfa_reset", "okta_reset", "cloudtrail_event"}:
        return _mfa_text(value)
    if isinstance(value, list):
        shown = ", ".join(_value_text(key, v) for v in value[:MAX_LIST_ITEMS])
        more = len(value) - MAX_LIST_ITEMS
        return shown + (f" +{more} more" if more > 0 else "")
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_value_text(k, v)}" for k, v in value.items() if v not in (None, "", [], {}))
    return _ts(str(value))


def _row_time(row: Mapping) -> str | None:
    for column in _TIME_COLUMNS:
        if isinstance(row.get(column), str):
            return _ts(row[column])
    return None


def table(rows: list[dict], max_rows: int = 15, width: int = 40, focus: str | None = None) -> list[str]:
    """Rows as a text table. With more than ``max_rows`` rows and a ``focus`` time (rfc3339), the
    rows shown are those around the focus (the alert), not the first ones."""
    if not rows:
        return ["  (no rows)"]
    columns = list(rows[0].keys())
    start = 0
    if len(rows) > max_rows and focus and _row_time(rows[0]) is not None:
        at = next((n for n, row in enumerate(rows) if (_row_time(row) or "") >= focus), len(rows))
        start = max(0, min(at - max_rows // 2, len(rows) - max_rows))
    shown = rows[start : start + max_rows]
    cells = [[_short(r.get(c), width) if r.get(c) is not None else "" for c in columns] for r in shown]
    lines = ["  " + line for line in aligned_table(columns, cells)]
    out = lines[:2]
    if start:
        out.append(f"  ... {start} earlier row(s) (--format json shows all)")
    out += lines[2:]
    later = len(rows) - start - len(shown)
    if later > 0:
        out.append(f"  ... {later} {'later ' if start else 'more '}row(s) (--format json shows all)")
    return out


def _notes(report: ReplayReport) -> list[str]:
    """What the reader must know before trusting the alerts: a folder too small to judge history,
    scheduled queries not run for lack of data."""
    notes = []
    first, last = report.first_event_time, report.last_event_time
    hours = (last - first).total_seconds() / 3600 if first and last else 0.0
    if report.events < TINY_EVENTS or hours < TINY_SPAN_HOURS:
        notes.append(
            f"note: only {report.events} event(s) over {hours:.1f} h: too little history for baselines "
            "(GetObject surge) and silence checks; their results below judge this folder only"
        )
    for query, why in sorted(report.skipped_queries.items()):
        notes.append(f"note: {query} not run: {why}")
    return notes


def render_text(report: ReplayReport) -> str:
    lines = [
        f"Replay of {report.scenario}: {report.events} events "
        f"({', '.join(f'{k} {v}' for k, v in sorted(report.events_by_log_type.items()))}), "
        f"now = {report.now:%Y-%m-%dT%H:%M:%SZ}",
        *_notes(report),
        f"{len(report.alerts)} alert(s), {report.signals} signal(s)",
        report.skipped.summary(),
        "",
    ]
    numbers = {f"{alert.rule_id}:{alert.dedup}": n for n, alert in enumerate(report.alerts, start=1)}
    for n, alert in enumerate(report.alerts, start=1):
        lines.append(f"[{n}] {alert.severity or '?'}  {alert.rule_id}")
        lines.append(f"    {alert.title}")
        lines.append(
            f"    events: {alert.event_count}  first: {alert.first_event_time:%Y-%m-%dT%H:%M:%SZ}  "
            f"last: {alert.last_event_time:%Y-%m-%dT%H:%M:%SZ}  dedup: {_short(alert.dedup, 70)}"
        )
        for label, keys in KEY_CONTEXT:
            for key in keys:
                value = alert.alert_context.get(key)
                if value not in (None, "", [], {}):
                    text = _value_text(key, value)
                    if key == "surge_window_start" and alert.alert_context.get("surge_window_end"):
                        text += f" to {_ts(str(alert.alert_context['surge_window_end']))}"
                    lines.append(f"    {label}: {text}")
                    break
        lines.append("")
    if report.pivots:
        lines.append("Pivot queries (times in UTC)")
        lines.append("")
    for pivot in report.pivots:
        params = ", ".join(f"{k}={_ts(str(v))}" for k, v in pivot.parameters.items())
        lines.append(f"{pivot.query} ({params})")
        refs = [f"[{numbers[a]}] {a.split(':', 1)[0]}" if a in numbers else a for a in pivot.alerts]
        lines.append(f"  for alerts: {', '.join(refs)}")
        if pivot.error:
            lines.append(f"  error: {pivot.error}")
        else:
            focus = _ts(str(pivot.parameters.get("alert_time") or "")) or None
            lines.extend(table(pivot.rows, focus=focus))
        lines.append("")
    by_day = report.alerts_by_rule_day()
    if by_day:
        lines.append("Alerts per rule per day")
        for rule_id, days in by_day.items():
            lines.append(f"  {rule_id}: " + ", ".join(f"{day} {n}" for day, n in days.items()))
        lines.append("")
    if report.rule_errors:
        lines.append("Rule errors")
        for rule_id, messages in sorted(report.rule_errors.items()):
            lines.append(f"  {rule_id}: {messages[0]}")
        lines.append("")
    if report.not_evaluated:
        lines.extend([*summary_lines(report.not_evaluated), ""])
    if report.rules_by_log_type:
        ran = ", ".join(f"{k} {v}" for k, v in report.rules_by_log_type.items())
        lines.append(f"real-time rules run per log type: {ran}")
    if report.rule_events >= RATE_MIN_EVENTS and report.rule_seconds:
        rate = f"{report.rule_events / report.rule_seconds:,.0f} events/s"
    else:
        rate = f"too few events for a rate (fewer than {RATE_MIN_EVENTS:,})"
    lines.append(
        f"replayed {report.events} events through {report.rules_run} rule(s) in {report.seconds:.2f}s "
        f"(loading the repository: {report.load_seconds:.2f}s; "
        f"real-time rules: {report.rule_events} events in {report.rule_seconds:.2f}s, {rate})"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay a scenario folder through every rule, correlation and scheduled rule",
        description=(
            "Replay a folder of logs through the pack offline and print the investigation: "
            "alerts with their context, then the pivot queries for each principal. The folder "
            "holds <LogType>.jsonl, <LogType>.json (a JSON array or CloudTrail's Records) and "
            "<LogType>/ folders (e.g. AWS.CloudTrail/ of S3 objects), any of them gzip-compressed."
        ),
    )
    parser.add_argument("scenario", type=Path, help="folder of event files (e.g. scenarios/blog_incident)")
    parser.add_argument(
        "--now", help="rfc3339 time the scheduled queries run at (default: latest event time)"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="output format (default text; html: one self-contained page with the charts)",
    )
    parser.add_argument("--out", type=Path, help="write the report to this file instead of stdout")
    add_path_argument(parser)
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse the folder at the first event that does not conform (default: skip and count)",
    )
    parser.set_defaults(func=run)


def stderr_progress(phase: str, total: int | None) -> Any:
    """A tqdm bar on stderr for runs over ``PROGRESS_DELAY_SECONDS``; None when stderr is no TTY."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=f"replay: {phase}",
        unit=" events",
        unit_scale=True,
        file=sys.stderr,
        delay=PROGRESS_DELAY_SECONDS,
        mininterval=0,  # updates are few (per loaded batch, per 1,000 events): show each one
        leave=False,
    )


def run(args: argparse.Namespace) -> int:
    now = parse_now(args.now)
    out = getattr(args, "out", None)
    if out is not None:
        check_out(out)
    report = replay(
        args.scenario, now=now, root=repository(args), progress=stderr_progress, strict=args.strict
    )
    if args.format == "json":
        output = json.dumps(report.to_json(), indent=2, default=str)
    elif args.format == "html":
        from tracebit_pack.report.html import render_html

        output = render_html(json.loads(json.dumps(report.to_json(), default=str)))
    else:
        output = render_text(report)
    if out is None:
        sys.stdout.write(output + "\n")
        return 0
    try:
        out.write_text(output + "\n", encoding="utf-8")
    except OSError as err:
        raise UserError(f"--out {out}: cannot write: {err.strerror or err}") from err
    print(f"wrote {out} ({len(report.alerts)} alert(s))")
    return 0


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that cannot be written, before the replay runs."""
    if out.is_dir():
        raise UserError(f"--out {out}: is a directory")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: folder {out.parent} does not exist")
