"""A lake loaded from a folder of logs in one call: what the query tools and the tests start from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from tracebit_pack.lake.embedded import Lake
from tracebit_pack.loading.ingest import Ingest, rule_log_types
from tracebit_pack.logs.folder import discover


def lake_from_folder(
    path: str | Path,
    parse_time: dt.datetime | None = None,
    *,
    strict: bool = True,
    python_log_types: Iterable[str] | None = None,
) -> Lake:
    """A lake loaded from the event files of folder ``path`` (layouts: ``logs.folder``).

    UserError for a missing folder or a file or folder name that is not a known log type;
    with ``strict`` (the default) also for malformed JSON (``file:line``) or an event that does
    not match its schema, otherwise those are skipped and counted in ``lake.skipped``.
    ``parse_time``: the ``p_parse_time`` of every row; by default each row's event time.
    ``python_log_types``: the log types read by real-time rules (default: those of an enabled
    rule of the pack): with ``strict`` checked and enriched in Python; the others, and all
    without ``strict``, are loaded by DuckDB alone (``loading.ingest``), except a log type whose
    files are small (``ingest.PYTHON_LOAD_BYTES``), which Python checks as fast.
    """
    sources = discover(Path(path))
    lake = Lake.for_sources(sources)
    types = rule_log_types() if python_log_types is None else set(python_log_types)
    ingest = Ingest(lake, types, strict=strict, parse_time=parse_time)
    try:
        ingest.load(sources)
        ingest.close()
    except BaseException:
        lake.close()
        raise
    lake.skipped = ingest.skipped
    return lake
