"""Critical: the IAM user behind a Tracebit canary alert had its MFA removed or password set shortly
before, as CloudTrail recorded it.

Runs on the rows of ``Tracebit.Query.CanaryPrincipalRecentAWSMFATampering`` (one row per Tracebit
alert, identity and CloudTrail change, the latest change first). Row values come from logs: they are
capped (``as_str``) before they reach the title, dedup and context.
"""

from panther_detection_helpers.caching import get_string_set

from tracebit_helpers import (
    MFA_SOURCE_AWS,
    NO_PAGE_SEVERITY,
    mfa_row_context,
    mfa_row_dedup,
    mfa_row_matches,
    mfa_row_no_page_reason,
    mfa_row_reference,
    mfa_row_title,
    no_page_destinations,
)

# Context key -> row column of the CloudTrail change.
CHANGE_COLUMNS = {
    "event_name": "change_event_name",
    "event_source": "change_event_source",
    "event_time": "change_time",
    "actor": "change_actor",
    "source_ip": "change_source_ip",
    "account_id": "change_account_id",
    "event_id": "change_event_id",
}


def rule(event):
    return mfa_row_matches(event, "change_event_name")


def _no_page(event):
    # The KV cache knows whether the Tracebit alert already paged on this identity's MFA reset
    # (real-time escalation): the same fact is then an Info alert sent nowhere (docs/paging.md).
    return mfa_row_no_page_reason(event, get_string_set)


def title(event):
    suffix = " [no page: already raised]" if _no_page(event) else ""
    return mfa_row_title(event, MFA_SOURCE_AWS, "change_event_name", "change_actor") + suffix


def severity(event):
    return NO_PAGE_SEVERITY if _no_page(event) else "DEFAULT"


def destinations(event):
    return no_page_destinations(_no_page(event))


def dedup(event):
    return mfa_row_dedup(event)


def reference(event):
    return mfa_row_reference(event)


def alert_context(event):
    context = mfa_row_context(event, "cloudtrail_event", CHANGE_COLUMNS, "minutes_change_to_alert")
    if _no_page(event):
        context["no_page_reason"] = _no_page(event)
    return context
