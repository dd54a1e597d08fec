"""``tracebit-pack generate-queries [--check]``: the saved pivot queries, in sync with their templates."""

from __future__ import annotations

import argparse
import sys

from tracebit_pack.errors import CheckFailed
from tracebit_pack.pack.items import add_path_argument, repository


def run(args: argparse.Namespace) -> int:
    from tracebit_pack.query.generate import drift, expected_files, write

    root = repository(args)
    if args.check:
        problems = drift(root)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run `make queries` to regenerate", file=sys.stderr)
            raise CheckFailed()
        print(f"generated queries in sync ({len(expected_files(root))} files)")
        return 0
    changed = write(root)
    for path in changed:
        print(f"wrote {path.relative_to(root)}")
    if not changed:
        print("generated queries already up to date")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate-queries",
        help="write queries/tracebit_pivot_*.yml from global_helpers/tracebit_pivots.py",
        description=(
            "Write the saved pivot queries (queries/tracebit_pivot_*.yml) from their templates in the "
            "tracebit_pivots global; --check writes nothing and exits 1 on a missing, different or "
            "stale file."
        ),
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ; write nothing")
    add_path_argument(parser)
    parser.set_defaults(func=run)
