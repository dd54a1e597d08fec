"""Close the review process's own secrets before any worker runs the pull request's code.

A worker gets a minimal environment (``evaluate.worker_env``), but on Linux a process of the same
user can read its parent's ``/proc/<pid>/environ``: the environment block the parent *started*
with, whatever the parent later deleted from ``os.environ``. So before the first worker starts,
``tracebit-pack review``:

* drops every variable outside ``KEPT`` from ``os.environ`` (git and the workers need nothing more);
* overwrites those variables in its initial environment block with zero bytes, so that
  ``/proc/<pid>/environ`` no longer holds them (even for root, who may read any process);
* marks itself not dumpable (``PR_SET_DUMPABLE`` 0): ``/proc/<pid>/environ`` and ``mem`` become
  unreadable to other processes of the same user that lack ``CAP_SYS_PTRACE``.

Processes that started the review (a shell, ``make``) keep their own environments: run the review
where they hold no secret, as CI does.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

# Variables the review itself still needs: finding programs, locale, time zone, temp folder, git's
# home configuration.
KEPT = frozenset(("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT", "TERM"))
_PR_SET_DUMPABLE = 4
# /proc/<pid>/stat fields 50 and 51 (1-based, Linux >= 3.5): where the initial environment lies.
_ENV_START_FIELD, _ENV_END_FIELD = 50, 51


def close_parent_secrets() -> list[str]:
    """Drop, blank and hide every variable outside ``KEPT``; the names dropped."""
    dropped = sorted(name for name in os.environ if name not in KEPT)
    for name in dropped:
        del os.environ[name]
    if sys.platform.startswith("linux"):
        _blank_initial_environment()
        _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    return dropped


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _blank_initial_environment() -> None:
    """Overwrite, in this process's memory, every ``NAME=value`` of the initial environment block
    whose NAME is not kept (libc's ``environ`` no longer points there once ``os.environ`` dropped it)."""
    fields = Path("/proc/self/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state) of the man page
    start, end = int(fields[_ENV_START_FIELD - 3]), int(fields[_ENV_END_FIELD - 3])
    if not 0 < start < end:
        return
    block = ctypes.string_at(start, end - start)
    offset = 0
    for entry in block.split(b"\0"):
        name = entry.split(b"=", 1)[0].decode("utf-8", "replace")
        if entry and name not in KEPT:
            ctypes.memset(start + offset, 0, len(entry))
        offset += len(entry) + 1
