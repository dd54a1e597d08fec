"""Panther.Audit through the whole offline pipeline: the bundled scenarios that carry audit logs."""

from __future__ import annotations

from pathlib import Path

import yaml

from tracebit_pack.replay import replay

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def expected(name: str) -> dict:
    return yaml.safe_load((SCENARIOS / name / "expected.yml").read_text())


def test_detection_tampering_raises_exactly_the_expected_alerts():
    """Console changes to the pack, then a canary alert: each change and the correlation are Critical."""
    report = replay(SCENARIOS / "detection_tampering")
    spec = expected("detection_tampering")
    assert report.alert_counts() == spec["alerts"]
    assert report.rule_errors == {}
    for alert in report.alerts:
        assert alert.severity == spec["severity"][alert.rule_id], alert.title
    changes = sorted(
        (a.alert_context["items"][0], a.alert_context["changes"][a.alert_context["items"][0]][0])
        for a in report.alerts
        if a.rule_id == "Tracebit.Audit.PackChanged"
    )
    assert changes == [
        ("Tracebit.CanaryPrincipalGetObjectSurge", "disabled"),
        ("Tracebit.CanaryResourceAccessed", "severity lowered HIGH -> INFO"),
        ("Tracebit.Correlation.OktaMFAReset.CanaryResourceAccessed", "deleted"),
    ]
    assert all(
        a.alert_context["actor_email"] == "contractor.lee@acme.com"
        for a in report.alerts
        if a.rule_id == "Tracebit.Audit.PackChanged"
    )


def test_the_canary_alert_carries_who_changed_the_pack_before_it():
    """The pivot of item 4 runs on the lake's panther_audit table at the canary alert's time."""
    report = replay(SCENARIOS / "detection_tampering")
    pivots = {p.query: p for p in report.pivots}
    changes = pivots["Tracebit.Pivot.PackChangesBeforeAlert"]
    assert changes.error is None
    assert [(r["action"], r["actor_type"]) for r in changes.rows] == [
        ("UPLOAD_DETECTION_ENTITIES", "TOKEN"),
        ("UPDATE_RULE", "USER"),
        ("UPDATE_DETECTION_STATE", "USER"),
        ("DELETE_DETECTION", "USER"),
    ]  # reads, and the deletion of AWS.CloudTrail.Stopped, are not changes to the pack


def test_benign_baseline_audit_log_raises_nothing():
    """The pipeline's upload, reads, a failed action and the onboarding step stay quiet."""
    report = replay(SCENARIOS / "benign_baseline")
    assert report.events_by_log_type["Panther.Audit"] == 6
    assert report.skipped.total == 0
    assert report.alerts == []
