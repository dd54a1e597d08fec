"""Hypothesis strategies for the rows of a scheduled query, for fuzzing the scheduled rules.

Why apart from the event strategies: a scheduled rule reads query rows, not log events, and those
have no schema: the column names are the output columns of the query's final SELECT (parsed with
sqlglot, Snowflake dialect); values are typed by the column name (times, numbers, text), realistic
or hostile, from the pools of ``tracebit_pack.dev.value_strategies``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import strategies as st

from tracebit_pack.dev.value_strategies import (
    MFA_RESET_EVENT_TYPES,
    REALISTIC_STRINGS,
    any_text,
    bloated,
    identities,
    ids,
    json_values,
    odd_times,
    portal_urls,
    rfc3339_times,
    weighted,
)

_TIME_COLUMN_HINTS = ("_time", "_at", "last_health_check", "first_seen", "last_seen")
_NUMBER_COLUMN_HINTS = (
    "requests",
    "bytes",
    "_avg",
    "multiple",
    "min_",
    "hours",
    "days",
    "minutes",
    "_30d",
    "count",
)


def query_columns(sql: str) -> tuple[str, ...]:
    """Output column names of the final SELECT of a Snowflake query."""
    import sqlglot

    return tuple(sqlglot.parse_one(sql, read="snowflake").named_selects)


def _column_value(name: str, hostile: bool) -> st.SearchStrategy[Any]:
    lowered = name.lower()
    if any(hint in lowered for hint in _NUMBER_COLUMN_HINTS):
        typed = st.one_of(
            st.integers(0, 1_000),
            st.floats(0, 1e6, allow_nan=False),
            st.integers(),
            st.integers(0, 1_000).map(str),
        )
    elif any(hint in lowered for hint in _TIME_COLUMN_HINTS) or lowered.endswith("time"):
        typed = weighted((2, rfc3339_times), (1, odd_times))
    else:
        pool = REALISTIC_STRINGS.get((lowered.rsplit("_", 1)[-1],))
        if "identity" in lowered:
            pool = identities
        elif lowered.endswith("event_type"):
            pool = st.sampled_from(MFA_RESET_EVENT_TYPES)
        elif lowered.endswith("url"):
            pool = portal_urls
        typed = weighted((2, pool), (1, any_text)) if pool is not None else st.one_of(ids, any_text)
    if not hostile:
        return weighted((3, typed), (1, st.none()))
    return st.one_of(typed, st.none(), json_values)


@cache
def query_rows(sql: str) -> st.SearchStrategy[dict]:
    """Rows of the scheduled query ``sql``: realistic (all columns) twice for one hostile."""
    columns = query_columns(sql)
    realistic = st.fixed_dictionaries({c: _column_value(c, False) for c in columns})
    hostile = st.fixed_dictionaries({}, optional={c: _column_value(c, True) for c in columns})
    return weighted((2, realistic), (1, hostile), (1, bloated(realistic)))
