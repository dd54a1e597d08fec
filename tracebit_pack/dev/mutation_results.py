"""Mutation-testing results: reading ``cosmic-ray dump``, the checked-in equivalent mutants, and
the score.

Why apart from the run (``tracebit_pack.dev.mutation``): this part needs no cosmic-ray, no copy
of the tree and no subprocess, so the tests check it directly on small dumps, and every entry of
``tests/mutation_equivalents.yml`` is checked against the source line it names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tracebit_pack.errors import UserError

EQUIVALENTS_FILE = Path("tests") / "mutation_equivalents.yml"


@dataclass
class MutantSite:
    """Where a mutant is: file, line, column and operator, the key that matches a mutant of a run
    with a checked-in equivalent."""

    path: str
    line: int
    col: int
    operator: str

    def key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.col, self.operator)


@dataclass
class Mutant(MutantSite):
    """A mutant cosmic-ray ran, with its test outcome and the diff it made."""

    occurrence: int
    outcome: str  # killed / survived / incompetent
    diff: str = ""


@dataclass
class Equivalent(MutantSite):
    """A checked-in equivalent mutant: the source line it was judged on, and why no test can tell."""

    code: str
    reason: str
    used: bool = field(default=False, compare=False)


# --------------------------------------------------------------------------- equivalents


def load_equivalents(root: Path) -> list[Equivalent]:
    """The checked-in equivalent mutants; a malformed entry is a user error (one line)."""
    path = root / EQUIVALENTS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as err:
        raise UserError(f"{path}: {err}") from None
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a list of mutants")
    out = []
    for number, entry in enumerate(data, 1):
        keys = {"file", "line", "col", "operator", "code", "reason"}
        if not isinstance(entry, dict) or set(entry) != keys:
            raise UserError(f"{path}: entry {number}: needs exactly the keys {sorted(keys)}")
        if not str(entry["reason"]).strip():
            raise UserError(f"{path}: entry {number}: empty reason")
        out.append(
            Equivalent(
                path=str(entry["file"]),
                line=int(entry["line"]),
                col=int(entry["col"]),
                operator=str(entry["operator"]),
                code=str(entry["code"]).strip(),
                reason=str(entry["reason"]).strip(),
            )
        )
    return out


def source_line(root: Path, path: str, line: int) -> str | None:
    try:
        lines = (root / path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return lines[line - 1].strip() if 0 < line <= len(lines) else None


# --------------------------------------------------------------------------- cosmic-ray dump


def parse_dump(lines: Iterable[str]) -> list[Mutant]:
    """Mutants with a test outcome from ``cosmic-ray dump`` (skipped and pending ones left out)."""
    mutants = []
    for line in lines:
        if not line.strip():
            continue
        item, result = json.loads(line)
        if not result or result.get("worker_outcome") != "normal":
            continue
        (mutation,) = item["mutations"]
        mutants.append(
            Mutant(
                path=Path(mutation["module_path"]).as_posix(),
                line=int(mutation["start_pos"][0]),
                col=int(mutation["start_pos"][1]),
                operator=mutation["operator_name"],
                occurrence=int(mutation["occurrence"]),
                outcome=str(result.get("test_outcome")),
                diff=str(result.get("diff") or ""),
            )
        )
    return mutants


# --------------------------------------------------------------------------- report


def _changed_line(diff: str) -> str:
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            return line[1:].strip()
    return ""


def report(root: Path, mutants: list[Mutant], equivalents: list[Equivalent]) -> tuple[int, int]:
    """Print survivors, stale equivalents and per-file scores; returns (killed, counted)."""
    by_key = {eq.key(): eq for eq in equivalents}
    per_file: dict[str, list[int]] = {}
    survivors = []
    left_out = 0
    for mutant in sorted(mutants, key=lambda m: (m.path, m.line, m.col, m.operator)):
        equivalent = by_key.get(mutant.key())
        if equivalent and source_line(root, mutant.path, mutant.line) == equivalent.code:
            equivalent.used = True
            if mutant.outcome == "survived":
                left_out += 1
                continue  # known equivalent: not counted
        counts = per_file.setdefault(mutant.path, [0, 0])
        counts[1] += 1
        if mutant.outcome == "survived":
            survivors.append(mutant)
        else:
            counts[0] += 1
    for mutant in survivors:
        print(f"SURVIVED {mutant.path}:{mutant.line}:{mutant.col} {mutant.operator}")
        print(f"    was: {source_line(root, mutant.path, mutant.line)}")
        print(f"    now: {_changed_line(mutant.diff)}")
    for equivalent in equivalents:
        if not equivalent.used:
            print(
                f"stale equivalent (no such surviving mutant): {equivalent.path}:{equivalent.line}:"
                f"{equivalent.col} {equivalent.operator}"
            )
    print(f"{left_out} known equivalent mutants left out ({len(equivalents)} entries in {EQUIVALENTS_FILE})")
    for path, (killed, counted) in sorted(per_file.items()):
        print(f"  {path}: {killed}/{counted} ({100 * killed / counted:.1f}%)")
    killed = sum(k for k, _ in per_file.values())
    counted = sum(n for _, n in per_file.values())
    return killed, counted
