"""Signal: an Okta MFA factor reset / deactivation / suspension or password reset of a user.

Creates no alert (``CreateAlert: false``). Its signals feed the Tracebit correlation rules (matched
on ``p_alert_context.identities``), and it records each target identity in Panther's KV cache so
the Tracebit rules can escalate in real time (docs/DESIGN.md, "KV cache contract").

Its ``InlineFilters`` (``eventType`` among the reset types) let Panther skip ``rule()`` for every
other Okta event; ``rule()`` repeats that test (one frozenset membership), since ``pat test``
ignores InlineFilters.
"""

from collections.abc import Sequence

from panther_detection_helpers.caching import put_dictionary

from tracebit_base import as_str
from tracebit_mfa_cache import MFA_SOURCE_OKTA, mfa_reset_record, remember_mfa_reset
from tracebit_pivot_templates import MFA_RESET_EVENT_TYPES

RESET_EVENT_TYPES = frozenset(MFA_RESET_EVENT_TYPES)
FAILED_OUTCOMES = frozenset({"FAILURE", "DENY"})
MAX_IDENTITIES = 10
MAX_IDENTITY_LENGTH = 320  # longest plausible email / login; keeps KV keys far under DynamoDB's 2 KB


def target_identities(event):
    """Lower-cased, de-duplicated ``alternateId`` of every ``User`` target, in order."""
    found = []
    targets = event.get("target")
    if not isinstance(targets, Sequence) or isinstance(targets, str):
        return found
    for target in targets[:50]:
        if not hasattr(target, "get"):
            continue
        kind = target.get("type")
        value = target.get("alternateId")
        if (
            isinstance(kind, str)
            and kind.lower() == "user"
            and isinstance(value, str)
            and 0 < len(value) <= MAX_IDENTITY_LENGTH
        ):
            value = value.lower()
            if value not in found:
                found.append(value)
    return found[:MAX_IDENTITIES]


def _actor(event):
    actor = event.get("actor")
    if not hasattr(actor, "get"):
        return {"alternate_id": None, "id": None, "type": None, "display_name": None}
    return {
        "alternate_id": as_str(actor.get("alternateId")),
        "id": as_str(actor.get("id")),
        "type": as_str(actor.get("type")),
        "display_name": as_str(actor.get("displayName")),
    }


def remember_reset(event, identities):
    """Write the reset record for each identity (``tracebit_mfa_cache``); a cache failure never raises."""
    record = mfa_reset_record(
        MFA_SOURCE_OKTA,
        event.get("eventType"),
        event.get("published") or event.get("p_event_time"),
        _actor(event)["alternate_id"],
        event.get("uuid"),
    )
    remember_mfa_reset(put_dictionary, event, identities, record)


def rule(event):
    try:
        if event.get("eventType") not in RESET_EVENT_TYPES:
            return False
    except TypeError:  # a list or object eventType is unhashable: not an event this rule knows
        return False
    outcome = event.get("outcome")
    result = outcome.get("result") if hasattr(outcome, "get") else None
    if isinstance(result, str) and result.upper() in FAILED_OUTCOMES:
        return False
    identities = target_identities(event)
    if not identities:
        return False
    remember_reset(event, identities)
    return True


def alert_context(event):
    outcome = event.get("outcome")
    client = event.get("client")
    return {
        "identities": target_identities(event),
        "actor": _actor(event),
        "event_type": as_str(event.get("eventType")),
        "event_time": as_str(event.get("published") or event.get("p_event_time")),
        "uuid": as_str(event.get("uuid")),
        "outcome": as_str(outcome.get("result")) if hasattr(outcome, "get") else None,
        "outcome_reason": as_str(outcome.get("reason")) if hasattr(outcome, "get") else None,
        "client_ip": as_str(client.get("ipAddress")) if hasattr(client, "get") else None,
        "display_message": as_str(event.get("displayMessage")),
    }
