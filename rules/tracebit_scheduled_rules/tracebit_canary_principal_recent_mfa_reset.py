"""Critical: the principal of a Tracebit canary alert had an Okta MFA / password reset shortly before.

Runs on the rows of the scheduled query ``Tracebit.Query.CanaryPrincipalRecentMFAReset`` (one row per
Tracebit alert, identity and Okta reset). The help-desk MFA reset followed by cloud reconnaissance is
the Scattered Spider pattern: treat the identity as compromised.

Row values come from logs: they are capped (``as_str``) before they reach the title, dedup and
context, so a hostile value cannot push them over Panther's limits.
"""

from panther_detection_helpers.caching import get_string_set

from tracebit_helpers import (
    MFA_SOURCE_OKTA,
    mfa_row_context,
    mfa_row_dedup,
    mfa_row_destinations,
    mfa_row_matches,
    mfa_row_reference,
    mfa_row_severity,
    mfa_row_title,
)

# Context key -> row column of the Okta reset.
RESET_COLUMNS = {
    "event_type": "reset_event_type",
    "event_time": "reset_time",
    "actor": "reset_actor",
    "actor_type": "reset_actor_type",
    "reason": "reset_reason",
    "client_ip": "reset_client_ip",
    "uuid": "reset_uuid",
}


def rule(event):
    return mfa_row_matches(event, "reset_event_type")


def title(event):
    return mfa_row_title(event, MFA_SOURCE_OKTA, "reset_event_type", "reset_actor", get_string_set)


def severity(event):
    # The KV cache knows whether the Tracebit alert already paged on this identity's reset (real-time
    # escalation): the same fact is then an Info alert sent to no destination (docs/paging.md).
    return mfa_row_severity(event, get_string_set)


def destinations(event):
    return mfa_row_destinations(event, get_string_set)


def dedup(event):
    return mfa_row_dedup(event)


def reference(event):
    return mfa_row_reference(event)


def alert_context(event):
    return mfa_row_context(event, "okta_reset", RESET_COLUMNS, "minutes_reset_to_alert", get_string_set)
