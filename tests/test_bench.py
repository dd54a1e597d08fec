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
