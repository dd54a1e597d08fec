"""Data model methods for Tracebit.Alert (principal and request fields through tracebit_helpers)."""

import tracebit_helpers as tb


def get_actor_user(event):
    return tb.actor_user(event)


def get_source_ip(event):
    return tb.first_source_ip(event)


def get_user_agent(event):
    return tb.as_str(tb.safe_get(event, "event", "request", "user_agent", "raw"), 2048)


def get_event_type(event):
    return tb.alert_event_type(event)
