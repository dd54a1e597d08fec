"""Critical: the principal of a Tracebit canary alert had an Okta MFA / password reset shortly before.

Runs on the rows of the scheduled query ``Tracebit.Query.CanaryPrincipalRecentMFAReset`` (one row per
Tracebit alert, identity and Okta reset). The help-desk MFA reset followed by cloud reconnaissance is
the Scattered Spider pattern: treat the identity as compromised.

Row values come from logs: they are capped (``as_str``) before they reach the title, dedup and
context, so a hostile value cannot push them over Panther's limits.
"""

from tracebit_helpers import MFA_SOURCE_OKTA, as_number, as_str, clip, mfa_reset_phrase


def _text(event, key):
    value = event.get(key)
    return as_str(value) if isinstance(value, str) and value else None


def rule(event):
    # The query already joined both sides; re-check that both are present in the row.
    return bool(_text(event, "alert_id") and _text(event, "identity") and _text(event, "reset_event_type"))


def title(event):
    actor = clip(_text(event, "reset_actor") or "an unknown actor")
    phrase = mfa_reset_phrase(MFA_SOURCE_OKTA, _text(event, "reset_event_type"))
    return f"Tracebit canary alert for {clip(_text(event, 'identity'))} after {phrase} by {actor}"


def dedup(event):
    return clip(f"{_text(event, 'alert_id')}:{_text(event, 'identity')}", 900)


def reference(event):
    url = _text(event, "tracebit_portal_url")
    return url if url and url.startswith("https://") else "https://tracebit.com"


def alert_context(event):
    return {
        "identities": [_text(event, "identity")] if _text(event, "identity") else [],
        "tracebit": {
            "alert_id": _text(event, "alert_id"),
            "alert_time": _text(event, "alert_time"),
            "subtype": _text(event, "subtype"),
            "principal_id": _text(event, "principal_id"),
            "principal_arn": _text(event, "principal_arn"),
            "canary_name": _text(event, "canary_name"),
            "portal_url": _text(event, "tracebit_portal_url"),
        },
        "okta_reset": {
            "event_type": _text(event, "reset_event_type"),
            "event_time": _text(event, "reset_time"),
            "actor": _text(event, "reset_actor"),
            "actor_type": _text(event, "reset_actor_type"),
            "reason": _text(event, "reset_reason"),
            "client_ip": _text(event, "reset_client_ip"),
            "uuid": _text(event, "reset_uuid"),
        },
        "minutes_reset_to_alert": as_number(event.get("minutes_reset_to_alert")),
        "mfa_lookback_days": as_number(event.get("mfa_lookback_days")),
    }
