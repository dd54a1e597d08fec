"""Sub-command ``query pantherflow``: run ad-hoc PantherFlow on a folder of logs, as in Panther's Search.

    tracebit-pack query pantherflow 'TEXT' --data DIR --now <rfc3339> [--format json|table]
    tracebit-pack query pantherflow - --data DIR --now <rfc3339>      (the query on standard input)

Why a module of its own: ``query run`` runs the pack's saved and scheduled queries by name; this
runs any PantherFlow an analyst types, with the executor of ``tracebit_pack.query.pantherflow_sql``.
The folder must hold the ``<LogType>.jsonl`` of every table the query reads, checked before
anything is loaded; ``time.now()`` / ``time.ago()`` see ``--now``. ``json`` prints a list of
objects. Bad input (a query outside the language, an unknown table or column, a folder without a
table the query reads, non-UTF-8 text) is one error line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tracebit_pack.errors import UserError
from tracebit_pack.text import check_utf8
from tracebit_pack.times import parse_now


def read_text(argument: str) -> str:
    """The query: the argument itself, or standard input for ``-``; UserError when it is empty."""
    text = sys.stdin.read() if argument == "-" else argument
    check_utf8("the PantherFlow query", text)
    if not text.strip():
        raise UserError("query pantherflow: the query is empty")
    return text


def _command(args: argparse.Namespace) -> int:
    from tracebit_pack.cli.query import format_table
    from tracebit_pack.query.pantherflow_sql import run_on_folder  # duckdb only when a query runs

    now = parse_now(args.now)
    rows = run_on_folder(read_text(args.text), Path(args.data), now)
    out = json.dumps(rows, indent=2, ensure_ascii=False) if args.format == "json" else format_table(rows)
    sys.stdout.write(out + "\n")
    return 0


def register(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "pantherflow",
        help="run ad-hoc PantherFlow on a folder of <LogType>.jsonl files, as in Panther's Search",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "text", metavar="TEXT", help="the PantherFlow query, or - to read it from standard input"
    )
    parser.add_argument("--data", required=True, help="folder of <LogType>.jsonl files")
    parser.add_argument(
        "--now",
        required=True,
        help="the time time.now() and time.ago() see, RFC 3339 (e.g. 2024-06-30T12:00:00Z)",
    )
    parser.add_argument("--format", choices=("json", "table"), default="table")
    parser.set_defaults(func=_command)
