"""The PantherFlow constructs the pack may ship: each one used by Panther's own published PantherFlow.

Panther has no offline PantherFlow parser, so a construct is only safe to ship in a pivot when
Panther itself writes it. This module is the ONE allow-list, with the source of every entry:

  (A) panther-analysis ``lookup_tables/okta/okta_ad_pantherflow_baseline_{30,90,180}day.yml``,
      PantherFlow written by Panther (March 2026);
  (B) panther-analysis ``global_helpers/panther_base_helpers.py`` ``pantherflow_investigation``;
  (C) pySigma-backend-panther ``sigma/backends/panther/helpers/pantherflow_helper.py`` and its tests;
  (D) the PantherFlow pages of Panther's docs (docs.panther.com/pantherflow), only where A-C have no
      form for what a pivot needs (bracket indexing of an array, from the expressions page).

Arguments count too: ``time.trunc`` only with a unit in ``TRUNC_UNITS``, ``snowflake.func`` only
with a name in ``SNOWFLAKE_FUNCTIONS``, and ``summarize ... by`` only bare column names (every
source groups by a column; a key is computed with ``extend`` first).
``tests/test_pantherflow_attested.py`` parses every PantherFlow render of the pack and fails on a
construct outside these tables or on a ``let`` that binds a scalar (values are written inline).
The offline executor (``tracebit_pack.query.pantherflow_sql``) runs all of these and more: the
language as Panther documents it.
"""

from __future__ import annotations

# Tabular operators and statements.
OPERATORS = {
    "table": "A B C: panther_logs.public.okta_systemlog",
    "let": "A: `let base = <tabular expression>;` (tabular only; docs: 'assigns a tabular expression')",
    "where": 'A C: `| where eventType == "user.authentication.auth_via_AD_agent"`',
    "project": "A: `| project user_email = actor.alternateId, ...`",
    "extend": "A: `| extend event_date_hr = snowflake.func('DATE', event_hour)`",
    "summarize": "A: `| summarize n = agg.count(), k = agg.count_distinct(x) by a, b`",
    "sort": "A: `| sort baseline_total_events desc`; B: `| sort p_event_time`",
    "join": "A: `| join kind=inner stats=(ad_agent_stats) on $left.user_email == $right.user_email`",
    "union": "B: `union panther_logs.public.t1, panther_logs.public.t2`",
}

# Scalar operators, keywords and literal forms.
SCALAR_OPERATORS = {
    "==": 'A C: `outcome.result == "SUCCESS"`',
    "!=": "C: `field != 'value'`",
    ">": "A: `p_event_time > time.ago(37d)`",
    "<": "A: `p_event_time < time.ago(7d)`",
    ">=": "A: `| where total_events >= 10`",
    "and": "A C: `... and p_event_time < time.ago(7d)`",
    "or": "C: `(a) or (b)`",
    "not": "C: `not (...)`",
    "in": "C: `x in ['a', 'b']`",
    "between": "B: `p_event_time between <t1> .. <t2>`",
    "+": "B: `time.parse_timestamp('...') + time.parse_timespan('30m')`",
    "-": "B: `time.parse_timestamp('...') - time.parse_timespan('30m')`",
    "asc": "A B: explicit sort direction (A writes `desc`; a default direction is undocumented)",
    "desc": "A: `| sort baseline_total_events desc`",
    "string": "A B C: 'single' and \"double\" quoted literals",
    "number": "A: `total_events >= 10`, `math.round(x, 4)`",
    "timespan": "A: `time.ago(37d)`",
    "list": "B C: `['a@b.com']`",
    "index": "D: the expressions page reads an array element as `target[0]` and its field as `.key`",
}

# Functions (dotted names as Panther writes them).
FUNCTIONS = {
    "time.parse_timestamp": "B: `time.parse_timestamp('2024-11-25 15:00:21.000000')`",
    "time.parse_timespan": "B: `time.parse_timespan('30m')`",
    "time.trunc": "A: `time.trunc('hour', p_event_time)`",
    "time.ago": "A C: `time.ago(37d)`",
    "time.now": "A: `baseline_updated_at = time.now()`",
    "strings.ilike": 'A C: `strings.ilike(actor.alternateId, "%@%")`',
    "strings.contains": "C: `strings.contains(x, 'v')`",
    "strings.starts_with": "C: `strings.starts_with(x, 'v')`",
    "strings.ends_with": "C: `strings.ends_with(x, 'v')`",
    "re.matches": "C: `re.matches(x, '^...$')`",
    "arrays.overlap": "B: `arrays.overlap(p_any_emails, ['a@b.com'])`",
    "agg.count": "A: `agg.count()`",
    "agg.count_distinct": "A: `agg.count_distinct(country)`",
    "agg.sum": "A: `agg.sum(hourly_total_events)`",
    "agg.avg": "A: `agg.avg(hourly_total_events)`",
    "agg.stddev": "A: `agg.stddev(hourly_total_events)`",
    "agg.min": "A: `agg.min(event_hour)`",
    "agg.max": "A: `agg.max(event_hour)`",
    "agg.arg_max": "A: `agg.arg_max(cnt, country)`",
    "math.round": "A: `math.round(stats.mean_events_per_hour, 4)`",
    "snowflake.func": "A: `snowflake.func('DATE', p_event_time)`",
}

# Snowflake functions called through snowflake.func('<NAME>', ...).
SNOWFLAKE_FUNCTIONS = {
    "DATE": "A: `snowflake.func('DATE', p_event_time)`",
}

# Units time.trunc is called with.
TRUNC_UNITS = {
    "hour": "A: `time.trunc('hour', p_event_time)`",
}


def problems(used: dict[str, set[str]]) -> list[str]:
    """Constructs in ``used`` (from ``pantherflow.constructs``) that are not attested, as messages."""
    tables = {
        "operators": OPERATORS,
        "scalar_operators": SCALAR_OPERATORS,
        "functions": FUNCTIONS,
        "snowflake_functions": SNOWFLAKE_FUNCTIONS,
    }
    out = [
        f"{kind[:-1].replace('_', ' ')} {name!r} is not attested"
        for kind, names in used.items()
        if kind in tables
        for name in sorted(names - set(tables[kind]))
    ]
    out.extend(
        f"scalar let {name!r} is not attested (write the value inline)"
        for name in sorted(used.get("scalar_lets", ()))
    )
    out.extend(
        f"time.trunc unit {unit!r} is not attested"
        for unit in sorted(used.get("trunc_units", set()) - set(TRUNC_UNITS))
    )
    out.extend(
        f"summarize by key {key!r} is not attested (by takes bare column names: extend first)"
        for key in sorted(used.get("computed_by_keys", ()))
    )
    return out
