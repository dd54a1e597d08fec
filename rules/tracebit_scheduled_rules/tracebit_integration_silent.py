"""Medium: no Tracebit.HealthCheck received for max_silence_hours: the integration is silent.

Runs on the row of ``Tracebit.Query.IntegrationSilent`` (returned only when the last health check is
older than the threshold, or there is none in 30 days). The threshold lives in the query's params CTE
and comes back in the row.
"""

from tracebit_base import as_str, clip, row_number


def rule(event):
    threshold = row_number(event, "max_silence_hours")
    if threshold is None:
        return False
    if event.get("last_health_check") is None:
        return True  # nothing received in 30 days
    hours = row_number(event, "hours_silent")
    return hours is not None and hours >= threshold


def title(event):
    last = event.get("last_health_check")
    if last is None:
        return "Tracebit integration silent: no health check received in 30 days"
    return (
        f"Tracebit integration silent: last health check {clip(as_str(last), 40)} "
        f"({row_number(event, 'hours_silent')} h ago)"
    )


def dedup(event):
    return "tracebit-integration-silent"


def alert_context(event):
    return {
        "last_health_check": as_str(event.get("last_health_check")),
        "health_checks_30d": row_number(event, "health_checks_30d"),
        "hours_silent": row_number(event, "hours_silent"),
        "max_silence_hours": row_number(event, "max_silence_hours"),
        "checked_at": as_str(event.get("checked_at")),
    }
