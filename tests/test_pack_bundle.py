"""The pack as Panther receives it: `pat zip` bundles every item and `packs/tracebit.yml` lists them all."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tracebit_pack.pack.items import REPO_ROOT, load_items, load_yaml

PAT = [str(Path(sys.executable).parent / "panther_analysis_tool"), "--skip-version-check"]
ITEMS = load_items(REPO_ROOT)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("zip")
    subprocess.run(
        [*PAT, "zip", "--path", ".", "--out", str(out)], cwd=REPO_ROOT, check=True, capture_output=True
    )
    (archive,) = out.glob("*.zip")
    with zipfile.ZipFile(archive) as handle:
        return set(handle.namelist())


def test_bundle_contains_every_item_and_its_python(bundle):
    expected = set()
    for item in ITEMS:
        expected.add(item.path.relative_to(REPO_ROOT).as_posix())
        if item.body_path:
            expected.add(item.body_path.relative_to(REPO_ROOT).as_posix())
    assert expected - bundle == set()


def test_pack_has_every_kind_of_item():
    kinds = {item.kind for item in ITEMS}
    assert {
        "rule",
        "scheduled_rule",
        "correlation_rule",
        "saved_query",
        "scheduled_query",
        "datamodel",
        "global",
        "pack",
    } <= kinds


def test_pack_lists_every_item_except_itself():
    pack = load_yaml(REPO_ROOT / "packs" / "tracebit.yml")
    listed = set(pack["PackDefinition"]["IDs"])
    ids = {item.id for item in ITEMS if item.kind != "pack"}
    assert listed == ids
