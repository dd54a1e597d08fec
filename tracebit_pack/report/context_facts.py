"""An alert's key context as short labelled facts, for the terminal report and the HTML report.

Why one module: the analyst must read the same facts (who reset the MFA, the operation, the
classification, the surge figures ...) whichever report they open. Values are never cut
mid-value (lists are capped by item) and times are shown in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracebit_pack.times import shown_time as _ts

KEY_CONTEXT = (
    ("principal", ("principal_arn", "principal_id")),
    ("identities", ("identities",)),
    ("canaries", ("canary_names",)),
    ("source IPs", ("source_ips",)),
    ("operation", ("event_operation",)),
    ("classification", ("classification",)),
    ("recent MFA reset", ("recent_mfa_reset",)),
    ("Okta reset", ("okta_reset",)),
    ("CloudTrail change", ("cloudtrail_event",)),
    ("window requests", ("window_requests",)),
    ("baseline/day", ("baseline_daily_avg",)),
    ("surge bucket", ("surge_bucket",)),
    ("surge window", ("surge_window_start",)),
    ("busiest hour", ("surge_busiest_hour",)),
    ("matched on", ("match",)),
    ("reset", ("reset_event_type",)),
)
MAX_LIST_ITEMS = 10


def mfa_text(record: Mapping) -> str:
    """An MFA / password reset record (KV cache, Okta or CloudTrail side) as one sentence, in full."""
    source = record.get("source") or ("AWS" if record.get("event_name") else "Okta")
    what = record.get("event_type") or record.get("event_name") or "an MFA reset"
    parts = [f"{source} {what}"]
    if record.get("identity"):
        parts.append(f"for {record['identity']}")
    if record.get("event_time"):
        parts.append(f"at {_ts(str(record['event_time']))}")
    if record.get("actor"):
        parts.append(f"by {record['actor']}")
    ident = record.get("uuid") or record.get("event_id")
    return " ".join(parts) + (f" (event {ident})" if ident else "")


def value_text(key: str, value: Any) -> str:
    """A context value for the report: never cut mid-value (lists are capped by item, not by
    character), timestamps in UTC."""
    if isinstance(value, Mapping) and key in {"recent_mfa_reset", "okta_reset", "cloudtrail_event"}:
        return mfa_text(value)
    if isinstance(value, list):
        shown = ", ".join(value_text(key, v) for v in value[:MAX_LIST_ITEMS])
        more = len(value) - MAX_LIST_ITEMS
        return shown + (f" +{more} more" if more > 0 else "")
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={value_text(k, v)}" for k, v in value.items() if v not in (None, "", [], {}))
    return _ts(str(value))


def context_facts(context: Mapping) -> list[tuple[str, str]]:
    """``(label, text)`` for each ``KEY_CONTEXT`` entry the alert context holds, in that order."""
    facts = []
    for label, keys in KEY_CONTEXT:
        for key in keys:
            value = context.get(key)
            if value not in (None, "", [], {}):
                text = value_text(key, value)
                if key == "surge_window_start" and context.get("surge_window_end"):
                    text += f" to {_ts(str(context['surge_window_end']))}"
                facts.append((label, text))
                break
    return facts
