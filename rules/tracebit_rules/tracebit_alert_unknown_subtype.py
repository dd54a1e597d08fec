from panther_detection_helpers.caching import (
    add_to_string_set,
    get_dictionary,
    get_string_set,
    remove_from_string_set,
)

import tracebit_helpers as tb


def rule(event):
    # Missing, empty, oddly typed or new subtypes: never drop a Tracebit alert silently.
    if not tb.has_unknown_subtype(event):
        return False
    return tb.record_alert(
        event, get_dictionary, add_to_string_set, remove_from_string_set, get_string_set=get_string_set
    )


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
