"""``tracebit-pack`` command line: one sub-command per pipeline stage.

One convention for every command: ``tracebit_pack/cli/<command>.py`` exposes
``register(subparsers)``, which adds the sub-command and sets ``func`` (called with the parsed
arguments, returning an exit code); the stage it runs is a library module that knows nothing of
argparse. This module only wires them together and turns errors into exit codes: 0 success,
1 a check found problems (``CheckFailed``), 2 bad input (``UserError``, one line on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tracebit_pack import __version__
from tracebit_pack.errors import CheckFailed, UsageError, UserError
from tracebit_pack.text import visible

# Each sub-command and the module that registers it, in the order `--help` lists them. Only the
# module of the command asked for is imported (the engine alone takes a second to import).
COMMANDS = {
    "validate-events": "tracebit_pack.cli.validate",
    "query": "tracebit_pack.cli.query",
    "test-correlation": "tracebit_pack.cli.correlation",
    "replay": "tracebit_pack.cli.replay",
    "generate-queries": "tracebit_pack.cli.generate_queries",
    "review": "tracebit_pack.cli.review",
    "check-paths": "tracebit_pack.cli.check_paths",
    "conformance": "tracebit_pack.cli.conformance",
    "send": "tracebit_pack.cli.send",
    "receive": "tracebit_pack.cli.receive",
    "dev": "tracebit_pack.cli.dev",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors through UsageError (one line, exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command, or of ``command`` alone (the one on the command line)."""
    parser = _Parser(
        prog="tracebit-pack", description="Offline tools of the Tracebit detection pack for Panther."
    )
    parser.add_argument("--version", action="version", version=f"tracebit-pack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    names = [command] if command in COMMANDS else list(COMMANDS)
    for name in names:
        importlib.import_module(COMMANDS[name]).register(sub)
    return parser


def _command_of(argv: list[str]) -> str | None:
    """The sub-command named on the command line (the first word that is not an option)."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command_of(argv))
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"tracebit-pack: error: {visible(str(err))}", file=sys.stderr)
        return 2
    except CheckFailed:
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
