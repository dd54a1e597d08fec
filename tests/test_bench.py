"""`make bench`: queries timed at each scenario's own "now", and a missed goal is reported, not hidden."""

from tracebit_pack.dev import bench, bench_report
from tracebit_pack.pack.items import REPO_ROOT
from tracebit_pack.times import parse_rfc3339

SCENARIOS = REPO_ROOT / "scenarios"


def test_each_scenario_has_its_own_now():
    incident = bench.scenario_now(SCENARIOS / "blog_incident")
    baseline = bench.scenario_now(SCENARIOS / "benign_baseline")
    # the incident ends before the baseline: one "now" for all would time its queries on nothing
    assert incident == parse_rfc3339("2024-12-13T17:00:00Z") < baseline
    assert set(bench.scenario_folders(REPO_ROOT)) >= {
        SCENARIOS / "blog_incident",
        SCENARIOS / "benign_baseline",
    }


def _result(flags: list[str], error: str | None = None) -> dict:
    timing = {"prebuilt_us": 3.0, "with_construction_us": 4.0}
    data = {"distinct_events": 5, "source": "tests", "rule": timing, "floor": timing, "ratio": 1.0}
    data["ratio_with_construction"] = 1.0
    query = {"query": "Q", "kind": "saved_query", "ms": None if error else 1.0, "rows": 0}
    if error:
        query["error"] = error
    return {
        "machine": {"date": "d", "nproc": 2, "cpu": "c", "python": "3", "load_average": (9.0, 1.0, 1.0)},
        "settings": {"events": 10, "repeats": 1, "replay_repeats": 1},
        "rules": [{"rule_id": "R", "log_type": "L", "non_matching": data, "matching": None, "flags": flags}],
        "replay": {
            "scenario": "s",
            "events": 1,
            "alerts": 0,
            "rule_seconds": 0.1,
            "total_seconds": 1.0,
            "rule_events_per_second": 10.0,
            "total_events_per_second": 1.0,
        },
        "queries": [{"scenario": "s", "now": "n", "rows": [query]}],
    }


def test_missed_goals_are_named():
    assert bench_report.missed_goals(_result([])) == []
    assert "* all met" in bench_report.render(_result([]), "make bench")
    missed = bench_report.missed_goals(_result(["non-matching 1.60x floor > 1.5"], error="boom"))
    assert missed == ["R: non-matching 1.60x floor > 1.5", "Q on s: ERROR boom"]
    text = bench_report.render(_result(["non-matching 1.60x floor > 1.5"]), "make bench")
    assert "MISSED: non-matching 1.60x floor > 1.5" in text and "load average 9.00 on 2 CPUs" in text


def test_the_filtered_floor_runs_the_rules_own_inline_filters():
    from tracebit_pack.engine.rules import PackEngine

    engine = PackEngine.load(REPO_ROOT)
    loaded = engine.rules["Tracebit.CanaryResourceAccessed"]
    assert loaded.rule.filters  # the rule declares InlineFilters
    filtered = bench.floor_rule(loaded.rule.filters)
    assert filtered.filters == loaded.rule.filters and not bench.floor_rule().filters
    other = {"discriminator": {"type": "tracebit_alert_log", "subtype": "canary_credential_used"}}
    odd = {"discriminator": {"type": "tracebit_alert_log", "subtype": "Canary-Credential-Used"}}
    for event in (other, odd):
        assert filtered.run(event, {}, {}, batch_mode=True).trigger_alert is False
    assert filtered.run(other, {}, {}, batch_mode=True).filter_output is False  # skipped before rule()
    assert filtered.run(odd, {}, {}, batch_mode=True).filter_output is True  # reaches return False
    timed = bench.measure({"rule": loaded.rule, "filtered_floor": filtered}, [other, odd], None, 1)
    assert set(timed) == {"rule", "filtered_floor"}
    assert all(v > 0 for side in timed.values() for v in side.values())


def _rule_row(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("| R |"))


def test_the_report_shows_the_filtered_floor_when_there_is_one():
    result = _result([])
    data = result["rules"][0]["non_matching"]
    data["filtered_floor"] = {"prebuilt_us": 2.5, "with_construction_us": 3.5}
    data["ratio_to_filtered_floor"] = 1.2
    row = _rule_row(bench_report.render(result, "make bench"))
    assert row.endswith("| 2.5 | 1.20 | ok |")
    del data["filtered_floor"], data["ratio_to_filtered_floor"]
    row = _rule_row(bench_report.render(result, "make bench"))
    assert row.endswith("| - | - | ok |")
