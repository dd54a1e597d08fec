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
* ``tracebit_alert_cache``: the KV-cache contract of the alerts raised (repeats, alert state, paging);
* ``tracebit_pivots``: the pivot queries rendered into the alert context.

What stays here is the glue one rule run needs: the rule_* entry points (which share one context
build and one KV lookup per event), ``record_alert`` (what rule() writes to the KV cache), who pages
(``summary_no_page_reason``, ``mfa_row_no_page_reason``; docs/paging.md), the scheduled rules' row
helpers (their pivots included) and the data-model methods.
"""

import re
from datetime import UTC, datetime

from tracebit_alert_cache import (
    ALERT_KEY_PREFIX,
    RECENT_KEY_PREFIX,
    REPEAT_WINDOW_SECONDS,
    activity_keys,
    alert_key,
    alert_log_seen,
    alert_state,
    mfa_paged_for,
    recent_key,
    remember_activity,
    remember_alert_log,
    repeat_title_suffix,
)
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
    classified_benign,
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


# p_event_time as Panther writes it: UTC, a space or a T, up to nanoseconds.
_PANTHER_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?")


def _event_epoch(event):
    """``event.event_time_epoch()`` (0 when it cannot tell). Panther's own form is read here: the
    panther_core call goes through dateutil's parser, the largest cost of a matching event."""
    if not hasattr(event, "event_time_epoch"):  # a plain dict (never a Panther event): no time
        return 0
    text = safe_get(event, "p_event_time")
    match = _PANTHER_TIME.fullmatch(text) if text.__class__ is str else None
    if match and match[1] >= "1970":  # whole seconds: int() of a later time drops the fraction
        try:
            return int(datetime(*map(int, match.groups()), tzinfo=UTC).timestamp())
        except ValueError:  # a day or an hour out of range: the parser's answer, below
            pass
    try:
        return int(event.event_time_epoch())
    except Exception:  # noqa: BLE001 - a plain dict or an unparseable time
        return 0


# The repeats found when rule() recorded this event (title, severity and alert_context read them).
_ACTIVITY = {"event": None, "repeats": []}


def record_alert(
    event,
    get_dictionary,
    add_to_string_set,
    remove_from_string_set=None,
    *,
    alert_log=True,
    get_string_set=None,
):
    """Called by rule() of a Tracebit alert rule once the event matched; returns True.

    Records the alert in the KV cache (``tracebit_alert_cache``): under each source IP and identity,
    its alert_id and canaries, which finds repeats within 24 h; for an alert log (``alert_log``),
    that its alert_id raised an alert, and on whose MFA reset it was escalated. The reset is
    recorded only by the alert log that raised the alert (``escalation_to_record``). Never raises.
    """
    repeats = []
    try:
        context = event_context(event)
        epoch = _event_epoch(event)
        keys = activity_keys(context.get("source_ips"), context.get("identities"))
        repeats = remember_activity(
            add_to_string_set,
            remove_from_string_set,
            epoch,
            alert_id=context.get("alert_id"),
            canary_list=context.get("canaries"),
            keys=keys,
        )
        if alert_log:
            record = mfa_record_for_event(event, get_dictionary) if get_dictionary is not None else None
            alert_id = context.get("alert_id")
            remember_alert_log(
                add_to_string_set, epoch, alert_id, escalation_to_record(record, get_string_set, alert_id)
            )
    except Exception:  # noqa: BLE001 - the cache is an enrichment: never break the alert
        repeats = []
    _ACTIVITY.update(event=event, repeats=repeats)
    return True


def escalation_to_record(record, get_string_set, alert_id):
    """The identity whose MFA reset escalated this alert log, when this log raises the alert; else None.

    Panther keeps the severity of an alert's first event: a later alert log of the same alert_id
    that finds a reset cached since then did not page on it, so recording ``mfa=`` would silence
    the scheduled MFA rule's row for a fact that never paged. Only a log that reads its alert
    state without ``log`` raises the alert; an unreadable state records nothing (the MFA fact may
    then page twice, never not at all).
    """
    if not record:
        return None
    state = alert_state(get_string_set, alert_id)
    if state is None or alert_log_seen(state):
        return None
    return record.get("identity")


def repeats_for_event(event):
    """The repeats ``record_alert`` found for this event object ([] when it did not run)."""
    return _ACTIVITY["repeats"] if event is not None and _ACTIVITY["event"] is event else []


# ----------------------------------------------------------------------------------------------
# Who pages (docs/paging.md): a repeated fact is an Info alert sent to no destination
# ----------------------------------------------------------------------------------------------

NO_PAGE_SEVERITY = "INFO"  # Panther closes Info alerts on its own
NO_PAGE_TITLE_SUFFIX = " [no page: already raised]"


def no_page_destinations(reason):
    """``destinations()`` of a rule that may repeat a fact: [] (Panther: no destination) when there
    is a reason not to page, None (the usual routing) otherwise."""
    return [] if reason else None


_SUMMARY = {"event": None, "getter": None, "reason": None}


def summary_no_page_reason(event, get_string_set):
    """Why a summary must not page, or None when it pages: it pages when its classification brings
    news (TruePositive) or when no alert log of its alert_id raised an alert within the dedup period
    (lost alert logs; also when the cache cannot be read)."""
    if _SUMMARY["event"] is event and _SUMMARY["getter"] is get_string_set and event is not None:
        return _SUMMARY["reason"]
    reason = None
    if not is_true_positive_classification(safe_get(event, "classification")):
        alert_id = as_str(safe_get(event, "alert_id"))  # as the alert log recorded it
        if alert_log_seen(alert_state(get_string_set, alert_id)):
            reason = f"Tracebit alert {alert_id} already raised an alert from its alert logs"
    _SUMMARY.update(event=event, getter=get_string_set, reason=reason)
    return reason


def rule_alert_context(event, get_dictionary=None, no_page_reason=None):
    """``alert_context(event)`` plus the rendered ``pivots``, ``mfa_correlation_identities``,
    ``mfa_escalated_identities`` and, when found, ``recent_mfa_reset``, ``repeated_activity`` and
    ``no_page_reason``."""
    context = dict(event_context(event))
    if context.get("tracebit_log_type") == "health_check":
        return context
    context["pivots"] = tracebit_pivots.render_pivots(context)
    record = mfa_record_for_event(event, get_dictionary) if get_dictionary is not None else None
    # The MFA correlation rules match on one of these two lists: the Critical ones on
    # mfa_correlation_identities (the alert did not page with an MFA reset), their Info companions
    # (*.AlreadyPaged) on mfa_escalated_identities (it did): the correlation is recorded either
    # way, and the same fact does not page twice (docs/paging.md).
    identities_list = list(context.get("identities") or [])
    context["mfa_correlation_identities"] = [] if record else identities_list
    context["mfa_escalated_identities"] = identities_list if record else []
    if record:
        context["recent_mfa_reset"] = record
    repeats = repeats_for_event(event)
    if repeats:
        context["repeated_activity"] = repeats
    if no_page_reason:
        context["no_page_reason"] = no_page_reason
    return context


def rule_severity(event, get_dictionary=None, floor=None, no_page_reason=None):
    """Tracebit's severity mapped (raised to ``floor``); CRITICAL after a recent MFA reset or when
    the alert repeats (``record_alert``); Info when it must not page.

    Tracebit's ``Info`` stays INFO whatever the floor, the cache or the repeats say: Tracebit sends
    it for activity it does not rate as a threat, and Panther closes an INFO alert on creation.
    """
    if no_page_reason:
        return NO_PAGE_SEVERITY
    severity = map_severity(safe_get(event, "severity"))
    if severity == "INFO":
        return severity
    if get_dictionary is not None and mfa_record_for_event(event, get_dictionary):
        return "CRITICAL"
    if repeats_for_event(event):
        return "CRITICAL"
    return severity_at_least(severity, floor) if floor else severity


def rule_title(event, kind, get_dictionary=None, no_page_reason=None):
    """The title for rule ``kind``: ``resource``, ``credential``, ``unknown`` or ``summary``."""
    context = event_context(event)
    record = mfa_record_for_event(event, get_dictionary) if get_dictionary is not None else None
    builder = {
        "resource": title_resource_accessed,
        "credential": title_credential_used,
        "unknown": title_unknown_subtype,
        "summary": title_summary,
    }.get(kind, title_unknown_subtype)
    title = builder(event, context, record) + repeat_title_suffix(repeats_for_event(event))
    if no_page_reason:
        title += NO_PAGE_TITLE_SUFFIX
    return clip(title, MAX_TITLE)


# ----------------------------------------------------------------------------------------------
# Scheduled MFA rules: rows that join a Tracebit alert to an MFA / password reset of its identity
# ----------------------------------------------------------------------------------------------


def mfa_row_matches(row, event_key):
    """The query already joined both sides; re-check that the row names an alert, an identity and a
    reset (its ``event_key`` column)."""
    return bool(row_text(row, "alert_id") and row_text(row, "identity") and row_text(row, event_key))


def mfa_row_context(row, section, columns, minutes_key, get_string_set=None):
    """The alert context of a scheduled MFA rule: the identity, the Tracebit side, the reset side
    (``section``: each context key read from its row column), the minutes from reset to alert, and
    ``no_page_reason`` when the alert already paged on this reset (``get_string_set`` given)."""
    identity = row_text(row, "identity")
    tracebit = mfa_row_tracebit(row)
    identities = [identity] if identity else []
    context = {
        "identities": identities,
        "tracebit": tracebit,
        section: {key: row_text(row, column) for key, column in columns.items()},
        minutes_key: row_number(row, minutes_key),
        "mfa_lookback_days": row_number(row, "mfa_lookback_days"),
        "pivots": scheduled_pivots(tracebit["principal_arn"], identities, tracebit["alert_time"]),
    }
    reason = mfa_row_no_page_reason(row, get_string_set) if get_string_set is not None else None
    if reason:
        context["no_page_reason"] = reason
    return context


def scheduled_pivots(principal_arn, identities, alert_time):
    """The pivot queries of a scheduled alert's Tracebit principal, rendered by the same
    ``tracebit_pivots.render_pivots`` as the real-time alerts' (a pivot whose parameter is
    missing is left out): the first alert an analyst opens has its queries ready to copy. Without
    ``identities``, the ARN's session or user name is the identity when it looks like one."""
    if not identities:
        name = parse_aws_arn(principal_arn)["name"]
        identities = [name.lower()] if is_username(name) else []
    context = {"principal_arn": principal_arn, "identities": identities, "alert_time": alert_time}
    return tracebit_pivots.render_pivots(context)


def mfa_row_title(row, source, event_key, actor_key, get_string_set=None):
    """``Tracebit canary alert for <identity> after <source> <event> by <actor>``, marked when the
    alert already paged on this reset (``get_string_set`` given)."""
    actor = clip(row_text(row, actor_key) or "an unknown actor")
    phrase = mfa_reset_phrase(source, row_text(row, event_key))
    title = f"Tracebit canary alert for {clip(row_text(row, 'identity'))} after {phrase} by {actor}"
    if get_string_set is not None and mfa_row_no_page_reason(row, get_string_set):
        title += NO_PAGE_TITLE_SUFFIX
    return title


def mfa_row_severity(row, get_string_set):
    """Info when the alert already paged on this reset, else the rule's YAML severity."""
    return NO_PAGE_SEVERITY if mfa_row_no_page_reason(row, get_string_set) else "DEFAULT"


def mfa_row_destinations(row, get_string_set):
    return no_page_destinations(mfa_row_no_page_reason(row, get_string_set))


def mfa_row_dedup(row):
    """One alert per Tracebit alert and identity."""
    return clip(f"{row_text(row, 'alert_id')}:{row_text(row, 'identity')}", 900)


_ROW = {"row": None, "getter": None, "reason": None}


def mfa_row_no_page_reason(row, get_string_set):
    """Why a scheduled MFA row must not page, or None: its Tracebit alert already paged on an MFA
    reset of the same identity (escalated in real time through the KV cache). One read per row."""
    if _ROW["row"] is row and _ROW["getter"] is get_string_set and row is not None:
        return _ROW["reason"]
    alert_id, identity = row_text(row, "alert_id"), row_text(row, "identity")
    reason = None
    if mfa_paged_for(alert_state(get_string_set, alert_id), identity):
        reason = (
            f"Tracebit alert {alert_id} already paged on the MFA reset of {identity} (real-time escalation)"
        )
    _ROW.update(row=row, getter=get_string_set, reason=reason)
    return reason


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
