import tracebit_helpers as tb


def rule(event):
    # is_healthy false (or "false"/0) alerts; true does not. A missing, null or unreadable value
    # means Tracebit could not report the integration healthy, so it alerts too, at LOW.
    return tb.health_state(event) != tb.HEALTHY


def title(event):
    return tb.title_health(event)


def dedup(event):
    return tb.health_dedup(event)


def severity(event):
    return "DEFAULT" if tb.health_state(event) == tb.UNHEALTHY else "LOW"


def reference(event):
    return tb.reference(event)


def alert_context(event):
    return tb.alert_context(event)
