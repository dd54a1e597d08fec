"""The properties the fuzz checks on each ``Rule.run`` result, and the failure it reports.

A rule must never raise or return a non-bool; on a match its title, dedup, severity, runbook,
reference, description, destinations and alert context must not raise; the alert context must
serialise to JSON under Panther's 200 KB limit; titles and dedup strings must fit in 1,000
characters (Panther truncates them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from panther_core.enriched_event import PantherEvent

from tracebit_pack.engine.loaded_rule import LoadedRule

MAX_CONTEXT_CHARS = 200 * 1024  # panther_core MAX_ALERT_CONTEXT_SIZE
MAX_TITLE_CHARS = 1000  # MAX_GENERATED_FIELD_SIZE (title, description, reference, runbook)
MAX_DEDUP_CHARS = 1000  # MAX_DEDUP_STRING_SIZE
TRUNCATED_SUFFIX = "... (truncated)"
AUX_FUNCTIONS = ("title", "dedup", "severity", "runbook", "reference", "description", "destinations")


@dataclass
class Failure:
    rule_id: str
    mode: str  # batch | test
    check: str  # e.g. rule-raised, title-raised, title-too-long, alert_context-too-big
    message: str
    event: Any = field(default=None, repr=False)  # the raw (un-enriched) event or query row

    @property
    def signature(self) -> tuple[str, str, str, str]:
        """(rule, mode, property, exception type): one report per distinct failure."""
        kind = self.message.split(":", 1)[0][:80] if self.check.endswith("-raised") else ""
        return (self.rule_id, self.mode, self.check, kind)

    def to_json(self) -> dict:
        return {
            "rule_id": self.rule_id,
            "mode": self.mode,
            "check": self.check,
            "message": self.message,
            "event": self.event,
        }


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err)[:300]}"


def check_result(loaded: LoadedRule, result: Any, event: PantherEvent, mode: str) -> list[Failure]:
    """The property violations in one ``Rule.run`` result."""
    out: list[Failure] = []
    rule_id = loaded.id

    def fail(check: str, message: str) -> None:
        out.append(Failure(rule_id, mode, check, message))

    if result.setup_exception is not None:
        fail("rule-setup", _describe(result.setup_exception))
        return out
    if result.detection_exception is not None:
        err = result.detection_exception
        check = "rule-not-bool" if type(err).__name__ == "FunctionReturnTypeError" else "rule-raised"
        fail(check, _describe(err))
        return out
    if not isinstance(result.detection_output, bool):
        fail("rule-not-bool", f"rule() returned {type(result.detection_output).__name__}")
    if not result.trigger_alert:
        return out
    for name in (*AUX_FUNCTIONS, "alert_context"):
        err = getattr(result, f"{name}_exception", None)
        if err is not None:
            fail(f"{name}-raised", _describe(err))
    context = result.alert_context_output
    if result.alert_context_defined and context is not None:
        if len(context) > MAX_CONTEXT_CHARS:
            fail("alert_context-too-big", f"{len(context)} characters")
        try:
            parsed = json.loads(context)
        except ValueError as err:
            fail("alert_context-not-json", _describe(err))
        else:
            if isinstance(parsed, dict) and "_error" in parsed and len(parsed) == 1:
                check = (
                    "alert_context-too-big"
                    if "bigger than maximum" in str(parsed["_error"])
                    else ("alert_context-raised")
                )
                fail(check, str(parsed["_error"])[:300])
    for name, limit in (("title", MAX_TITLE_CHARS), ("dedup", MAX_DEDUP_CHARS)):
        value = getattr(result, f"{name}_output", None)
        if isinstance(value, str) and len(value) >= limit and value.endswith(TRUNCATED_SUFFIX):
            raw_length = _raw_length(loaded, name, event)
            fail(f"{name}-too-long", f"{raw_length} characters (Panther truncates at {limit})")
    return out


def _raw_length(loaded: LoadedRule, name: str, event: PantherEvent) -> str:
    function = getattr(loaded.rule.module, name, None)
    try:
        return str(len(function(event)))
    except Exception:  # noqa: BLE001
        return "over 1000"
