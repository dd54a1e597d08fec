"""Run pytest in forks of a warm process: the test command of ``make mutate``.

cosmic-ray runs the test command once per mutant. A fresh ``python -m pytest`` spends over a
second importing pytest, hypothesis, panther_core, sqlglot ... before the first test, which on a
shared two-core machine is most of the run. The server imports those libraries once (never the
code under test) and forks a child per request; the child imports the (mutated) code and the
tests from disk and runs ``pytest.main``. The client is the test command cosmic-ray runs: it
sends its arguments and exits with the child's exit code.

    python -m tracebit_pack.pytest_forkserver serve SOCKET
    python -m tracebit_pack.pytest_forkserver run SOCKET -- PYTEST_ARGS...
"""

from __future__ import annotations

import json
import os
import socket
import sys

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
)


def _run_child(request: dict) -> int:
    """In the forked child: run pytest in ``cwd`` as ``python -m pytest`` would."""
    os.chdir(request["cwd"])
    sys.path.insert(0, request["cwd"])
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    import pytest

    return int(pytest.main(request["args"]))


def serve(path: str) -> None:
    """Answer one request at a time until killed (the caller owns the process)."""
    import importlib

    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
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
                    code = _run_child(request)
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            try:
                conn.sendall(f"{code}\n".encode())
            except OSError:  # the client was stopped (cosmic-ray's timeout): nothing to tell
                continue


def run(path: str, args: list[str]) -> int:
    """The client: ask the server to run pytest with ``args`` here; its exit code is ours."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(path)
        client.sendall((json.dumps({"cwd": os.getcwd(), "args": args}) + "\n").encode())
        answer = client.makefile("r").readline().strip()
    return int(answer) if answer.lstrip("-").isdigit() else 3


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) >= 2 and argv[0] == "serve":
        serve(argv[1])
        return 0
    if len(argv) >= 2 and argv[0] == "run":
        args = argv[2:]
        return run(argv[1], args[1:] if args[:1] == ["--"] else args)
    print(
        "usage: python -m tracebit_pack.pytest_forkserver serve SOCKET | run SOCKET -- ARGS", file=sys.stderr
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
