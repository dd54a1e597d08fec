"""Every PantherFlow the pack ships uses only constructs Panther's own PantherFlow uses.

The renders (alert context, for the example and for generated values; the saved queries'
Descriptions) are parsed with ``tracebit_pack.query.pantherflow``; every operator, function, scalar
operator, ``snowflake.func`` target and ``time.trunc`` unit must be in
``tracebit_pack.query.pantherflow_attested``, every ``summarize ... by`` key a bare column, and no
``let`` may bind a scalar. The check itself is shown to fail on the forms the pack used to ship
(``snowflake.func('GET_PATH', ...)``, ``by event_day = time.trunc('day', ...)``).

The pack's own copy of the evidence: the published PantherFlow the allow-lists cite, as Panther
wrote it (``PUBLISHED``), must pass the same check.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import tracebit_pivots as tp
from tracebit_pack.dev import value_strategies
from tracebit_pack.query import (
    pantherflow,
    pantherflow_attested,
    pantherflow_expressions,
    pantherflow_functions,
    pantherflow_sql,
)
from tracebit_pack.query.generate import file_name

REPO_ROOT = Path(__file__).resolve().parent.parent
ALLOW_LISTS = (
    pantherflow_attested.OPERATORS,
    pantherflow_attested.SCALAR_OPERATORS,
    pantherflow_attested.FUNCTIONS,
    pantherflow_attested.SNOWFLAKE_FUNCTIONS,
    pantherflow_attested.TRUNC_UNITS,
)

# Published PantherFlow the allow-lists rest on (sources as in pantherflow_attested), shortened
# only where a line repeats a form above it.
PUBLISHED = {
    # (A) panther-analysis lookup_tables/okta/okta_ad_pantherflow_baseline_30day.yml (commit
    # 3e7da033, April 2026), its statements in order with most of their columns left out
    "A": """let base = panther_logs.public.okta_systemlog
| where p_event_time > time.ago(37d) and p_event_time < time.ago(7d)
| where strings.ilike(actor.alternateId, "%@%")
| where eventType == "user.authentication.auth_via_AD_agent"
| where outcome.result == "SUCCESS"
| project
    user_email = actor.alternateId,
    country = client.geographicalContext.country,
    event_date = snowflake.func('DATE', p_event_time),
    event_hour = time.trunc('hour', p_event_time);
let scalar_features = base
| summarize total_ad_agent_events = agg.count(), country_diversity = agg.count_distinct(country)
  by user_email;
let primary_country_tbl = base
| summarize cnt = agg.count() by user_email, country
| summarize primary_country = agg.arg_max(cnt, country) by user_email;
let ad_agent_hourly = base
| summarize hourly_total_events = agg.count() by user_email, event_hour;
let ad_agent_stats = ad_agent_hourly
| extend event_date_hr = snowflake.func('DATE', event_hour)
| summarize
    total_events = agg.sum(hourly_total_events),
    mean_events_per_hour = agg.avg(hourly_total_events),
    stddev_events_per_hour = agg.stddev(hourly_total_events),
    first_event = agg.min(event_hour),
    last_event = agg.max(event_hour)
  by user_email
| where total_events >= 10;
scalar_features
| join kind=inner stats=(ad_agent_stats) on $left.user_email == $right.user_email
| join kind=leftouter pc=(primary_country_tbl) on $left.user_email == $right.user_email
| project
    user_email,
    primary_country = pc.primary_country,
    baseline_total_events = stats.total_events,
    mean_events_per_hour = math.round(stats.mean_events_per_hour, 4),
    baseline_updated_at = time.now()
| sort baseline_total_events desc""",
    # (B) panther-analysis global_helpers/panther_base_helpers.py pantherflow_investigation
    "B": """union panther_signals.public.correlation_signals
    , panther_logs.public.okta_systemlog
| where p_event_time between time.parse_timestamp('2024-11-25 15:00:21.000000') - time.parse_timespan('30m')
    .. time.parse_timestamp('2024-11-25 15:00:21.000000') + time.parse_timespan('30m')
| where arrays.overlap(p_any_ip_addresses, ['1.2.3.4'])
     or arrays.overlap(p_any_emails, ['a@b.com'])
| sort p_event_time asc""",
    # (C) pySigma-backend-panther pantherflow_helper.py and its tests
    "C": """panther_logs.public.okta_systemlog
| where (eventType in ['a', 'b'] and strings.contains(actor.alternateId, 'x'))
    or not (strings.starts_with(eventType, 'user') or strings.ends_with(eventType, '.start'))
    or re.matches(eventType, '^user[.]session$') or eventType != 'x'""",
}


def attested_problems(text: str) -> list[str]:
    return pantherflow_attested.problems(pantherflow.constructs(pantherflow.parse(text)))


@pytest.mark.parametrize("name", list(tp.PIVOTS))
def test_example_render_is_attested(name):
    rendered = tp.render_pivot(name, tp.EXAMPLE_PARAMS)["pantherflow"]
    assert attested_problems(rendered) == []
    used = pantherflow.constructs(pantherflow.parse(rendered))
    assert "table" in used["operators"] and used["functions"]  # the parse saw the real query


@pytest.mark.parametrize("name", list(tp.PIVOTS))
@settings(max_examples=30, deadline=None)
@given(value=st.one_of(value_strategies.any_text, st.text(min_size=1)))
def test_render_of_any_value_is_attested(name, value):
    params = dict(tp.EXAMPLE_PARAMS, **{key: value for key in tp.PIVOTS[name]["values"][:1]})
    assert attested_problems(tp.render_pivot(name, params)["pantherflow"]) == []


def test_alert_context_renders_are_attested():
    context = {
        "principal_scope": "tracebit_issued",  # a canary credential: owner and source-IP pivots
        "principal_arn": "arn:aws:sts::1:federated-user/x",
        "identities": ["a@b.c", "a"],
        "source_ips": ["192.0.2.1"],
        "alert_time": "2024-12-13T16:20:00Z",
    }
    pivots = tp.render_pivots(context)
    assert len(pivots) == len(tp.PIVOTS)
    for rendered in pivots.values():
        assert attested_problems(rendered["pantherflow"]) == []


@pytest.mark.parametrize("name", list(tp.PIVOTS))
def test_saved_query_description_pantherflow_is_attested(name):
    spec = yaml.safe_load((REPO_ROOT / "queries" / file_name(name)).read_text(encoding="utf-8"))
    text = spec["Description"].split("PantherFlow equivalent (the same values, inline):", 1)[1]
    assert attested_problems(text.strip()) == []


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (
            "let principal_arn = 'x';\npanther_logs.public.t | where a == principal_arn",
            "scalar let 'principal_arn'",
        ),
        ("panther_logs.public.t | where strings.lower(a) == 'x'", "function 'strings.lower'"),
        ("panther_logs.public.t | summarize s = agg.make_set(a) by b", "function 'agg.make_set'"),
        (
            "panther_logs.public.t | extend d = time.date_trunc('day', p_event_time)",
            "function 'time.date_trunc'",
        ),
        ("panther_logs.public.t | where arrays.len(arrays.filter(t, x)) > 0", "function 'arrays.len'"),
        ("panther_logs.public.t | where a <= 3", "scalar operator '<='"),
        (
            "panther_logs.public.t | extend d = snowflake.func('CURRENT_USER')",
            "snowflake function 'CURRENT_USER'",
        ),
        # the forms the pack shipped before: none of them is in a Panther source
        (
            "panther_logs.public.t | where snowflake.func('GET_PATH', target, '[0].type') == 'User'",
            "'GET_PATH'",
        ),
        ("panther_logs.public.t | extend d = time.trunc('day', p_event_time)", "time.trunc unit 'day'"),
        (
            "panther_logs.public.t | summarize n = agg.count() by d = time.trunc('hour', p_event_time)",
            "summarize by key 'd = ...'",
        ),
        ("panther_logs.public.t | summarize n = agg.count() by time.trunc('hour', p_event_time)", "by key"),
        (
            "panther_logs.public.t | summarize n = agg.count() by actor.alternateId",
            "by key 'actor.alternateId'",
        ),
        # documented (D) but used by no Panther-published query
        ("panther_logs.public.t | limit 1000", "operator 'limit'"),
        ("panther_logs.public.t | search 'x'", "operator 'search'"),
        ("panther_logs.public.t | sort p_event_time, uuid", "'sort without direction'"),
        ("panther_logs.public.t | where a not in ['x']", "'not in'"),
    ],
)
def test_the_check_fails_on_unattested_forms(query, problem):
    assert any(problem in p for p in attested_problems(query)), attested_problems(query)


@pytest.mark.parametrize("source", sorted(PUBLISHED))
def test_the_published_queries_pass_the_check(source):
    """The evidence itself passes: the check allows what Panther wrote, not only what the pack writes."""
    assert attested_problems(PUBLISHED[source]) == []


def test_every_allow_list_entry_names_its_source():
    for table in ALLOW_LISTS:
        for construct, source in table.items():
            assert source[:1] in "ABCD" and ":" in source, construct


def test_the_executor_supports_every_attested_construct():
    pairs = [
        (pantherflow_expressions.SUPPORTED_FUNCTIONS, pantherflow_attested.FUNCTIONS),
        (pantherflow_functions.SUPPORTED_SNOWFLAKE_FUNCTIONS, pantherflow_attested.SNOWFLAKE_FUNCTIONS),
        (pantherflow_sql.SUPPORTED_OPERATORS, pantherflow_attested.OPERATORS),
    ]
    for supported, attested in pairs:
        assert not set(attested) - supported, set(attested) - supported


def test_the_docs_list_every_allowed_construct():
    text = (REPO_ROOT / "docs" / "pantherflow.md").read_text(encoding="utf-8")
    for table in (pantherflow_attested.FUNCTIONS, pantherflow_attested.SNOWFLAKE_FUNCTIONS):
        for construct in table:
            assert f"`{construct}`" in text, construct
    for function in pantherflow_expressions.SUPPORTED_FUNCTIONS - {"snowflake.func"}:
        assert function.split(".")[-1] in text, function


@pytest.mark.parametrize("scenario", ["blog_incident", "aws_mfa_tampering"])
def test_a_replay_of_a_realistic_incident_renders_only_attested_forms(scenario):
    from tracebit_pack.replay import replay

    report = replay(REPO_ROOT / "scenarios" / scenario)
    renders = [
        render["pantherflow"]
        for alert in report.alerts
        for render in (alert.alert_context.get("pivots") or {}).values()
        if isinstance(render, dict) and render.get("pantherflow")
    ]
    assert renders
    assert [p for text in renders for p in attested_problems(text)] == []
