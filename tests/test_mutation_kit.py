"""``make mutate`` without running it: the equivalent-mutant list is still real, the operator filter
keeps what it claims to, and the score is counted over the non-equivalent mutants."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tracebit_pack.dev import mutation, mutation_results
from tracebit_pack.errors import UserError

REPO_ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = mutation_results.load_equivalents(REPO_ROOT)
TARGETS = {target for group in mutation.GROUPS for target in group.targets}


@pytest.mark.parametrize("entry", EQUIVALENTS, ids=lambda e: f"{e.path}:{e.line}:{e.col}:{e.operator}")
def test_each_equivalent_mutant_still_points_at_its_code(entry):
    assert any(entry.path == t or entry.path.startswith(t.rstrip("/") + "/") for t in TARGETS), entry.path
    assert mutation_results.source_line(REPO_ROOT, entry.path, entry.line) == entry.code, (
        f"{entry.path}:{entry.line} changed: re-check this equivalent mutant and update or remove it"
    )
    assert 0 <= entry.col < len(Path(REPO_ROOT, entry.path).read_text().splitlines()[entry.line - 1])
    assert any(re.fullmatch(op, entry.operator) for op in mutation.OPERATORS), entry.operator
    assert len(entry.reason) >= 10


# Generated from the pack's items; test_audit_rule.py fails on any change to it, so mutating it adds nothing.
NOT_MUTATED = {"global_helpers/tracebit_watched_items.py"}


def _mutated(path: str) -> bool:
    return any(path == t or path.startswith(t.rstrip("/") + "/") for t in TARGETS)


def test_every_tracebit_global_and_rule_file_is_mutated_and_documented():
    code = sorted(
        str(path.relative_to(REPO_ROOT))
        for path in [*REPO_ROOT.glob("global_helpers/tracebit_*.py"), *REPO_ROOT.glob("rules/**/*.py")]
    )
    missing = [path for path in code if path not in NOT_MUTATED and not _mutated(path)]
    assert not missing, f"add these files to a group in tracebit_pack/dev/mutation.py GROUPS: {missing}"
    docs = (REPO_ROOT / "docs" / "mutation-testing.md").read_text(encoding="utf-8")
    undocumented = [
        path for path in code if path.startswith("global_helpers/") and Path(path).name not in docs
    ]
    assert not undocumented, f"docs/mutation-testing.md does not list {undocumented}"
    for group in mutation.GROUPS:
        assert f"`{group.name}`" in docs, f"docs/mutation-testing.md does not name the group {group.name}"
        assert all((REPO_ROOT / test).is_file() for test in group.tests), group.name


def test_equivalents_are_listed_once():
    keys = [entry.key() for entry in EQUIVALENTS]
    assert len(keys) == len(set(keys))


def test_a_malformed_equivalents_file_is_one_clear_error(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / mutation_results.EQUIVALENTS_FILE).write_text("- file: x.py\n  line: 1\n")
    with pytest.raises(UserError, match="entry 1: needs exactly the keys"):
        mutation_results.load_equivalents(tmp_path)
    (tmp_path / mutation_results.EQUIVALENTS_FILE).write_text("{not: [valid")
    with pytest.raises(UserError, match="mutation_equivalents.yml"):
        mutation_results.load_equivalents(tmp_path)


def test_operator_filter_skips_exactly_the_other_operators():
    skip = re.compile(mutation.exclude_regex(mutation.OPERATORS))
    for kept in ("core/AddNot", "core/NumberReplacer", "core/ReplaceComparisonOperator_Lt_LtE"):
        assert not skip.match(kept), kept
    for dropped in (
        "core/ReplaceComparisonOperator_Eq_Lt",
        "core/ReplaceBinaryOperator_Add_Pow",
        "core/AddNotX",
    ):
        assert skip.match(dropped), dropped
    constants_only = re.compile(mutation.exclude_regex(mutation.CONSTANTS))
    assert not constants_only.match("core/NumberReplacer") and constants_only.match("core/AddNot")


def _dump_line(path, line, col, operator, outcome):
    item = {
        "job_id": "x",
        "mutations": [
            {
                "module_path": path,
                "operator_name": operator,
                "occurrence": 0,
                "start_pos": [line, col],
                "end_pos": [line, col + 1],
            }
        ],
    }
    result = {"worker_outcome": "normal", "test_outcome": outcome, "diff": "+    changed\n"}
    return json.dumps([item, result])


def test_score_leaves_out_equivalent_survivors_only(tmp_path, capsys):
    (tmp_path / "a.py").write_text("x = 1\ny = 2\n")
    dump = [
        _dump_line("a.py", 1, 4, "core/NumberReplacer", "killed"),
        _dump_line("a.py", 2, 4, "core/NumberReplacer", "survived"),
        _dump_line("a.py", 1, 0, "core/AddNot", "survived"),
        json.dumps([{"job_id": "y", "mutations": []}, {"worker_outcome": "skipped"}]),
    ]
    equivalent = mutation_results.Equivalent(
        "a.py", 2, 4, "core/NumberReplacer", "y = 2", "any y is the same here"
    )
    killed, counted = mutation_results.report(tmp_path, mutation_results.parse_dump(dump), [equivalent])
    assert (killed, counted) == (1, 2)
    out = capsys.readouterr().out
    assert "SURVIVED a.py:1:0 core/AddNot" in out and "a.py:2:4" not in out
    # an equivalent whose code changed no longer matches: the survivor counts again
    stale = mutation_results.Equivalent(
        "a.py", 2, 4, "core/NumberReplacer", "y = 3", "any y is the same here"
    )
    assert mutation_results.report(tmp_path, mutation_results.parse_dump(dump), [stale]) == (1, 3)
    assert "stale equivalent" in capsys.readouterr().out


def test_fork_server_selects_the_tests_that_ran_the_changed_line():
    from tracebit_pack.dev import pytest_forkserver as fs

    tests = ["tests/test_a.py", "tests/test_b.py"]
    covered = {
        "/x.py": {
            1: {fs.IMPORT_TIME},
            3: {"tests/test_b.py::test_two", "tests/test_a.py::test_one"},
            5: {"tests/test_b.py::test_two", fs.IMPORT_TIME},
        }
    }
    assert fs.select_tests({"/x.py": [3]}, covered, tests) == [
        "tests/test_a.py::test_one",
        "tests/test_b.py::test_two",
    ]
    assert fs.select_tests({"/x.py": [4]}, covered, tests) == [
        "tests/test_a.py::test_one",
        "tests/test_b.py::test_two",
    ]
    assert fs.select_tests({"/x.py": [1]}, covered, tests) == tests  # import time: every test
    assert fs.select_tests({"/x.py": [5]}, covered, tests) == tests  # also at import time
    assert fs.select_tests({"/y.py": [1]}, covered, tests) == []  # no test runs it: it survives
    assert fs._node_id("test_a.TestX.test_y") == "tests/test_a.py::TestX::test_y"


def test_fork_server_finds_the_changed_lines(tmp_path):
    from tracebit_pack.dev import pytest_forkserver as fs

    path = tmp_path / "m.py"
    path.write_text("a = 1\nb = 2\nc = 3\n")
    assert fs.changed_lines(path, ["a = 1", "b = 3", "c = 3"]) == [2]
    assert fs.changed_lines(path, ["a = 1", "b = 2"]) == [1, 2, 3]
