"""Global helpers importable under their GlobalID, as Panther imports them: the one loader.

A global helper (``AnalysisType: global``) is a Python file that rules and other globals import
by its ``GlobalID`` (``import tracebit_helpers``), whatever the file is called and wherever its
YAML lives. Everything that needs a pack's globals goes through this module:

* ``install`` (the offline engine): the pack's globals become the process's modules under their
  IDs, imported afresh; the globals of the pack installed before are dropped. One set per
  process, as in Panther: load two versions of a pack in separate processes.
* ``make_importable`` (the test suite): a repository's globals importable by ID on first import,
  behind the engine's set, like a ``sys.path`` entry.
* ``load_global`` (tools that read a helper's data, e.g. the pivot templates): one global
  executed under a private name, so the process's modules are left as they are.

Globals import each other by GlobalID: every loader makes all globals of the repository
importable, not only the one asked for.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
from collections.abc import Iterable
from pathlib import Path

from tracebit_pack.errors import UserError
from tracebit_pack.pack.items import AnalysisItem, iter_item_files, load_yaml


class _GlobalsFinder(importlib.abc.MetaPathFinder):
    """Finds each global helper by its GlobalID."""

    def __init__(self, paths: dict[str, Path]):
        self.paths = paths

    def find_spec(self, fullname, path=None, target=None):  # noqa: ARG002 - importlib API
        file = self.paths.get(fullname)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(fullname, file)


_INSTALLED: _GlobalsFinder | None = None  # the engine's set (first on the import path)
_IMPORTABLE: dict[Path, _GlobalsFinder] = {}  # repository root -> its finder (make_importable)


def global_paths(items: Iterable[AnalysisItem]) -> dict[str, Path]:
    """``{GlobalID: Python file}`` of the global items; a missing file is a UserError."""
    paths: dict[str, Path] = {}
    for item in items:
        if item.kind != "global":
            continue
        body = item.body_path
        if body is None or not body.is_file():
            raise UserError(
                f"{item.path}: global {item.id!r}: Filename {item.spec.get('Filename')!r} not found"
            )
        paths[item.id] = body
    return paths


def repository_globals(root: Path) -> dict[str, Path]:
    """``{GlobalID: Python file}`` of every global of the repository at ``root`` (folders PAT reads)."""
    items = []
    for path in iter_item_files(Path(root)):
        spec = load_yaml(path)
        if isinstance(spec, dict) and spec.get("AnalysisType") == "global":
            items.append(AnalysisItem(path=path, spec=spec))
    return global_paths(items)


def install(items: Iterable[AnalysisItem]) -> dict[str, types.ModuleType | None]:
    """Make these globals the process's modules under their IDs and import each afresh.

    Returns ``{GlobalID: module}``; a global that fails to import maps to None (with a warning
    on stderr): the rules that import it fail to load, the others still run.
    """
    global _INSTALLED  # noqa: PLW0603 - one set of globals per process, as in Panther
    paths = global_paths(items)
    if _INSTALLED is not None and _INSTALLED in sys.meta_path:
        sys.meta_path.remove(_INSTALLED)
        for name in _INSTALLED.paths:
            sys.modules.pop(name, None)
    _INSTALLED = _GlobalsFinder(paths)
    sys.meta_path.insert(0, _INSTALLED)
    for name in paths:
        sys.modules.pop(name, None)
    modules: dict[str, types.ModuleType | None] = {}
    for name in paths:
        try:
            modules[name] = importlib.import_module(name)
        except Exception as err:  # a broken helper: rules that import it will fail to load
            modules[name] = None
            print(f"tracebit-pack: warning: global {name!r} failed to import: {err!r}", file=sys.stderr)
    return modules


def make_importable(root: Path) -> dict[str, Path]:
    """Let ``import <GlobalID>`` find the globals of the repository at ``root`` (imported on first use).

    The engine's installed set, if any, comes first. Calling it again for the same root does
    nothing more. Returns ``{GlobalID: Python file}``.
    """
    root = Path(root).resolve()
    finder = _IMPORTABLE.get(root)
    if finder is None:
        finder = _IMPORTABLE[root] = _GlobalsFinder(repository_globals(root))
        position = sys.meta_path.index(_INSTALLED) + 1 if _INSTALLED in sys.meta_path else 0
        sys.meta_path.insert(position, finder)
    return finder.paths


def load_global(root: Path, global_id: str) -> types.ModuleType:
    """A fresh copy of one global of the repository at ``root``, under a private module name.

    The globals it imports resolve by GlobalID (``make_importable``). A repository without that
    global is a UserError.
    """
    paths = make_importable(root)
    path = paths.get(global_id)
    if path is None:
        raise UserError(f"{root}: no global helper with GlobalID {global_id!r}")
    spec = importlib.util.spec_from_file_location(f"_{global_id}_private", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
