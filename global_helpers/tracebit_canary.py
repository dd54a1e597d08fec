"""What a Tracebit log says, read once into one shape (GlobalID ``tracebit_canary``).

The log type and alert subtype, the canaries (an Alert's ``canary`` and an AlertSummary's
``canaries_accessed`` in one shape), the canary credential, request details, Tracebit's severity
mapped to Panther's, the AlertSummary classification and the HealthCheck state. Spellings other
than Tracebit's own (``Canary-Resource-Accessed``, ``benign_positive``) are normalised once and
remembered in a bounded table.
"""

from collections.abc import Mapping

from tracebit_base import (
    MAX_LIST,
    as_list,
    as_mapping,
    as_str,
    clip,
    dedupe,
    get_case_insensitive,
    normalise_token,
    raw,
    safe_get,
)

SUBTYPE_RESOURCE = "canary_resource_accessed"
SUBTYPE_CREDENTIAL = "canary_credential_used"
KNOWN_SUBTYPES = (SUBTYPE_RESOURCE, SUBTYPE_CREDENTIAL)
_EXACT_SUBTYPES = frozenset(KNOWN_SUBTYPES)
_SHORTEST_SUBTYPE = min(len(normalise_token(known)) for known in KNOWN_SUBTYPES)
_KNOWN_SUBTYPE_TOKENS = {normalise_token(known): known for known in KNOWN_SUBTYPES}

LOG_TYPE_NAMES = {
    "tracebit.alert": "alert",
    "tracebit.alertsummary": "alert_summary",
    "tracebit.healthcheck": "health_check",
}
DISCRIMINATOR_TYPES = {
    "tracebit_alert_log": "alert",
    "tracebit_alert_summary": "alert_summary",
    "health_check": "health_check",
}

SEVERITIES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
SEVERITY_SYNONYMS = {
    "info": "INFO",
    "informational": "INFO",
    "information": "INFO",
    "none": "INFO",
    "debug": "INFO",
    "low": "LOW",
    "minor": "LOW",
    "medium": "MEDIUM",
    "med": "MEDIUM",
    "moderate": "MEDIUM",
    "warning": "MEDIUM",
    "warn": "MEDIUM",
    "high": "HIGH",
    "major": "HIGH",
    "severe": "HIGH",
    "important": "HIGH",
    "critical": "CRITICAL",
    "crit": "CRITICAL",
    "urgent": "CRITICAL",
    "emergency": "CRITICAL",
    "fatal": "CRITICAL",
}

# AlertSummary classifications that Tracebit (or an analyst in Tracebit) uses for activity that is
# not malicious. Compared after normalisation (lower case, letters and digits only), so
# "BenignPositive", "benign_positive" and "Benign Positive" are the same. Anything else alerts.
BENIGN_CLASSIFICATIONS = frozenset({"benignpositive", "falsepositive", "benign"})
_EXACT_BENIGN = frozenset({"BenignPositive", "FalsePositive", "Benign"})
TRUE_POSITIVE_CLASSIFICATIONS = frozenset({"truepositive", "malicious"})

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
HEALTH_UNKNOWN = "unknown"
_TRUE_STRINGS = frozenset({"true", "t", "yes", "y", "1", "healthy", "ok", "up"})
_FALSE_STRINGS = frozenset({"false", "f", "no", "n", "0", "unhealthy", "down", "failed", "error"})

# Answers for spellings that are not Tracebit's own, one bounded table per question (cleared when
# full). A source that writes "Canary-Resource-Accessed" writes it on every log: it is normalised
# once, and each later log is one dictionary lookup (rule() runs on every event of its log type).
_SUBTYPE_SPELLINGS = {}  # sent subtype -> known subtype or None
_BENIGN_SPELLINGS = {}  # sent classification -> whether it is benign
_SPELLINGS_MAX = 512
_UNSEEN = object()


def _remember(table, spelling, answer):
    """``answer``, stored for ``spelling`` in one of the bounded spelling tables."""
    if len(table) >= _SPELLINGS_MAX:
        table.clear()
    table[spelling] = answer
    return answer


# ----------------------------------------------------------------------------------------------
# Log type and subtype (cheap: used by rule())
# ----------------------------------------------------------------------------------------------


def tracebit_log_type(event):
    """``alert``, ``alert_summary`` or ``health_check`` (from p_log_type, else the discriminator)."""
    name = LOG_TYPE_NAMES.get((as_str(safe_get(event, "p_log_type")) or "").lower())
    if name:
        return name
    name = DISCRIMINATOR_TYPES.get((as_str(safe_get(event, "discriminator", "type")) or "").lower())
    if name:
        return name
    if safe_get(event, "is_healthy") is not None:
        return "health_check"
    if safe_get(event, "classification") is not None or safe_get(event, "canaries_accessed") is not None:
        return "alert_summary"
    return "alert"


def subtype(event):
    """``discriminator.subtype`` as sent (a string), or None."""
    return as_str(safe_get(event, "discriminator", "subtype"))


def subtype_key(event):
    """The known subtype this event has (``canary_resource_accessed`` / ``canary_credential_used``),
    compared case- and punctuation-insensitively; None when missing or unknown.

    Every Tracebit.Alert log goes through this in rule(): the subtype as Tracebit writes it is one
    set lookup, and any other spelling is normalised once and then remembered
    (``_SUBTYPE_SPELLINGS``).
    """
    data = raw(event)  # Tracebit's own field names read straight from the plain data, then any case
    found = data.get("discriminator") if data.__class__ is dict else None
    if found.__class__ is dict:
        sent = found.get("subtype")
        if sent is None and "subtype" not in found:  # absent: maybe spelled in another case
            sent = get_case_insensitive(found, "subtype")
    else:
        sent = safe_get(event, "discriminator", "subtype")
    if sent.__class__ is str:
        if sent in _EXACT_SUBTYPES:
            return sent
        if len(sent) < _SHORTEST_SUBTYPE:  # normalising only removes characters: cannot match
            return None
        known = _SUBTYPE_SPELLINGS.get(sent, _UNSEEN)
        if known is not _UNSEEN:
            return known
        return _remember(_SUBTYPE_SPELLINGS, sent, _KNOWN_SUBTYPE_TOKENS.get(normalise_token(sent)))
    if sent is None:  # no subtype at all: the common malformed case, answered without normalising
        return None
    return _KNOWN_SUBTYPE_TOKENS.get(normalise_token(as_str(sent)))


def has_unknown_subtype(event):
    """True when the subtype is missing or is not one of the known subtypes."""
    return subtype_key(event) is None


# ----------------------------------------------------------------------------------------------
# Canaries, credential, request details
# ----------------------------------------------------------------------------------------------


def normalise_canary(canary, default_provider=None):
    """One canary in the shared Alert / AlertSummary shape, or None if it is not an object."""
    if not isinstance(canary, Mapping):
        name = as_str(canary)
        if not name:
            return None
        canary = {"name": name}
    aws = as_mapping(safe_get(canary, "aws"))
    azure = as_mapping(safe_get(canary, "azure"))
    okta = as_mapping(safe_get(canary, "okta"))
    provider = None
    for key, block in (("aws", aws), ("azure", azure), ("okta", okta)):
        if block:
            provider = key
            break
    if provider is None and default_provider:
        provider = default_provider.lower()
    arn = as_str(safe_get(aws, "arn"))
    resource_id = as_str(safe_get(azure, "resource_id")) or arn or as_str(safe_get(canary, "provider_id"))
    return {
        "name": as_str(safe_get(canary, "name")),
        "type": as_str(safe_get(canary, "type")),
        "tracebit_id": as_str(safe_get(canary, "tracebit_id")),
        "provider_id": as_str(safe_get(canary, "provider_id")),
        "provider_account_id": as_str(safe_get(canary, "provider_account_id"))
        or as_str(safe_get(aws, "account_id"))
        or as_str(safe_get(azure, "subscription_id"))
        or as_str(safe_get(okta, "organization_id")),
        "account_name": as_str(safe_get(aws, "account_name"))
        or as_str(safe_get(azure, "subscription_name"))
        or as_str(safe_get(okta, "domain")),
        "arn": arn,
        "resource_id": resource_id,
        "region": as_str(safe_get(aws, "region")),
        "deployed_at": as_str(safe_get(canary, "deployed_at")),  # published; not in the Alert schema
        "provider": provider,
    }


_CANARY_ID_KEYS = ("name", "tracebit_id", "provider_id", "arn", "resource_id")


def canaries(event):
    """The canaries of an Alert (``canary``) or AlertSummary (``canaries_accessed``), one shape."""
    provider = as_str(safe_get(event, "provider"))
    raw = []
    single = safe_get(event, "canary")
    if single is not None:
        raw.extend(as_list(single))
    raw.extend(as_list(safe_get(event, "canaries_accessed")))
    out = []
    for item in raw[: MAX_LIST * 2]:
        canary = normalise_canary(item, provider)
        if canary and any(canary[key] for key in _CANARY_ID_KEYS):
            out.append(canary)
    return out[:MAX_LIST]


def canary_label(canary):
    """``<type> <name>`` (falling back to the ids) for titles."""
    if not canary:
        return "an unknown canary"
    name = (
        canary.get("name")
        or canary.get("arn")
        or canary.get("resource_id")
        or canary.get("provider_id")
        or canary.get("tracebit_id")
        or "unnamed"
    )
    kind = canary.get("type")
    return clip(f"{kind} {name}" if kind else name)


def canary_credential(event):
    """``{name, type, access_key_id, labels: {name: value}, issued_at, expires_at}`` or None."""
    credential = safe_get(event, "canary_credential")
    if not isinstance(credential, Mapping):
        name = as_str(credential)
        return (
            {
                "name": name,
                "type": None,
                "access_key_id": None,
                "labels": {},
                "issued_at": None,
                "expires_at": None,
            }
            if name
            else None
        )
    labels = {}
    for label in as_list(safe_get(credential, "labels")):
        if len(labels) >= MAX_LIST:
            break
        if isinstance(label, Mapping):
            key = as_str(safe_get(label, "name"))
            if key:
                labels[key] = as_str(safe_get(label, "value"))
    return {
        "name": as_str(safe_get(credential, "name")),
        "type": as_str(safe_get(credential, "type")),
        "access_key_id": as_str(safe_get(credential, "aws", "access_key_id")),
        "labels": labels,
        "issued_at": as_str(safe_get(credential, "issued_at")),
        "expires_at": as_str(safe_get(credential, "expires_at")),
    }


def credential_label(credential):
    if not credential:
        return "an unknown canary credential"
    name = credential.get("name") or credential.get("access_key_id") or "unnamed"
    kind = credential.get("type")
    return clip(f"{kind} {name}" if kind else name)


def source_ips(event):
    """``event.request.ip`` (Alert) and ``ip_addresses`` (AlertSummary), de-duplicated."""
    values = as_list(safe_get(event, "event", "request", "ip")) + as_list(safe_get(event, "ip_addresses"))
    return dedupe(as_str(value, 64) for value in values[: MAX_LIST * 2])[:MAX_LIST]


def resources(event):
    """``event.resources`` as ``[{id, type}]``."""
    out = []
    for resource in as_list(safe_get(event, "event", "resources"))[: MAX_LIST * 2]:
        if isinstance(resource, Mapping):
            item = {"id": as_str(safe_get(resource, "id")), "type": as_str(safe_get(resource, "type"))}
        else:
            item = {"id": as_str(resource), "type": None}
        if item["id"] or item["type"]:
            out.append(item)
    return out[:MAX_LIST]


def indicators(event):
    """AlertSummary ``indicators`` as ``[{id, name, description}]`` (``details`` is left out)."""
    out = []
    for indicator in as_list(safe_get(event, "indicators"))[: MAX_LIST * 2]:
        if isinstance(indicator, Mapping):
            item = {
                "id": as_str(safe_get(indicator, "id")),
                "name": as_str(safe_get(indicator, "name")),
                "description": as_str(safe_get(indicator, "description")),
            }
        else:
            item = {"id": None, "name": as_str(indicator), "description": None}
        if item["id"] or item["name"] or item["description"]:
            out.append(item)
    return out[:MAX_LIST]


# ----------------------------------------------------------------------------------------------
# Health checks
# ----------------------------------------------------------------------------------------------


def is_healthy(event):
    """``is_healthy`` as a bool, or None when missing, null or not readable as a boolean.

    Strings such as "false"/"true" and the numbers 0/1 are accepted (a string where a bool is expected).
    """
    value = safe_get(event, "is_healthy")
    if value is True or value is False:
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    token = normalise_token(as_str(value) if not isinstance(value, (int, float)) else None)
    if token in _TRUE_STRINGS:
        return True
    if token in _FALSE_STRINGS:
        return False
    return None


def health_state(event):
    """``healthy``, ``unhealthy`` or ``unknown`` (missing, null or unreadable ``is_healthy``)."""
    healthy = is_healthy(event)
    if healthy is None:
        return HEALTH_UNKNOWN
    return HEALTHY if healthy else UNHEALTHY


# ----------------------------------------------------------------------------------------------
# Severity
# ----------------------------------------------------------------------------------------------


def map_severity(value):
    """Tracebit's severity -> a Panther severity; unknown / missing -> ``DEFAULT`` (YAML severity)."""
    text = as_str(value)
    if not text:
        return "DEFAULT"
    token = normalise_token(text)
    if token.upper() in SEVERITIES:
        return token.upper()
    for prefix in ("severity", "sev"):
        if token.startswith(prefix) and token[len(prefix) :] in SEVERITY_SYNONYMS:
            token = token[len(prefix) :]
    return SEVERITY_SYNONYMS.get(token, "DEFAULT")


def severity_at_least(severity, floor):
    """``severity`` raised to ``floor``; ``DEFAULT`` stays ``DEFAULT`` (the YAML value decides)."""
    if severity not in SEVERITIES or floor not in SEVERITIES:
        return severity
    return severity if SEVERITIES.index(severity) >= SEVERITIES.index(floor) else floor


# ----------------------------------------------------------------------------------------------
# AlertSummary classification
# ----------------------------------------------------------------------------------------------


def is_benign_classification(value):
    """True only for a string classification documented as not malicious (case-insensitive)."""
    if value.__class__ is str:
        if value in _EXACT_BENIGN:  # as Tracebit writes it: one lookup
            return True
        known = _BENIGN_SPELLINGS.get(value)
        if known is not None:
            return known
        return _remember(_BENIGN_SPELLINGS, value, normalise_token(value) in BENIGN_CLASSIFICATIONS)
    return isinstance(value, str) and normalise_token(value) in BENIGN_CLASSIFICATIONS


def classified_benign(event):
    """True when the summary's ``classification`` is one documented as not malicious: rule()'s
    question on every AlertSummary, read from the plain data (then in any case, as ``safe_get``)."""
    data = raw(event)
    value = data.get("classification") if data.__class__ is dict else None
    if value is None:
        value = safe_get(event, "classification")
    return is_benign_classification(value)


def is_true_positive_classification(value):
    return isinstance(value, str) and normalise_token(value) in TRUE_POSITIVE_CLASSIFICATIONS
