"""Check that a lake folder holds the tables a query reads, before "no rows" can be answered.

An empty result means "the principal did nothing" only when the query ran on the data the user
meant. A folder one level too high (a folder of scenarios), an empty folder or a folder without
events of a table the query reads gives empty tables, so those are errors (UserError, exit 2)
naming what is missing. The folder is read as the replay reads it (``logs.folder``), so every
layout ``replay`` takes works here too. An empty ``<LogType>.jsonl`` file is data: no error.
"""

from __future__ import annotations

from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from tracebit_pack.errors import UserError
from tracebit_pack.logs.folder import discover, require_events
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
    """UserError unless ``folder`` holds events of every table in ``tables``, in any layout the
    replay reads (``logs.folder.discover``: ``<LogType>.jsonl``, ``<LogType>.json``, ``<LogType>/``
    folders of S3 objects, gzip or not)."""
    folder = Path(folder)
    if folder.is_dir() and not any(folder.glob("*.json*")):
        subfolders = (d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
        below = sorted(d.name for d in subfolders if d.name not in LOG_TYPES and any(d.glob("*.json*")))
        if below:
            raise UserError(
                f"{folder}: no <LogType>.jsonl files directly in this folder; its subfolders "
                f"{', '.join(below[:5])} have some: pass one of them as --data"
            )
    sources = discover(folder)
    require_events(folder, sources)
    present = {source.log_type for source in sources}
    missing = sorted(log_type_of_table(t) for t in tables if log_type_of_table(t) not in present)
    if missing:
        found = ", ".join(sorted({_entry_name(folder, s.path) for s in sources}))
        raise UserError(
            f"{folder}: no {', '.join(missing)} events for the table(s) the query reads "
            f"(looked for {missing[0]}.jsonl, {missing[0]}.json and the folder {missing[0]}/, gzip or not; "
            f"found: {found})"
        )


def _entry_name(folder: Path, path: Path) -> str:
    """The folder entry a source file belongs to: its own name, or its ``<LogType>/`` folder."""
    top = path.relative_to(folder).parts[0]
    return top + "/" if (folder / top).is_dir() else top
