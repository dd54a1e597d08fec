"""Evaluating one side of the review in its own ``tracebit_pack.review.worker`` subprocess.

The head worker runs the pull request's code, so nothing it can touch is trusted afterwards:

* ``build_report`` starts it last, once everything the report reads from files has been read
  (both sides' items, the structural diff) and the base worker is done;
* each worker has its own temporary folder (working folder and ``TMPDIR``), removed afterwards;
* its result comes back over a pipe, at most ``MAX_RESULT_BYTES``, and is checked against
  ``RESULT_SCHEMA`` (it is still the pull request's own account of its behaviour);
* it gets a minimal environment (``WORKER_ENV``; the parent's own are closed by ``parent_secrets``);
* it has a time limit, and afterwards every process it started is killed: its process group, and
  on Linux any descendant that left the group (``start_new_session``, a double fork), which the
  parent collects as a child subreaper while the worker runs. An error, Ctrl-C or SIGTERM
  (``sigterm_as_interrupt``) does the same.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import jsonschema

from tracebit_pack.errors import UserError
from tracebit_pack.logs.schemas import loads_json

WORKER_TIMEOUT = 900
MAX_RESULT_BYTES = 256 << 20
STDERR_TAIL_BYTES = 64 << 10
# The only variables a worker inherits: rule code runs there, and must not see tokens or keys.
WORKER_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")
_PR_SET_CHILD_SUBREAPER = 36

_STRING = {"type": "string"}
_RESULT = {"type": "object", "properties": {"rule_id": _STRING}, "required": ["rule_id"]}
# What behaviour.py and checks.py read from a worker's result: anything else is refused.
RESULT_SCHEMA = {
    "type": "object",
    "required": ["tests", "scenarios", "not_evaluated"],
    "properties": {
        "engine": _STRING,
        "not_evaluated": {"type": "object", "additionalProperties": _STRING},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["rule_id", "name", "expected", "log_key", "result"],
                "properties": {
                    "rule_id": _STRING,
                    "name": _STRING,
                    "expected": {"type": "boolean"},
                    "log_key": {"type": ["string", "null"]},
                    "result": {"type": "object", "properties": {"alert_context": {}}},
                },
            },
        },
        "scenarios": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["events", "alerts"],
                "properties": {
                    "events": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["file", "line", "key", "results"],
                            "properties": {
                                "file": _STRING,
                                "line": {"type": "integer"},
                                "key": _STRING,
                                "results": {"type": "array", "items": _RESULT},
                            },
                        },
                    },
                    "alerts": {"type": "array", "items": _RESULT},
                },
            },
        },
    },
}


def worker_env(tmp: Path) -> dict[str, str]:
    """A minimal environment for a worker: ``WORKER_ENV``, its own ``TMPDIR``, and what it needs
    to import us."""
    package_dir = str(Path(__file__).resolve().parents[2])
    env = {name: os.environ[name] for name in WORKER_ENV if name in os.environ}
    env["TMPDIR"] = str(tmp)  # never the parent's: the worker's own folder
    env["PYTHONPATH"] = package_dir
    env["DISABLE_DETECTION_OUTPUT"] = ""
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # same set/dict-of-str order on both sides, so a rule that returns a set is not a "change"
    env["PYTHONHASHSEED"] = "0"
    return env


def run_worker(root: Path, label: str) -> dict:
    """Evaluate the pack under ``root`` in a worker; its checked result. ``label`` names the side
    in errors (``""`` for the head, ``<ref>@<commit>:`` for the base)."""
    with tempfile.TemporaryDirectory(prefix="tracebit-review-worker-") as tmp_name, _subreaper():
        tmp = Path(tmp_name)
        before = _children()
        read_end, write_end = os.pipe()
        proc = None
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tracebit_pack.review.worker", str(root), str(write_end)],
                cwd=tmp,
                env=worker_env(tmp),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(write_end,),
                start_new_session=True,  # its own process group, killed as a whole
            )
            os.close(write_end)
            write_end = -1
            result, stderr = _Drain(read_end, MAX_RESULT_BYTES), _Drain(proc.stderr.fileno(), None)
            try:
                proc.wait(timeout=WORKER_TIMEOUT)
            except subprocess.TimeoutExpired:
                side = label.rstrip(":") or "the working tree"
                raise UserError(f"evaluating {side} timed out after {WORKER_TIMEOUT}s") from None
            finally:
                _kill_all(proc, before)
            return _checked(proc.returncode, result.finish(), stderr.finish(), label)
        finally:
            if write_end >= 0:
                os.close(write_end)
            if proc is not None:
                _kill_all(proc, before)
                proc.stderr.close()
            os.close(read_end)


class _Drain:
    """Read a pipe to its end in a thread, keeping at most ``limit`` bytes (None: the last
    ``STDERR_TAIL_BYTES``); ``overflow`` when a limited pipe carried more."""

    def __init__(self, fd: int, limit: int | None) -> None:
        self.fd, self.limit = fd, limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.overflow = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(self.fd, 1 << 16):
                self.chunks.append(chunk)
                self.size += len(chunk)
                if self.limit is None:
                    while self.size - len(self.chunks[0]) > STDERR_TAIL_BYTES:
                        self.size -= len(self.chunks.pop(0))
                elif self.size > self.limit:
                    self.overflow = True
                    self.chunks.clear()
                    return

    def finish(self) -> bytes | None:
        """What was read once every writer is gone (None after an overflow)."""
        self.thread.join(timeout=10)
        return None if self.overflow else b"".join(self.chunks)


def _checked(returncode: int, data: bytes | None, stderr: bytes | None, label: str) -> dict:
    side = label.rstrip(":") or "the working tree"
    if returncode != 0:
        lines = [line for line in (stderr or b"").decode("utf-8", "replace").splitlines() if line.strip()]
        message = lines[-1] if lines else f"exit code {returncode}"
        if returncode == 2:
            raise UserError(f"{label}{message}")
        raise UserError(f"evaluating {side} failed: {message}")
    if data is None:
        raise UserError(f"evaluating {side}: its result is larger than {MAX_RESULT_BYTES} bytes")
    try:
        result = loads_json(data)
        jsonschema.validate(result, RESULT_SCHEMA)
    except (ValueError, jsonschema.ValidationError) as err:
        why = getattr(err, "message", None) or str(err)
        raise UserError(f"evaluating {side}: its result is not a worker's result: {why[:200]}") from None
    return result


def _libc() -> ctypes.CDLL | None:
    return ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


@contextlib.contextmanager
def _subreaper() -> Iterator[None]:
    """While the block runs, orphaned descendants are re-parented to this process (Linux)."""
    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield
    finally:
        if libc is not None:
            libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def _children() -> set[int]:
    """This process's children (Linux: from /proc; elsewhere none are found)."""
    me = os.getpid()
    found = set()
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                found.add(int(entry.name))
    return found


def _kill_all(proc: subprocess.Popen, spare: set[int]) -> None:
    """Kill the worker's process group, then every other child (orphans re-parented to us)
    but those in ``spare``, until none is left; reap them all."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()
    for _ in range(10_000):  # each round kills what is there; what they started comes back to us
        strays = _children() - spare
        if not strays:
            return
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in strays:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: workers killed, temp folders removed


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
