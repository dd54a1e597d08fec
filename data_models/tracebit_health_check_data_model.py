"""Data model methods for Tracebit.HealthCheck."""

import tracebit_helpers as tb


def get_event_type(event):
    return tb.health_event_type(event)
