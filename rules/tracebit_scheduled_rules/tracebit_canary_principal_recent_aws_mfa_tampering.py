"""Critical: the IAM user behind a Tracebit canary alert had its MFA removed or password set shortly
before, as CloudTrail recorded it.

Runs on the rows of ``Tracebit.Query.CanaryPrincipalRecentAWSMFATampering`` (one row per Tracebit
alert, identity and CloudTrail change, the latest change first). Row values come from logs: they are
capped (``as_str``) before they reach the title, dedup and context.
"""

from tracebit_base import row_number, row_text
from tracebit_helpers import (
    MFA_SOURCE_AWS,
    mfa_row_dedup,
    mfa_row_reference,
    mfa_row_title,
    mfa_row_tracebit,
)


def rule(event):
    # The query already joined both sides; re-check that both are present in the row.
    return bool(
        row_text(event, "alert_id") and row_text(event, "identity") and row_text(event, "change_event_name")
    )


def title(event):
    return mfa_row_title(event, MFA_SOURCE_AWS, "change_event_name", "change_actor")


def dedup(event):
    return mfa_row_dedup(event)


def reference(event):
    return mfa_row_reference(event)


def alert_context(event):
    return {
        "identities": [row_text(event, "identity")] if row_text(event, "identity") else [],
        "tracebit": mfa_row_tracebit(event),
        "cloudtrail_event": {
            "event_name": row_text(event, "change_event_name"),
            "event_source": row_text(event, "change_event_source"),
            "event_time": row_text(event, "change_time"),
            "actor": row_text(event, "change_actor"),
            "source_ip": row_text(event, "change_source_ip"),
            "account_id": row_text(event, "change_account_id"),
            "event_id": row_text(event, "change_event_id"),
        },
        "minutes_change_to_alert": row_number(event, "minutes_change_to_alert"),
        "mfa_lookback_days": row_number(event, "mfa_lookback_days"),
    }
