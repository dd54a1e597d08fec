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
    NO_PAGE_SEVERITY,
    mfa_row_context,
    mfa_row_dedup,
    mfa_row_matches,
    mfa_row_no_page_reason,
    mfa_row_reference,
    mfa_row_title,
    no_page_destinations,
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


def _no_page(event):
    # The KV cache knows whether the Tracebit alert already paged on this identity's MFA reset
    # (real-time escalation): the same fact is then an Info alert sent nowhere (docs/paging.md).
    return mfa_row_no_page_reason(event, get_string_set)


def title(event):
    suffix = " [no page: already raised]" if _no_page(event) else ""
    return mfa_row_title(event, MFA_SOURCE_OKTA, "reset_event_type", "reset_actor") + suffix


def severity(event):
    return NO_PAGE_SEVERITY if _no_page(event) else "DEFAULT"


def destinations(event):
    return no_page_destinations(_no_page(event))


def dedup(event):
    return mfa_row_dedup(event)


def reference(event):
    return mfa_row_reference(event)


def alert_context(event):
    context = mfa_row_context(event, "okta_reset", RESET_COLUMNS, "minutes_reset_to_alert")
    if _no_page(event):
        context["no_page_reason"] = _no_page(event)
    return context
