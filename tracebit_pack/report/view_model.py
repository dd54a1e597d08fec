"""The view model of the HTML report: alerts, principals and their charts, built from the replay
report's JSON form.

Why apart from the page: this is where the report's data is interpreted (which principal an alert
is about, which pivot rows are S3 reads of a canary bucket, what goes on a principal's timeline);
``tracebit_pack.report.html`` only lays the result out through the Jinja2 template.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tracebit_pack.report import charts as report_charts
from tracebit_pack.report.charts import ChartError
from tracebit_pack.report.log_values import (
    as_dict,
    as_list,
    clean,
    nonblank_strings,
    parse_time,
    safe_link,
    text,
)

HISTORY_PIVOT = "Tracebit.Pivot.PrincipalGetObjectHistory"
ACTIVITY_PIVOT = "Tracebit.Pivot.PrincipalActivityAroundAlert"
OKTA_PIVOT = "Tracebit.Pivot.IdentityOktaMFAResets"
LOOKBACK_DAYS = 30  # the GetObject history pivot's window: 30 days before the alert to 1 day after
HOURLY_MAX_SPAN = timedelta(days=4)  # a longer timeline counts S3 reads per day
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")


@dataclass
class AlertView:
    number: int
    label: str  # "<rule_id>:<dedup>", as the pivots list the alerts they served
    rule_id: str
    severity: str
    title: str
    principal: str
    identities: list[str]
    canaries: list[str]
    source_ips: list[str]
    portal_url: str | None
    first: datetime | None
    last: datetime | None
    event_count: str
    dedup: str
    pivots: list[dict] = field(default_factory=list)  # {"name", "sql", "pantherflow"}
    resets: list[tuple[datetime, str]] = field(default_factory=list)  # Okta resets in the context
    correlation: bool = False  # a correlation alert is raised when its sequence completes

    @property
    def raised(self) -> datetime | None:
        return (self.last or self.first) if self.correlation else (self.first or self.last)

    @property
    def severity_class(self) -> str:
        return f"sev-{self.severity.lower()}" if self.severity in SEVERITIES else "sev-unknown"

    @property
    def anchor(self) -> str:
        return f"alert-{self.number}"


@dataclass
class PrincipalView:
    key: str
    name: str
    identities: list[str]
    alerts: list[AlertView]
    timeline_svg: str | None = None
    timeline_note: str = ""
    getobject_svg: str | None = None
    getobject_note: str = ""
    pivots: list[dict] = field(default_factory=list)  # the report's pivot results for this principal


def _context_principal(context: dict) -> str:
    for source in (context, as_dict(context.get("tracebit"))):
        for key in ("principal_arn", "principal_id"):
            if isinstance(source.get(key), str) and source[key].strip():
                return source[key].strip()
    arns = nonblank_strings(context.get("principal_arns"))
    if arns:
        return arns[0]
    identities = nonblank_strings(context.get("identities"))
    return identities[0] if identities else ""


def _canaries(context: dict) -> list[str]:
    names = nonblank_strings(context.get("canary_names"))
    for canary in as_list(context.get("canaries")):
        name = as_dict(canary).get("name")
        if isinstance(name, str) and name.strip() and name not in names:
            names.append(name)
    nested = as_dict(context.get("tracebit")).get("canary_name")
    if isinstance(nested, str) and nested.strip() and nested not in names:
        names.append(nested)
    return names


def _context_pivots(context: dict) -> list[dict]:
    out = []
    for name, value in sorted(as_dict(context.get("pivots")).items()):
        render = as_dict(value)
        if isinstance(render.get("sql"), str) or isinstance(render.get("pantherflow"), str):
            out.append({"name": name, "sql": render.get("sql"), "pantherflow": render.get("pantherflow")})
    return out


def alert_view(number: int, alert: dict, report_pivots: list[dict], renderer: Callable | None) -> AlertView:
    context = as_dict(alert.get("alert_context"))
    rule_id = text(alert.get("rule_id")) or "(no rule id)"
    dedup = text(alert.get("dedup"))
    severity = text(alert.get("severity")).upper()
    label = f"{rule_id}:{dedup}"
    pivots = _context_pivots(context)
    if not pivots and renderer is not None:
        for result in report_pivots:
            if label in as_list(result.get("alerts")):
                rendered = _render(renderer, text(result.get("query")), as_dict(result.get("parameters")))
                if rendered:
                    pivots.append(rendered)
    portal = context.get("portal_url") or as_dict(context.get("tracebit")).get("portal_url")
    return AlertView(
        number=number,
        label=label,
        rule_id=rule_id,
        severity=severity if severity in SEVERITIES else (severity or "?"),
        title=text(alert.get("title")),
        principal=_context_principal(context),
        identities=nonblank_strings(context.get("identities")),
        canaries=_canaries(context),
        source_ips=nonblank_strings(context.get("source_ips")),
        portal_url=safe_link(portal),
        first=parse_time(alert.get("first_event_time")),
        last=parse_time(alert.get("last_event_time")),
        event_count=text(alert.get("event_count")),
        dedup=dedup,
        pivots=pivots,
        resets=_context_resets(context),
        correlation=isinstance(context.get("groups"), dict) and "match" in context,
    )


def _context_resets(context: dict) -> list[tuple[datetime, str]]:
    resets = []
    for key in ("okta_reset", "recent_mfa_reset"):
        reset = as_dict(context.get(key))
        moment = parse_time(reset.get("event_time"))
        if moment:
            resets.append((moment, text(reset.get("event_type")) or key))
    return resets


def _render(renderer: Callable, name: str, parameters: dict) -> dict | None:
    try:
        rendered = renderer(name, parameters)
    except Exception:  # noqa: BLE001 - a pivot that cannot be rendered is left out, not fatal
        return None
    rendered = clean(as_dict(rendered))
    return {"name": name, "sql": rendered.get("sql"), "pantherflow": rendered.get("pantherflow")}


def default_renderer() -> Callable | None:
    """``tracebit_pivots.render_pivot`` of the pack, for alerts whose context carries no renders."""
    try:
        from tracebit_pack.query.generate import load_pivots_module

        return load_pivots_module().render_pivot
    except Exception:  # noqa: BLE001 - without the helper the alerts show no pivot text
        return None


def group_principals(alerts: list[AlertView], report_pivots: list[dict]) -> list[PrincipalView]:
    """One entry per principal with an alert: alerts keyed by principal ARN (or identity when
    there is none); an identity-only group joins the ARN group that lists the same identity."""
    groups: dict[str, PrincipalView] = {}
    for alert in alerts:
        if not alert.principal:
            continue
        key = alert.principal.lower()
        group = groups.setdefault(key, PrincipalView(key=key, name=alert.principal, identities=[], alerts=[]))
        group.alerts.append(alert)
        for identity in alert.identities:
            if identity.lower() not in (i.lower() for i in group.identities):
                group.identities.append(identity)
    for key in list(groups):
        group = groups[key]
        if key.startswith("arn:"):
            continue
        owner = next(
            (g for k, g in groups.items() if k != key and key in (i.lower() for i in g.identities)), None
        )
        if owner is not None:
            owner.alerts.extend(a for a in group.alerts if a not in owner.alerts)
            del groups[key]
    for group in groups.values():
        labels = {a.label for a in group.alerts}
        group.pivots = [p for p in report_pivots if labels & set(map(str, as_list(p.get("alerts"))))]
    return list(groups.values())


def _pivot_rows(group: PrincipalView, query: str) -> list[dict]:
    rows: list[dict] = []
    for pivot in group.pivots:
        if pivot.get("query") == query and not pivot.get("error"):
            rows.extend(r for r in as_list(pivot.get("rows")) if isinstance(r, dict))
    return rows


def _pivot_alert_time(group: PrincipalView, query: str) -> datetime | None:
    for pivot in group.pivots:
        if pivot.get("query") == query:
            moment = parse_time(as_dict(pivot.get("parameters")).get("alert_time"))
            if moment:
                return moment
    return None


def _bucket_of(row: dict) -> str:
    params = row.get("request_parameters")
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except ValueError:
            params = {}
    name = as_dict(params).get("bucketName")
    return name if isinstance(name, str) else ""


def _is_s3_read(row: dict) -> bool:
    if row.get("event_source") != "s3.amazonaws.com" or row.get("error_code"):
        return False
    name = row.get("event_name")
    return row.get("read_only") is True or (
        isinstance(name, str) and name.startswith(("Get", "List", "Head"))
    )


def timeline_marks(group: PrincipalView) -> list[dict]:
    """Okta identity changes, canary accesses and alerts of a principal, as timeline marks."""
    marks: list[dict] = []
    seen: set[tuple] = set()

    def add(moment: datetime | None, lane: str, label: str) -> None:
        key = (lane, moment.replace(microsecond=0) if moment else None)
        if moment is not None and key not in seen:
            seen.add(key)
            marks.append({"t": moment, "lane": lane, "label": label})

    for row in _pivot_rows(group, OKTA_PIVOT):
        add(parse_time(row.get("event_time")), "Okta identity change", text(row.get("event_type")))
    for alert in group.alerts:  # resets an alert context carries (when the Okta pivot did not run)
        for moment, event_type in alert.resets:
            add(moment, "Okta identity change", event_type)
    canaries = {c.lower() for a in group.alerts for c in a.canaries}
    for row in _pivot_rows(group, ACTIVITY_PIVOT):
        bucket = _bucket_of(row)
        if bucket and bucket.lower() in canaries:
            add(parse_time(row.get("event_time")), "Canary access", f"{text(row.get('event_name'))} {bucket}")
    if not any(m["lane"] == "Canary access" for m in marks):
        for alert in group.alerts:
            if alert.canaries and alert.first:
                add(alert.first, "Canary access", ", ".join(alert.canaries))
    for alert in group.alerts:
        add(alert.raised, "Alert raised", alert.rule_id)
    return marks


def s3_reads(group: PrincipalView, bucket: str) -> list[dict]:
    """S3 reads of the principal per hour (activity pivot) or per day (history pivot, or activity)."""
    counts: dict[tuple[datetime, str], int] = {}
    canaries = {c.lower() for a in group.alerts for c in a.canaries}

    def start_of(moment: datetime) -> datetime:
        moment = moment.replace(minute=0, second=0, microsecond=0)
        return moment.replace(hour=0) if bucket == "day" else moment

    history = _pivot_rows(group, HISTORY_PIVOT)
    if bucket == "day" and history:
        for row in history:
            day = parse_time(row.get("event_day"))
            requests = row.get("requests")
            if day and isinstance(requests, int | float):
                series = "canary bucket" if text(row.get("bucket")).lower() in canaries else "GetObject"
                counts[(start_of(day), series)] = counts.get((start_of(day), series), 0) + int(requests)
    else:
        for row in _pivot_rows(group, ACTIVITY_PIVOT):
            moment = parse_time(row.get("event_time"))
            if moment and _is_s3_read(row):
                series = "canary bucket" if _bucket_of(row).lower() in canaries else "other buckets"
                counts[(start_of(moment), series)] = counts.get((start_of(moment), series), 0) + 1
    return [{"start": k[0], "series": k[1], "reads": v} for k, v in sorted(counts.items())]


def build_principal_charts(group: PrincipalView) -> None:
    marks = timeline_marks(group)
    activity_times = [parse_time(r.get("event_time")) for r in _pivot_rows(group, ACTIVITY_PIVOT)]
    times = [m["t"] for m in marks] + [t for t in activity_times if t]
    if (
        not any(m["lane"] == "Okta identity change" for m in marks)
        and not any(activity_times)
        and not (_pivot_rows(group, HISTORY_PIVOT))
    ):  # nothing but the alerts themselves: no chart to draw
        group.timeline_note = "the pivot queries found no activity for this principal"
        times = []
    elif times:
        first, last = min(times), max(times)
        bucket = "hour" if last - first <= HOURLY_MAX_SPAN else "day"
        reads = s3_reads(group, bucket)
        pad = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
        try:
            group.timeline_svg = report_charts.timeline(reads, bucket, marks, (first - pad, last + pad))
        except ChartError as err:
            group.timeline_note = str(err)
    elif not group.timeline_note:
        group.timeline_note = "no timed event for this principal in the report"
    history = []
    for row in _pivot_rows(group, HISTORY_PIVOT):
        day = parse_time(row.get("event_day"))
        requests = row.get("requests")
        if day and isinstance(requests, int | float) and not isinstance(requests, bool):
            history.append({"day": day, "bucket": text(row.get("bucket")) or "(none)", "requests": requests})
    alert_time = _pivot_alert_time(group, HISTORY_PIVOT)
    if not history or alert_time is None:
        group.getobject_note = "the GetObject history pivot has no rows for this principal"
        return
    window = (alert_time - timedelta(days=LOOKBACK_DAYS), alert_time + timedelta(days=1))
    try:
        group.getobject_svg = report_charts.getobject_by_day(history, window, alert_time)
    except ChartError as err:
        group.getobject_note = str(err)


def alerts_by_rule_day(report: dict) -> list[tuple[str, datetime, int]]:
    """``(rule_id, day, alerts)`` from the replay's ``alerts_by_rule_day`` (``{rule: {day: n}}``)."""
    counts: list[tuple[str, datetime, int]] = []
    for rule, per_day in as_dict(report.get("alerts_by_rule_day")).items():
        for day, n in as_dict(per_day).items():
            moment = parse_time(day)
            if moment and isinstance(n, int) and not isinstance(n, bool):
                counts.append((text(rule), moment, n))
    return counts


def skipped_summary(report: dict) -> list[dict]:
    """The replay's ``skipped`` events (``{"total", "reasons": {reason: {"count", "examples"}}}``)
    as ``{"reason", "count", "examples"}`` rows."""
    reasons = as_dict(as_dict(report.get("skipped")).get("reasons"))
    return [
        {
            "reason": text(reason),
            "count": text(as_dict(value).get("count")),
            "examples": [text(e) for e in as_list(as_dict(value).get("examples"))[:5]],
        }
        for reason, value in reasons.items()
    ]
