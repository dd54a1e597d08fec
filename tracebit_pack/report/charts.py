"""Charts of the HTML investigation report: Vega-Lite specs (``altair``) rendered to static SVG.

Why Vega-Lite through ``altair`` and ``vl-convert-python``: the charts are declared (data, marks,
encodings), not drawn by hand, and ``vl-convert`` runs the Vega renderer in-process (a bundled
JavaScript engine, no browser, no network) and returns SVG text. The SVG is inlined in the report,
so the file opens offline, needs no script to show a chart, prints as vectors, and a value from a
log reaches the page only as escaped SVG text. ``safe_svg`` checks that promise on every chart.

Every function takes already-cleaned values (``log_values.clean``) and returns SVG text, or
raises ``ChartError`` when a chart cannot be drawn (the report shows a note instead).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import altair as alt
import vl_convert

# One colour, one meaning, in every chart of the report and in its legend (``LEGEND``).
CANARY = "#d7191c"  # red: a canary was touched (a canary bucket read, resource accessed, credential used)
IDENTITY = "#7b3294"  # purple: an identity change (an Okta or AWS MFA or password change)
ALERT = "#2c7bb6"  # blue: an alert was raised (and the alert counts per rule per day)
# Reads of ordinary buckets: warm and neutral hues, none of them a colour above.
OTHER_BUCKETS = ("#fdae61", "#a6611a", "#bababa", "#dfc27d", "#e6ab02", "#8c8c8c", "#f4a582")
LEGEND = (
    (CANARY, "canary touched: canary bucket read, canary resource accessed, canary credential used"),
    (IDENTITY, "identity change: Okta or AWS MFA / password change"),
    (ALERT, "alert raised (and alerts per rule per day)"),
    (OTHER_BUCKETS[0], "S3 reads of other buckets (one warm or grey hue per bucket)"),
)
# Lanes of the timeline, top to bottom: title, colour, marker shape. The label names what the
# lane holds in this chart (e.g. "Identity change (Okta, AWS)").
LANES = {
    "identity": ("Identity change", IDENTITY, "diamond"),
    "canary": ("Canary access", CANARY, "triangle-down"),
    "alert": ("Alert raised", ALERT, "circle"),
}
# Series of the S3-read bars: reads of a canary bucket in the canary colour.
READ_SERIES = {"other buckets": OTHER_BUCKETS[0], "GetObject": OTHER_BUCKETS[0], "canary bucket": CANARY}
# Marks closer than 1/SAME_SPOT of the time axis (about a marker's width) are one point with their count.
SAME_SPOT = 50
WIDTH = 760
LABEL_LIMIT = 340  # px: longer bucket or rule names are cut with an ellipsis

# Elements vl-convert's SVG renderer writes. Anything else (script, foreignObject, a, use, image,
# iframe ...) or an event-handler / link attribute means the SVG is not what we expect.
SVG_ELEMENTS = frozenset(
    {
        "svg",
        "g",
        "path",
        "rect",
        "text",
        "line",
        "circle",
        "title",
        "desc",
        "defs",
        "clipPath",
        "tspan",
        "linearGradient",
        "radialGradient",
        "stop",
    }
)
_SVG_NS = "{http://www.w3.org/2000/svg}"


class ChartError(Exception):
    """A chart could not be rendered (bad data or an unexpected renderer output)."""


def _ms(moment: datetime) -> float:
    return moment.timestamp() * 1000


def _utc_axis(title: str | None, domain: tuple[datetime, datetime], labels: bool = True) -> alt.X:
    return alt.X(
        "t:T",
        title=title,
        scale=alt.Scale(type="utc", domain=[_ms(domain[0]), _ms(domain[1])]),
        axis=alt.Axis(format="%b %d %H:%M", labelAngle=0, labels=labels, tickCount=8),
    )


def render_svg(chart: alt.TopLevelMixin) -> str:
    """Render a chart to SVG with vl-convert and check it with ``safe_svg``."""
    try:
        svg = vl_convert.vegalite_to_svg(chart.to_dict())
    except Exception as err:  # noqa: BLE001 - any renderer failure becomes a note in the report
        raise ChartError(f"chart could not be rendered: {str(err).splitlines()[0][:200]}") from err
    return safe_svg(svg)


def safe_svg(svg: str) -> str:
    """``svg`` if it is well-formed SVG made only of drawing elements, with no event handler and
    no link; else ``ChartError``. Log values sit in ``<text>`` content and ``aria-label``s, where
    the XML parser proves they were escaped."""
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as err:
        raise ChartError(f"chart is not well-formed SVG: {err}") from err
    for element in root.iter():
        tag = element.tag.removeprefix(_SVG_NS)
        if tag not in SVG_ELEMENTS:
            raise ChartError(f"chart has an unexpected <{tag}> element")
        for name in element.attrib:
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on") or local in {"href", "src", "style"}:
                raise ChartError(f"chart has an unexpected {local!r} attribute")
    return svg


def timeline(
    reads: list[dict],
    bucket: str,
    marks: list[dict],
    domain: tuple[datetime, datetime],
) -> str:
    """S3 reads per ``bucket`` ("hour" or "day") as bars above one lane per kind of event
    (``marks``: ``{"t": datetime, "lane": LANES key, "source": str, "label": str}``), on one UTC
    time axis; marks on the same spot are one point showing their count."""
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    series = [name for name in READ_SERIES if any(r["series"] == name for r in reads)]
    series += sorted({r["series"] for r in reads} - set(series))
    bar_rows, tops = [], {}
    for r in sorted(reads, key=lambda r: (r["start"], series.index(r["series"]))):
        bottom = tops.get(r["start"], 0)  # stacked by series, computed here (x/x2 bars do not stack)
        tops[r["start"]] = bottom + r["reads"]
        bar_rows.append(
            {
                "t": _ms(r["start"]),
                "t2": _ms(r["start"] + step),
                "y0": bottom,
                "y1": bottom + r["reads"],
                "reads": r["reads"],
                "series": r["series"],
            }
        )
    bars = (
        alt.Chart(alt.Data(values=bar_rows), height=150, width=WIDTH)
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=_utc_axis(None, domain),
            x2="t2:T",
            y=alt.Y("y1:Q", title=f"S3 reads per {bucket}", scale=alt.Scale(zero=True)),
            y2="y0:Q",
            color=alt.Color(
                "series:N",
                title="S3 reads",
                scale=alt.Scale(domain=series or ["S3 reads"], range=[_series_colour(s) for s in series]),
                legend=alt.Legend(labelLimit=LABEL_LIMIT, orient="right"),
            ),
        )
    )
    spots = lane_spots(marks, domain)
    labels = lane_labels(marks)
    lanes = [labels[key] for key in LANES]
    colours = [LANES[key][1] for key in LANES]
    lane_rows = [
        {
            "t": _ms(spot["t"]),
            "lane": labels[spot["lane"]],
            "count": len(spot["marks"]),
            "mark": f"×{len(spot['marks'])}" if len(spot["marks"]) > 1 else "",
            "description": _spot_text(labels[spot["lane"]], spot["marks"]),
        }
        for spot in spots
    ]
    points = (
        alt.Chart(alt.Data(values=lane_rows), height=24 * len(lanes), width=WIDTH)
        .mark_point(filled=True, opacity=0.85)
        .encode(
            x=_utc_axis("time (UTC)", domain),
            y=alt.Y("lane:N", title=None, scale=alt.Scale(domain=lanes), axis=alt.Axis(labelLimit=220)),
            color=alt.Color(
                "lane:N",
                title="events",
                scale=alt.Scale(domain=lanes, range=colours),
                legend=alt.Legend(orient="right", labelLimit=220),
            ),
            shape=alt.Shape(
                "lane:N", scale=alt.Scale(domain=lanes, range=[LANES[k][2] for k in LANES]), legend=None
            ),
            size=alt.Size("count:Q", scale=alt.Scale(type="sqrt", range=[110, 400]), legend=None),
            description="description:N",
        )
    )
    counts = (
        alt.Chart(alt.Data(values=[r for r in lane_rows if r["mark"]]))
        .mark_text(dy=-11, fontSize=10, fontWeight="bold")
        .encode(x=alt.X("t:T", scale=alt.Scale(type="utc")), y=alt.Y("lane:N"), text="mark:N")
    )
    notes = []
    for align, rows in _lane_notes(spots, labels, domain).items():
        if rows:
            notes.append(
                alt.Chart(alt.Data(values=rows))
                .mark_text(align=align, dx=12 if align == "left" else -12, fontSize=11, limit=320)
                .encode(x=alt.X("t:T", scale=alt.Scale(type="utc")), y=alt.Y("lane:N"), text="note:N")
            )
    lane_chart = alt.layer(points, counts, *notes)
    rules = (
        alt.Chart(alt.Data(values=lane_rows))
        .mark_rule(strokeDash=[3, 3], opacity=0.6)
        .encode(
            x=alt.X("t:T", scale=alt.Scale(type="utc")),
            color=alt.Color("lane:N", scale=alt.Scale(domain=lanes, range=colours), legend=None),
        )
    )
    top = alt.layer(bars, rules).resolve_scale(color="independent")
    chart = alt.vconcat(top, lane_chart, spacing=6).resolve_scale(x="shared", color="independent")
    return render_svg(chart)


def lane_labels(marks: list[dict]) -> dict[str, str]:
    """Each lane's label, naming what it holds: ``Identity change (Okta, AWS)``,
    ``Canary access (resource, credential)``, ``Alert raised``."""
    labels = {}
    for key, (title, _, _) in LANES.items():
        sources = list(dict.fromkeys(m.get("source") or "" for m in marks if m["lane"] == key))
        shown = [s for s in sources if s and s != key]
        labels[key] = f"{title} ({', '.join(shown)})" if shown else title
    return labels


def lane_spots(marks: list[dict], domain: tuple[datetime, datetime]) -> list[dict]:
    """Marks of a lane that would be drawn on the same spot (closer than 1/SAME_SPOT of the axis)
    as one ``{"t", "lane", "marks"}``: the point shows their count, so none is hidden."""
    near = max(domain[1] - domain[0], timedelta(seconds=1)) / SAME_SPOT
    spots: list[dict] = []
    for lane in LANES:
        current: dict | None = None
        for mark in sorted((m for m in marks if m["lane"] == lane), key=lambda m: m["t"]):
            if current is None or mark["t"] - current["t"] > near:
                current = {"t": mark["t"], "lane": lane, "marks": []}
                spots.append(current)
            current["marks"].append(mark)
    return spots


def _spot_text(label: str, marks: list[dict]) -> str:
    """The description of one point: the lane, its time and every event it stands for."""
    shown = "; ".join(f"{m['t']:%H:%M:%S} {m['label']}" for m in marks[:10])
    more = f" (+{len(marks) - 10} more)" if len(marks) > 10 else ""
    count = f"{len(marks)} events: " if len(marks) > 1 else ""
    return f"{label} {marks[0]['t']:%Y-%m-%d %H:%M:%S} UTC: {count}{shown}{more}"


def _lane_notes(
    spots: list[dict], labels: dict[str, str], domain: tuple[datetime, datetime]
) -> dict[str, list[dict]]:
    """A note beside the first point of the identity and canary lanes (what happened, and how
    many more), on the side of the point with more room."""
    notes: dict[str, list[dict]] = {"left": [], "right": []}
    for lane in ("identity", "canary"):
        in_lane = [spot for spot in spots if spot["lane"] == lane]
        if not in_lane:
            continue
        first = in_lane[0]["marks"][0]
        total = sum(len(spot["marks"]) for spot in in_lane)
        more = f" (+{total - 1} more)" if total > 1 else ""
        position = (first["t"] - domain[0]) / max(domain[1] - domain[0], timedelta(seconds=1))
        side = "left" if position < 0.6 else "right"
        notes[side].append({"t": _ms(first["t"]), "lane": labels[lane], "note": f"{first['label']}{more}"})
    return notes


def _series_colour(name: str) -> str:
    return READ_SERIES.get(name, "#a6611a")


def _day_label(day: datetime) -> str:
    return day.strftime("%b %d")


def days_between(first: datetime, last: datetime) -> list[datetime]:
    start = first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = last.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = []
    while start <= end and len(days) < 400:
        days.append(start)
        start += timedelta(days=1)
    return days


def getobject_by_day(
    rows: list[dict],
    window: tuple[datetime, datetime],
    alert_day: datetime | None,
    canaries: Iterable[str] = (),
) -> str:
    """GetObject requests per day stacked by bucket (``rows``: ``{"day", "bucket", "requests"}``),
    every day of ``window`` on the axis so quiet days show as empty, the alert day marked. A
    canary bucket is red, the others warm or grey hues (``LEGEND``); a day with canary-bucket
    reads gets a red marker above its bar, so a read too small for the scale still shows."""
    days = days_between(*window)
    labels = [_day_label(d) for d in days]
    canary_names = {c.lower() for c in canaries}
    values = [
        {"day": _day_label(r["day"]), "bucket": r["bucket"], "requests": r["requests"]}
        for r in rows
        if _day_label(r["day"]) in labels
    ]
    if not values:
        raise ChartError("no GetObject rows in the pivot window")
    buckets = sorted({v["bucket"] for v in values}, key=lambda b: (b.lower() not in canary_names, b))
    others = iter(OTHER_BUCKETS * (len(buckets) // len(OTHER_BUCKETS) + 1))
    colours = [CANARY if b.lower() in canary_names else next(others) for b in buckets]
    totals: dict[str, int] = {}
    for v in values:
        totals[v["day"]] = totals.get(v["day"], 0) + v["requests"]
    y_scale = alt.Scale(domain=[0, max(totals.values()) * 1.15 or 1])  # room above for the markers
    x = alt.X("day:O", title="day (UTC)", scale=alt.Scale(domain=labels), axis=alt.Axis(labelAngle=-60))
    bars = (
        alt.Chart(alt.Data(values=values), height=220, width=WIDTH)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("sum(requests):Q", title="GetObject requests", scale=y_scale),
            color=alt.Color(
                "bucket:N",
                title="bucket",
                scale=alt.Scale(domain=buckets, range=colours),
                legend=alt.Legend(labelLimit=LABEL_LIMIT),
            ),
            order=alt.Order("bucket:N"),
        )
    )
    layers = [bars]
    canary_reads: dict[str, int] = {}
    for v in values:
        if v["bucket"].lower() in canary_names:
            canary_reads[v["day"]] = canary_reads.get(v["day"], 0) + v["requests"]
    if canary_reads:
        rows = [{"day": d, "top": totals[d], "note": f"canary bucket {n}"} for d, n in canary_reads.items()]
        marks = alt.Chart(alt.Data(values=rows))
        y = alt.Y("top:Q", scale=y_scale)
        layers.append(
            marks.mark_point(shape="triangle-down", filled=True, size=90, color=CANARY, yOffset=-7).encode(
                x=x, y=y, description="note:N"
            )
        )
        layers.append(
            marks.mark_text(color=CANARY, align="right", dx=-8, dy=-7, fontSize=11, fontWeight="bold").encode(
                x=x, y=y, text="note:N"
            )
        )
    if alert_day is not None and _day_label(alert_day) in labels:
        marker = alt.Data(values=[{"day": _day_label(alert_day), "note": "alert"}])
        layers.append(alt.Chart(marker).mark_rule(color=ALERT, strokeDash=[4, 3]).encode(x=x))
        layers.append(
            alt.Chart(marker)
            .mark_text(color=ALERT, dy=-6, baseline="bottom", fontWeight="bold")
            .encode(x=x, y=alt.value(0), text="note:N")
        )
    return render_svg(alt.layer(*layers))


def alerts_per_rule_per_day(counts: Iterable[tuple[str, datetime, int]]) -> str:
    """A rule x day grid of alert counts (``counts``: ``(rule_id, day, alerts)``)."""
    counts = [c for c in counts if c[2]]
    if not counts:
        raise ChartError("no alerts to chart")
    days = days_between(min(c[1] for c in counts), max(c[1] for c in counts))
    fmt = "%b %d" if days[0].year == days[-1].year else "%Y-%m-%d"
    labels = [d.strftime(fmt) for d in days]
    totals: dict[tuple[str, str], int] = {}
    for rule, day, n in counts:
        totals[(rule, day.strftime(fmt))] = totals.get((rule, day.strftime(fmt)), 0) + n
    values = [{"rule": rule, "day": day, "alerts": n} for (rule, day), n in totals.items()]
    rules = sorted({c[0] for c in counts})
    dark = max(totals.values()) / 2
    base = alt.Chart(alt.Data(values=values), width=max(120, min(WIDTH, 22 * len(labels))))
    x = alt.X("day:O", title="day (UTC)", scale=alt.Scale(domain=labels), axis=alt.Axis(labelAngle=-60))
    y = alt.Y("rule:N", title=None, scale=alt.Scale(domain=rules), axis=alt.Axis(labelLimit=LABEL_LIMIT))
    cells = base.mark_rect().encode(
        x=x, y=y, color=alt.Color("alerts:Q", title="alerts", scale=alt.Scale(scheme="blues"))
    )
    text = base.mark_text(fontSize=10).encode(
        x=x,
        y=y,
        text="alerts:Q",
        color=alt.condition(f"datum.alerts > {dark}", alt.value("white"), alt.value("black")),
    )
    return render_svg(alt.layer(cells, text).properties(height=alt.Step(22)))
