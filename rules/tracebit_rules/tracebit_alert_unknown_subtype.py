from panther_detection_helpers.caching import get_dictionary

import tracebit_helpers as tb


def rule(event):
    # Missing, empty, oddly typed or new subtypes: never drop a Tracebit alert silently.
    return tb.has_unknown_subtype(event)


def title(event):
    return tb.rule_title(event, "unknown", get_dictionary)


def dedup(event):
    return tb.dedup(event)


def severity(event):
    return tb.rule_severity(event, get_dictionary)


def reference(event):
    return tb.reference(event)


def alert_context(event):
    return tb.rule_alert_context(event, get_dictionary)
