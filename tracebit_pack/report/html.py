"""The investigation as one self-contained HTML file (``replay --format html``).

Input is the replay report's JSON form (``ReplayReport.to_json()``, which may come from a file),
read defensively (``tracebit_pack.report.log_values``) and turned into alerts and principals with
their charts (``tracebit_pack.report.view_model``); this module lays them out. Output is one
HTML file with inline CSS, static SVG charts (``tracebit_pack.report.charts``) and one small inline
script for the copy buttons, allowed by a Content-Security-Policy hash; the policy blocks every
network request.

Every value from a log is attacker-controlled: strings are cleaned (``clean``: lone surrogates,
control and bidi characters shown as ``\\uXXXX``) and then HTML-escaped by Jinja2's autoescape; the
copy buttons copy the text of their ``<pre>`` block, so no log value is ever placed in a script.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable
from pathlib import Path

import jinja2
import markupsafe

from tracebit_pack.report import charts as report_charts
from tracebit_pack.report.charts import ChartError
from tracebit_pack.report.log_values import as_dict, as_list, clean, iso_utc, text
from tracebit_pack.report.period import period_view
from tracebit_pack.report.pivot_queries import distinct_queries
from tracebit_pack.report.view_model import (
    alert_view,
    alerts_by_rule_day,
    build_principal_charts,
    default_renderer,
    group_principals,
    skipped_summary,
)
from tracebit_pack.times import shown_time

TEMPLATES = Path(__file__).resolve().parent / "templates"
PIVOT_ROWS_SHOWN = 200
# A month-long backtest can raise thousands of alerts: the page details the most severe ones
# (the replay lists alerts most severe first) and counts the rest in the per-rule-per-day chart.
ALERT_CARDS_SHOWN = 200
PRINCIPALS_CHARTED = 25

# The one script of the page: copy the text of the <pre> a button points to (by id).
COPY_SCRIPT = """
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) return;
  var text = source.textContent;
  function done(label) {
    button.textContent = label;
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  }
  function fallback() {
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    done(document.execCommand("copy") ? "Copied" : "Selected: press Ctrl+C");
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(function () { done("Copied"); }, fallback);
  } else {
    fallback();
  }
});
"""


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["text"] = text
    env.filters["iso"] = iso_utc
    env.filters["shown_time"] = shown_time
    return env


def script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


def _columns(rows: list[dict]) -> list[str]:
    columns: list[str] = []
    for row in rows[:PIVOT_ROWS_SHOWN]:
        columns.extend(k for k in row if k not in columns)
    return columns


def render_html(report: dict, renderer: Callable | None = None) -> str:
    """The HTML page of a replay report's JSON form. ``renderer(query, parameters)`` renders a
    pivot's SQL and PantherFlow for alerts whose context carries none (default: the pack's)."""
    report = clean(as_dict(report))
    renderer = renderer if renderer is not None else default_renderer()
    pivots = [p for p in as_list(report.get("pivots")) if isinstance(p, dict)]
    alerts = [
        alert_view(n, a, pivots, renderer)
        for n, a in enumerate((a for a in as_list(report.get("alerts")) if isinstance(a, dict)), start=1)
    ]
    queries = distinct_queries(alerts)
    principals = group_principals(alerts, pivots)
    for group in principals[:PRINCIPALS_CHARTED]:
        build_principal_charts(group)
    counts = alerts_by_rule_day(report, alerts)
    backtest_svg, backtest_note = None, ""
    try:
        backtest_svg = report_charts.alerts_per_rule_per_day(counts)
    except ChartError as err:
        backtest_note = str(err)
    for pivot in pivots:
        rows = [r for r in as_list(pivot.get("rows")) if isinstance(r, dict)]
        pivot["shown_rows"], pivot["shown_columns"] = rows[:PIVOT_ROWS_SHOWN], _columns(rows)
        pivot["more_rows"] = max(0, len(rows) - PIVOT_ROWS_SHOWN)
    template = _environment().get_template("replay_report.html.j2")
    return template.render(
        report=report,
        events_by_log_type=sorted(as_dict(report.get("events_by_log_type")).items()),
        alerts=alerts[:ALERT_CARDS_SHOWN],
        alerts_total=len(alerts),
        queries=[q for q in queries if any(a.number <= ALERT_CARDS_SHOWN for a in q.alerts)],
        legend=report_charts.LEGEND,
        principals=principals[:PRINCIPALS_CHARTED],
        principals_more=principals[PRINCIPALS_CHARTED:],
        pivots=pivots,
        backtest_svg=backtest_svg,
        backtest_note=backtest_note,
        period=period_view(report),
        skipped=skipped_summary(report),
        rule_errors=sorted(as_dict(report.get("rule_errors")).items()),
        script=markupsafe.Markup(COPY_SCRIPT),
        script_hash=script_hash(COPY_SCRIPT),
        svg=markupsafe.Markup,
    )
