from panther_detection_helpers.caching import (
    add_to_string_set,
    get_dictionary,
    get_string_set,
    remove_from_string_set,
)

import tracebit_helpers as tb


def rule(event):
    if tb.subtype_key(event) != tb.SUBTYPE_RESOURCE:
        return False
    # Records the alert in the KV cache: repeats from its IPs / identities, the alert state.
    return tb.record_alert(
        event, get_dictionary, add_to_string_set, remove_from_string_set, get_string_set=get_string_set
    )


def title(event):
    return tb.rule_title(event, "resource", get_dictionary)


def dedup(event):
    return tb.dedup(event)


def severity(event):
    return tb.rule_severity(event, get_dictionary)


def reference(event):
    return tb.reference(event)


def alert_context(event):
    return tb.rule_alert_context(event, get_dictionary)
