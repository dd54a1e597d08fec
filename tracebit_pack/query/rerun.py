"""The command that reruns a replay's pivot: what the text, JSON and HTML reports print to copy.

Why: a report shows each pivot's parameters; an analyst reruns the pivot with ``query run`` and the
values the report shows. This builds that command, every value shell-quoted, so it runs verbatim
from the directory the replay ran in; ``tests/test_pivot_rerun.py`` copies it out of the rendered
HTML page and runs it.
"""

from __future__ import annotations

import shlex
from datetime import datetime

from tracebit_pack.times import rfc3339_utc

PROGRAM = "tracebit-pack"


def rerun_command(query: str, parameters: dict, folder: str, now: datetime) -> str:
    """``tracebit-pack query run <query> --data <folder> --now <now> --param k=v ...`` (quoted)."""
    words = [PROGRAM, "query", "run", query, "--data", str(folder), "--now", rfc3339_utc(now)]
    for key, value in parameters.items():
        words += ["--param", f"{key}={value}"]
    return shlex.join(words)
