"""The errors every command reports as one clear line (never a traceback), and where they happened.

``PackError`` is the root. The command line turns a ``UserError`` (bad input: a missing folder, a
malformed file, an unknown name, a bad flag) into ``tracebit-pack: error: <message>`` and exit
code 2, and a ``CheckFailed`` (a check ran and found problems, already printed) into exit code 1.

An error about a place in a file carries a ``Location``, so every such message starts the same
way, ``path:line[:column]: ``, which editors and CI annotations turn into a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """A place in a file: the path as the user gave it, a 1-based line, and optionally a column."""

    path: str | Path
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [str(self.path)]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class PackError(Exception):
    """Root of the tooling's errors: a message and, when it is about a file, where in it."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class UserError(PackError):
    """Bad input from the user (missing folder, malformed file, unknown name, bad flag). Exit code 2."""


class InputError(UserError):
    """A file the user gave does not parse or does not conform; ``location`` says where."""


class UsageError(UserError):
    """A flag or argument the command does not accept."""


class CheckFailed(PackError):
    """A check ran and found problems (the problems were already printed). Exit code 1."""

    def __init__(self, message: str = "check failed", location: Location | None = None) -> None:
        super().__init__(message, location)
