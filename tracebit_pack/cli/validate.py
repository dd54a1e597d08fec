"""``tracebit-pack validate-events [paths]``: check test events and log files against their Panther schema."""

from __future__ import annotations

import argparse
from pathlib import Path

from tracebit_pack.errors import CheckFailed
from tracebit_pack.pack.items import add_path_argument, repository

# With no paths: rule YAMLs and .jsonl under rules/, and .jsonl under scenarios/ and tests/fixtures/.
DEFAULT_DIRS = ("rules", "scenarios", "tests/fixtures")
DESCRIPTION = (
    "Check every test Log of every rule (against the rule's LogTypes) and every line of every "
    "<LogType>.jsonl file against its Panther schema: types, required fields, timestamps, allowed "
    "values, unknown fields, and the standard p_* fields of events exported from Panther."
)


def run(args: argparse.Namespace) -> int:
    from tracebit_pack.logs.validate import run_validation

    if args.paths:
        report = run_validation([Path(p) for p in args.paths])
    else:
        root = repository(args)
        existing = [root / d for d in DEFAULT_DIRS if (root / d).is_dir()]
        report = run_validation(
            existing[:1] if existing and existing[0].name == "rules" else [],
            jsonl_only=[p for p in existing if p.name != "rules"],
        )
    for line in report.lines:
        print(line)
    skipped = (
        f", {report.skipped} test(s) skipped (scheduled-query rows or log types without a schema)"
        if report.skipped
        else ""
    )
    if report.lines:
        print(
            f"validate-events: {len(report.lines)} problem(s) in {report.events} event(s) "
            f"from {report.files} file(s){skipped}"
        )
        raise CheckFailed()
    print(f"validate-events: {report.events} event(s) in {report.files} file(s) conform{skipped}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate-events",
        help="check rule test Logs and <LogType>.jsonl events against their Panther schema",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "paths", nargs="*", help="files or folders (default: rules/, scenarios/, tests/fixtures/)"
    )
    add_path_argument(parser)
    parser.set_defaults(func=run)
