"""Alert grouping: dedup string, DedupPeriodMinutes from the first event, Threshold, CreateAlert."""

from tracebit_pack.engine.alerts import group_alerts, group_matches
from tracebit_pack.engine.loaded_rule import RuleResult, RuleSettings


def match(minute, dedup="A1", rule="R", severity="HIGH", title=None):
    hours, minutes = divmod(minute, 60)
    return RuleResult(
        rule_id=rule,
        matched=True,
        dedup=dedup,
        severity=severity,
        title=title or f"t{minute}",
        alert_context={"minute": minute},
        event_time=f"2024-12-13 {10 + hours:02d}:{minutes:02d}:00.000000",
    )


def test_period_starts_at_first_event_and_later_events_join():
    settings = {"R": RuleSettings(dedup_period_minutes=60)}
    alerts = group_alerts([match(0), match(30), match(59)], settings)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.event_count == 3
    assert alert.title == "t0" and alert.alert_context == {"minute": 0}  # from the first event
    assert alert.first_event_time.minute == 0 and alert.last_event_time.minute == 59


def test_event_at_or_after_period_end_opens_a_new_alert():
    settings = {"R": RuleSettings(dedup_period_minutes=60)}
    # 0, 50 -> alert 1 (period 10:00-11:00, not extended by 50); 60 -> alert 2; 110 joins alert 2
    alerts = group_alerts([match(0), match(50), match(60), match(110), match(120)], settings)
    assert [a.event_count for a in alerts] == [2, 2, 1]


def test_dedup_strings_and_rules_are_separate_groups():
    settings = {"R": RuleSettings(), "S": RuleSettings()}
    alerts = group_alerts(
        [match(0, "A1"), match(1, "A2"), match(2, "A1", rule="S"), match(3, "A1")], settings
    )
    assert sorted((a.rule_id, a.dedup, a.event_count) for a in alerts) == [
        ("R", "A1", 2),
        ("R", "A2", 1),
        ("S", "A1", 1),
    ]


def test_default_period_is_60_minutes_and_missing_dedup_uses_default_string():
    alerts = group_alerts([match(0, dedup=None), match(59, dedup=None), match(60, dedup=None)], {})
    assert [a.event_count for a in alerts] == [2, 1]
    assert alerts[0].dedup == "defaultDedupString:R"


def test_threshold_counts_events_within_the_period():
    settings = {"R": RuleSettings(dedup_period_minutes=10, threshold=3)}
    grouping = group_matches([match(0), match(5), match(9), match(20), match(25)], settings)
    assert [a.event_count for a in grouping.alerts] == [3]
    assert [a.event_count for a in grouping.below_threshold] == [2]


def test_create_alert_false_is_signal_only():
    settings = {"R": RuleSettings(create_alert=False)}
    grouping = group_matches([match(0), match(1)], settings)
    assert grouping.alerts == []
    assert len(grouping.signal_only) == 1 and grouping.signal_only[0].event_count == 2


def test_unmatched_results_are_ignored_and_settings_from_spec():
    unmatched = RuleResult(rule_id="R", matched=False, event_time="2024-12-13 10:00:00")
    assert group_alerts([unmatched], {}) == []
    spec = {"DedupPeriodMinutes": 1440, "Threshold": 5, "CreateAlert": False}
    assert RuleSettings.from_spec(spec) == RuleSettings(1440, 5, False)
    assert RuleSettings.from_spec({}) == RuleSettings(60, 1, True)


def test_to_json_shape():
    alert = group_alerts([match(0)], {})[0]
    assert alert.to_json() == {
        "rule_id": "R",
        "severity": "HIGH",
        "pages": True,
        "title": "t0",
        "dedup": "A1",
        "alert_context": {"minute": 0},
        "event_count": 1,
        "first_event_time": "2024-12-13T10:00:00.000Z",
        "last_event_time": "2024-12-13T10:00:00.000Z",
        "created_at": "2024-12-13T10:00:00.000Z",
        "detection_delay_seconds": 0,
    }


def test_an_alert_pages_unless_it_is_info_or_sent_to_no_destination():
    """docs/paging.md: Info alerts and alerts whose destinations() returned [] page no one."""
    paging = group_alerts([match(0)], {})[0]
    assert paging.pages
    quiet = RuleResult(
        rule_id="R",
        matched=True,
        dedup="A2",
        severity="HIGH",
        destinations=["SKIP"],
        event_time=paging.matches[0].event_time,
    )
    assert not group_alerts([quiet], {})[0].pages
    info = RuleResult(
        rule_id="R", matched=True, dedup="A3", severity="INFO", event_time=paging.matches[0].event_time
    )
    assert not group_alerts([info], {})[0].pages


def late(minute, arrived_minute, **kwargs):
    """A match of an event at ``minute`` processed at ``arrived_minute`` (arrival / run time)."""
    result = match(minute, **kwargs)
    hours, minutes = divmod(arrived_minute, 60)
    result.arrival_time = f"2024-12-13 {10 + hours:02d}:{minutes:02d}:00.000000"
    return result


def test_dedup_period_runs_on_processing_time_not_event_time():
    # Two events 90 minutes apart by event time, processed 10 minutes apart (the first arrived
    # late): Panther groups by when it processed them, so they are one alert.
    settings = {"R": RuleSettings(dedup_period_minutes=60)}
    alerts = group_alerts([late(0, 80), late(90, 90)], settings)
    assert len(alerts) == 1
    assert alerts[0].event_count == 2
    assert alerts[0].first_event_time.minute == 0  # the earliest event, whatever came first
    assert alerts[0].created_at.hour == 11 and alerts[0].created_at.minute == 20
    assert alerts[0].detection_delay.total_seconds() == 80 * 60


def test_dedup_spans_scheduled_runs_and_a_period_ends_between_them():
    # The same row returned by runs at 10:00 and 10:30 (processing time = run time).
    rows = [late(0, 0), late(0, 30)]
    assert len(group_alerts(rows, {"R": RuleSettings(dedup_period_minutes=60)})) == 1
    assert len(group_alerts(rows, {"R": RuleSettings(dedup_period_minutes=15)})) == 2


def test_threshold_counts_across_runs_and_the_alert_is_created_by_the_run_that_reaches_it():
    settings = {"R": RuleSettings(dedup_period_minutes=120, threshold=3)}
    alerts = group_alerts([late(0, 0), late(0, 30), late(0, 60)], settings)
    assert len(alerts) == 1
    assert alerts[0].created_at.hour == 11 and alerts[0].created_at.minute == 0
    below = group_matches([late(0, 0), late(0, 30)], settings)
    assert below.alerts == [] and below.below_threshold[0].created_at is None
