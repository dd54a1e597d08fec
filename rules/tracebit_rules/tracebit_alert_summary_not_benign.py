from panther_detection_helpers.caching import (
    add_to_string_set,
    get_dictionary,
    get_string_set,
    remove_from_string_set,
)

import tracebit_helpers as tb


def rule(event):
    # Only a string classification documented as not malicious is skipped; Unclassified,
    # TruePositive, unknown, missing and oddly typed classifications alert.
    if tb.classified_benign(event):
        return False
    return tb.record_alert(event, get_dictionary, add_to_string_set, remove_from_string_set, alert_log=False)


def _no_page(event):
    # A summary of an alert its alert logs already raised brings no news unless it is TruePositive:
    # it is then an Info alert sent to no destination (docs/paging.md).
    return tb.summary_no_page_reason(event, get_string_set)


def title(event):
    return tb.rule_title(event, "summary", get_dictionary, no_page_reason=_no_page(event))


def dedup(event):
    return tb.dedup(event)


def severity(event):
    floor = "HIGH" if tb.is_true_positive_classification(event.get("classification")) else None
    return tb.rule_severity(event, get_dictionary, floor=floor, no_page_reason=_no_page(event))


def destinations(event):
    return tb.no_page_destinations(_no_page(event))


def reference(event):
    return tb.reference(event)


def alert_context(event):
    return tb.rule_alert_context(event, get_dictionary, no_page_reason=_no_page(event))
