"""Critical: the IAM user behind a Tracebit canary alert had its MFA removed or password set shortly
before, as CloudTrail recorded it.

Runs on the rows of ``Tracebit.Query.CanaryPrincipalRecentAWSMFATampering`` (one row per Tracebit
alert, identity and CloudTrail change, the latest change first). Row values come from logs: they are
capped (``as_str``) before they reach the title, dedup and context.
"""

from panther_detection_helpers.caching import get_string_set

from tracebit_helpers import (
    MFA_SOURCE_AWS,
    mfa_row_context,
    mfa_row_dedup,
    mfa_row_destinations,
    mfa_row_matches,
    mfa_row_reference,
    mfa_row_severity,
    mfa_row_title,
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


def title(event):
    return mfa_row_title(event, MFA_SOURCE_AWS, "change_event_name", "change_actor", get_string_set)


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
    return mfa_row_context(
        event, "cloudtrail_event", CHANGE_COLUMNS, "minutes_change_to_alert", get_string_set
    )
