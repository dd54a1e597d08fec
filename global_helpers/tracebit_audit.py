"""What a Panther audit log (``Panther.Audit``) did to this pack (GlobalID ``tracebit_audit``).

The pack is meant to be owned by one pipeline: ``pat upload`` from the repository, authenticated
with one API token (``PIPELINE_TOKEN``). This global reads an audit event and says which of the
pack's items (``tracebit_watched_items.PACK_ITEMS``) it touched, what changed, who did it, and whether
that is tampering (deleted, disabled, severity / dedup / threshold / schedule changed, a detection
filter or an action this global does not know) or drift (any other edit outside the pipeline).

Shapes: Panther documents the audit log's fields and its action names, and panther-analysis's
test events show ``DELETE_DETECTION`` with the ids in ``actionParams.dynamic.input.detections[].id``
(older events: ``actionParams.input.detections[].id``). The ``actionParams`` of every other action
are undocumented, so this global does not depend on a path: it finds the pack's ids in any string
of ``actionParams`` (and any ``Tracebit.`` id that is not a log type), and reads the settings next
to the id. An unknown action touching a Tracebit id is tampering (fail safe).
"""

import re
from itertools import repeat

from tracebit_base import MAX_LIST, as_str, clip, raw, safe_get
from tracebit_pivot_templates import AUDIT_IGNORED_ACTIONS, AUDIT_READ_ACTION_PREFIXES
from tracebit_watched_items import PACK_ITEMS

# THE SETTING: the id or the name of the API token the upload workflow authenticates with (an
# audit actor of type TOKEN). Changes made by this token are the pipeline's own; a deletion or a
# disable by it is still reported, at Medium. Name the token so in Panther (Settings > API Tokens),
# or set its id here. Documented in docs/panther-audit.md.
PIPELINE_TOKEN = "tracebit-pack-upload"

# Actions that remove an item, and those that switch it on or off (Panther Audit Log Actions).
DELETE_PREFIX = "DELETE_"
STATE_ACTIONS = ("UPDATE_DETECTION_STATE", "UPDATE_DETECTION_PACK_STATE")
# Edits: their actionParams are undocumented; a setting found next to the id is compared with main.
EDIT_ACTIONS = (
    "CREATE_DATA_MODEL",
    "CREATE_GLOBAL_HELPER",
    "CREATE_POLICY",
    "CREATE_RULE",
    "CREATE_SAVED_DATA_LAKE_QUERY",
    "UPDATE_DATA_MODEL",
    "UPDATE_DETECTION_PACK_SOURCE",
    "UPDATE_GLOBAL_HELPER",
    "UPDATE_POLICY",
    "UPDATE_RULE",
    "UPDATE_SAVED_DATA_LAKE_QUERY",
    "UPLOAD_DETECTION_ENTITIES",
)
# A detection filter on a Tracebit detection can silence it: tampering whatever its content.
FILTER_MARK = "DETECTION_FILTER"

# The log types (also the id of Panther's managed rule Tracebit.Alert, which the README says to
# disable): a ``Tracebit.`` string that names one of them is not an item of this pack.
LOG_TYPE_IDS = ("Tracebit.Alert", "Tracebit.AlertSummary", "Tracebit.HealthCheck")
_TRACEBIT_ID = re.compile(r"(?<![A-Za-z0-9_.])Tracebit\.[A-Za-z0-9_.]*[A-Za-z0-9_]", re.IGNORECASE)

SEVERITIES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
# setting -> the actionParams keys that carry it (case-insensitive; GraphQL and REST spellings).
SETTING_KEYS = {
    "severity": ("severity",),
    "dedup": ("dedupPeriodMinutes", "dedupPeriodInMinutes"),
    "threshold": ("threshold",),
}
SCHEDULE_KEYS = {
    "rate_minutes": ("rateMinutes",),
    "cron_expression": ("cronExpression",),
    "timeout_minutes": ("timeoutMinutes",),
    "lookback_window_minutes": ("lookbackWindowMinutes",),
}
TAMPER_WORDS = ("deleted", "disabled", "severity", "dedup", "threshold", "schedule", "filter", "unknown")

REMEDY = (
    "Bring the pack back to main: re-run the upload (the panther-upload workflow, or `make upload` "
    "with the pipeline's token). If the change is wanted, make it in a pull request instead, so "
    "that main holds it and the next upload keeps it."
)

MAX_NODES = 2000  # values walked in one actionParams (strings and containers): bounds odd logs
MAX_DEPTH = 12  # nested mappings walked into
MAX_TEXT = 999  # Panther keeps 1,000 characters of a title or a dedup string


def ids_in(text):
    """The pack ids a string names: itself when it is one, else the ``Tracebit.`` ids inside it."""
    if text in PACK_ITEMS:
        return [text]
    out = []
    if "tracebit" in text.lower():
        for match in _TRACEBIT_ID.findall(text):
            if match not in LOG_TYPE_IDS:
                out.append(match)
    return out


def touched_items(params):
    """``{id: (enclosing mappings, innermost first)}`` for every pack id named by a string of
    ``params``: depth first, at most ``MAX_NODES`` values and ``MAX_DEPTH`` mappings deep.

    Every audit event of a change is walked, and most name no item of this pack: a value carries
    only the index of its innermost mapping (``parents``), and the chain of mappings is built once
    per mapping, for the strings that name an item (ids listed together share one chain object).
    """
    touched = {}
    parents = []  # per mapping walked: (mapping, index of the mapping around it or -1, its depth)
    chains = {}
    stack = [(raw(params), -1)]
    seen = 0
    while stack and seen < MAX_NODES:
        value, parent = stack.pop()
        seen += 1
        kind = value.__class__
        if kind is not str and kind is not dict and kind is not list:  # a subclass, or a scalar
            kind = next((k for k in (str, dict, list) if isinstance(value, k)), None)
        if kind is str:
            ids = ids_in(value)
            if ids:
                chain = chains.get(parent)
                if chain is None:
                    chain = chains[parent] = _chain(parents, parent)
                for item_id in ids:
                    touched.setdefault(item_id, chain)
        elif kind is dict:
            depth = parents[parent][2] + 1 if parent >= 0 else 1
            if depth <= MAX_DEPTH:
                parents.append((value, parent, depth))
                stack.extend(zip(reversed(value.values()), repeat(len(parents) - 1)))
        elif kind is list:
            stack.extend(zip(reversed(value), repeat(parent)))
    return touched


def _chain(parents, index):
    """The mappings from ``parents[index]`` outwards: a value's enclosing mappings, innermost first."""
    chain = []
    while index >= 0:
        mapping, index, _ = parents[index]
        chain.append(mapping)
    return tuple(chain)


def _nearest(read, keys):
    """The value of the first of ``keys`` in the innermost mapping that has one, else None
    (``read``: ``_read_settings`` of each mapping, innermost first)."""
    for values in read:
        for key in keys:
            value = values[key]
            if value is not None:
                return value
    return None


def _falsy(value):
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _truthy(value):
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _severity_change(value, deployed):
    new = str(value).strip().upper()
    old = str(deployed or "").upper()
    if new == old:
        return None
    if new in SEVERITIES and old in SEVERITIES:
        word = "lowered" if SEVERITIES.index(new) < SEVERITIES.index(old) else "raised"
        return f"severity {word} {old} -> {new}"
    return f"severity set to {clip(new)}"


def _number_change(name, value, deployed):
    if str(value).strip() == str(deployed):
        return None
    return f"{name} {deployed if deployed is not None else '?'} -> {clip(value)}"


# Every key a mapping around an id is read for, and the same lower-cased (keys match in any case).
SETTING_NAMES = (
    "enabled",
    "disabled",
    "schedule",
    *(key for keys in SETTING_KEYS.values() for key in keys),
    *(key for keys in SCHEDULE_KEYS.values() for key in keys),
)
_LOWER_SETTING_NAMES = frozenset(name.lower() for name in SETTING_NAMES)


def _read_settings(mapping):
    """``{name: safe_get(mapping, name)}`` for every name of ``SETTING_NAMES``, in one pass over the
    mapping's keys: an exact key first, else the last key equal to it in any case."""
    spelled = {}
    for name in mapping:
        lowered = name.lower() if name.__class__ is str else None
        if lowered in _LOWER_SETTING_NAMES:
            spelled[lowered] = name
    read = {}
    for name in SETTING_NAMES:
        if name in mapping:
            read[name] = mapping[name]
        else:
            other = spelled.get(name.lower())
            read[name] = None if other is None else mapping[other]
    return read


def chain_settings(chain):
    """The settings the mappings around an id carry, nearest first: read once per chain, as the
    ids listed together (an upload's ``analysisIds``) share their mappings."""
    read = [_read_settings(mapping) for mapping in chain]
    # A schedule may sit in its own mapping next to the id (a scheduled query's "schedule").
    timing = [_read_settings(values["schedule"]) for values in read if isinstance(values["schedule"], dict)]
    found = {
        "disabled": (
            _falsy(_nearest(read, ("enabled",)))
            or _truthy(_nearest(read, ("disabled",)))
            or _truthy(_nearest(timing, ("disabled",)))
        )
    }
    for name, keys in SETTING_KEYS.items():
        found[name] = _nearest(read, keys)
    for name, keys in SCHEDULE_KEYS.items():
        found[f"schedule {name}"] = _nearest(timing + read, keys)
    return found


def setting_changes(item_id, found):
    """What the mappings around an id set (``found``: their ``chain_settings``) differently from
    main (``PACK_ITEMS``), as phrases."""
    deployed = PACK_ITEMS.get(item_id, {})
    changes = []
    if found["disabled"]:
        changes.append("disabled")
    severity = found["severity"]
    if isinstance(severity, str):
        change = _severity_change(severity, deployed.get("severity"))
        if change:
            changes.append(change)
    for name in ("dedup", "threshold"):
        value = found[name]
        if value is not None and not isinstance(value, (dict, list)):
            change = _number_change(name, value, deployed.get(name))
            if change:
                changes.append(change)
    schedule = deployed.get("schedule", {})
    for name in SCHEDULE_KEYS:
        value = found[f"schedule {name}"]
        if value is not None and not isinstance(value, (dict, list)):
            change = _number_change(f"schedule {name}", value, schedule.get(name))
            if change:
                changes.append(change)
    return changes


def action_of(event):
    return (as_str(safe_get(event, "actionName")) or "").upper()


def is_pipeline(event):
    """True when the actor is the pipeline's API token (type TOKEN, id or name ``PIPELINE_TOKEN``)."""
    if (as_str(safe_get(event, "actor", "type")) or "").upper() != "TOKEN":
        return False
    names = (as_str(safe_get(event, "actor", "id")), as_str(safe_get(event, "actor", "name")))
    return PIPELINE_TOKEN in names


def is_ignored(event, action=None):
    """A read, alert triage or replay action, or a failed attempt: nothing changed (``action``:
    the event's ``action_of``, when the caller has it)."""
    if action is None:
        action = action_of(event)
    if action in AUDIT_IGNORED_ACTIONS or action.startswith(AUDIT_READ_ACTION_PREFIXES):
        return True
    return (as_str(safe_get(event, "actionResult")) or "").upper() == "FAILED"


def item_changes(event, removals_only=False):
    """``{id: [change phrases]}`` of every pack item the event touched (empty: none, or ignored).

    ``removals_only``: only the phrases "deleted" and "disabled" (an item left on gets none), which
    is all that can make the pipeline's own change worth an alert.
    """
    action = action_of(event)
    return {} if is_ignored(event, action) else _changes(event, action, removals_only)


def _changes(event, action, removals_only):
    """``item_changes`` of an event already known not to be ignored (``action``: its ``action_of``)."""
    out = {}
    read = {}  # id(chain) -> chain_settings(chain): the chains live as long as ``touched``
    touched = touched_items(safe_get(event, "actionParams"))
    for item_id, chain in touched.items():
        if action.startswith(DELETE_PREFIX):
            out[item_id] = ["deleted"]
            continue
        if FILTER_MARK in action:
            out[item_id] = [] if removals_only else ["filter added or changed (detection filter)"]
            continue
        if id(chain) not in read:
            read[id(chain)] = chain_settings(chain)
        if removals_only:
            out[item_id] = ["disabled"] if read[id(chain)]["disabled"] else []
            continue
        changes = setting_changes(item_id, read[id(chain)])
        if action not in STATE_ACTIONS and action not in EDIT_ACTIONS:
            changes.append(f"unknown action {clip(action) or '(none)'}")
        elif not changes:
            changes = ["enabled" if action in STATE_ACTIONS else "edited"]
        out[item_id] = changes
    return out


def _is_tampering(changes):
    return any(phrase.startswith(TAMPER_WORDS) for phrase in changes)


def assess(event):
    """The verdict on one audit event: None (nothing to report) or a dict for the alert.

    Tampering by anyone but the pipeline is CRITICAL; the pipeline deleting or disabling an item is
    MEDIUM (it should have been reviewed); an edit outside the pipeline is drift, MEDIUM; anything
    else the pipeline does is its job.
    """
    action = action_of(event)
    if is_ignored(event, action):
        return None
    pipeline = is_pipeline(event)
    # The pipeline's uploads touch every item: first the cheap question whether any was removed.
    if pipeline and not any(_changes(event, action, removals_only=True).values()):
        return None
    changes = _changes(event, action, removals_only=False)
    if not changes:
        return None
    every = [phrase for phrases in changes.values() for phrase in phrases]
    tampering = _is_tampering(every)
    if pipeline:
        return {"kind": "tampering", "severity": "MEDIUM", "changes": changes, "pipeline": True}
    kind = "tampering" if tampering else "drift"
    severity = "CRITICAL" if tampering else "MEDIUM"
    return {"kind": kind, "severity": severity, "changes": changes, "pipeline": False}


def actor_label(event):
    """``USER Homer Simpson`` / ``TOKEN tracebit-pack-upload``: type and the most readable name."""
    kind = as_str(safe_get(event, "actor", "type")) or "unknown actor"
    name = (
        as_str(safe_get(event, "actor", "attributes", "email"))
        or as_str(safe_get(event, "actor", "name"))
        or as_str(safe_get(event, "actor", "id"))
        or "(no id)"
    )
    return f"{clip(kind)} {clip(name)}"


def _summary(changes):
    parts = [f"{clip(item_id)} ({', '.join(phrases)})" for item_id, phrases in changes.items()]
    if len(parts) > 3:
        parts = [*parts[:3], f"+{len(parts) - 3} more"]
    return "; ".join(parts)


def audit_title(event):
    verdict = assess(event)
    if verdict is None:
        return "Tracebit pack: no change"
    word = "tampering" if verdict["kind"] == "tampering" else "drift from main"
    title = (
        f"Tracebit pack {word}: {actor_label(event)} {clip(action_of(event))} {_summary(verdict['changes'])}"
    )
    return clip(title, MAX_TEXT)


def audit_dedup(event):
    verdict = assess(event) or {"changes": {}}
    actor = as_str(safe_get(event, "actor", "id")) or "unknown"
    items = ",".join(sorted(verdict["changes"]))
    return clip(f"tracebit-audit:{actor}:{action_of(event)}:{items}", MAX_TEXT)


def audit_severity(event):
    verdict = assess(event)
    return verdict["severity"] if verdict else "INFO"


def audit_context(event):
    """The alert context: actor, action, items and changes, whether the shape is documented, remedy."""
    verdict = assess(event) or {"kind": None, "changes": {}, "pipeline": is_pipeline(event)}
    changes = dict(list(verdict["changes"].items())[:MAX_LIST])
    action = action_of(event)
    return {
        "change_kind": verdict["kind"],
        "action": action or None,
        "action_result": as_str(safe_get(event, "actionResult")),
        "actor_id": as_str(safe_get(event, "actor", "id")),
        "actor_name": as_str(safe_get(event, "actor", "name")),
        "actor_type": as_str(safe_get(event, "actor", "type")),
        "actor_email": as_str(safe_get(event, "actor", "attributes", "email")),
        "actor_is_pipeline": verdict["pipeline"],
        "pipeline_token": PIPELINE_TOKEN,
        "items": sorted(changes),
        "changes": changes,
        "item_kinds": {item_id: PACK_ITEMS.get(item_id, {}).get("kind", "unknown") for item_id in changes},
        "documented_shape": action == "DELETE_DETECTION",
        "source_ip": as_str(safe_get(event, "sourceIP")),
        "user_agent": as_str(safe_get(event, "userAgent")),
        "audit_time": as_str(safe_get(event, "timestamp")),
        "remedy": REMEDY,
    }
