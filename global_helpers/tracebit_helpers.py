"""Shared logic for the Tracebit detection pack (GlobalID ``tracebit_helpers``).

Everything here takes a Panther event (a ``PantherEvent``: an immutable, case-insensitive mapping
whose nested values may be ``ImmutableCaseInsensitiveDict`` / ``ImmutableList``) or a plain dict,
and never raises on a missing, null or oddly typed field. Every value returned is plain Python
(dict / list / str / bool / None), so it is JSON-serialisable.

The alert-context keys are the contract in docs/DESIGN.md; docs/alert-context.md explains them.
"""

import json
import math
import re
from collections.abc import Mapping, Sequence

import tracebit_pivots

# ----------------------------------------------------------------------------------------------
# Constants
# ----------------------------------------------------------------------------------------------

MAX_LIST = 50  # every list in the alert context is capped at this many entries
MAX_STR = 1024  # longest string kept from a log field
MAX_CONTEXT_CHARS = 150_000  # Panther replaces a context above 200 KB; stay well below it
MAX_MFA_LOOKUPS = 5  # identities looked up in the KV cache per alert
TITLE_PART = 160  # longest log value placed in a title (principal, canary, classification, ...)
MAX_TITLE = 999  # Panther truncates titles at 1,000 characters; stay under it

TRACEBIT_SITE = "https://tracebit.com"

_NON_ALNUM_RE = re.compile(r"[^a-z0-9]")  # what normalise_token removes
SUBTYPE_RESOURCE = "canary_resource_accessed"
SUBTYPE_CREDENTIAL = "canary_credential_used"
KNOWN_SUBTYPES = (SUBTYPE_RESOURCE, SUBTYPE_CREDENTIAL)
_EXACT_SUBTYPES = frozenset(KNOWN_SUBTYPES)
_SHORTEST_SUBTYPE = min(len(_NON_ALNUM_RE.sub("", known)) for known in KNOWN_SUBTYPES)
_KNOWN_SUBTYPE_TOKENS = {_NON_ALNUM_RE.sub("", known): known for known in KNOWN_SUBTYPES}

MFA_RESET_KEY_PREFIX = "tracebit:mfa_reset:"
MFA_RESET_TTL_SECONDS = 7 * 24 * 3600  # a reset escalates Tracebit alerts for 7 days after it happened
MAX_MFA_WRITES = 10  # identities one reset event writes to the KV cache
MFA_SOURCE_OKTA = "Okta"
MFA_SOURCE_AWS = "AWS"

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

_EMAIL_RE = re.compile(r"^[^@\s/:]+@[^@\s/:]+\.[^@\s/:]+$")
_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=,@\-]{0,127}$")
# Session names that SDKs and AWS services generate: not a person, so not an identity.
_GENERATED_SESSION_RE = re.compile(
    r"^(i-[0-9a-f]{8,17}|botocore-session-\d+|aws-go-sdk-\d+|aws-sdk-[a-z]+-\d+|\d+|"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$",
    re.IGNORECASE,
)

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
    "classification",
    "classification_reason",
    "first_seen",
    "last_seen",
    "indicators",
)
HEALTH_CONTEXT_KEYS = ("tracebit_log_type", "subtype", "alert_time", "is_healthy")

# ----------------------------------------------------------------------------------------------
# Safe access and conversion
# ----------------------------------------------------------------------------------------------


def _is_list(value):
    """True for list-like values (list, tuple, ImmutableList), false for strings and mappings."""
    if value.__class__ is list:
        return True
    if isinstance(value, (str, bytes, bytearray, Mapping)):
        return False
    return isinstance(value, Sequence)


def raw(obj):
    """The plain data behind a ``PantherEvent`` (its ``raw_view()``: the same dict, not a copy).

    A PantherEvent wraps every nested value it hands out in a new immutable, case-insensitive
    object; these helpers only read, so they walk the plain data instead, an order of magnitude
    cheaper per field. ``safe_get`` keeps Panther's case-insensitive field access on that data.
    """
    view = getattr(obj, "raw_view", None)
    return view() if view is not None else obj


# id(mapping) -> (mapping, {lower-cased key: key}). Events are immutable, so a mapping's key map
# never changes; the strong reference keeps an id from being reused while its entry lives.
_LOWER_KEYS = {}
_LOWER_KEYS_MAX = 256


def _get_case_insensitive(mapping, key):
    """``mapping[key]`` matched case-insensitively, as PantherEvent does; None if absent."""
    if key.__class__ is not str:
        return None
    entry = _LOWER_KEYS.get(id(mapping))
    if entry is None or entry[0] is not mapping:
        if len(_LOWER_KEYS) >= _LOWER_KEYS_MAX:
            _LOWER_KEYS.clear()
        entry = (mapping, {name.lower(): name for name in mapping if name.__class__ is str})
        _LOWER_KEYS[id(mapping)] = entry
    name = entry[1].get(key.lower())
    return None if name is None else mapping.get(name)


def safe_get(obj, *keys, default=None):
    """Walk nested mappings; any non-mapping step, missing key or null gives ``default``."""
    obj = raw(obj)
    for key in keys:
        if obj.__class__ is dict:
            found = obj.get(key)
            if found is None and key not in obj:
                found = _get_case_insensitive(obj, key)
            obj = found
        elif isinstance(obj, Mapping):
            try:
                obj = obj.get(key)
            except Exception:  # noqa: BLE001 - an odd mapping must not break a rule
                return default
        else:
            return default
        if obj is None:
            return default
    return obj


def as_number(value):
    """A finite number from a number or numeric string (query rows carry both); None otherwise.

    Integers stay integers (counts read naturally in an alert); anything else becomes a float.
    Booleans are not numbers here, although Python treats them as ints.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def as_str(value, limit=MAX_STR):
    """A non-empty, stripped string from a scalar, else None.

    Numbers become strings; booleans and mappings give None; a list gives its first usable
    element (a list where a string is expected).
    """
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool) or value is None or isinstance(value, Mapping):
        return None
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):  # NaN / infinity
            return None
        text = str(value)
    elif _is_list(value):
        for element in value:
            text = as_str(element, limit)
            if text is not None:
                return text
        return None
    else:
        return None
    if not text:
        return None
    return text[:limit]


def as_list(value):
    """A plain list from a list-like value; a single non-null value becomes a one-element list."""
    if value is None:
        return []
    if _is_list(value):
        return list(value)
    return [value]


def as_mapping(value):
    """The value if it is a mapping, else an empty dict."""
    return value if isinstance(value, Mapping) else {}


def to_plain(value, depth=0):
    """A JSON-serialisable copy: immutable containers unwrapped, odd scalars made strings."""
    if depth > 20:
        return None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            out[str(key)] = to_plain(item, depth + 1)
        return out
    if _is_list(value) or isinstance(value, (set, frozenset)):
        return [to_plain(item, depth + 1) for item in list(value)[:MAX_LIST]]
    return str(value)


# Results of normalising a spelling that is not Tracebit's own (bounded; cleared when full). A
# source that writes "Canary-Resource-Accessed" writes it on every log: normalise it once.
_SPELLINGS = {}
_SPELLINGS_MAX = 512


def _remember(key, compute):
    """``compute()``, memoised under ``key`` in the bounded ``_SPELLINGS`` table."""
    if key in _SPELLINGS:
        return _SPELLINGS[key]
    if len(_SPELLINGS) >= _SPELLINGS_MAX:
        _SPELLINGS.clear()
    result = _SPELLINGS[key] = compute()
    return result


def normalise_token(value):
    """Lower-case letters and digits only ("Benign_Positive" -> "benignpositive"); '' if not a str."""
    if not isinstance(value, str):
        return ""
    return _NON_ALNUM_RE.sub("", value.lower())


def _dedupe(values):
    seen = set()
    out = []
    for value in values:
        if value is None or value in seen:
            continue
        seen.add(value)
        out.append(value)
    return out


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
    set lookup, and any other spelling is normalised once and then remembered (``_SPELLINGS``).
    """
    sent = safe_get(event, "discriminator", "subtype")
    if sent.__class__ is str:
        if sent in _EXACT_SUBTYPES:
            return sent
        if len(sent) < _SHORTEST_SUBTYPE:  # normalising only removes characters: cannot match
            return None
        return _remember(("subtype", sent), lambda: _KNOWN_SUBTYPE_TOKENS.get(normalise_token(sent)))
    return _KNOWN_SUBTYPE_TOKENS.get(normalise_token(as_str(sent)))


def has_unknown_subtype(event):
    """True when the subtype is missing or is not one of the known subtypes."""
    return subtype_key(event) is None


# ----------------------------------------------------------------------------------------------
# Principal and identities
# ----------------------------------------------------------------------------------------------


def is_email(value):
    return isinstance(value, str) and bool(_EMAIL_RE.match(value))


def is_username(value):
    """A plausible human username or email (not an SDK-generated or instance session name)."""
    return (
        isinstance(value, str) and bool(_USERNAME_RE.match(value)) and not _GENERATED_SESSION_RE.match(value)
    )


def parse_aws_arn(arn):
    """Split a principal ARN into ``{account_id, kind, role, name}`` (all str|None).

    ``arn:aws:sts::123:assumed-role/Role/session`` -> kind assumed-role, role Role, name session;
    ``arn:aws:sts::123:federated-user/name``; ``arn:aws:iam::123:user/path/name``;
    ``arn:aws:iam::123:role/path/Role``; ``arn:aws:iam::123:root``.
    """
    out = {"account_id": None, "kind": None, "role": None, "name": None}
    arn = as_str(arn)
    if not arn or not arn.lower().startswith("arn:"):
        return out
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return out
    account = parts[4]
    out["account_id"] = account if account.isdigit() else None
    resource = parts[5]
    segments = resource.split("/")
    kind = segments[0].lower()
    out["kind"] = kind or None
    if kind == "assumed-role" and len(segments) >= 3:
        out["role"] = segments[1] or None
        out["name"] = "/".join(segments[2:]) or None
    elif kind in ("federated-user", "user") and len(segments) >= 2:
        out["name"] = segments[-1] or None
    elif kind == "role" and len(segments) >= 2:
        out["role"] = segments[-1] or None
    return out


_ARN_KIND_TYPES = {
    "assumed-role": "AssumedRole",
    "federated-user": "FederatedUser",
    "user": "IAMUser",
    "role": "Role",
    "root": "Root",
}


def get_principal(event):
    """The principal as a mapping; a bare string principal is read as ``{"id": <string>}``."""
    principal = safe_get(event, "principal")
    if isinstance(principal, Mapping):
        return principal
    text = as_str(principal)
    return {"id": text} if text else {}


def principal_provider(principal):
    """``aws``, ``okta``, ``azure``, ``google_cloud`` or ``unknown``: the first provider block present."""
    for provider in ("aws", "okta", "azure", "google_cloud"):
        block = safe_get(principal, provider)
        if isinstance(block, Mapping) and any(value is not None for value in block.values()):
            return provider
        if as_str(block):  # a provider block sent as a plain string
            return provider
    principal_id = as_str(safe_get(principal, "id")) or ""
    if principal_id.lower().startswith("arn:aws"):
        return "aws"
    return "unknown"


def _principal_arn(principal):
    arn = as_str(safe_get(principal, "aws", "arn"))
    if arn:
        return arn
    principal_id = as_str(safe_get(principal, "id"))
    if principal_id and principal_id.lower().startswith("arn:"):
        return principal_id
    return None


def _principal_id_email(principal_id):
    """The email in principal.id: the whole id, or the part after ``:`` (``AROA...:user@x.com``)."""
    if not principal_id:
        return None
    if is_email(principal_id):
        return principal_id
    if principal_id.lower().startswith("arn:"):
        return None
    tail = principal_id.rsplit(":", 1)[-1]
    return tail if is_email(tail) else None


def identities(event):
    """The principal's emails and usernames: lower-cased, de-duplicated, in discovery order.

    Sources, in order: ``principal.id`` if an email (or ``<id>:<email>``), ``principal.aws.username``,
    the session name of an assumed-role / federated-user (or IAM user) ARN if it is an email or a
    username, Okta ``alternate_id``, and the GCP federated subject if an email.
    """
    principal = get_principal(event)
    found = []
    found.append(_principal_id_email(as_str(safe_get(principal, "id"))))
    username = as_str(safe_get(principal, "aws", "username"))
    if is_username(username):
        found.append(username)
    name = parse_aws_arn(_principal_arn(principal))["name"]
    if is_username(name):
        found.append(name)
    alternate_id = as_str(safe_get(principal, "okta", "alternate_id"))
    if is_email(alternate_id) or is_username(alternate_id):
        found.append(alternate_id)
    subject = as_str(safe_get(principal, "google_cloud", "federated_identity_subject"))
    if is_email(subject):
        found.append(subject)
    return _dedupe(value.lower() for value in found if value)[:MAX_LIST]


def principal_details(event):
    """The ``principal_*`` context keys (and the principal object as a plain dict)."""
    principal = get_principal(event)
    arn = _principal_arn(principal)
    parsed = parse_aws_arn(arn)
    principal_type = (
        as_str(safe_get(principal, "aws", "type"))
        or as_str(safe_get(principal, "okta", "type"))
        or as_str(safe_get(principal, "google_cloud", "federated_identity_type"))
        or _ARN_KIND_TYPES.get(parsed["kind"] or "")
    )
    account_id = (
        as_str(safe_get(principal, "aws", "account_id"))
        or parsed["account_id"]
        or as_str(safe_get(principal, "azure", "tenant_id"))
    )
    session_name = parsed["name"] if is_username(parsed["name"]) else None
    username = (
        as_str(safe_get(principal, "aws", "username"))
        or session_name
        or as_str(safe_get(principal, "okta", "alternate_id"))
        or as_str(safe_get(principal, "google_cloud", "federated_identity_subject"))
    )
    return {
        "principal_provider": principal_provider(principal),
        "principal_id": as_str(safe_get(principal, "id")),
        "principal_arn": arn,
        "principal_type": principal_type,
        "principal_account_id": account_id,
        "principal_username": username,
        "principal": to_plain(principal) if principal else None,
    }


def principal_label(event, context=None):
    """A short human name for the principal, for titles: first identity (with the assumed role),
    else the ARN, username, principal id, Azure app id or GCP subject."""
    if context is None:
        context = dict(principal_details(event), identities=identities(event))
    ids = context.get("identities")
    if ids:
        role = parse_aws_arn(context.get("principal_arn"))["role"]
        return clip(f"{ids[0]} (role {role})" if role else ids[0])
    principal = get_principal(event)
    app_id = as_str(safe_get(principal, "azure", "app_id"))
    return clip(
        context.get("principal_arn")
        or context.get("principal_username")
        or (f"Azure app {app_id}" if app_id else None)
        or context.get("principal_id")
        or "an unknown principal"
    )


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
    return _dedupe(as_str(value, 64) for value in values[: MAX_LIST * 2])[:MAX_LIST]


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
    context.update(principal_details(event))
    context.update(
        {
            "identities": identities(event),
            "canaries": canary_list,
            "canary_names": _dedupe(canary["name"] for canary in canary_list if canary["name"]),
            "source_ips": source_ips(event),
            "user_agent": as_str(safe_get(event, "event", "request", "user_agent", "raw"), 2048),
            "user_agent_label": as_str(safe_get(event, "event", "request", "user_agent", "label")),
            "event_operation": as_str(safe_get(event, "event", "operation")),
            "event_id": as_str(safe_get(event, "event", "id")),
            "resources": resources(event),
            "canary_credential": canary_credential(event),
            "classification": as_str(safe_get(event, "classification")),
            "classification_reason": as_str(safe_get(event, "classification_reason"), 4096),
            "first_seen": as_str(safe_get(event, "start_time")),
            "last_seen": as_str(safe_get(event, "end_time")),
            "indicators": indicators(event),
        }
    )
    return _fit(context)


# ----------------------------------------------------------------------------------------------
# Severity, reference, dedup, titles
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


def clip(text, limit=TITLE_PART):
    """``text`` cut to ``limit`` characters with an ellipsis: log values stay readable in titles."""
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def mfa_reset_phrase(source, event_type):
    """``Okta user.mfa.factor.deactivate`` / ``AWS DeactivateMFADevice``: one wording for every title
    that names an MFA or password reset (a record without a source was written by the Okta signal)."""
    what = clip(as_str(event_type, 128))
    if not what:
        return "an MFA reset"
    return f"{clip(as_str(source, 64) or MFA_SOURCE_OKTA, 64)} {what}"


def _mfa_suffix(record):
    """Title suffix for an escalated alert: whose MFA was reset, and when."""
    if not record:
        return ""
    who = clip(as_str(record.get("identity")) or "the principal")
    phrase = mfa_reset_phrase(record.get("source"), record.get("event_type"))
    when = clip(as_str(record.get("event_time")), 40)
    return f" after {phrase} for {who}" + (f" at {when}" if when else "")


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
    return f"Tracebit: {principal} accessed {_canaries_phrase(context.get('canaries'))}" + _mfa_suffix(record)


def title_credential_used(event, context, record=None):
    principal = principal_label(event, context)
    credential = credential_label(context.get("canary_credential"))
    return f"Tracebit: canary credential {credential} used by {principal}" + _mfa_suffix(record)


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
    return f"Tracebit alert ({kind}): {principal} on {target}" + _mfa_suffix(record)


def title_summary(event, context, record=None):
    classification = clip(context.get("classification") or "no classification")
    principal = principal_label(event, context)
    return (
        f"Tracebit alert summary [{classification}]: {principal} accessed "
        f"{_canaries_phrase(context.get('canaries'))}" + _mfa_suffix(record)
    )


def title_health(event):
    integration = clip(subtype(event) or "unknown integration")
    if health_state(event) == UNHEALTHY:
        return f"Tracebit integration unhealthy: {integration}"
    return f"Tracebit integration health unknown (is_healthy missing or unreadable): {integration}"


# ----------------------------------------------------------------------------------------------
# KV cache: recent Okta MFA reset (read side of the contract in docs/DESIGN.md)
# ----------------------------------------------------------------------------------------------


def mfa_reset_key(identity):
    """The KV-cache key for an identity's recent MFA reset: ``tracebit:mfa_reset:<identity>``."""
    return MFA_RESET_KEY_PREFIX + str(identity).strip().lower()


def mfa_reset_record(source, event_type, event_time, actor, uuid, **details):
    """The value the signal rules write to the KV cache (docs/DESIGN.md, "KV cache contract"):
    ``source`` (``Okta`` / ``AWS``), ``event_type``, ``event_time``, ``actor``, ``uuid``, and any
    source-specific ``details`` (strings). Every value is capped; missing ones are null."""
    record = {
        "source": as_str(source, 64),
        "event_type": as_str(event_type, 128),
        "event_time": as_str(event_time, 64),
        "actor": as_str(actor),
        "uuid": as_str(uuid, 128),
    }
    for key, value in details.items():
        record[key] = as_str(value)
    return record


def _reset_expiry(event):
    """Epoch seconds at which a reset stops escalating: event time + ``MFA_RESET_TTL_SECONDS``."""
    try:
        return int(event.event_time_epoch()) + MFA_RESET_TTL_SECONDS
    except Exception:  # noqa: BLE001 - a plain dict or an unparseable time
        return MFA_RESET_TTL_SECONDS  # < 1e9: the cache reads it as "7 days from now"


def remember_mfa_reset(put_dictionary, event, identities_list, record):
    """Write ``record`` under ``tracebit:mfa_reset:<identity>`` for each identity (TTL: the event's
    time + 7 days). ``put_dictionary`` is passed in by the signal rule so pat Mocks can patch it.
    Returns how many keys were written; a cache failure never raises (the signal must survive it)."""
    written = 0
    if not callable(put_dictionary):
        return written
    expires_at = _reset_expiry(event)
    for identity in as_list(identities_list)[:MAX_MFA_WRITES]:
        if not isinstance(identity, str) or not identity.strip():
            continue
        try:
            put_dictionary(mfa_reset_key(identity), record, epoch_seconds=expires_at)
            written += 1
        except Exception:  # noqa: BLE001, PERF203
            continue
    return written


def _parse_record(value):
    """A cached dictionary as a plain dict; a JSON string (pat Mocks) is parsed; empty -> None."""
    if isinstance(value, (str, bytes)):
        if not value.strip():
            return None
        value = json.loads(value)
    if not isinstance(value, Mapping) or not value:
        return None
    return to_plain(value)


def recent_mfa_reset(identities_list, get_dictionary):
    """The recent MFA-reset record for the first identity that has one, else None. Never raises.

    ``get_dictionary`` is ``panther_detection_helpers.caching.get_dictionary`` passed in by the rule
    module (so pat Mocks can patch it). The record gets ``identity`` and ``key`` added. Any exception
    (no AWS access, a bad mock, bad JSON) means no escalation.
    """
    try:
        if not callable(get_dictionary):
            return None
        for identity in as_list(identities_list)[:MAX_MFA_LOOKUPS]:
            if not isinstance(identity, str) or not identity.strip():
                continue
            key = mfa_reset_key(identity)
            record = _parse_record(get_dictionary(key, force_ttl_check=True))
            if record:
                record["identity"] = identity.strip().lower()
                record["key"] = key
                return record
    except Exception:  # noqa: BLE001 - the cache is an enrichment: never break the alert
        return None
    return None


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
    """Tracebit's severity mapped (raised to ``floor``); CRITICAL after a recent MFA reset."""
    if get_dictionary is not None and mfa_record_for_event(event, get_dictionary):
        return "CRITICAL"
    severity = map_severity(safe_get(event, "severity"))
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


def row_text(row, key):
    """A non-empty string column of a scheduled-query row (capped), else None."""
    value = row.get(key)
    return as_str(value) if isinstance(value, str) and value else None


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
# AlertSummary classification
# ----------------------------------------------------------------------------------------------


def is_benign_classification(value):
    """True only for a string classification documented as not malicious (case-insensitive)."""
    if value.__class__ is str:
        if value in _EXACT_BENIGN:  # as Tracebit writes it: one lookup
            return True
        return _remember(("benign", value), lambda: normalise_token(value) in BENIGN_CLASSIFICATIONS)
    return isinstance(value, str) and normalise_token(value) in BENIGN_CLASSIFICATIONS


def is_true_positive_classification(value):
    return isinstance(value, str) and normalise_token(value) in TRUE_POSITIVE_CLASSIFICATIONS


# ----------------------------------------------------------------------------------------------
# Data-model helpers
# ----------------------------------------------------------------------------------------------


def actor_user(event):
    """The principal's user name for the data models: username, first identity, then ids."""
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
