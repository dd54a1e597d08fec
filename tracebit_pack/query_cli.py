"""Sub-command ``query run``: execute a pack query on the embedded lake.

    tracebit-pack query run <QueryName> --data DIR --now <rfc3339> [--param name=value]... \
        [--format json|table]

The query (a ``saved_query`` or ``scheduled_query`` in ``queries/``) runs on a lake loaded from
the ``<LogType>.jsonl`` files in DIR, with the Panther macros seeing ``--now`` as the current
time. ``--param`` replaces a literal of the query's ``WITH params AS (...)`` CTE. ``json`` prints
a list of objects. Bad input (missing folder, malformed JSONL, unknown log type file name,
unknown QueryName, bad --param or --now, unsupported construct) is one error line and exit 2;
the output is printed only once the query has succeeded.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from tracebit_pack import analysis
from tracebit_pack.errors import UserError
from tracebit_pack.schemas import parse_rfc3339

QUERY_KINDS = ("saved_query", "scheduled_query")


def parse_now(text: str) -> datetime:
    """``--now``: an RFC 3339 timestamp (``2024-06-30T12:00:00Z``); UserError otherwise."""
    try:
        return parse_rfc3339(text)
    except ValueError:
        raise UserError(f"--now: expected an RFC 3339 time like 2024-06-30T12:00:00Z, got {text!r}") from None


def parse_params(pairs: list[str] | None) -> dict[str, str]:
    """``--param name=value`` pairs; UserError for a missing '=', an empty name or a repeated name."""
    params: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UserError(f"--param: expected name=value, got {pair!r}")
        if not name.replace("_", "a").isalnum():
            raise UserError(f"--param: {name!r} is not a parameter name")
        if name.lower() in (k.lower() for k in params):
            raise UserError(f"--param: {name!r} given twice")
        params[name] = value
    return params


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def format_table(rows: list[dict]) -> str:
    """A plain aligned text table (nested values as compact JSON)."""
    if not rows:
        return "(no rows)"
    headers = list(rows[0])
    cells = [[_cell(row.get(h)) for h in headers] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells)
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def run_query(
    name: str, data: Path, now: datetime, params: dict[str, str], root: Path = analysis.REPO_ROOT
) -> list[dict]:
    """Rows of query ``name`` (from ``root``/queries) over the lake in folder ``data``."""
    from tracebit_pack.lake import Lake  # duckdb is imported only when a query runs

    if not Path(data).is_dir():
        raise UserError(f"{data}: data folder not found")
    items = analysis.items_of(analysis.load_items(root), *QUERY_KINDS)
    item = analysis.find_item(items, name, *QUERY_KINDS)
    lake = Lake.from_folder(data)
    try:
        return lake.run(item, now=now, params=params)
    finally:
        lake.close()


def _command(args: argparse.Namespace) -> int:
    now = parse_now(args.now)
    params = parse_params(args.param)
    rows = run_query(args.query_name, Path(args.data), now, params, analysis.repository(args))
    text = json.dumps(rows, indent=2, ensure_ascii=False) if args.format == "json" else format_table(rows)
    sys.stdout.write(text + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    query = subparsers.add_parser("query", help="run the pack's queries on an embedded data lake")
    actions = query.add_subparsers(dest="query_command", metavar="ACTION", parser_class=type(query))
    run = actions.add_parser(
        "run",
        help="execute a saved or scheduled query on a folder of <LogType>.jsonl files",
        description=__doc__.split("\n\n")[0],
    )
    run.add_argument("query_name", metavar="QueryName", help="QueryName of a saved/scheduled query")
    run.add_argument("--data", required=True, help="folder of <LogType>.jsonl files")
    run.add_argument(
        "--now", required=True, help="the time the macros see, RFC 3339 (e.g. 2024-06-30T12:00:00Z)"
    )
    run.add_argument("--param", action="append", metavar="NAME=VALUE", help="set a params CTE value")
    run.add_argument("--format", choices=("json", "table"), default="table")
    analysis.add_path_argument(run)
    run.set_defaults(func=_command)

    def _usage(_args: argparse.Namespace) -> int:
        raise UserError("query: missing action (use: query run <QueryName> --data DIR --now TIME)")

    query.set_defaults(func=_usage)
