"""``tracebit-pack review --base <git-ref>``: what a pull request changes in the pack, and what it does.

The report itself is built in ``tracebit_pack.review.report`` and rendered in
``tracebit_pack.review.render``; this module is the command line around them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tracebit_pack.errors import UserError
from tracebit_pack.review import gitref, parent_secrets
from tracebit_pack.review.evaluate import sigterm_as_interrupt
from tracebit_pack.review.render import render_json, render_markdown
from tracebit_pack.review.report import build_report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "review",
        help="report what the working tree changes against a git ref: items, verdicts, alerts",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--base",
        required=True,
        metavar="GIT_REF",
        help="branch, tag or commit to compare with (a revision, never a refspec)",
    )
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report here (default: stdout)")
    parser.add_argument(
        "--json-output",
        metavar="FILE",
        help="also write the JSON report to FILE (one run, both formats)",
    )
    parser.add_argument(
        "--no-merge-base",
        dest="merge_base",
        action="store_false",
        help="compare with the tip of GIT_REF instead of its merge base with HEAD",
    )
    parser.add_argument(
        "--path",
        "--repo",
        dest="path",
        default=".",
        metavar="DIR",
        help="the detections repository, a git checkout (default: the current directory)",
    )
    parser.set_defaults(func=run)


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
    except OSError as err:
        raise UserError(f"{path}: cannot write: {err.strerror}") from None


def run(args: argparse.Namespace) -> int:
    """Build the report, closing this process's secrets before any worker starts (SIGTERM unwinds
    like Ctrl-C, so no worker or temp folder is left), then write it."""
    start = Path(args.path)
    if not start.is_dir():
        raise UserError(f"{start}: no such directory")
    gitref.check_revision(args.base)
    with sigterm_as_interrupt():  # secrets closed after git (a fetch may need them), before any worker
        report = build_report(start, args.base, args.merge_base, parent_secrets.close_parent_secrets)
    text = render_markdown(report) if args.format == "markdown" else render_json(report)
    if args.json_output:
        _write(args.json_output, render_json(report))
    if args.output:
        _write(args.output, text)
    else:
        sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
    return 0
