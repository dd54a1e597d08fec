"""Sub-command ``dev``: the developer tools, under the same command as the pipeline stages.

    tracebit-pack dev fuzz [--examples N] ...       fuzz every rule with generated events
    tracebit-pack dev bench [--out FILE] ...        benchmark the rules, the replay and the queries
    tracebit-pack dev bench-scale [--sizes ...]     replay scaling on generated CloudTrail data
    tracebit-pack dev mutate [--jobs N] ...         mutation testing of the helpers and rules
    tracebit-pack dev secrets [FILE ...]            secret scan against .secrets.baseline
    tracebit-pack dev pantherflow-docs [...]        the PantherFlow docs' examples on the executor

Each tool keeps its own options (``tracebit-pack dev fuzz --help``) and its module still runs on its
own (``python -m tracebit_pack.dev.fuzz``): this module only imports the tool when it is asked for
and hands it every argument after the tool's name. The tools need the ``dev`` extra (hypothesis,
cosmic-ray, detect-secrets ...); without it the command says so in one line and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from dataclasses import dataclass

from tracebit_pack.errors import UserError

INSTALL_HINT = "install the dev extra: .venv/bin/pip install -e '.[dev]' (make install does)"


@dataclass(frozen=True)
class DevTool:
    """A developer tool: the module whose ``main(argv)`` runs it and the dev-extra modules it needs."""

    module: str
    help: str
    needs: tuple[str, ...]


DEV_TOOLS = {
    "fuzz": DevTool("tracebit_pack.dev.fuzz", "fuzz every rule with generated events", ("hypothesis",)),
    "bench": DevTool(
        "tracebit_pack.dev.bench", "benchmark the rules, the replay and each query", ("hypothesis",)
    ),
    "bench-scale": DevTool(
        "tracebit_pack.dev.bench_scale", "replay scaling: 10k to 1M generated CloudTrail events", ()
    ),
    "mutate": DevTool(
        "tracebit_pack.dev.mutation",
        "mutation testing of global_helpers/ and rules/ with cosmic-ray",
        ("cosmic_ray", "coverage", "pytest"),
    ),
    "secrets": DevTool(
        "tracebit_pack.dev.secrets_check", "secret scan of the tracked files", ("detect_secrets",)
    ),
    "pantherflow-docs": DevTool(
        "tracebit_pack.query.pantherflow_docs",
        "run the examples of Panther's PantherFlow docs on the offline executor (K/N conforming)",
        (),
    ),
}


class _PassThrough(argparse.ArgumentParser):
    """A tool's sub-command: every argument after its name (``--help`` too) goes to the tool's
    own parser, so its options are defined once, in its module."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        namespace = namespace if namespace is not None else argparse.Namespace()
        for key, value in self._defaults.items():
            setattr(namespace, key, value)
        namespace.tool_args = list(args or [])
        return namespace, []


def _missing_extra(name: str, err: ModuleNotFoundError | None, module: str | None) -> UserError:
    what = module or (err.name if err else None) or "a module"
    return UserError(f"dev {name}: {what} is not installed; {INSTALL_HINT}")


def _third_party(err: ModuleNotFoundError) -> bool:
    return bool(err.name) and str(err.name).split(".")[0] != "tracebit_pack"


def run_tool(name: str, argv: list[str]) -> int:
    """Import the tool ``name`` and run its ``main(argv)``; UserError when the dev extra is missing."""
    tool = DEV_TOOLS[name]
    for module in tool.needs:
        if importlib.util.find_spec(module) is None:
            raise _missing_extra(name, None, module)
    try:
        main = importlib.import_module(tool.module).main
        return int(main(argv) or 0)
    except ModuleNotFoundError as err:
        if not _third_party(err):
            raise
        raise _missing_extra(name, err, None) from None


def _command(args: argparse.Namespace) -> int:
    return run_tool(args.dev_tool, args.tool_args)


def register(subparsers: argparse._SubParsersAction) -> None:
    dev = subparsers.add_parser(
        "dev",
        help="developer tools: fuzz, bench, bench-scale, mutate, secrets, pantherflow-docs",
        description=__doc__.split("\n\n")[0],
    )
    tools = dev.add_subparsers(dest="dev_tool", metavar="TOOL", parser_class=_PassThrough)
    for name, tool in DEV_TOOLS.items():
        parser = tools.add_parser(name, help=tool.help, add_help=False)
        parser.set_defaults(func=_command)

    def _usage(_args: argparse.Namespace) -> int:
        raise UserError(f"dev: missing tool (use: dev {'|'.join(DEV_TOOLS)} [options])")

    dev.set_defaults(func=_usage)
