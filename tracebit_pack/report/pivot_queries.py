"""The pivot queries of the HTML report: each distinct query once, with the alerts it serves.

Why apart from the alert cards: alerts about one principal carry the same queries (the same
principal, often the same alert time), so a card per alert repeated each query many times and the
page grew long. Here every distinct (name, SQL, PantherFlow) is one ``QueryView``; a card links to
its queries. A correlation alert has no queries of its own (Panther correlation rules are YAML
only): it leads to the queries of its signals, the Tracebit alerts it correlated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tracebit_pack.report.log_values import as_dict, as_list, clean, text

if TYPE_CHECKING:  # the view model imports this module
    from tracebit_pack.report.view_model import AlertView


@dataclass
class QueryView:
    number: int
    name: str
    sql: str | None
    pantherflow: str | None
    alerts: list[AlertView] = field(default_factory=list)
    alert_time: str = ""  # the alert time its window is around (of the first alert it serves)

    @property
    def anchor(self) -> str:
        return f"query-{self.number}"


def context_pivots(context: dict) -> list[dict]:
    """The renders an alert context carries: ``{"name", "sql", "pantherflow", "alert_time"}`` per
    pivot (``alert_time``: the context's, which the window is around)."""
    when = text(context.get("alert_time") or as_dict(context.get("tracebit")).get("alert_time"))
    out = []
    for name, value in sorted(as_dict(context.get("pivots")).items()):
        render = as_dict(value)
        if isinstance(render.get("sql"), str) or isinstance(render.get("pantherflow"), str):
            out.append(
                {
                    "name": name,
                    "sql": render.get("sql"),
                    "pantherflow": render.get("pantherflow"),
                    "alert_time": when,
                }
            )
    return out


def rendered_from_runs(label: str, report_pivots: list[dict], renderer: Callable | None) -> list[dict]:
    """The renders of the replay's pivot runs made for alert ``label`` (for an alert whose context
    carries none and whose signals are not in the report)."""
    out = []
    for result in report_pivots if renderer is not None else []:
        if label in as_list(result.get("alerts")):
            try:
                rendered = renderer(text(result.get("query")), as_dict(result.get("parameters")))
            except Exception:  # noqa: BLE001 - a pivot that cannot be rendered is left out, not fatal
                continue
            rendered = clean(as_dict(rendered))
            name, when = text(result.get("query")), text(as_dict(result.get("parameters")).get("alert_time"))
            out.append(
                {
                    "name": name,
                    "sql": rendered.get("sql"),
                    "pantherflow": rendered.get("pantherflow"),
                    "alert_time": when,
                }
            )
    return out


def signal_alerts(alert: AlertView, alerts: list[AlertView]) -> list[AlertView]:
    """The report's alerts that are a correlation alert's signals: a rule of its groups, and the
    same Tracebit alert (``alert_id``) or a shared identity."""
    if not alert.correlation:
        return []
    identities = {i.lower() for i in alert.identities}
    found = []
    for other in alerts:
        if other is alert or other.rule_id not in alert.signal_rules or not other.own_pivots:
            continue
        same_alert = bool(alert.alert_id) and other.alert_id == alert.alert_id
        if same_alert or identities & {i.lower() for i in other.identities}:
            found.append(other)
    return found


def distinct_queries(alerts: list[AlertView]) -> list[QueryView]:
    """Every distinct query of the alerts, numbered in order of first use; each alert's
    ``queries`` set to its own (or, for a correlation alert, its signals')."""
    queries: dict[tuple, QueryView] = {}

    def view_of(render: dict) -> QueryView:
        key = (render["name"], render.get("sql"), render.get("pantherflow"))
        if key not in queries:
            queries[key] = QueryView(
                len(queries) + 1, render["name"], render.get("sql"), render.get("pantherflow")
            )
        return queries[key]

    for alert in alerts:
        alert.signals = signal_alerts(alert, alerts)
        renders = [r for s in alert.signals for r in s.own_pivots] if alert.signals else alert.own_pivots
        alert.queries = []
        for render in renders:
            view = view_of(render)
            if view not in alert.queries:
                alert.queries.append(view)
            if alert not in view.alerts:
                view.alerts.append(alert)
            view.alert_time = view.alert_time or render.get("alert_time") or ""
    return sorted(queries.values(), key=lambda q: q.number)
