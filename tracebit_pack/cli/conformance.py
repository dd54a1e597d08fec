"""``tracebit-pack conformance --path DIR``: check the match-expression evaluator on a repository's tests.

Runs the tests of every Simple Detection and InlineFilters rule through the offline engine
(``tracebit_pack.engine.conformance``) and prints the Markdown table (or JSON); exit 1 if a test
is not reproduced.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict

from tracebit_pack.engine.conformance import counts, evaluate, render_markdown
from tracebit_pack.errors import CheckFailed, UserError
from tracebit_pack.pack.items import add_path_argument, repository


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "conformance",
        help="run the tests of every Simple Detection and InlineFilters rule through the offline evaluator",
        description=__doc__.splitlines()[0],
    )
    add_path_argument(parser)
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = repository(args)
    started = time.perf_counter()
    outcomes = evaluate(root)
    if not outcomes:
        raise UserError(f"{root}: no rule with a YAML Detection or InlineFilters found")
    if args.format == "json":
        text = json.dumps({"counts": counts(outcomes), "tests": [asdict(o) for o in outcomes]}, indent=2)
    else:
        text = render_markdown(outcomes) + f"\n\n(evaluated in {time.perf_counter() - started:.1f}s)"
    sys.stdout.write(text + "\n")
    if counts(outcomes)["failed"]:
        raise CheckFailed()
    return 0
