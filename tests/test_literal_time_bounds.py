"""Every read of a panther_logs table carries a Panther time macro with LITERAL time arguments.

Snowflake prunes micro-partitions on literal bounds; bounds that come from a joined CTE may not
prune, and an hourly query scanning all of CloudTrail hits its timeout on a real tenant. So every
``panther_logs.public.<table>`` in every saved / scheduled query of ``queries/`` and in every
rendered SQL pivot must be filtered, in the SELECT that reads it, by a ``p_occurs_*`` macro on its
alias whose time arguments are literals (``'2024-11-13 16:20:00'``, ``'31 days'``). A narrower
CTE-derived window may come in addition. Checked on the sqlglot (Snowflake) parse tree.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
import yaml
from sqlglot import exp

import tracebit_pivots as tp

REPO_ROOT = Path(__file__).resolve().parent.parent
# macro -> (positions of its time arguments, position of its table alias argument)
MACROS = {
    "p_occurs_since": ((0,), 1),
    "p_occurs_between": ((0, 1), 2),
    "p_occurs_around": ((0, 1), 2),
    "p_occurs_after": ((0,), 1),
    "p_occurs_before": ((0,), 1),
}


def unbounded_reads(sql: str) -> list[str]:
    """``panther_logs`` tables of ``sql`` without a literal-bounded time macro on their alias."""
    tree = sqlglot.parse_one(sql, read="snowflake")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    problems = []
    for table in tree.find_all(exp.Table):
        if table.catalog.lower() != "panther_logs" and table.name.lower() in ctes:
            continue
        if table.catalog.lower() != "panther_logs":
            problems.append(f"{table.sql('snowflake')}: not a 3-part panther_logs.public.<table> name")
            continue
        alias = table.alias_or_name.lower()
        select = table.find_ancestor(exp.Select)
        where = select.args.get("where") if select else None
        bounded = False
        for call in where.find_all(exp.Anonymous) if where else []:
            spec = MACROS.get(str(call.this).lower())
            if spec is None:
                continue
            times, alias_at = spec
            args = call.expressions
            on_alias = len(args) > alias_at and args[alias_at].sql().lower() == alias
            literal = all(i < len(args) and isinstance(args[i], exp.Literal) for i in times)
            bounded = bounded or (on_alias and literal)
        if not bounded:
            problems.append(f"{table.sql('snowflake')}: no time macro with literal bounds")
    return problems


def query_files():
    for path in sorted((REPO_ROOT / "queries").glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        yield pytest.param(spec.get("Query") or spec.get("SnowflakeQuery"), id=path.name)


@pytest.mark.parametrize("sql", list(query_files()))
def test_every_query_file_reads_tables_with_literal_time_bounds(sql):
    assert "panther_logs" in sql
    assert unbounded_reads(sql) == []


@pytest.mark.parametrize("name", list(tp.PIVOTS))
@pytest.mark.parametrize(
    "params",
    [
        tp.EXAMPLE_PARAMS,
        {
            "principal_arn": "arn:aws:iam::1:user/p_occurs_since('1 day')",
            "identity": "x' OR p_occurs_between(a, b, o) --",
            "principal_user": "y' OR p_occurs_since('1 day', ct) --",
            "source_ip": "192.0.2.1' OR p_occurs_since('1 day', o) --",
            "alert_time": "2023-01-31 23:59:59",
            "lookback_days": "365",
            "window_hours": "48",
        },
    ],
)
def test_every_rendered_sql_pivot_has_literal_time_bounds(name, params):
    sql = tp.render_pivot(name, params)["sql"]
    assert unbounded_reads(sql) == []


def test_the_alert_context_pivots_have_literal_time_bounds():
    context = {
        "principal_arn": "arn:aws:iam::1:user/x",
        "identities": ["a@b.c"],
        "alert_time": "2024-12-13T16:20:00Z",
    }
    for rendered in tp.render_pivots(context).values():
        assert unbounded_reads(rendered["sql"]) == []


@pytest.mark.parametrize(
    "sql",
    [
        # bounds only from a joined CTE (the form this test exists to forbid)
        "WITH b AS (SELECT CURRENT_TIMESTAMP AS s) SELECT 1 FROM b, panther_logs.public.aws_cloudtrail ct "
        "WHERE p_occurs_between(b.s, b.s, ct)",
        # a literal macro, but on another table's alias
        "SELECT 1 FROM panther_logs.public.aws_cloudtrail ct, panther_logs.public.okta_systemlog o "
        "WHERE p_occurs_since('1 day', o)",
        # no time filter at all
        "SELECT 1 FROM panther_logs.public.tracebit_healthcheck h",
        # not a 3-part name
        "SELECT 1 FROM aws_cloudtrail WHERE p_occurs_since('1 day')",
    ],
)
def test_the_check_catches_unbounded_reads(sql):
    assert unbounded_reads(sql)
