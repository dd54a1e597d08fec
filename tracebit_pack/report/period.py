"""The period view of the HTML report: the backtest as time, not as one moment.

Alerts per day over the whole backtest (every day from the first scheduled run to "now", quiet
days included), counted on the day each alert was created (``created_at``), and one row per
incident: each alert's first event, when the pack raised it, and the detection delay between.
Input is the replay report's JSON form, read defensively like the rest of the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import altair as alt

from tracebit_pack.report.charts import WIDTH, ChartError, days_between, render_svg
from tracebit_pack.report.log_values import as_dict, as_list, parse_time, text
from tracebit_pack.text import duration_text

INCIDENT_ROWS = 50  # the most severe alerts (the replay lists them most severe first)


@dataclass
class Incident:
    number: int
    rule_id: str
    severity: str
    first: datetime | None
    created: datetime | None
    delay: str


@dataclass
class PeriodView:
    svg: str | None
    note: str
    incidents: list[Incident]
    more: int


def _span(report: dict, created: list[datetime]) -> tuple[datetime, datetime] | None:
    runs = [
        parse_time(q.get("first_run"))
        for q in as_list(report.get("scheduled_queries"))
        if isinstance(q, dict)
    ]
    starts = [t for t in runs if t] + created
    end = parse_time(report.get("now"))
    ends = ([end] if end else []) + created
    if not starts or not ends:
        return None
    return min(starts), max(ends)


def alerts_per_day(days: list[datetime], created: list[datetime]) -> str:
    """Bars of alerts created per day, every day of the backtest on the axis."""
    labels = [d.strftime("%Y-%m-%d") for d in days]
    counts = dict.fromkeys(labels, 0)
    for moment in created:
        day = moment.strftime("%Y-%m-%d")
        if day in counts:
            counts[day] += 1
    if not any(counts.values()):
        raise ChartError("no alert was created in the backtest")
    values = [{"day": day, "alerts": n} for day, n in counts.items()]
    x = alt.X(
        "day:O", title="day created (UTC)", scale=alt.Scale(domain=labels), axis=alt.Axis(labelAngle=-60)
    )
    chart = (
        alt.Chart(alt.Data(values=values), height=160, width=max(120, min(WIDTH, 22 * len(labels))))
        .mark_bar(color="#2c7bb6")
        .encode(x=x, y=alt.Y("alerts:Q", title="alerts", axis=alt.Axis(tickMinStep=1)))
    )
    return render_svg(chart)


def period_view(report: dict) -> PeriodView:
    alerts = [a for a in as_list(report.get("alerts")) if isinstance(a, dict)]
    incidents = [
        Incident(
            number=n,
            rule_id=text(a.get("rule_id")),
            severity=text(a.get("severity")),
            first=parse_time(a.get("first_event_time")),
            created=parse_time(a.get("created_at")),
            delay=duration_text(a.get("detection_delay_seconds")),
        )
        for n, a in enumerate(alerts, start=1)
    ]
    created = [i.created for i in incidents if i.created]
    svg, note = None, ""
    span = _span(as_dict(report), created)
    if span is None:
        note = "no alert and no scheduled run to place on a calendar"
    else:
        try:
            svg = alerts_per_day(days_between(*span), created)
        except ChartError as err:
            note = str(err)
    return PeriodView(svg, note, incidents[:INCIDENT_ROWS], max(0, len(incidents) - INCIDENT_ROWS))
