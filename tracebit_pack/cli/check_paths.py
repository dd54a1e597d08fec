"""``tracebit-pack check-paths DIR``: refuse a folder whose analysis items make pat read outside it.

Run by the validate workflow on the pull request before ``pat validate`` (see
``tracebit_pack.pack.contained``): exit 1 with one line per problem, 0 when every file is inside.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tracebit_pack.errors import CheckFailed, UserError
from tracebit_pack.text import visible


def run(args: argparse.Namespace) -> int:
    from tracebit_pack.pack.contained import outside_files

    root = Path(args.folder)
    if not root.is_dir():
        raise UserError(f"{root}: no such directory")
    problems = outside_files(root)
    for problem in problems:
        print(visible(problem))
    if problems:
        print(f"check-paths: {len(problems)} file(s) pat would read outside {root}; not validated")
        raise CheckFailed()
    print(f"check-paths: every file pat reads lies inside {root}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check-paths",
        help="refuse a folder whose analysis items (Filename, symlinks) make pat read outside it",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("folder", metavar="DIR", help="the folder pat will read (a pull request's checkout)")
    parser.set_defaults(func=run)
