"""Critical: the IAM user behind a Tracebit canary alert had its MFA removed or password set shortly
before, as CloudTrail recorded it.

Runs on the rows of ``Tracebit.Query.CanaryPrincipalRecentAWSMFATampering`` (one row per Tracebit
alert, identity and CloudTrail change, the latest change first). Row values come from logs: they are
capped (``as_str``) before they reach the title, dedup and context.
"""

from tracebit_helpers import MFA_SOURCE_AWS, as_number, as_str, clip, mfa_reset_phrase


def _text(event, key):
    value = event.get(key)
    return as_str(value) if isinstance(value, str) and value else None


def rule(event):
    # The query already joined both sides; re-check that both are present in the row.
    return bool(_text(event, "alert_id") and _text(event, "identity") and _text(event, "change_event_name"))


def title(event):
    actor = clip(_text(event, "change_actor") or "an unknown principal")
    phrase = mfa_reset_phrase(MFA_SOURCE_AWS, _text(event, "change_event_name"))
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
        "cloudtrail_event": {
            "event_name": _text(event, "change_event_name"),
            "event_source": _text(event, "change_event_source"),
            "event_time": _text(event, "change_time"),
            "actor": _text(event, "change_actor"),
            "source_ip": _text(event, "change_source_ip"),
            "account_id": _text(event, "change_account_id"),
            "event_id": _text(event, "change_event_id"),
        },
        "minutes_change_to_alert": as_number(event.get("minutes_change_to_alert")),
        "mfa_lookback_days": as_number(event.get("mfa_lookback_days")),
    }
