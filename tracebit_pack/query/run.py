"""Run a pack query on a folder of ``<LogType>.jsonl`` files: the library behind ``query run``.

Why apart from the command (``tracebit_pack.cli.query``): the command only reads its arguments;
this module finds the query, checks that the folder holds every table it reads before loading
anything, and runs it on the embedded lake: a pivot (``Tracebit.Pivot.*``) rendered from its
template in SQL or PantherFlow, a query written in PantherFlow (first line ``--pragma:
pantherflow``) with the executor of ``pantherflow_sql``, any other saved or scheduled query with
``params`` replacing the literals of its ``WITH params AS (...)`` CTE. Bad input is a UserError naming it.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from tracebit_pack.errors import UserError
from tracebit_pack.lake.folder import check_folder, tables_read
from tracebit_pack.pack import items as analysis
from tracebit_pack.pack.globals import repository_globals
from tracebit_pack.query import pivots as pivot_run
from tracebit_pack.query.generate import PIVOTS_GLOBAL_ID, load_pivots_module
from tracebit_pack.query.pantherflow_saved import is_pantherflow, run_saved

QUERY_KINDS = ("saved_query", "scheduled_query")


def run_query(
    name: str,
    data: Path,
    now: datetime,
    params: dict[str, str],
    root: Path = analysis.REPO_ROOT,
    *,
    language: str = "sql",
) -> list[dict]:
    """Rows of query ``name`` (from ``root``/queries) over the lake in folder ``data``."""
    from tracebit_pack.loading.folder_lake import (
        lake_from_folder,
    )  # duckdb is imported only when a query runs

    items = {item.id: item for item in analysis.items_of(analysis.load_items(root), *QUERY_KINDS)}
    if name not in items:
        raise UserError(f"unknown QueryName {name!r} (valid: {', '.join(sorted(items)) or 'none'})")
    has_pivots = PIVOTS_GLOBAL_ID in repository_globals(Path(root))
    pivots = load_pivots_module(root) if has_pivots else None
    pivot_names = sorted(getattr(pivots, "PIVOTS", {}))
    if name in pivot_names:
        render_params = pivot_run.cli_params(pivots, name, params, now)
        rendered = pivot_run.render(pivots, name, render_params)
        if language == "pantherflow":
            from tracebit_pack.query.pantherflow_sql import translate

            tables = translate(rendered["pantherflow"], now).tables
        else:
            tables = tables_read(rendered["sql"])
        check_folder(Path(data), tables)
        lake = lake_from_folder(data)
        try:
            return pivot_run.run_pivot(lake, pivots, name, render_params, now, language=language)
        finally:
            lake.close()
    if language == "pantherflow" and not is_pantherflow(items[name].query or ""):
        with_pf = ", ".join(pivot_names) or "none"
        raise UserError(f"{name} has no PantherFlow form (the pivots have one: {with_pf})")
    item = items[name]
    if is_pantherflow(item.query or ""):
        return run_saved(Path(data), item.query or "", now, params)
    check_param_values(item.query or "", params)
    check_folder(Path(data), tables_read(item.query or ""))
    lake = lake_from_folder(data)
    try:
        return lake.run(item, now=now, params=params)
    finally:
        lake.close()


def check_param_values(sql: str, params: dict[str, str]) -> None:
    """UserError for a ``--param`` the params CTE does not define, or whose CTE literal is a number
    while the value is not (checked before the data is loaded)."""
    import sqlglot
    from sqlglot import exp

    from tracebit_pack.lake.transpile import params_columns

    if not params:
        return
    try:
        tree = sqlglot.parse_one(sql, read="snowflake")
    except sqlglot.errors.SqlglotError:
        return  # the run reports the parse error
    for key, column in params_columns(tree, params).items():
        value = params[key]
        literal = column.this
        numeric = isinstance(literal, exp.Literal) and not literal.is_string
        if numeric and not re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
            raise UserError(f"--param {key}: expected a number like {literal.this}, got {value!r}")
