"""Whether every file ``pat`` reads for a folder of analysis items lies inside that folder.

``pat validate --path DIR`` (and ``zip``, ``upload``) walks DIR for ``*.yml`` / ``*.yaml`` analysis
items and adds each item's ``Filename`` to the upload *as written*, relative to the item's folder:
``Filename: /proc/self/environ`` or ``../../secrets`` would put a file from outside DIR (the job's
environment, its token included) into the upload, and a symlink does the same. Before the
validate workflow runs pat on a pull request, ``outside_files`` lists every such item, read with
pat's own walk and YAML loader so that both see the same items.
"""

from __future__ import annotations

import os
from pathlib import Path


def _symlinks(root: Path) -> list[str]:
    """Symlinks where pat walks: everywhere but hidden folders, hidden files and ``__pycache__``
    (a ``Filename`` pointing into those is resolved and checked by ``outside_files``)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):  # never descends through a symlink
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
        for name in [*dirnames, *(f for f in filenames if not f.startswith("."))]:
            path = Path(dirpath, name)
            if path.is_symlink():
                found.append(f"{path.relative_to(root)}: a symlink (pat would read its target)")
    return found


def outside_files(root: Path) -> list[str]:
    """``path: problem`` for every symlink pat would meet under ``root`` and every analysis
    item whose ``Filename`` is not a relative path to a regular file inside ``root``."""
    from panther_analysis_tool.analysis_utils import load_analysis_specs

    root = root.resolve()
    problems = _symlinks(root)
    for spec_file, _, spec, _ in load_analysis_specs([str(root)], []):
        if not isinstance(spec, dict) or "Filename" not in spec:
            continue
        where = Path(spec_file).relative_to(root)
        name = spec["Filename"]
        if not isinstance(name, str) or not name or os.path.isabs(name):
            problems.append(f"{where}: Filename {name!r} is not a relative path")
            continue
        target = (Path(spec_file).parent / name).resolve()
        if not target.is_relative_to(root):
            problems.append(f"{where}: Filename {name!r} leaves the folder")
        elif not target.is_file():
            problems.append(f"{where}: Filename {name!r} is not a file in the folder")
    return problems
