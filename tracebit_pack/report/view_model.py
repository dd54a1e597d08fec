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
from tracebit_pack.report.context_facts import context_facts
from tracebit_pack.report.log_values import (
    as_dict,
    as_list,
    nonblank_strings,
    parse_time,
    safe_link,
    text,
)
from tracebit_pack.report.pivot_queries import context_pivots, rendered_from_runs

HISTORY_PIVOT = "Tracebit.Pivot.PrincipalGetObjectHistory"
ACTIVITY_PIVOT = "Tracebit.Pivot.PrincipalActivityAroundAlert"
OKTA_PIVOT = "Tracebit.Pivot.IdentityOktaMFAResets"
AWS_CHANGES_PIVOT = "Tracebit.Pivot.PrincipalAWSCredentialChanges"
LOOKBACK_DAYS = 30  # the GetObject history pivot's window: 30 days before the alert to 1 day after
HOURLY_MAX_SPAN = timedelta(days=4)  # a longer timeline counts S3 reads per day
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")
SHOWN_FACTS = {"principal", "identities", "canaries", "source IPs"}  # the card's fixed rows


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
    own_pivots: list[dict] = field(default_factory=list)  # {"name", "sql", "pantherflow"}
    resets: list[tuple[datetime, str, str]] = field(
        default_factory=list
    )  # (time, source, change) in the context
    correlation: bool = False  # a correlation alert is raised when its sequence completes
    created: datetime | None = None  # when the alert was raised (``created_at``), when the replay says
    alert_id: str = ""  # the Tracebit alert it is about
    signal_rules: list[str] = field(default_factory=list)  # a correlation alert's group rules
    credential: str = ""  # the canary credential used (credential alerts)
    facts: list[tuple[str, str]] = field(default_factory=list)  # key context beyond the fixed rows
    queries: list = field(default_factory=list)  # pivot_queries.QueryView: its own or its signals'
    signals: list[AlertView] = field(default_factory=list)  # a correlation alert's signal alerts

    @property
    def raised(self) -> datetime | None:
        if self.created is not None:
            return self.created
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


def alert_view(number: int, alert: dict, report_pivots: list[dict], renderer: Callable | None) -> AlertView:
    context = as_dict(alert.get("alert_context"))
    rule_id = text(alert.get("rule_id")) or "(no rule id)"
    dedup = text(alert.get("dedup"))
    severity = text(alert.get("severity")).upper()
    label = f"{rule_id}:{dedup}"
    pivots = context_pivots(context) or rendered_from_runs(label, report_pivots, renderer)
    tracebit = as_dict(context.get("tracebit"))
    portal = context.get("portal_url") or tracebit.get("portal_url")
    groups = as_dict(context.get("groups"))
    credential = as_dict(context.get("canary_credential"))
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
        own_pivots=pivots,
        resets=_context_resets(context),
        correlation=bool(groups) and "match" in context,
        created=parse_time(alert.get("created_at")),
        alert_id=text(context.get("alert_id") or tracebit.get("alert_id")),
        signal_rules=sorted(
            {text(s.get("rule_id")) for g in groups.values() for s in as_list(g) if isinstance(s, dict)}
        ),
        credential=text(credential.get("name") or credential.get("access_key_id")) if credential else "",
        facts=[(k, v) for k, v in context_facts(context) if k not in SHOWN_FACTS],
    )


def _context_resets(context: dict) -> list[tuple[datetime, str, str]]:
    """``(time, source, change)`` of the MFA / password changes an alert context carries: the
    scheduled rules' Okta or CloudTrail side, or the KV-cache record of an escalated alert."""
    resets = []
    for key in ("okta_reset", "cloudtrail_event", "recent_mfa_reset"):
        reset = as_dict(context.get(key))
        moment = parse_time(reset.get("event_time"))
        if moment:
            source = text(reset.get("source")) or ("AWS" if key == "cloudtrail_event" else "Okta")
            change = text(reset.get("event_type") or reset.get("event_name")) or key
            resets.append((moment, source, change))
    return resets


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
    """A principal's identity changes (Okta or AWS), canary accesses (a canary bucket read, a
    canary resource accessed, a canary credential used) and alerts, as timeline marks
    ``{"t", "lane", "source", "label"}``; the same event from two sources is one mark."""
    marks: list[dict] = []
    seen: set[tuple] = set()

    def add(moment: datetime | None, lane: str, source: str, label: str) -> None:
        key = (lane, moment.replace(microsecond=0) if moment else None, label)
        if moment is not None and key not in seen:
            seen.add(key)
            marks.append({"t": moment, "lane": lane, "source": source, "label": label})

    for row in _pivot_rows(group, OKTA_PIVOT):
        add(parse_time(row.get("event_time")), "identity", "Okta", f"Okta {text(row.get('event_type'))}")
    for row in _pivot_rows(group, AWS_CHANGES_PIVOT):
        add(parse_time(row.get("event_time")), "identity", "AWS", f"AWS {text(row.get('event_name'))}")
    for alert in group.alerts:  # changes an alert context carries (when the pivots did not run)
        for moment, source, change in alert.resets:
            add(moment, "identity", source, f"{source} {change}")
    canaries = {c.lower() for a in group.alerts for c in a.canaries}
    for row in _pivot_rows(group, ACTIVITY_PIVOT):
        bucket = _bucket_of(row)
        if bucket and bucket.lower() in canaries:
            add(
                parse_time(row.get("event_time")),
                "canary",
                "resource",
                f"{text(row.get('event_name'))} {bucket}",
            )
    resource_seen = any(m["lane"] == "canary" for m in marks)
    for alert in group.alerts:
        if alert.credential and not alert.correlation:
            add(alert.first, "canary", "credential", f"canary credential {alert.credential} used")
        elif alert.canaries and alert.first and not resource_seen and not alert.correlation:
            add(alert.first, "canary", "resource", ", ".join(alert.canaries))
    for alert in group.alerts:
        add(alert.raised, "alert", "alert", f"[{alert.number}] {alert.rule_id}")
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
        canaries = {c for a in group.alerts for c in a.canaries}
        group.getobject_svg = report_charts.getobject_by_day(history, window, alert_time, canaries)
    except ChartError as err:
        group.getobject_note = str(err)


def alerts_by_rule_day(report: dict, alerts: list[AlertView]) -> list[tuple[str, datetime, int]]:
    """``(rule_id, day, alerts)``: each alert on the UTC day it was raised (``created_at`` when the
    replay gives it; else a correlation alert's last signal, another alert's first event). When
    no alert carries a time, the replay's own ``alerts_by_rule_day`` (``{rule: {day: n}}``)."""
    totals: dict[tuple[str, datetime], int] = {}
    for alert in alerts:
        if alert.raised is not None:
            day = alert.raised.replace(hour=0, minute=0, second=0, microsecond=0)
            totals[(alert.rule_id, day)] = totals.get((alert.rule_id, day), 0) + 1
    if totals:
        return [(rule, day, n) for (rule, day), n in sorted(totals.items())]
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
