"""The Panther alert built from a Tracebit log (GlobalID ``tracebit_alert``): its alert context,
title, dedup string and reference.

``alert_context(event)`` is the contract correlation rules match on (docs/DESIGN.md; the keys are
explained in docs/alert-context.md). Panther calls title(), severity() and alert_context() of a rule
separately on the same event object, so ``event_context`` builds the context once per event.
"""

import json

from tracebit_credential import (
    SCOPE_CUSTOMER,
    SCOPE_NOTES,
    SCOPE_TRACEBIT_ISSUED,
    credential_placement,
    credential_type_name,
    owner_identities,
    placement_phrase,
    principal_scope,
)

from tracebit_base import as_str, clip, dedupe, safe_get
from tracebit_canary import (
    SUBTYPE_CREDENTIAL,
    UNHEALTHY,
    canaries,
    canary_credential,
    canary_label,
    credential_label,
    health_state,
    indicators,
    is_healthy,
    resources,
    source_ips,
    subtype,
    subtype_key,
    tracebit_log_type,
)
from tracebit_mfa_cache import mfa_title_suffix
from tracebit_principal import identities, principal_details, principal_label

MAX_CONTEXT_CHARS = 150_000  # Panther replaces a context above 200 KB; stay well below it
MAX_TITLE = 999  # Panther truncates titles at 1,000 characters; stay under it
TRACEBIT_SITE = "https://tracebit.com"

CONTEXT_KEYS = (
    "tracebit_log_type",
    "alert_id",
    "subtype",
    "provider",
    "tracebit_severity",
    "message",
    "portal_url",
    "alert_time",
    "principal_provider",
    "principal_id",
    "principal_arn",
    "principal_type",
    "principal_account_id",
    "principal_username",
    "principal",
    "principal_scope",
    "principal_note",
    "identities",
    "canaries",
    "canary_names",
    "source_ips",
    "user_agent",
    "user_agent_label",
    "event_operation",
    "event_id",
    "resources",
    "canary_credential",
    "credential_placement",
    "event_outcome",
    "classification",
    "classification_reason",
    "first_seen",
    "last_seen",
    "indicators",
    "summary_title",
    "provider_account_id",
    "logs_url",
)
HEALTH_CONTEXT_KEYS = ("tracebit_log_type", "subtype", "alert_time", "is_healthy")


# ----------------------------------------------------------------------------------------------
# Alert context
# ----------------------------------------------------------------------------------------------


def _fit(context):
    """Shrink the longest lists until the serialised context is under MAX_CONTEXT_CHARS."""
    for _ in range(30):
        try:
            size = len(json.dumps(context, default=str))
        except (TypeError, ValueError):
            return context
        if size <= MAX_CONTEXT_CHARS:
            return context
        list_keys = [key for key, value in context.items() if isinstance(value, list) and len(value) > 1]
        if not list_keys:
            for key in ("principal", "message", "classification_reason"):
                if context.get(key):
                    context[key] = None
                    break
            else:
                return context
            continue
        longest = max(list_keys, key=lambda key: len(json.dumps(context[key], default=str)))
        context[longest] = context[longest][: len(context[longest]) // 2]
    return context


def event_outcome(event):
    """Tracebit's ``event.outcome`` (``{result, code, message}``) when the log carries it, else None.

    Tracebit publishes it (an AccessDenied touch is still an alert) but Panther's schema has no such
    field, so a log stored by Panther usually lacks it: never relied on."""
    outcome = safe_get(event, "event", "outcome")
    if outcome is None:
        return None
    if not hasattr(outcome, "get"):
        text = as_str(outcome, 256)
        return {"result": text, "code": None, "message": None} if text else None
    found = {
        "result": as_str(safe_get(outcome, "result"), 256),
        "code": as_str(safe_get(outcome, "code"), 256),
        "message": as_str(safe_get(outcome, "message"), 1024),
    }
    return found if any(found.values()) else None


def health_alert_context(event):
    """The subset of keys that applies to a ``Tracebit.HealthCheck`` log."""
    return {
        "tracebit_log_type": "health_check",
        "subtype": subtype(event),
        "alert_time": as_str(safe_get(event, "timestamp")),
        "is_healthy": is_healthy(event),
    }


def alert_context(event):
    """The alert context for every Tracebit rule (docs/DESIGN.md). Never raises.

    Alert and AlertSummary get the same keys (absent fields are null / []); a HealthCheck gets
    ``HEALTH_CONTEXT_KEYS``.
    """
    log_type = tracebit_log_type(event)
    if log_type == "health_check":
        return health_alert_context(event)
    canary_list = canaries(event)
    credential = canary_credential(event)
    details = principal_details(event)
    is_credential_alert = subtype_key(event) == SUBTYPE_CREDENTIAL
    scope = principal_scope(is_credential_alert, details["principal_account_id"])
    placement = credential_placement(credential)
    if scope == SCOPE_CUSTOMER:
        found = identities(event)
    elif scope == SCOPE_TRACEBIT_ISSUED and placement:
        found = owner_identities(placement["owner"])  # the planted location is the identity
    else:
        found = []
    context = {
        "tracebit_log_type": log_type,
        "alert_id": as_str(safe_get(event, "alert_id")),
        "subtype": subtype(event),
        "provider": as_str(safe_get(event, "provider")),
        "tracebit_severity": as_str(safe_get(event, "severity")),
        "message": as_str(safe_get(event, "message"), 4096),
        "portal_url": as_str(safe_get(event, "tracebit_portal_url"), 2048),
        "alert_time": as_str(safe_get(event, "timestamp")),
    }
    context.update(details)
    context.update(
        {
            "principal_scope": scope,
            "principal_note": SCOPE_NOTES.get(scope),
            "identities": found,
            "canaries": canary_list,
            "canary_names": dedupe(canary["name"] for canary in canary_list if canary["name"]),
            "source_ips": source_ips(event),
            "user_agent": as_str(safe_get(event, "event", "request", "user_agent", "raw"), 2048),
            "user_agent_label": as_str(safe_get(event, "event", "request", "user_agent", "label")),
            "event_operation": as_str(safe_get(event, "event", "operation")),
            "event_id": as_str(safe_get(event, "event", "id")),
            "resources": resources(event),
            "canary_credential": credential,
            "credential_placement": placement,
            "event_outcome": event_outcome(event),
            "classification": as_str(safe_get(event, "classification")),
            "classification_reason": as_str(safe_get(event, "classification_reason"), 4096),
            "first_seen": as_str(safe_get(event, "start_time")),
            "last_seen": as_str(safe_get(event, "end_time")),
            "indicators": indicators(event),
            # Published by Tracebit on summaries but not in Panther's schema: used when present.
            "summary_title": as_str(safe_get(event, "title"), 1024),
            "provider_account_id": as_str(safe_get(event, "provider_account_id"), 256),
            "logs_url": as_str(safe_get(event, "logs_url"), 2048),
        }
    )
    return _fit(context)


# One-entry memo of the alert context: Panther calls title(), severity() and alert_context() of a
# rule separately on the same event object, and only one of them needs to build the context.
_CONTEXT_MEMO = {"event": None, "context": None}


def event_context(event):
    """``alert_context(event)``, built once per event object. Callers must not mutate the result."""
    if event is not None and _CONTEXT_MEMO["event"] is event:
        return _CONTEXT_MEMO["context"]
    context = alert_context(event)
    _CONTEXT_MEMO.update(event=event, context=context)
    return context


# ----------------------------------------------------------------------------------------------
# Reference, dedup, titles
# ----------------------------------------------------------------------------------------------


def reference(event):
    """The alert's Tracebit portal URL, falling back to Tracebit's site."""
    url = as_str(safe_get(event, "tracebit_portal_url"), 2048)
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return TRACEBIT_SITE


def dedup(event):
    """``alert_id`` so every alert log of one Tracebit alert lands in one Panther alert.

    Without an alert_id the alert log id, then principal + canary, keep unrelated alerts apart.
    """
    alert_id = as_str(safe_get(event, "alert_id"), 256)
    if alert_id:
        return alert_id
    log_id = as_str(safe_get(event, "id"), 256)
    if log_id:
        return f"no-alert-id:{log_id}"
    context = event_context(event)
    names = ",".join((context.get("canary_names") or [])[:3]) or "unknown-canary"
    return f"no-alert-id:{principal_label(event, context)}:{names}"[:900]


def health_dedup(event):
    """One alert per integration per dedup window: the health-check subtype names the integration."""
    return f"tracebit-health:{(subtype(event) or 'unknown').lower()}"[:256]


def _canaries_phrase(canary_list):
    """``canary <label>``, ``N canaries: a, b, c +M more`` or ``an unknown canary``."""
    if not canary_list:
        return "an unknown canary"
    if len(canary_list) == 1:
        return f"canary {canary_label(canary_list[0])}"
    names = ", ".join(canary_label(canary) for canary in canary_list[:3])
    more = len(canary_list) - 3
    return f"{len(canary_list)} canaries: {names}" + (f" +{more} more" if more > 0 else "")


def title_resource_accessed(event, context, record=None):
    principal = principal_label(event, context)
    return f"Tracebit: {principal} accessed {_canaries_phrase(context.get('canaries'))}" + mfa_title_suffix(
        record
    )


def _credential_phrase(credential):
    """``<readable type> <name>`` of a canary credential (``AWS temporary credentials john.smith@host``)."""
    if not credential:
        return credential_label(credential)
    kind = credential_type_name(credential.get("type"))
    return credential_label(dict(credential, type=kind))


def title_credential_used(event, context, record=None):
    credential = _credential_phrase(context.get("canary_credential"))
    ips = context.get("source_ips") or []
    if context.get("principal_scope") == SCOPE_CUSTOMER:
        who = f" by {principal_label(event, context)}"
    else:  # Tracebit's own principal says nothing to the analyst: where it came from does
        who = f" from {clip(ips[0], 64)}" if ips else ""
    where = placement_phrase(context.get("credential_placement"))
    return f"Tracebit: canary credential {credential} used{who}{where}" + mfa_title_suffix(record)


def title_unknown_subtype(event, context, record=None):
    kind = clip(context.get("subtype") or "no subtype")
    principal = principal_label(event, context)
    target = (
        _canaries_phrase(context.get("canaries"))
        if context.get("canaries")
        else credential_label(context.get("canary_credential"))
        if context.get("canary_credential")
        else "an unknown canary"
    )
    return f"Tracebit alert ({kind}): {principal} on {target}" + mfa_title_suffix(record)


def title_summary(event, context, record=None):
    classification = clip(context.get("classification") or "no classification")
    principal = principal_label(event, context)
    return (
        f"Tracebit alert summary [{classification}]: {principal} accessed "
        f"{_canaries_phrase(context.get('canaries'))}" + mfa_title_suffix(record)
    )


def title_health(event):
    integration = clip(subtype(event) or "unknown integration")
    if health_state(event) == UNHEALTHY:
        return f"Tracebit integration unhealthy: {integration}"
    return f"Tracebit integration health unknown (is_healthy missing or unreadable): {integration}"
