"""``tracebit-pack`` command line: one sub-command per pipeline stage.

Each stage lives in its own module and exposes ``register(subparsers)``, which adds its
sub-command and sets ``func`` (called with the parsed arguments, returning an exit code).
This module only wires them together and turns errors into exit codes:
0 success, 1 a check found problems, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tracebit_pack import __version__
from tracebit_pack.errors import CheckFailed, UsageError, UserError

# Modules that provide sub-commands, in the order `--help` lists them.
COMMAND_MODULES = [
    "tracebit_pack.cli.validate",
    "tracebit_pack.cli.query",
    "tracebit_pack.cli.correlation",
    "tracebit_pack.cli.replay",
    "tracebit_pack.query.generate",
    "tracebit_pack.cli.review",
    "tracebit_pack.cli.conformance",
    "tracebit_pack.cli.send",
    "tracebit_pack.cli.receive",
    "tracebit_pack.cli.dev",
]


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors through UsageError (one line, exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tracebit-pack", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"tracebit-pack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # stage not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"tracebit-pack: error: {err}", file=sys.stderr)
        return 2
    except CheckFailed:
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
