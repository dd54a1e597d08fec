"""The KV-cache contract of the Tracebit alerts the pack has raised (GlobalID ``tracebit_alert_cache``;
docs/DESIGN.md, "KV cache contract"; docs/paging.md says who pages and why).

Defined here and nowhere else, two kinds of Panther KV string sets:

* **Recent activity** (``recent_key(kind, value)``: ``tracebit:recent:ip:<ip>`` and
  ``tracebit:recent:identity:<identity>``): every Tracebit alert adds ``alert=<alert_id>@<epoch>``
  and ``canary=<canary>@<epoch>``; ``REPEAT_WINDOW_SECONDS`` (24 h) around the alert, two alert_ids
  or two canaries under one key are a repeat, which escalates the alert to Critical
  (``remember_activity``).
* **Alert state** (``alert_key(alert_id)``: ``tracebit:alert:<alert_id>``): an alert log adds
  ``log``, and ``mfa=<identity>`` when the log that raised the alert was escalated on that
  identity's MFA reset; kept for
  ``ALERT_STATE_SECONDS`` (the alert rules' dedup period). The summary rule reads it to know whether
  the alert already paged, and the scheduled MFA rules whether the MFA fact already paged.

``add_to_string_set`` is atomic in DynamoDB (``ADD``), so concurrent alert logs never lose an entry.
Rules pass the caching functions in, so that pat Mocks can patch them; a cache failure never raises.
"""

import json
from collections.abc import Mapping

from tracebit_base import as_list, as_str, clip

RECENT_KEY_PREFIX = "tracebit:recent:"
ALERT_KEY_PREFIX = "tracebit:alert:"
REPEAT_WINDOW_HOURS = 24  # several alerts or canaries from one IP / identity within 24 h
REPEAT_WINDOW_SECONDS = REPEAT_WINDOW_HOURS * 3600
ALERT_STATE_SECONDS = 1440 * 60  # = DedupPeriodMinutes of the alert-log rules
REPEAT_MIN = 2  # distinct alert_ids or canaries under one key that make a repeat
MAX_KEYS_PER_KIND = 3  # IPs and identities recorded per alert
MAX_ENTRIES_READ = 500  # entries of one set considered (a set is pruned to the window anyway)
MAX_LISTED = 10  # alert_ids / canaries listed per key in the alert context
LOG_SEEN = "log"
MFA_PAGED_PREFIX = "mfa="


def recent_key(kind, value):
    """``tracebit:recent:<kind>:<value lower-cased>`` (kind: ``ip`` or ``identity``)."""
    return f"{RECENT_KEY_PREFIX}{kind}:{str(value).strip().lower()}"


def alert_key(alert_id):
    """``tracebit:alert:<alert_id>``: what the pack did with one Tracebit alert."""
    return ALERT_KEY_PREFIX + str(alert_id).strip()


def parse_string_set(value):
    """A cached string set as a Python set: a set or list as stored, a JSON list (pat Mocks), or
    empty for '' / None / anything else."""
    if isinstance(value, (str, bytes)):
        if not value.strip():
            return set()
        try:
            value = json.loads(value)
        except ValueError:
            return set()
    if isinstance(value, (Mapping, str)) or value is None:
        return set()
    try:
        return {item for item in value if isinstance(item, str)}
    except TypeError:
        return set()


def _entry(kind, value, epoch):
    return f"{kind}={value}@{int(epoch)}"


# entry text -> _parse_entry(text): every alert of a burst reads the same entries again.
_PARSED = {}
_PARSED_MAX = 4096


def _parsed_entry(text):
    """``_parse_entry(text)``, remembered in the bounded ``_PARSED`` table."""
    if text in _PARSED:
        return _PARSED[text]
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    parsed = _PARSED[text] = _parse_entry(text)
    return parsed


def _parse_entry(text):
    """``(kind, value, epoch)`` of ``<kind>=<value>@<epoch>``; None for anything else."""
    kind, sep, rest = text.partition("=")
    value, at, epoch = rest.rpartition("@")
    if not sep or not at or not value or not epoch.isdigit():
        return None
    return kind, value, int(epoch)


def _canary_id(canary):
    return as_str(canary.get("name") or canary.get("tracebit_id") or canary.get("provider_id"), 256)


def _summarise(entries, epoch):
    """Distinct alert_ids and canaries within the window of ``epoch``, and the stale entries."""
    alerts, canaries, stale = [], [], []
    for text in sorted(entries)[:MAX_ENTRIES_READ]:
        parsed = _parsed_entry(text)
        if parsed is None:
            continue
        kind, value, when = parsed
        if epoch and when < epoch - REPEAT_WINDOW_SECONDS:
            stale.append(text)
            continue
        if abs(when - epoch) > REPEAT_WINDOW_SECONDS:
            continue
        target = alerts if kind == "alert" else canaries if kind == "canary" else None
        if target is not None and value not in target:
            target.append(value)
    return alerts, canaries, stale


def remember_activity(add_to_string_set, remove_from_string_set, epoch, *, alert_id, canary_list, keys):
    """Record this alert under each ``(kind, value)`` of ``keys`` and return the repeats found.

    Each repeat is ``{kind, value, alert_ids, canaries, window_hours}`` for a key that now holds at
    least ``REPEAT_MIN`` alert_ids or canaries within 24 h of ``epoch``. Stale entries are removed.
    Never raises: a cache failure means no repeat.
    """
    entries = []
    if alert_id:
        entries.append(_entry("alert", alert_id, epoch))
    for canary in as_list(canary_list)[:MAX_LISTED]:
        name = _canary_id(canary) if isinstance(canary, Mapping) else None
        if name:
            entries.append(_entry("canary", name, epoch))
    repeats = []
    if not entries or not callable(add_to_string_set):
        return repeats
    for kind, value in keys:
        try:
            stored = parse_string_set(
                add_to_string_set(
                    recent_key(kind, value), entries, epoch_seconds=epoch + REPEAT_WINDOW_SECONDS
                )
            )
            alerts, canaries, stale = _summarise(stored, epoch)
            if stale and callable(remove_from_string_set):
                remove_from_string_set(recent_key(kind, value), stale, epoch_seconds=None)
        except Exception:  # noqa: BLE001, PERF203 - the cache is an enrichment
            continue
        if len(alerts) >= REPEAT_MIN or len(canaries) >= REPEAT_MIN:
            repeats.append(
                {
                    "kind": kind,
                    "value": value,
                    "alert_ids": alerts[:MAX_LISTED],
                    "canaries": canaries[:MAX_LISTED],
                    "window_hours": REPEAT_WINDOW_HOURS,
                }
            )
    return repeats


def activity_keys(ips, identities):
    """The ``(kind, value)`` keys one alert is recorded under: its IPs, then its identities."""
    keys = [("ip", ip) for ip in as_list(ips) if isinstance(ip, str) and ip.strip()][:MAX_KEYS_PER_KIND]
    keys += [("identity", i) for i in as_list(identities) if isinstance(i, str) and i.strip()][
        :MAX_KEYS_PER_KIND
    ]
    return keys


def remember_alert_log(add_to_string_set, epoch, alert_id, mfa_identity=None):
    """Mark ``alert_id`` as raised by an alert log (and as paged on ``mfa_identity``'s MFA reset).
    Returns True when written; never raises."""
    if not alert_id or not callable(add_to_string_set):
        return False
    entries = [LOG_SEEN] + ([MFA_PAGED_PREFIX + str(mfa_identity).strip().lower()] if mfa_identity else [])
    try:
        add_to_string_set(alert_key(alert_id), entries, epoch_seconds=epoch + ALERT_STATE_SECONDS)
    except Exception:  # noqa: BLE001
        return False
    return True


def alert_state(get_string_set, alert_id):
    """The alert-state set of ``alert_id``; None when it cannot be read (no id, a cache failure)."""
    if not alert_id or not callable(get_string_set):
        return None
    try:
        return parse_string_set(get_string_set(alert_key(alert_id), force_ttl_check=True))
    except Exception:  # noqa: BLE001
        return None


def alert_log_seen(state):
    """An alert log of this alert_id raised an alert within the dedup period."""
    return bool(state) and LOG_SEEN in state


def mfa_paged_for(state, identity):
    """This alert_id already paged on an MFA reset of ``identity``."""
    return bool(state) and bool(identity) and (MFA_PAGED_PREFIX + str(identity).strip().lower()) in state


def repeat_title_suffix(repeats):
    """`` (repeat: 3 Tracebit alerts, 2 canaries from IP 1.2.3.4 in 24 h)`` for the first repeat."""
    if not repeats:
        return ""
    first = repeats[0]
    what = []
    if len(first["alert_ids"]) >= REPEAT_MIN:
        what.append(f"{len(first['alert_ids'])} Tracebit alerts")
    if len(first["canaries"]) >= REPEAT_MIN:
        what.append(f"{len(first['canaries'])} canaries")
    who = "IP" if first["kind"] == "ip" else "identity"
    return f" (repeat: {', '.join(what)} from {who} {clip(first['value'])} in {first['window_hours']} h)"
