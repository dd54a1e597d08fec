"""The layout of the Panther globals: small files, one home per piece of knowledge, and the
rule-facing API that every rule and data model imports (docs/DESIGN.md, "Global helpers")."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

import tracebit_helpers as tb

REPO_ROOT = Path(__file__).resolve().parent.parent
GLOBALS = sorted((REPO_ROOT / "global_helpers").glob("*.py"))
MAX_GLOBAL_LINES = 500


@pytest.mark.parametrize("path", GLOBALS, ids=lambda p: p.name)
def test_each_global_is_at_most_500_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_GLOBAL_LINES


@pytest.mark.parametrize("path", GLOBALS, ids=lambda p: p.name)
def test_each_global_has_its_yaml_and_is_in_the_pack(path):
    spec = yaml.safe_load(path.with_suffix(".yml").read_text(encoding="utf-8"))
    assert spec["AnalysisType"] == "global"
    assert spec["GlobalID"] == path.stem
    assert spec["Filename"] == path.name
    assert spec["Description"].strip() and spec["Tags"]
    pack = yaml.safe_load((REPO_ROOT / "packs" / "tracebit.yml").read_text(encoding="utf-8"))
    assert path.stem in pack["PackDefinition"]["IDs"]


def test_the_kv_key_prefix_is_spelled_in_one_place_only():
    files = [
        path
        for folder in ("global_helpers", "rules")
        for path in sorted((REPO_ROOT / folder).rglob("*"))
        if path.suffix in (".py", ".yml")
    ]
    spelled = [
        p.relative_to(REPO_ROOT).as_posix() for p in files if p.is_file() and "mfa_reset:" in p.read_text()
    ]
    assert spelled == ["global_helpers/tracebit_mfa_cache.py"]


def _helper_names_used(path: Path) -> set[str]:
    """Names a rule or data model takes from tracebit_helpers: ``tb.<name>`` and ``from ... import``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "tracebit_helpers":
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "tb":
            names.add(node.attr)
    return names


def test_every_name_rules_and_data_models_use_is_in_tracebit_helpers():
    users = sorted((REPO_ROOT / "rules").rglob("*.py")) + sorted((REPO_ROOT / "data_models").glob("*.py"))
    used = {name: path.name for path in users for name in _helper_names_used(path)}
    assert len(used) > 20  # the scan found the rules' calls
    missing = {name: where for name, where in used.items() if not hasattr(tb, name)}
    assert missing == {}


def test_topic_globals_import_only_globals_above_them():
    order = [
        "tracebit_base",
        "tracebit_customer",
        "tracebit_principal",
        "tracebit_credential",
        "tracebit_canary",
        "tracebit_mfa_cache",
        "tracebit_alert",
    ]
    for rank, name in enumerate(order):
        source = (REPO_ROOT / "global_helpers" / f"{name}.py").read_text(encoding="utf-8")
        imported = set(re.findall(r"^(?:from|import) (tracebit_\w+)", source, re.MULTILINE))
        assert imported <= set(order[:rank]), (name, imported)
