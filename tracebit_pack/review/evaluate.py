"""Evaluating base and head, each in its own ``tracebit_pack.review.worker`` subprocess, both at once.

Rule code from the branch runs in the workers, so they get a minimal environment (no tokens, no
keys), a time limit, and are killed whatever happens to the parent (error, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from tracebit_pack.errors import UserError

WORKER_TIMEOUT = 900
# The only variables a worker inherits: rule code runs there, and must not see tokens or keys.
WORKER_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")


def worker_env() -> dict[str, str]:
    """A minimal environment for the workers: ``WORKER_ENV`` plus what they need to import us."""
    package_dir = str(Path(__file__).resolve().parents[2])
    env = {name: os.environ[name] for name in WORKER_ENV if name in os.environ}
    env["PYTHONPATH"] = package_dir
    env["DISABLE_DETECTION_OUTPUT"] = ""
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # same set/dict-of-str order on both sides, so a rule that returns a set is not a "change"
    env["PYTHONHASHSEED"] = "0"
    return env


def run_workers(roots: dict[str, Path], labels: dict[str, str], tmp: Path) -> dict[str, dict]:
    """Evaluate each side in its own interpreter, both at once; never leave one running."""
    env = worker_env()
    procs = {}
    try:
        for side, root in roots.items():
            out = tmp / f"{side}.json"
            procs[side] = (
                subprocess.Popen(
                    [sys.executable, "-m", "tracebit_pack.review.worker", str(root), str(out)],
                    cwd=tmp,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
                out,
            )
        return _collect(procs, labels)
    finally:  # an error, Ctrl-C or SIGTERM (see sigterm_as_interrupt) must not leave workers behind
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def _collect(procs: dict, labels: dict[str, str]) -> dict[str, dict]:
    results = {}
    errors = []
    for side, (proc, out) in procs.items():
        try:
            _, stderr = proc.communicate(timeout=WORKER_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            errors.append(f"evaluating {labels[side]} timed out after {WORKER_TIMEOUT}s")
            continue
        if proc.returncode != 0:
            lines = [line for line in stderr.strip().splitlines() if line.strip()]
            message = lines[-1] if lines else f"exit code {proc.returncode}"
            if proc.returncode == 2:
                errors.append(f"{labels[side]}{message}")
            else:
                errors.append(f"evaluating {labels[side].rstrip(':')} failed: {message}")
            continue
        results[side] = json.loads(out.read_text(encoding="utf-8"))
    if errors:
        raise UserError(errors[0])
    return results


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: workers killed, temp folder removed


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM unwinds like Ctrl-C (only the main thread can set a handler)."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupted) if main_thread else None
    try:
        yield
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
