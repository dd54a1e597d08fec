"""``tracebit-pack test-correlation [paths]``: run correlation rules' RuleOutputs tests offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tracebit_pack.engine.correlation import CorrelationError, CorrelationRule, find_rule_files
from tracebit_pack.engine.correlation_rule_outputs import run_tests
from tracebit_pack.errors import CheckFailed, UserError
from tracebit_pack.pack.items import add_path_argument, items_of, load_items, load_yaml, repository


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "test-correlation",
        help="run the Tests (RuleOutputs) of correlation rules offline",
        description=(
            "Evaluate every correlation rule's Tests with Panther's Group/Sequence semantics "
            "(docs/correlation.md). Prints PASS/FAIL per test (--quiet: failures only); exit 1 if any fails."
        ),
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="correlation rule files or folders (default: every correlation rule under --path)",
    )
    parser.add_argument("--quiet", action="store_true", help="print failures and the summary only")
    add_path_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    explicit = bool(args.paths)
    # default: every correlation rule in the folders PAT reads (panther-analysis keeps some in rules/)
    paths = args.paths or [item.path for item in items_of(load_items(repository(args)), "correlation_rule")]
    rules: list[CorrelationRule] = []
    problems: list[str] = []
    for file in find_rule_files(paths):
        spec = load_yaml(file)
        if not isinstance(spec, dict) or spec.get("AnalysisType") != "correlation_rule":
            continue
        try:
            rules.append(CorrelationRule(spec, file))
        except CorrelationError as err:
            problems.append(str(err))
    if not rules and not problems:
        if explicit:
            raise UserError(f"no correlation rules found in {', '.join(str(p) for p in paths)}")
        print("test-correlation: no correlation rules found; nothing to test")
        return 0
    passed = failed = 0
    for problem in problems:
        print(f"FAIL {problem}")
        failed += 1
    for rule in rules:
        if not rule.tests:
            print(f"WARN {rule.rule_id}: no Tests ({rule.path})")
        for outcome in run_tests(rule):
            if outcome.passed:
                passed += 1
                if not args.quiet:
                    print(f"PASS {rule.rule_id}: {outcome.name}")
                continue
            failed += 1
            if outcome.error:
                print(f"FAIL {rule.rule_id}: {outcome.name}: {outcome.error}")
            else:
                print(
                    f"FAIL {rule.rule_id}: {outcome.name}: expected "
                    f"{str(outcome.expected).lower()}, got {str(outcome.actual).lower()}"
                )
    print(f"test-correlation: {len(rules)} rule(s), {passed} passed, {failed} failed")
    sys.stdout.flush()
    if failed:
        raise CheckFailed()
    return 0
