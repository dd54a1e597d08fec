"""A rule item as the offline engine runs it: its settings, its panther_core rule, one result.

``RuleSettings`` is the one reading of a rule's YAML settings (severity, dedup period, threshold,
create alert): the alert grouping and the panther_core rule config both come from it, so they
cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from panther_core.rule import Rule

from tracebit_pack.engine.simple_rules import build_rule
from tracebit_pack.pack.items import AnalysisItem

SEVERITIES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
DEFAULT_DEDUP_PERIOD_MINUTES = 60


def default_dedup(rule_id: str) -> str:
    """The dedup string Panther uses when a rule has no ``dedup()``."""
    return f"defaultDedupString:{rule_id}"


@dataclass(frozen=True)
class RuleSettings:
    """The alerting settings of one rule (from its YAML), with Panther's defaults."""

    dedup_period_minutes: int = DEFAULT_DEDUP_PERIOD_MINUTES
    threshold: int = 1
    create_alert: bool = True
    severity: str = "INFO"

    @classmethod
    def from_spec(cls, spec: Mapping) -> RuleSettings:
        period = spec.get("DedupPeriodMinutes")
        threshold = spec.get("Threshold")
        return cls(
            dedup_period_minutes=period
            if isinstance(period, int) and period > 0
            else DEFAULT_DEDUP_PERIOD_MINUTES,
            threshold=threshold if isinstance(threshold, int) and threshold > 0 else 1,
            create_alert=bool(spec.get("CreateAlert", True)),
            severity=str(spec.get("Severity", "Info")).upper(),
        )


@dataclass
class RuleResult:
    """The outcome of one rule on one event (Panther production semantics, batch mode)."""

    rule_id: str
    matched: bool
    title: str | None = None
    dedup: str | None = None
    severity: str | None = None
    alert_context: dict = field(default_factory=dict)
    destinations: list[str] | None = None  # destinations() output; ["SKIP"] when it returned []
    create_alert: bool = True
    error: str | None = None
    event_time: str | None = None  # p_event_time of the event
    arrival_time: str | None = None  # when Panther ran the rule on it: p_parse_time, or the scheduled run
    log_type: str | None = None
    event: Mapping | None = field(default=None, repr=False)

    @property
    def dedup_string(self) -> str:
        """The dedup string alerts are grouped by: the rule's, else Panther's default."""
        return self.dedup or default_dedup(self.rule_id)


def rule_config(item: AnalysisItem) -> dict:
    """The panther_core ``Rule`` config of a rule item (ID, type, severity, dedup, tags)."""
    settings = RuleSettings.from_spec(item.spec)
    config: dict[str, Any] = {
        "id": item.id,
        "versionId": "0000-0000-0000",
        "analysisType": item.spec["AnalysisType"].upper(),
        "severity": settings.severity,
        "tags": list(item.spec.get("Tags") or []),
        "suppressAlert": not settings.create_alert,
    }
    if isinstance(item.spec.get("DedupPeriodMinutes"), int):
        config["dedupPeriodMinutes"] = settings.dedup_period_minutes
    return config


def load_rule(item: AnalysisItem) -> Rule:
    """The panther_core rule for a rule item: Python body, InlineFilters and Simple Detections.

    Raises ``simple_rules.NotEvaluated`` (with the reason) for what cannot be evaluated offline.
    """
    return build_rule(item, rule_config(item))


@dataclass
class LoadedRule:
    """A rule item, its panther_core rule and its settings (read once, at load)."""

    item: AnalysisItem
    rule: Rule
    settings: RuleSettings = field(init=False)

    def __post_init__(self) -> None:
        self.settings = RuleSettings.from_spec(self.item.spec)

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def spec(self) -> dict:
        return self.item.spec

    @property
    def display_name(self) -> str:
        return str(self.spec.get("DisplayName") or self.id)
