"""The replay report as plain text for a terminal: each alert with its key context, then the pivots.

Every time is printed in UTC with a ``Z``; values are never cut mid-value (lists are capped by
item); long pivot tables show the rows around the alert. Log values are attacker-controlled: every
line is printed through ``text.visible``, so control characters show as escapes, never act.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracebit_pack.pack.not_evaluated import summary_lines
from tracebit_pack.query.rerun import rerun_command
from tracebit_pack.replay import ReplayReport
from tracebit_pack.report.context_facts import context_facts
from tracebit_pack.text import aligned_table, clip, compact, duration_text, visible
from tracebit_pack.times import shown_time as _ts

TINY_EVENTS = 50  # fewer events than this: say the folder is too small to judge history
TINY_SPAN_HOURS = 24.0
RATE_MIN_EVENTS = 500  # below this, an events/s figure measures start-up, not throughput
_TIME_COLUMNS = ("event_time", "event_day", "p_event_time", "hour")


def _short(value: Any, width: int = 60) -> str:
    return clip(_ts(compact(value).replace("\n", " ")), width)


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


def _runs(report: ReplayReport) -> list[str]:
    """How the backtest ran time forward: scheduled queries' runs and rows, correlation runs,
    and how each log type's arrival time was set."""
    if not (report.scheduled_queries or report.correlation_runs):
        return []
    lines = ["Scheduled runs (each on the data arrived by its run time)"]
    for summary in report.scheduled_queries.values():
        span = ""
        if summary.first_run and summary.last_run:
            span = f", {summary.first_run:%Y-%m-%dT%H:%M}Z to {summary.last_run:%Y-%m-%dT%H:%M}Z"
        lines.append(f"  {summary.query}: {summary.runs} run(s), {summary.rows} row(s){span}")
    for rule_id, runs in sorted(report.correlation_runs.items()):
        lines.append(f"  {rule_id}: {runs} run(s)")
    for log_type, rule in sorted(report.arrival.items()):
        if log_type in report.events_by_log_type:
            lines.append(f"  arrival of {log_type}: {rule}")
    return [*lines, ""]


def render_text(report: ReplayReport) -> str:
    lines = [
        f"Replay of {report.scenario}: {report.events} events "
        f"({', '.join(f'{k} {v}' for k, v in sorted(report.events_by_log_type.items()))}), "
        f"now = {report.now:%Y-%m-%dT%H:%M:%SZ}",
        *_notes(report),
        f"{len(report.alerts)} alert(s) ({sum(report.page_counts().values())} paging), "
        f"{report.signals} signal(s)",
        report.skipped.summary(),
        "",
    ]
    numbers = {f"{alert.rule_id}:{alert.dedup}": n for n, alert in enumerate(report.alerts, start=1)}
    for n, alert in enumerate(report.alerts, start=1):
        quiet = "" if alert.pages else "  (no page)"
        lines.append(f"[{n}] {alert.severity or '?'}  {alert.rule_id}{quiet}")
        lines.append(f"    {alert.title}")
        lines.append(
            f"    events: {alert.event_count}  first: {alert.first_event_time:%Y-%m-%dT%H:%M:%SZ}  "
            f"last: {alert.last_event_time:%Y-%m-%dT%H:%M:%SZ}  dedup: {_short(alert.dedup, 70)}"
        )
        if alert.created_at is not None and alert.detection_delay is not None:
            lines.append(
                f"    created: {alert.created_at:%Y-%m-%dT%H:%M:%SZ}  "
                f"detection delay: {duration_text(alert.detection_delay.total_seconds())}"
            )
        lines.extend(f"    {label}: {text}" for label, text in context_facts(alert.alert_context))
        lines.append("")
    if report.pivots:
        lines.append("Pivot queries (times in UTC)")
        lines.append("")
    for pivot in report.pivots:
        params = ", ".join(f"{k}={_ts(str(v))}" for k, v in pivot.parameters.items())
        lines.append(f"{pivot.query} ({params})")
        refs = [f"[{numbers[a]}] {a.split(':', 1)[0]}" if a in numbers else a for a in pivot.alerts]
        lines.append(f"  for alerts: {', '.join(refs)}")
        lines.append(f"  rerun: {rerun_command(pivot.query, pivot.parameters, report.scenario, report.now)}")
        if pivot.error:
            lines.append(f"  error: {pivot.error}")
        else:
            focus = _ts(str(pivot.parameters.get("alert_time") or "")) or None
            lines.extend(table(pivot.rows, focus=focus))
        lines.append("")
    lines.extend(_runs(report))
    by_day = report.alerts_by_rule_day()
    if by_day:
        lines.append("Alerts per rule per day they were created")
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
    return "\n".join(visible(line) for line in lines)
