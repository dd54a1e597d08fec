from panther_detection_helpers.caching import get_dictionary

import tracebit_helpers as tb


def rule(event):
    return tb.subtype_key(event) == tb.SUBTYPE_CREDENTIAL


def title(event):
    return tb.rule_title(event, "credential", get_dictionary)


def dedup(event):
    return tb.dedup(event)


def severity(event):
    # A canary credential is only ever handed to an attacker: never below HIGH.
    return tb.rule_severity(event, get_dictionary, floor="HIGH")


def reference(event):
    return tb.reference(event)


def alert_context(event):
    return tb.rule_alert_context(event, get_dictionary)
