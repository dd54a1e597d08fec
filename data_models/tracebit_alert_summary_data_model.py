"""Data model methods for Tracebit.AlertSummary."""

import tracebit_helpers as tb


def get_actor_user(event):
    return tb.actor_user(event)


def get_source_ip(event):
    # The summary lists every IP of the alert; the first one is the standard source_ip.
    return tb.first_source_ip(event)


def get_user_agent(event):  # noqa: ARG001 - the summary schema carries no user agent
    return None


def get_event_type(event):
    return tb.alert_event_type(event)
