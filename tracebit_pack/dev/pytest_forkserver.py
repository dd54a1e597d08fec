"""Run pytest in forks of a warm process, only the tests that reach the mutated lines: the test
command of ``make mutate``.

cosmic-ray runs the test command once per mutant. A fresh ``python -m pytest`` of the whole
test subset costs seconds of CPU, most of it importing libraries and running tests that never
reach the changed line; on a shared two-core machine that is hours for a few hundred mutants.
So the server, started in a copy of the tree before any mutation:

1. runs the test subset once under coverage.py with one context per test function (this is the
   baseline: it must pass) and keeps, for every line of the target files, the tests that ran it;
2. imports the libraries the tests use (never the code under test) and waits;
3. per request, forks: the child compares the target files with their original text to find the
   mutated lines, and runs ``pytest.main`` on the tests that ran those lines (all of the subset
   when a line only runs at import time). A line that no test runs selects no test: the mutant
   survives, which is the truth about it.

The client is the command cosmic-ray runs; it exits with the child's exit code.

    python -m tracebit_pack.dev.pytest_forkserver serve SOCKET --targets FILE... --tests FILE...
    python -m tracebit_pack.dev.pytest_forkserver run SOCKET -- PYTEST_OPTIONS...
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

# Libraries only: the code under test (global helpers, rules) must be imported by each child.
WARM_IMPORTS = (
    "pytest",
    "_pytest.python",
    "_pytest.assertion.rewrite",
    "pytest_timeout",
    "hypothesis",
    "hypothesis.strategies",
    "yaml",
    "panther_core.rule",
    "panther_core.data_model",
    "panther_core.enriched_event",
    "panther_detection_helpers.caching",
    "sqlglot",
    "pygments.lexers",
    "tracebit_pack.engine.rules",
)
SURVIVED = 0  # exit code when no test reaches the mutated line
IMPORT_TIME = ""  # coverage's context for lines run outside a test function


def target_files(root: Path, targets: list[str]) -> list[Path]:
    files = []
    for target in targets:
        path = (root / target).resolve()
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def coverage_map(root: Path, targets: list[Path], tests: list[str]) -> dict[str, dict[int, set[str]]] | None:
    """``{file: {line: {test node id}}}`` from one run of ``tests`` under coverage; None if it fails.

    ``IMPORT_TIME`` in a set means the line (also) ran outside any test function: at import time
    or in a fixture, where every test may depend on it.
    """
    import coverage

    with tempfile.TemporaryDirectory(prefix="forkserver-cov-") as tmp:
        rc = Path(tmp) / "coveragerc"
        data_file = Path(tmp) / "coverage.data"
        include = ",".join(str(path) for path in targets)
        rc.write_text(f"[run]\ndynamic_context = test_function\ninclude = {include}\n", encoding="utf-8")
        command = [sys.executable, "-m", "coverage", "run", f"--rcfile={rc}", f"--data-file={data_file}"]
        command += ["-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
        done = subprocess.run(command, cwd=root, capture_output=True, check=False)
        if done.returncode != 0:  # once more: on a loaded machine a test may time out
            first = done.stdout.decode(errors="replace").strip().splitlines()[-1:]
            print(f"note: the baseline failed once ({' '.join(first)}); ran it again", flush=True)
            done = subprocess.run(command, cwd=root, capture_output=True, check=False)
        if done.returncode != 0:
            lines = done.stdout.decode(errors="replace").strip().splitlines() or ["(no output)"]
            failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
            print(f"baseline failed: {(failed or lines)[-1]}", flush=True)
            return None
        data = coverage.CoverageData(basename=str(data_file))
        data.read()
        lines: dict[str, dict[int, set[str]]] = {}
        for measured in data.measured_files():
            by_line = data.contexts_by_lineno(measured)
            lines[str(Path(measured).resolve())] = {
                number: {_node_id(context) if context else IMPORT_TIME for context in contexts}
                for number, contexts in by_line.items()
            }
        return lines


def _node_id(context: str) -> str:
    """``test_module.test_function`` (coverage's test_function context) -> a pytest node id."""
    module, _, function = context.partition(".")
    return f"tests/{module}.py::{function.replace('.', '::')}"


def changed_lines(path: Path, original: list[str]) -> list[int]:
    try:
        now = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    if len(now) != len(original):  # not a one-token mutation: treat every line as changed
        return list(range(1, max(len(now), len(original)) + 1))
    return [number for number, (a, b) in enumerate(zip(original, now, strict=True), 1) if a != b]


def select_tests(
    changes: dict[str, list[int]], covered: dict[str, dict[int, set[str]]], all_tests: list[str]
) -> list[str]:
    """The tests that ran the changed lines (all of ``all_tests`` for an import-time line)."""
    selected: set[str] = set()
    for file, numbers in changes.items():
        lines = covered.get(file, {})
        for number in numbers:
            # A line inside a multi-line statement may not be recorded: use the statement's start.
            start = max((line for line in lines if line <= number), default=None)
            if start is None:
                continue
            tests = lines[start]
            if IMPORT_TIME in tests:  # ran at import time or in a fixture: any test may depend on it
                return list(all_tests)
            selected |= tests
    # In the order of ``all_tests`` (cheap unit tests first): with -x the first failure ends the run.
    rank = {path: index for index, path in enumerate(all_tests)}
    return sorted(selected, key=lambda node: (rank.get(node.split("::")[0], len(rank)), node))


def _run_child(request: dict, options: list[str]) -> int:
    os.chdir(request["cwd"])
    sys.path.insert(0, request["cwd"])
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    import pytest

    return int(pytest.main([*request["args"], *options]))


def serve(sock: str, targets: list[str], tests: list[str]) -> int:
    root = Path.cwd()
    files = target_files(root, targets)
    original = {str(path): path.read_text(encoding="utf-8").splitlines() for path in files}
    covered = coverage_map(root, files, tests)
    if covered is None:
        return 1
    import importlib

    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock)
    server.listen(1)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        with conn:
            request = json.loads(conn.makefile("r").readline())
            pid = os.fork()
            if pid == 0:  # child
                server.close()
                code = 3
                try:
                    changes = {file: changed_lines(Path(file), lines) for file, lines in original.items()}
                    changes = {file: numbers for file, numbers in changes.items() if numbers}
                    chosen = select_tests(changes, covered, tests) if changes else list(tests)
                    code = _run_child(request, chosen) if chosen else SURVIVED
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            try:
                conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
            except OSError:  # the client was stopped (cosmic-ray's timeout): nothing to tell
                continue


def run(sock: str, args: list[str]) -> int:
    """The client: ask the server to run pytest with ``args`` here; its exit code is ours."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(sock)
        client.sendall((json.dumps({"cwd": os.getcwd(), "args": args}) + "\n").encode())
        answer = client.makefile("r").readline().strip()
    return int(answer) if answer.lstrip("-").isdigit() else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracebit_pack.dev.pytest_forkserver")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve")
    serve_parser.add_argument("socket")
    serve_parser.add_argument("--targets", nargs="+", required=True)
    serve_parser.add_argument("--tests", nargs="+", required=True)
    run_parser = commands.add_parser("run")
    run_parser.add_argument("socket")
    run_parser.add_argument("pytest_options", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.socket, args.targets, args.tests)
    options = args.pytest_options[1:] if args.pytest_options[:1] == ["--"] else args.pytest_options
    return run(args.socket, options)


if __name__ == "__main__":
    sys.exit(main())
