"""Critical: the principal of a Tracebit canary alert had an Okta MFA / password reset shortly before.

Runs on the rows of the scheduled query ``Tracebit.Query.CanaryPrincipalRecentMFAReset`` (one row per
Tracebit alert, identity and Okta reset). The help-desk MFA reset followed by cloud reconnaissance is
the Scattered Spider pattern: treat the identity as compromised.

Row values come from logs: they are capped (``as_str``) before they reach the title, dedup and
context, so a hostile value cannot push them over Panther's limits.
"""

from tracebit_base import row_number, row_text
from tracebit_helpers import (
    MFA_SOURCE_OKTA,
    mfa_row_dedup,
    mfa_row_reference,
    mfa_row_title,
    mfa_row_tracebit,
)


def rule(event):
    # The query already joined both sides; re-check that both are present in the row.
    return bool(
        row_text(event, "alert_id") and row_text(event, "identity") and row_text(event, "reset_event_type")
    )


def title(event):
    return mfa_row_title(event, MFA_SOURCE_OKTA, "reset_event_type", "reset_actor")


def dedup(event):
    return mfa_row_dedup(event)


def reference(event):
    return mfa_row_reference(event)


def alert_context(event):
    return {
        "identities": [row_text(event, "identity")] if row_text(event, "identity") else [],
        "tracebit": mfa_row_tracebit(event),
        "okta_reset": {
            "event_type": row_text(event, "reset_event_type"),
            "event_time": row_text(event, "reset_time"),
            "actor": row_text(event, "reset_actor"),
            "actor_type": row_text(event, "reset_actor_type"),
            "reason": row_text(event, "reset_reason"),
            "client_ip": row_text(event, "reset_client_ip"),
            "uuid": row_text(event, "reset_uuid"),
        },
        "minutes_reset_to_alert": row_number(event, "minutes_reset_to_alert"),
        "mfa_lookback_days": row_number(event, "mfa_lookback_days"),
    }
