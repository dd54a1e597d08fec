"""Alert records shaped as replay's JSON writes them, for tests that render the HTML report."""


def long_principal_alert(repeats: int) -> tuple[str, dict]:
    """``(arn, alert)``: a canary alert whose principal ARN is ``repeats`` session parts long, to
    check that a long name wraps inside its card instead of widening the page."""
    name = "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/" + "very.long.session." * repeats
    alert = {
        "rule_id": "Tracebit.CanaryResourceAccessed",
        "severity": "HIGH",
        "title": "canary",
        "dedup": "a1",
        "alert_context": {"principal_arn": name, "alert_time": "2025-03-12T16:11:20Z"},
        "event_count": 1,
        "first_event_time": "2025-03-12T16:11:20.000Z",
        "last_event_time": "2025-03-12T16:11:20.000Z",
        "created_at": "2025-03-12T16:11:20.000Z",
        "detection_delay_seconds": 0,
    }
    return name, alert
