"""Load the pack's analysis items (rules, queries, correlation rules, data models, globals, packs).

One loader so every stage sees the repository the way panther_analysis_tool does: the YAML
spec of each item, keyed by its Panther ID, with the path of its Python body if it has one.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import yaml

from tracebit_pack.errors import UserError
from tracebit_pack.yaml_loader import safe_load

# Top-level folders of this pack's own layout (PAT reads these and more: PAT_PATH_PATTERNS).
ITEM_DIRS = ("rules", "queries", "correlation_rules", "data_models", "global_helpers", "packs")

# Folder patterns PAT matches against ``./<relative path>`` when it walks ``--path .``
# (panther_analysis_tool.constants *_PATH_PATTERN): items anywhere else are not loaded.
PAT_PATH_PATTERNS = (
    "*data_models*",
    "*lookup_tables*",
    "*/global_helpers",
    "*rules*",
    "*/packs",
    "*policies*",
    "*queries*",
    "*scheduled_prompts*",
)

# AnalysisType -> the YAML key that holds the item's ID.
ID_KEYS = {
    "rule": "RuleID",
    "scheduled_rule": "RuleID",
    "correlation_rule": "RuleID",
    "policy": "PolicyID",
    "saved_query": "QueryName",
    "scheduled_query": "QueryName",
    "datamodel": "DataModelID",
    "global": "GlobalID",
    "pack": "PackID",
    "lookup_table": "LookupName",
}

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class AnalysisItem:
    """One analysis item: its YAML spec and where it lives."""

    path: Path
    spec: dict = field(repr=False)

    @property
    def kind(self) -> str:
        return self.spec.get("AnalysisType", "")

    @property
    def id(self) -> str:
        return str(self.spec.get(ID_KEYS.get(self.kind, ""), ""))

    @property
    def body_path(self) -> Path | None:
        """The Python file named by ``Filename``, if any."""
        filename = self.spec.get("Filename")
        return self.path.parent / filename if filename else None

    @property
    def tests(self) -> list[dict]:
        return list(self.spec.get("Tests") or [])

    @property
    def query(self) -> str | None:
        for key in ("Query", "SnowflakeQuery"):
            if self.spec.get(key):
                return self.spec[key]
        return None


def load_yaml(path: Path) -> object:
    """Parse one YAML file; a syntax error becomes a one-line UserError naming the file."""
    try:
        with path.open(encoding="utf-8") as handle:
            return safe_load(handle)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{where}: invalid YAML: {problem}") from None
    except OSError as err:
        raise UserError(f"{path}: cannot read: {err.strerror}") from None


def _is_yaml(path: Path) -> bool:
    return path.suffix in (".yml", ".yaml") and not path.name.startswith(".")


def _pat_dirs(root: Path) -> list[Path]:
    """The folders ``pat --path ROOT`` reads: any whose path matches one of PAT_PATH_PATTERNS."""
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
        relative = Path(dirpath).relative_to(root)
        if relative != Path(".") and any(fnmatch(f"./{relative.as_posix()}", p) for p in PAT_PATH_PATTERNS):
            found.append(Path(dirpath))
    return found


def iter_item_files(root: Path = REPO_ROOT, dirs: Iterable[str] | None = None) -> list[Path]:
    """YAML files under ``root``: in the folders PAT reads, or under the named ``dirs`` only."""
    files: list[Path] = []
    if dirs is None:
        for folder in _pat_dirs(Path(root)):
            files.extend(sorted(p for p in folder.iterdir() if p.is_file() and _is_yaml(p)))
        return files
    for name in dirs:
        base = root / name
        if base.is_dir():
            files.extend(sorted(p for p in base.rglob("*.y*ml") if _is_yaml(p)))
    return files


def item_folders(root: Path) -> list[str]:
    """Top-level folders of ``root`` that hold folders PAT reads (for copying a git revision)."""
    return sorted({folder.relative_to(root).parts[0] for folder in _pat_dirs(Path(root))})


def load_items(root: Path = REPO_ROOT) -> list[AnalysisItem]:
    """Every analysis item under ``root``; raises UserError on malformed YAML or duplicate IDs."""
    items: list[AnalysisItem] = []
    seen: dict[tuple[str, str], Path] = {}
    for path in iter_item_files(root):
        spec = load_yaml(path)
        if not isinstance(spec, dict) or "AnalysisType" not in spec:
            continue  # not an analysis item (e.g. a fixture)
        item = AnalysisItem(path=path, spec=spec)
        key = (ID_KEYS.get(item.kind, item.kind), item.id)
        if item.id and key in seen:
            raise UserError(f"{path}: duplicate {key[0]} {item.id!r} (also in {seen[key]})")
        seen[key] = path
        items.append(item)
    return items


def items_of(items: Iterable[AnalysisItem], *kinds: str) -> list[AnalysisItem]:
    return [item for item in items if item.kind in kinds]


def find_item(items: Iterable[AnalysisItem], item_id: str, *kinds: str) -> AnalysisItem:
    for item in items:
        if item.id == item_id and (not kinds or item.kind in kinds):
            return item
    raise UserError(f"unknown {'/'.join(kinds) or 'item'}: {item_id!r}")


def table_name(log_type: str) -> str:
    """Panther's data-lake table for a log type: ``AWS.CloudTrail`` -> ``aws_cloudtrail``."""
    return log_type.lower().replace(".", "_")


def add_path_argument(parser: argparse.ArgumentParser) -> None:
    """``--path DIR``: the detections repository a command works on (as ``pat --path``)."""
    parser.add_argument(
        "--path",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="detections repository to work on (default: the current directory)",
    )


def repository(args: argparse.Namespace) -> Path:
    """The ``--path`` folder, checked: a missing folder is a one-line UserError."""
    path = Path(args.path)
    if not path.is_dir():
        raise UserError(f"{path}: no such directory (--path)")
    return path.resolve()
