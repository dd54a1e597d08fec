"""The KV-cache contract between the MFA signal rules and the Tracebit alert rules
(GlobalID ``tracebit_mfa_cache``; docs/DESIGN.md, "KV cache contract").

Defined here and nowhere else: the key (``MFA_RESET_KEY_PREFIX`` + the lower-cased identity), its
lifetime (``MFA_RESET_TTL_SECONDS`` after the reset happened), the record shape
(``mfa_reset_record``), the one writer both MFA signal rules call (``remember_mfa_reset``: Okta and
AWS), the reader the Tracebit alert rules call (``recent_mfa_reset``), and how a record reads in a
title (``mfa_reset_phrase``, ``mfa_title_suffix``). The rules pass ``put_dictionary`` /
``get_dictionary`` in, so that pat Mocks can patch them; a cache failure never raises.
"""

import json
from collections.abc import Mapping

from tracebit_base import as_list, as_str, clip, to_plain

MFA_RESET_KEY_PREFIX = "tracebit:mfa_reset:"
MFA_RESET_TTL_SECONDS = 7 * 24 * 3600  # a reset escalates Tracebit alerts for 7 days after it happened
MAX_MFA_WRITES = 10  # identities one reset event writes to the KV cache
MAX_MFA_LOOKUPS = 5  # identities looked up in the KV cache per alert
MFA_SOURCE_OKTA = "Okta"
MFA_SOURCE_AWS = "AWS"


def mfa_reset_key(identity):
    """The KV-cache key for an identity's recent MFA reset: the prefix + the lower-cased identity."""
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
    """Write ``record`` under ``mfa_reset_key(identity)`` for each identity (TTL: the event's
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


def mfa_reset_phrase(source, event_type):
    """``Okta user.mfa.factor.deactivate`` / ``AWS DeactivateMFADevice``: one wording for every title
    that names an MFA or password reset (a record without a source was written by the Okta signal)."""
    what = clip(as_str(event_type, 128))
    if not what:
        return "an MFA reset"
    return f"{as_str(source, 64) or MFA_SOURCE_OKTA} {what}"  # as_str keeps 64 characters at most


def mfa_title_suffix(record):
    """Title suffix for an escalated alert: whose MFA was reset, and when."""
    if not record:
        return ""
    who = clip(as_str(record.get("identity")) or "the principal")
    phrase = mfa_reset_phrase(record.get("source"), record.get("event_type"))
    when = clip(as_str(record.get("event_time")), 40)
    return f" after {phrase} for {who}" + (f" at {when}" if when else "")
