"""Safe field access and conversion for the Tracebit pack (GlobalID ``tracebit_base``).

Every other Tracebit global builds on these: they take a Panther event (a ``PantherEvent``: an
immutable, case-insensitive mapping whose nested values may be ``ImmutableCaseInsensitiveDict`` /
``ImmutableList``), a scheduled-query row or a plain dict, never raise on a missing, null or oddly
typed field, and return plain Python (dict / list / str / number / None), so results are
JSON-serialisable. The caps (``MAX_STR``, ``MAX_LIST``, ``TITLE_PART``) live here so that every
topic global cuts log values the same way.
"""

import math
import re
from collections.abc import Mapping, Sequence

MAX_LIST = 50  # every list in the alert context is capped at this many entries
MAX_STR = 1024  # longest string kept from a log field
TITLE_PART = 160  # longest log value placed in a title (principal, canary, classification, ...)

_NON_ALNUM_RE = re.compile(r"[^a-z0-9]")  # what normalise_token removes


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
    if obj.__class__ is dict:  # already plain: the commonest case, and no attribute lookup to miss
        return obj
    try:  # a PantherEvent, as the rules are given: one attribute lookup and one call
        return obj.raw_view()
    except AttributeError:  # any other object is its own data
        return obj


# id(mapping) -> (mapping, {lower-cased key: key}). Events are immutable, so a mapping's key map
# never changes; the strong reference keeps an id from being reused while its entry lives.
_LOWER_KEYS = {}
_LOWER_KEYS_MAX = 256
_SCANNED_KEYS = 4  # a mapping with at most this many keys is scanned, not mapped and cached


def get_case_insensitive(mapping, key):
    """``mapping[key]`` matched case-insensitively, as PantherEvent does; None if absent (the last
    key equal to ``key`` in any case wins)."""
    if key.__class__ is not str:
        return None
    lowered = key.lower()
    if len(mapping) <= _SCANNED_KEYS:  # a few keys: comparing them costs less than a key map
        name = None
        for candidate in mapping:
            if candidate.__class__ is str and candidate.lower() == lowered:
                name = candidate
        return None if name is None else mapping.get(name)
    entry = _LOWER_KEYS.get(id(mapping))
    if entry is None or entry[0] is not mapping:
        if len(_LOWER_KEYS) >= _LOWER_KEYS_MAX:
            _LOWER_KEYS.clear()
        entry = (mapping, {name.lower(): name for name in mapping if name.__class__ is str})
        _LOWER_KEYS[id(mapping)] = entry
    name = entry[1].get(lowered)
    return None if name is None else mapping.get(name)


def safe_get(obj, *keys, default=None):
    """Walk nested mappings; any non-mapping step, missing key or null gives ``default``."""
    obj = raw(obj)
    for key in keys:
        if obj.__class__ is dict:
            found = obj.get(key)
            if found is None and key not in obj:
                found = get_case_insensitive(obj, key)
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


def clip(text, limit=TITLE_PART):
    """``text`` cut to ``limit`` characters with an ellipsis: log values stay readable in titles."""
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def row_text(row, key):
    """A non-empty string column of a scheduled-query row (capped), else None."""
    value = row.get(key)
    return as_str(value) if isinstance(value, str) and value else None


def row_number(row, key):
    """A numeric column of a scheduled-query row (``as_number``), else None."""
    return as_number(row.get(key))


def normalise_token(value):
    """Lower-case letters and digits only ("Benign_Positive" -> "benignpositive"); '' if not a str."""
    if not isinstance(value, str):
        return ""
    return _NON_ALNUM_RE.sub("", value.lower())


def dedupe(values):
    """``values`` without None and repeats, in first-seen order."""
    seen = set()
    out = []
    for value in values:
        if value is None or value in seen:
            continue
        seen.add(value)
        out.append(value)
    return out
