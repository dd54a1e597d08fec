"""The rule-facing API of the Tracebit pack (GlobalID ``tracebit_helpers``).

Every rule and data model imports this one module (``import tracebit_helpers as tb``). The logic
lives in one global per topic, re-exported here under the names rules have always used:

* ``tracebit_base``: safe field access and conversion, caps (``MAX_STR``, ``MAX_LIST``);
* ``tracebit_principal``: the principal, its ARN and its identities;
* ``tracebit_credential``: where a canary credential was planted and its owner's identities
  (configured in ``tracebit_customer``);
* ``tracebit_canary``: log type, subtype, canaries, credential, severity, classification, health;
* ``tracebit_alert``: the alert context (docs/DESIGN.md, docs/alert-context.md), titles, dedup;
* ``tracebit_mfa_cache``: the KV-cache contract of a recent MFA reset (key, TTL, record, writer, reader);
* ``tracebit_pivots``: the pivot queries rendered into the alert context.

What stays here is the glue one rule run needs: the rule_* entry points (which share one context
build and one KV lookup per event), the scheduled MFA rules' row helpers and the data-model methods.
"""

from tracebit_credential import (
    CREDENTIAL_TYPE_NAMES,
    SCOPE_CUSTOMER,
    SCOPE_OUTSIDE,
    SCOPE_TRACEBIT_ISSUED,
    credential_placement,
    credential_type_name,
    owner_identities,
    principal_scope,
)

import tracebit_pivots
from tracebit_alert import (
    CONTEXT_KEYS,
    HEALTH_CONTEXT_KEYS,
    MAX_CONTEXT_CHARS,
    MAX_TITLE,
    TRACEBIT_SITE,
    alert_context,
    dedup,
    event_context,
    health_alert_context,
    health_dedup,
    reference,
    title_credential_used,
    title_health,
    title_resource_accessed,
    title_summary,
    title_unknown_subtype,
)
from tracebit_base import (
    MAX_LIST,
    MAX_STR,
    TITLE_PART,
    as_list,
    as_mapping,
    as_number,
    as_str,
    clip,
    dedupe,
    normalise_token,
    raw,
    row_number,
    row_text,
    safe_get,
    to_plain,
)
from tracebit_canary import (
    BENIGN_CLASSIFICATIONS,
    DISCRIMINATOR_TYPES,
    HEALTH_UNKNOWN,
    HEALTHY,
    KNOWN_SUBTYPES,
    LOG_TYPE_NAMES,
    SEVERITIES,
    SEVERITY_SYNONYMS,
    SUBTYPE_CREDENTIAL,
    SUBTYPE_RESOURCE,
    TRUE_POSITIVE_CLASSIFICATIONS,
    UNHEALTHY,
    canaries,
    canary_credential,
    canary_label,
    credential_label,
    has_unknown_subtype,
    health_state,
    indicators,
    is_benign_classification,
    is_healthy,
    is_true_positive_classification,
    map_severity,
    normalise_canary,
    resources,
    severity_at_least,
    source_ips,
    subtype,
    subtype_key,
    tracebit_log_type,
)
from tracebit_mfa_cache import (
    MAX_MFA_LOOKUPS,
    MAX_MFA_WRITES,
    MFA_RESET_KEY_PREFIX,
    MFA_RESET_TTL_SECONDS,
    MFA_SOURCE_AWS,
    MFA_SOURCE_OKTA,
    mfa_reset_key,
    mfa_reset_phrase,
    mfa_reset_record,
    mfa_title_suffix,
    recent_mfa_reset,
    remember_mfa_reset,
)
from tracebit_principal import (
    get_principal,
    identities,
    is_email,
    is_username,
    parse_aws_arn,
    principal_details,
    principal_label,
    principal_provider,
)

# ----------------------------------------------------------------------------------------------
# One rule run: title(), severity() and alert_context() share the context and the KV lookup
# ----------------------------------------------------------------------------------------------

# One-entry memo so title(), severity() and alert_context() of one rule run share the lookup.
# Keyed on the identity of the event object and of the callable (a strong reference is kept, so
# an id cannot be reused while the entry lives).
_MEMO = {"event": None, "getter": None, "record": None}


def mfa_record_for_event(event, get_dictionary):
    """``recent_mfa_reset(identities(event), get_dictionary)``, computed once per event object."""
    if _MEMO["event"] is event and _MEMO["getter"] is get_dictionary and event is not None:
        return _MEMO["record"]
    try:
        record = recent_mfa_reset(event_context(event).get("identities"), get_dictionary)
    except Exception:  # noqa: BLE001
        record = None
    _MEMO.update(event=event, getter=get_dictionary, record=record)
    return record


def rule_alert_context(event, get_dictionary=None):
    """``alert_context(event)`` plus the rendered ``pivots`` and, when the KV cache holds one,
    ``recent_mfa_reset``."""
    context = dict(event_context(event))
    if context.get("tracebit_log_type") == "health_check":
        return context
    context["pivots"] = tracebit_pivots.render_pivots(context)
    if get_dictionary is None:
        return context
    record = mfa_record_for_event(event, get_dictionary)
    if record:
        context["recent_mfa_reset"] = record
    return context


def rule_severity(event, get_dictionary=None, floor=None):
    """Tracebit's severity mapped (raised to ``floor``); CRITICAL after a recent MFA reset.

    Tracebit's ``Info`` stays INFO whatever the floor or the cache says: Tracebit sends it for
    activity it does not rate as a threat, and Panther closes an INFO alert on creation (no page).
    """
    severity = map_severity(safe_get(event, "severity"))
    if severity == "INFO":
        return severity
    if get_dictionary is not None and mfa_record_for_event(event, get_dictionary):
        return "CRITICAL"
    return severity_at_least(severity, floor) if floor else severity


def rule_title(event, kind, get_dictionary=None):
    """The title for rule ``kind``: ``resource``, ``credential``, ``unknown`` or ``summary``."""
    context = event_context(event)
    record = mfa_record_for_event(event, get_dictionary) if get_dictionary is not None else None
    builder = {
        "resource": title_resource_accessed,
        "credential": title_credential_used,
        "unknown": title_unknown_subtype,
        "summary": title_summary,
    }.get(kind, title_unknown_subtype)
    return clip(builder(event, context, record), MAX_TITLE)


# ----------------------------------------------------------------------------------------------
# Scheduled MFA rules: rows that join a Tracebit alert to an MFA / password reset of its identity
# ----------------------------------------------------------------------------------------------


def mfa_row_matches(row, event_key):
    """The query already joined both sides; re-check that the row names an alert, an identity and a
    reset (its ``event_key`` column)."""
    return bool(row_text(row, "alert_id") and row_text(row, "identity") and row_text(row, event_key))


def mfa_row_context(row, section, columns, minutes_key):
    """The alert context of a scheduled MFA rule: the identity, the Tracebit side, the reset side
    (``section``: each context key read from its row column) and the minutes from reset to alert."""
    identity = row_text(row, "identity")
    return {
        "identities": [identity] if identity else [],
        "tracebit": mfa_row_tracebit(row),
        section: {key: row_text(row, column) for key, column in columns.items()},
        minutes_key: row_number(row, minutes_key),
        "mfa_lookback_days": row_number(row, "mfa_lookback_days"),
    }


def mfa_row_title(row, source, event_key, actor_key):
    """``Tracebit canary alert for <identity> after <source> <event> by <actor>``."""
    actor = clip(row_text(row, actor_key) or "an unknown actor")
    phrase = mfa_reset_phrase(source, row_text(row, event_key))
    return f"Tracebit canary alert for {clip(row_text(row, 'identity'))} after {phrase} by {actor}"


def mfa_row_dedup(row):
    """One alert per Tracebit alert and identity."""
    return clip(f"{row_text(row, 'alert_id')}:{row_text(row, 'identity')}", 900)


def mfa_row_reference(row):
    url = row_text(row, "tracebit_portal_url")
    return url if url and url.startswith("https://") else TRACEBIT_SITE


def mfa_row_tracebit(row):
    """The Tracebit side of a row, for the alert context."""
    return {
        "alert_id": row_text(row, "alert_id"),
        "alert_time": row_text(row, "alert_time"),
        "subtype": row_text(row, "subtype"),
        "principal_id": row_text(row, "principal_id"),
        "principal_arn": row_text(row, "principal_arn"),
        "canary_name": row_text(row, "canary_name"),
        "portal_url": row_text(row, "tracebit_portal_url"),
    }


# ----------------------------------------------------------------------------------------------
# Data-model helpers
# ----------------------------------------------------------------------------------------------


def actor_user(event):
    """The principal's user name for the data models: username, first identity, then ids. For a
    canary credential, whose principal is Tracebit's, the owner of the credential (or None)."""
    context = event_context(event)
    if context.get("principal_scope") == SCOPE_TRACEBIT_ISSUED:
        placement = context.get("credential_placement") or {}
        ids = context.get("identities") or []
        return placement.get("owner") or (ids[0] if ids else None)
    details = principal_details(event)
    if details["principal_username"]:
        return details["principal_username"]
    ids = identities(event)
    if ids:
        return ids[0]
    principal = get_principal(event)
    return (
        details["principal_id"]
        or details["principal_arn"]
        or as_str(safe_get(principal, "azure", "app_id"))
        or as_str(safe_get(principal, "google_cloud", "federated_identity_subject"))
    )


def first_source_ip(event):
    ips = source_ips(event)
    return ips[0] if ips else None


def alert_event_type(event):
    """``CANARY_RESOURCE_ACCESSED`` / ``CANARY_CREDENTIAL_USED`` / ``TRACEBIT_ALERT_UNKNOWN_SUBTYPE``."""
    known = subtype_key(event)
    return known.upper() if known else "TRACEBIT_ALERT_UNKNOWN_SUBTYPE"


def health_event_type(event):
    """``TRACEBIT_INTEGRATION_HEALTHY`` / ``_UNHEALTHY`` / ``_HEALTH_UNKNOWN``."""
    return {
        HEALTHY: "TRACEBIT_INTEGRATION_HEALTHY",
        UNHEALTHY: "TRACEBIT_INTEGRATION_UNHEALTHY",
    }.get(health_state(event), "TRACEBIT_INTEGRATION_HEALTH_UNKNOWN")
