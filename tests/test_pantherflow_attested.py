"""Every PantherFlow the pack ships uses only constructs Panther's own PantherFlow uses.

The renders (alert context, for the example and for generated values; the saved queries'
Descriptions) are parsed with ``tracebit_pack.query.pantherflow``; every operator, function, scalar
operator and ``snowflake.func`` target must be in ``tracebit_pack.query.pantherflow_attested``, and no
``let`` may bind a scalar. The check itself is shown to fail on the forms the pack used to ship.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import tracebit_pivots as tp
from tracebit_pack.dev import value_strategies
from tracebit_pack.query import pantherflow, pantherflow_attested, pantherflow_expressions, pantherflow_sql
from tracebit_pack.query.generate import file_name

REPO_ROOT = Path(__file__).resolve().parent.parent
ALLOW_LISTS = (
    pantherflow_attested.OPERATORS,
    pantherflow_attested.SCALAR_OPERATORS,
    pantherflow_attested.FUNCTIONS,
    pantherflow_attested.SNOWFLAKE_FUNCTIONS,
)


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
    params = dict(tp.EXAMPLE_PARAMS, **{tp.PIVOTS[name]["values"][0]: value})
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
    ],
)
def test_the_check_fails_on_unattested_forms(query, problem):
    assert any(problem in p for p in attested_problems(query)), attested_problems(query)


@pytest.mark.parametrize(
    "query", ["panther_logs.public.t | limit 1000", "panther_logs.public.t | sort p_event_time, uuid"]
)
def test_unattested_operators_do_not_even_parse(query):
    with pytest.raises(pantherflow.PantherFlowError):
        pantherflow.parse(query)


def test_every_allow_list_entry_names_its_source():
    for table in ALLOW_LISTS:
        for construct, source in table.items():
            assert source[:1] in "ABCS" and ":" in source, construct


def test_the_executor_supports_only_attested_constructs():
    pairs = [
        (pantherflow_expressions.SUPPORTED_FUNCTIONS, pantherflow_attested.FUNCTIONS),
        (pantherflow_expressions.SUPPORTED_SNOWFLAKE_FUNCTIONS, pantherflow_attested.SNOWFLAKE_FUNCTIONS),
        (pantherflow_sql.SUPPORTED_OPERATORS, pantherflow_attested.OPERATORS),
    ]
    for supported, attested in pairs:
        assert not supported - set(attested), supported - set(attested)


def test_the_docs_list_every_allowed_construct():
    text = (REPO_ROOT / "docs" / "pantherflow.md").read_text(encoding="utf-8")
    for table in (pantherflow_attested.FUNCTIONS, pantherflow_attested.SNOWFLAKE_FUNCTIONS):
        for construct in table:
            assert f"`{construct}`" in text, construct
    for function in pantherflow_expressions.SUPPORTED_FUNCTIONS - {"snowflake.func"}:
        assert function.split(".")[-1] in text, function
