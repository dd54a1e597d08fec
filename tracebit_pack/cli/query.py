"""Sub-command ``query run``: execute a pack query on the embedded lake.

    tracebit-pack query run <QueryName> --data DIR --now <rfc3339> [--param name=value]... \
        [--format json|table] [--language sql|pantherflow]

The query (a ``saved_query`` or ``scheduled_query`` in ``queries/``) runs on a lake loaded from
the ``<LogType>.jsonl`` files in DIR, with the Panther macros seeing ``--now`` as the current
time (``tracebit_pack.query.run`` does the work; this module reads the arguments and prints).
``table`` shows times in RFC 3339 UTC as ``replay`` does; ``json`` prints a list of objects with
the values as the lake (and Panther) returns them.

* A pivot (``Tracebit.Pivot.*``) is rendered from its template (``tracebit_pivots``) for the
  ``--param`` values: the principal is required, ``alert_time`` defaults to ``--now`` and the
  window option (``lookback_days`` / ``window_hours``) to the template's. ``--language
  pantherflow`` runs its PantherFlow form (``tracebit_pack.query.pantherflow_sql``) instead of the SQL.
* Any other query: ``--param`` replaces a literal of its ``WITH params AS (...)`` CTE.

Bad input (missing folder, a folder without the ``<LogType>.jsonl`` file of a table the query
reads, malformed JSONL, unknown log type file name, unknown QueryName, bad --param value, a
--now without timezone, non-UTF-8 text, unsupported construct) is one error line and exit 2; the
output is printed only once the query has succeeded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tracebit_pack.cli import pantherflow as pantherflow_cli
from tracebit_pack.errors import UserError
from tracebit_pack.pack import items as analysis
from tracebit_pack.query import pivots as pivot_run
from tracebit_pack.query.run import run_query
from tracebit_pack.text import aligned_table, check_utf8, compact
from tracebit_pack.times import parse_now, shown_time


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
        check_utf8(f"--param {name}", value)
        params[name] = value
    return params


def format_table(rows: list[dict]) -> str:
    """A plain aligned text table (nested values as compact JSON, times as ``replay`` shows them)."""
    if not rows:
        return "(no rows)"
    headers = list(rows[0])
    cells = [["" if row.get(h) is None else shown_time(compact(row.get(h))) for h in headers] for row in rows]
    lines = aligned_table(headers, cells)
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def _command(args: argparse.Namespace) -> int:
    now = parse_now(args.now)
    params = parse_params(args.param)
    check_utf8("QueryName", args.query_name)
    rows = run_query(
        args.query_name, Path(args.data), now, params, analysis.repository(args), language=args.language
    )
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
    run.add_argument(
        "--language",
        choices=pivot_run.LANGUAGES,
        default="sql",
        help="run a pivot's SQL (default) or its PantherFlow form",
    )
    analysis.add_path_argument(run)
    run.set_defaults(func=_command)
    pantherflow_cli.register(actions)

    def _usage(_args: argparse.Namespace) -> int:
        raise UserError("query: missing action (use: query run <QueryName> --data DIR --now TIME)")

    query.set_defaults(func=_usage)
