"""Check that a lake folder holds the tables a query reads, before "no rows" can be answered.

An empty result means "the principal did nothing" only when the query ran on the data the user
meant. A folder one level too high (a folder of scenarios), an empty folder or a folder without
the ``<LogType>.jsonl`` file of a table the query reads gives empty tables, so those are errors
(UserError, exit 2) naming the missing file. An empty ``<LogType>.jsonl`` file is data: no error.
"""

from __future__ import annotations

from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from tracebit_pack.errors import UserError
from tracebit_pack.logs.folder import discover
from tracebit_pack.logs.schemas import LOG_TYPES
from tracebit_pack.pack.items import table_name


def log_type_of_table(table: str) -> str:
    """``aws_cloudtrail`` -> ``AWS.CloudTrail``."""
    return {table_name(log_type): log_type for log_type in LOG_TYPES}[table]


def tables_read(sql: str) -> set[str]:
    """The ``panther_logs`` tables (``aws_cloudtrail``, ...) a Snowflake query reads (not its CTEs)."""
    known = {table_name(log_type) for log_type in LOG_TYPES}
    try:
        tree = sqlglot.parse_one(sql, read="snowflake")
    except SqlglotError:
        return set()  # the query run reports the parse error itself
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    tables = set()
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        qualified = (table.catalog or "").lower() == "panther_logs" or (table.db or "").lower() == "public"
        if name in known and (qualified or name not in ctes):
            tables.add(name)
    return tables


def check_folder(folder: Path, tables: set[str]) -> None:
    """UserError unless ``folder`` has events of every table in ``tables``: a ``<LogType>.jsonl``
    file, or any other layout ``logs.folder.discover`` reads (``<LogType>/`` of CloudTrail S3
    objects, ``<LogType>.json`` arrays, ``.gz``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: data folder not found")
    below = sorted({p.parent.name for p in folder.glob("*/*.jsonl")})
    try:
        sources = discover(folder)
    except UserError:
        if not below:
            raise
        sources = []  # a folder of scenario folders: the hint below says which one to pass
    if not sources:
        if below:
            raise UserError(
                f"{folder}: no <LogType>.jsonl files directly in this folder; its subfolders "
                f"{', '.join(below[:5])} have some: pass one of them as --data"
            )
        raise UserError(f"{folder}: no <LogType>.jsonl files in this folder (e.g. AWS.CloudTrail.jsonl)")
    present = {source.log_type for source in sources}
    missing = sorted(log_type_of_table(t) for t in tables if log_type_of_table(t) not in present)
    if missing:
        names = ", ".join(f"{log_type}.jsonl" for log_type in missing)
        found = ", ".join(sorted({source.path.relative_to(folder).parts[0] for source in sources}))
        raise UserError(f"{folder}: no {names} for the table(s) the query reads (found: {found})")
