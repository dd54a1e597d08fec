"""High: S3 GetObject surge by an AWS principal that touched a Tracebit canary.

Runs on the rows of ``Tracebit.Query.CanaryPrincipalGetObjectSurge`` (one per alert: the busiest
24-hour window from 48 hours before to 24 hours after the alert). The thresholds live in that
query's params CTE and come back in each row (surge_multiple, min_requests), so this rule re-checks
the row against the same numbers without a second copy of them.
"""

from tracebit_base import clip, row_number, row_text
from tracebit_helpers import scheduled_pivots


def rule(event):
    window = row_number(event, "window_requests")
    baseline = row_number(event, "baseline_daily_avg")
    multiple = row_number(event, "surge_multiple")
    minimum = row_number(event, "min_requests")
    if None in (window, baseline, multiple, minimum) or not row_text(event, "principal_arn"):
        return False
    return window >= minimum and window > multiple * baseline


def _when(hours):
    """Where the surge's busiest hour sits relative to the alert, in words."""
    if hours is None:
        return "around the alert"
    hours = int(hours)
    if hours < 0:
        return f"peaking {-hours} h before the alert"
    if hours > 0:
        return f"peaking {hours} h after the alert"
    return "peaking in the hour of the alert"


def title(event):
    bucket = row_text(event, "surge_bucket")
    where = f" from bucket {clip(bucket)}" if bucket else ""
    return (
        f"Tracebit canary principal {clip(row_text(event, 'principal_arn'))}: "
        f"{int(row_number(event, 'window_requests') or 0)} S3 GetObject{where} in 24 h, "
        f"{_when(row_number(event, 'surge_hours_from_alert'))}, vs "
        f"{row_number(event, 'baseline_daily_avg')}/day baseline"
    )


def dedup(event):
    return clip(f"{row_text(event, 'alert_id')}:{row_text(event, 'principal_arn')}", 900)


def alert_context(event):
    texts = (
        "alert_id",
        "principal_arn",
        "alert_time",
        "surge_bucket",
        "surge_window_start",
        "surge_window_end",
    )
    context = {key: row_text(event, key) for key in texts}
    numbers = (
        "window_requests",
        "window_bytes_out",
        "surge_hours_from_alert",
        "baseline_requests",
        "baseline_daily_avg",
        "surge_multiple",
        "min_requests",
        "hours_before",
        "hours_after",
        "peak_hours",
        "baseline_days",
    )
    context.update({key: row_number(event, key) for key in numbers})
    context["principal_arns"] = [context["principal_arn"]] if context["principal_arn"] else []
    context["pivots"] = scheduled_pivots(context["principal_arn"], [], context["alert_time"])
    return context
