"""No import circle across the sub-packages of ``tracebit_pack``.

Every ``import`` of the package's modules is read from the source (those inside functions too: a
lazy import is still a dependency, only a hidden one), each module is mapped to its sub-package
(``tracebit_pack/<name>/``; a top-level module is its own node), and the graph of sub-packages must
sort topologically (``graphlib``). A circle is reported with the modules that make each of its edges.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import tracebit_pack

PACKAGE = Path(tracebit_pack.__file__).parent


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Names of the ``tracebit_pack`` modules (or packages) that ``module`` imports."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("tracebit_pack.")}


def _node(module: str) -> str:
    """The sub-package a module belongs to (``tracebit_pack.lake.embedded`` -> ``lake``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph(root: Path = PACKAGE) -> dict[str, dict[str, set[str]]]:
    """``{sub-package: {imported sub-package: {"module -> module", ...}}}`` (self-edges left out)."""
    modules = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, dict[str, set[str]]] = {_node(m): {} for m in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name in _imported(tree, module, path.name == "__init__.py"):
            parts = name.split(".")  # "tracebit_pack.lake.embedded.Lake": the longest known module
            while len(parts) > 1 and ".".join(parts) not in modules:
                parts.pop()
            target = ".".join(parts)
            if target not in modules or _node(target) == _node(module):
                continue
            graph[_node(module)].setdefault(_node(target), set()).add(f"{module} -> {target}")
    return graph


def circle(graph: dict[str, dict[str, set[str]]]) -> list[str] | None:
    """One circle of sub-packages (first node repeated at the end), or None."""
    try:
        graphlib.TopologicalSorter({node: set(edges) for node, edges in graph.items()}).prepare()
    except graphlib.CycleError as err:
        return list(err.args[1])
    return None


def test_no_import_circle_across_sub_packages():
    graph = package_graph()
    found = circle(graph)
    if found:  # each consecutive pair of the circle, with the imports that join them either way
        joins = [
            f"{x} <-> {y}: " + "; ".join(sorted(graph[x].get(y, set()) | graph[y].get(x, set())))
            for x, y in zip(found, found[1:], strict=False)
        ]
        raise AssertionError(
            "import circle across sub-packages: " + " -> ".join(found) + "\n" + "\n".join(joins)
        )


def test_a_circle_is_found(tmp_path):
    """The check itself: two sub-packages that import each other (one lazily) are a circle."""
    root = tmp_path / "tracebit_pack"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "a" / "one.py").write_text("from tracebit_pack.b.two import thing\n")
    (root / "b" / "two.py").write_text("def thing():\n    from tracebit_pack.a import one\n")
    graph = package_graph(root)
    assert graph["a"] == {"b": {"tracebit_pack.a.one -> tracebit_pack.b.two"}}
    assert circle(graph) in (["a", "b", "a"], ["b", "a", "b"])
    (root / "b" / "two.py").write_text("def thing():\n    pass\n")
    assert circle(package_graph(root)) is None
