"""pack.globals: every global helper is found by the GlobalID of its YAML, not by its file name."""

import sys

import pytest

from tracebit_pack.errors import UserError
from tracebit_pack.pack.globals import load_global, make_importable, repository_globals


def write_global(folder, file_stem, global_id, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{file_stem}.py").write_text(body, encoding="utf-8")
    (folder / f"{file_stem}.yml").write_text(
        f"AnalysisType: global\nGlobalID: {global_id}\nFilename: {file_stem}.py\n", encoding="utf-8"
    )


@pytest.fixture
def repo(tmp_path):
    helpers = tmp_path / "global_helpers"
    write_global(helpers, "base_file", "gl_test_base", "VALUE = 41\n")
    write_global(
        helpers, "user_file", "gl_test_user", "import gl_test_base\n\nANSWER = gl_test_base.VALUE + 1\n"
    )
    return tmp_path


def test_globals_are_keyed_by_global_id(repo):
    assert repository_globals(repo) == {
        "gl_test_base": repo / "global_helpers" / "base_file.py",
        "gl_test_user": repo / "global_helpers" / "user_file.py",
    }


def test_load_global_resolves_the_globals_it_imports_by_id(repo):
    module = load_global(repo, "gl_test_user")
    assert module.ANSWER == 42
    assert "gl_test_user" not in sys.modules  # a private copy: the process's modules are left alone
    assert load_global(repo, "gl_test_user") is not module  # fresh on every call


def test_make_importable_is_idempotent(repo):
    before = len(sys.meta_path)
    make_importable(repo)
    make_importable(repo)
    assert len(sys.meta_path) <= before + 1


def test_unknown_global_and_missing_file_are_one_line_errors(repo, tmp_path):
    with pytest.raises(UserError, match="no global helper with GlobalID 'nope'"):
        load_global(repo, "nope")
    broken = tmp_path / "broken"
    (broken / "global_helpers").mkdir(parents=True)
    (broken / "global_helpers" / "x.yml").write_text(
        "AnalysisType: global\nGlobalID: gl_test_missing\nFilename: missing.py\n", encoding="utf-8"
    )
    with pytest.raises(UserError, match="Filename 'missing.py' not found"):
        repository_globals(broken)
