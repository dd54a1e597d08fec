from panther_detection_helpers.caching import get_dictionary

import tracebit_helpers as tb


def rule(event):
    # Only a string classification documented as not malicious is skipped; Unclassified,
    # TruePositive, unknown, missing and oddly typed classifications alert.
    return not tb.is_benign_classification(event.get("classification"))


def title(event):
    return tb.rule_title(event, "summary", get_dictionary)


def dedup(event):
    return tb.dedup(event)


def severity(event):
    floor = "HIGH" if tb.is_true_positive_classification(event.get("classification")) else None
    return tb.rule_severity(event, get_dictionary, floor=floor)


def reference(event):
    return tb.reference(event)


def alert_context(event):
    return tb.rule_alert_context(event, get_dictionary)
