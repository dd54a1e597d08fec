"""``tracebit-pack dev mutate`` (``make mutate``): mutation testing of the detection code with cosmic-ray.

Why: a test suite that passes says nothing about the tests that could not fail. cosmic-ray changes
one thing at a time in the detection code (a comparison flipped, ``and`` / ``or`` swapped, a
condition negated, a loop that never runs, a constant moved by one, an exception type that no
longer matches ...) and runs the fast tests that cover that code; a change that no test notices
is a *survivor*: behaviour nobody pins down.

The run works on a copy of the working tree (tracked and untracked, not ignored, files) in a
temporary folder, so an interrupted run never leaves a mutated file behind. The targets are the
global helpers and the rule and scheduled-rule files, in groups, each with the tests that cover
it. Survivors that are known to be equivalent (no test can tell them apart from the original)
are listed with a reason in ``tests/mutation_equivalents.yml`` and left out of the score.

Reading the results and scoring them is ``tracebit_pack.dev.mutation_results``; this module runs.
The last line printed is ``mutation score: K/N (P%)`` over the non-equivalent mutants. The
exit status is 0 when the score is at least ``--min-score``, 1 below it, 2 for a user error and
3 when the run did not finish within ``--budget-minutes`` (no score is claimed then).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tracebit_pack.dev.mutation_results import Equivalent, Mutant, load_equivalents, parse_dump, report
from tracebit_pack.errors import UserError
from tracebit_pack.pack.items import REPO_ROOT

# The helpers' operators are split three ways (conditions, constants, the rest) into groups of
# similar run times.
CONDITIONS = (
    r"core/AddNot",
    r"core/ReplaceAndWithOr",
    r"core/ReplaceOrWithAnd",
    r"core/ReplaceTrueWithFalse",
    r"core/ReplaceFalseWithTrue",
)
CONSTANTS = (r"core/NumberReplacer",)
# The operators run: the kinds of change that alter detection behaviour (removing a ``not`` is left
# to AddNot, which negates the same conditions). Comparisons are only
# negated or moved across their boundary (== / !=, < / >=, < / <=, is / is not ...); arithmetic
# is only swapped with its inverse. cosmic-ray's other operators (every operator into every
# other, ``~x``, variable insertion ...) mostly make code that crashes at once and would only
# slow the run down.
OPERATORS = (
    r"core/ReplaceComparisonOperator_(Eq_NotEq|NotEq_Eq|Lt_GtE|GtE_Lt|Gt_LtE|LtE_Gt|Lt_LtE|LtE_Lt|"
    r"Gt_GtE|GtE_Gt|Is_IsNot|IsNot_Is)",
    r"core/ReplaceBinaryOperator_(Add_Sub|Sub_Add|Mul_Div|Div_Mul|FloorDiv_Mul|BitOr_BitAnd|BitAnd_BitOr)",
    r"core/ReplaceUnaryOperator_USub_UAdd",
    *CONDITIONS,
    r"core/ReplaceBreakWithContinue",
    r"core/ReplaceContinueWithBreak",
    r"core/ZeroIterationForLoop",
    r"core/ExceptionReplacer",
    *CONSTANTS,
)


def exclude_regex(operators: Iterable[str]) -> str:
    """One regular expression for cr-filter-operators that skips every other operator."""
    return "(?!(?:" + "|".join(operators) + ")$).*"


PER_MUTANT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Group:
    """Files mutated together with some of the operators, and the tests that cover them.

    Groups run in parallel (``--jobs``), each in its own copy of the tree: the helpers, which
    have most of the mutants, are split by operator so that the groups take similar times.
    """

    name: str
    targets: tuple[str, ...]
    tests: tuple[str, ...]
    operators: tuple[str, ...] = OPERATORS


HELPER_FILES = tuple(
    f"global_helpers/tracebit_{name}.py"
    for name in ("base", "principal", "canary", "alert", "mfa_cache", "helpers")
)
PIVOT_FILES = ("global_helpers/tracebit_pivot_templates.py", "global_helpers/tracebit_pivots.py")
# tracebit_customer.py holds the customer's settings (no operator applies to them today);
# tracebit_watched_items.py is not mutated: it is data generated from the pack, and
# tests/test_audit_rule.py (test_watched_items_are_the_packs_own_items) fails on any change to it.
CREDENTIAL_FILES = tuple(
    f"global_helpers/tracebit_{name}.py" for name in ("credential", "alert_cache", "customer")
)
HELPER_TESTS = (
    "tests/test_tracebit_helpers.py",
    "tests/test_rule_outputs.py",
    "tests/test_rules_bad_input.py",
    "tests/test_data_models.py",
    "tests/test_aws_mfa_signal.py",
    "tests/test_alert_recording.py",
)
# Largest groups first: with --jobs 3 the five groups finish at about the same time.
GROUPS = (
    Group("helpers-conditions", HELPER_FILES, HELPER_TESTS, CONDITIONS),
    Group(
        "helpers-operators",
        HELPER_FILES,
        HELPER_TESTS,
        tuple(op for op in OPERATORS if op not in CONSTANTS + CONDITIONS),
    ),
    Group(
        "rules",
        ("rules",),
        (
            "tests/test_scheduled_rules.py",
            "tests/test_signal_rule.py",
            "tests/test_rule_outputs.py",
            "tests/test_rules_bad_input.py",
            "tests/test_kv_cache.py",
            "tests/test_aws_mfa_signal.py",
            "tests/test_audit_rule.py",
            "tests/test_canary_credentials.py",
            "tests/test_source_ip_activity_rule.py",
        ),
    ),
    Group("helpers-constants", HELPER_FILES, HELPER_TESTS, CONSTANTS),
    Group(
        "pivots",
        PIVOT_FILES,
        (
            "tests/test_pivots.py",
            "tests/test_pivot_params.py",
            "tests/test_rule_outputs.py",
            "tests/test_literal_time_bounds.py",
        ),
    ),
    Group(
        "credentials",
        CREDENTIAL_FILES,
        (
            *HELPER_TESTS,
            "tests/test_canary_credentials.py",
            "tests/test_credential_wording.py",
            "tests/test_alert_cache.py",
        ),
    ),
    Group(
        "audit",
        ("global_helpers/tracebit_audit.py",),
        ("tests/test_audit_rule.py", "tests/test_rule_outputs.py"),
    ),
)


# --------------------------------------------------------------------------- running


def _files_to_copy(root: Path) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (root / name).is_file()]


def make_copy(root: Path, into: Path) -> Path:
    """A copy of the working tree (what git would commit) in ``into``."""
    for name in _files_to_copy(root):
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return into


def _test_command(sock: Path) -> str:
    """The command cosmic-ray runs per mutant: the fork server picks the tests (see its docstring)."""
    forkserver = f"{sys.executable} -m tracebit_pack.dev.pytest_forkserver run {sock} --"
    return f"{forkserver} -x -q -p no:cacheprovider --timeout 30"


def _config(group: Group, sock: Path) -> str:
    command = _test_command(sock)
    return (
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(list(group.targets))}\n"
        f"timeout = {PER_MUTANT_TIMEOUT}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = [{json.dumps(exclude_regex(group.operators))}]\n"
    )


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _stop(proc: subprocess.Popen) -> None:
    """Kill a process started with ``start_new_session`` and everything it started."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_group(group: Group, copy: Path, deadline: float) -> tuple[list[Mutant], bool]:
    """Run one group in its own copy of the tree; returns its mutants and whether it finished."""
    config = copy / "cosmic-ray.toml"
    session = copy / "cosmic-ray.sqlite"
    sock = copy / "pytest-forkserver.sock"
    config.write_text(_config(group, sock), encoding="utf-8")
    # CI=1: the fixed-seed hypothesis profile (tests/conftest.py), so a mutant's verdict is repeatable.
    # TMPDIR per group: panther_core writes data-model bodies to $TMPDIR/datamodels/<id>.py, which
    # groups running at the same time would otherwise overwrite under each other.
    tmpdir = copy / ".tmp"
    tmpdir.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", CI="1", TMPDIR=str(tmpdir))
    env.pop("PYTHONPATH", None)

    def quiet(command: list[str], check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(command, cwd=copy, env=env, check=check, capture_output=True)

    where = quiet([sys.executable, "-c", "import tracebit_pack; print(tracebit_pack.__file__)"]).stdout
    if not Path(where.decode().strip()).resolve().is_relative_to(copy.resolve()):
        raise UserError(f"group {group.name}: the copy imports tracebit_pack from {where.decode().strip()}")

    def spawn(command: list[str], stdout: int) -> subprocess.Popen:
        # Its own process group, so that at the deadline the test run under way is stopped too.
        return subprocess.Popen(
            command, cwd=copy, env=env, stdout=stdout, stderr=subprocess.DEVNULL, start_new_session=True
        )

    server = spawn(
        [sys.executable, "-m", "tracebit_pack.dev.pytest_forkserver", "serve", str(sock)]
        + ["--targets", *group.targets, "--tests", *group.tests],
        subprocess.PIPE,
    )
    try:
        # The server first runs the tests once unmutated (the baseline, under coverage): they
        # must pass, else every mutant would look killed.
        status = "note:"
        while server.stdout and status.startswith("note:"):
            status = server.stdout.readline().decode(errors="replace").strip()
            if status.startswith("note:"):
                print(f"tracebit-pack dev mutate: group {group.name}: {status[5:].strip()}", file=sys.stderr)
        if status != "ready":
            raise UserError(
                f"group {group.name}: the tests fail without any mutation ({status or 'no answer'}; "
                f"run: .venv/bin/pytest {' '.join(group.tests)})"
            )
        quiet([_bin("cosmic-ray"), "init", str(config), str(session)])
        quiet([_bin("cr-filter-operators"), str(session), str(config)])
        finished = True
        cosmic = spawn([_bin("cosmic-ray"), "exec", str(config), str(session)], subprocess.DEVNULL)
        try:
            cosmic.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            finished = False
        finally:
            _stop(cosmic)
    finally:
        _stop(server)
    dump = quiet([_bin("cosmic-ray"), "dump", str(session)]).stdout.decode()
    return parse_dump(dump.splitlines()), finished


def _in_group(equivalent: Equivalent, group: Group) -> bool:
    """Whether ``group`` makes this mutant (its file is a target and its operator is run)."""
    in_targets = any(
        equivalent.path == target or equivalent.path.startswith(target.rstrip("/") + "/")
        for target in group.targets
    )
    return in_targets and any(re.fullmatch(op, equivalent.operator) for op in group.operators)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracebit-pack dev mutate", description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=3, help="groups run at once (default 3)")
    parser.add_argument(
        "--budget-minutes", type=float, default=90.0, help="stop after this long (default 90)"
    )
    parser.add_argument(
        "--min-score", type=float, default=95.0, help="lowest passing score in %% (default 95)"
    )
    parser.add_argument(
        "--group", action="append", choices=[g.name for g in GROUPS], help="only these groups"
    )
    args = parser.parse_args(argv)
    try:
        if args.jobs < 1 or args.budget_minutes <= 0:
            raise UserError("--jobs and --budget-minutes must be positive")
        root = REPO_ROOT
        equivalents = load_equivalents(root)
        groups = [g for g in GROUPS if not args.group or g.name in args.group]
    except UserError as err:
        print(f"tracebit-pack dev mutate: error: {err}", file=sys.stderr)
        return 2
    started = time.monotonic()
    deadline = started + args.budget_minutes * 60
    try:
        with (
            tempfile.TemporaryDirectory(prefix="tracebit-mutate-") as tmp,
            ThreadPoolExecutor(args.jobs) as pool,
        ):
            # Every copy is taken now, so that all groups test the same working tree.
            copies = [make_copy(root, Path(tmp) / group.name) for group in groups]
            futures = [
                pool.submit(run_group, group, copy, deadline)
                for group, copy in zip(groups, copies, strict=True)
            ]
            results, errors = [], []
            for future in futures:  # a group that cannot run does not discard the others
                try:
                    results.append(future.result())
                except UserError as err:
                    errors.append(str(err))
                    results.append(([], True))
    except UserError as err:  # the tree could not be copied
        print(f"tracebit-pack dev mutate: error: {err}", file=sys.stderr)
        return 2
    mutants = [mutant for group_mutants, _ in results for mutant in group_mutants]
    unfinished = [group.name for group, (_, done) in zip(groups, results, strict=True) if not done]
    equivalents = [eq for eq in equivalents if any(_in_group(eq, group) for group in groups)]
    killed, counted = report(root, mutants, equivalents)
    minutes = (time.monotonic() - started) / 60
    print(f"{len(mutants)} mutants run in {minutes:.1f} min (groups: {', '.join(g.name for g in groups)})")
    for error in errors:
        print(f"tracebit-pack dev mutate: error: {error}", file=sys.stderr)
    if errors:
        return 2
    if unfinished:
        print(
            f"tracebit-pack dev mutate: error: not finished within {args.budget_minutes:g} min "
            f"(groups {', '.join(unfinished)}); no score",
            file=sys.stderr,
        )
        return 3
    if not counted:
        print("tracebit-pack dev mutate: error: no mutant was run", file=sys.stderr)
        return 2
    score = 100 * killed / counted
    print(f"mutation score: {killed}/{counted} ({score:.1f}%)")
    return 0 if score >= args.min_score else 1


if __name__ == "__main__":
    sys.exit(main())
