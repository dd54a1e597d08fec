"""``tracebit-pack check-paths``: the validate workflow's guard before ``pat validate`` reads a pull
request. pat adds each item's ``Filename`` as written and follows symlinks, so a pull request could
otherwise put the job's environment (``/proc/self/environ``, its token included) in the upload."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tracebit_pack.cli.main import main

RULE = {
    "AnalysisType": "rule",
    "RuleID": "PR.Rule",
    "Filename": "pr_rule.py",
    "Enabled": True,
    "LogTypes": ["Tracebit.Alert"],
    "Severity": "High",
}


def _pull_request(tmp_path: Path, **spec) -> Path:
    root = tmp_path / "pr"
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "pr_rule.py").write_text("def rule(event):\n    return True\n")
    (root / "rules" / "pr_rule.yml").write_text(yaml.safe_dump({**RULE, **spec}))
    return root


def test_items_inside_the_pull_request_pass(tmp_path: Path, capsys) -> None:
    assert main(["check-paths", str(_pull_request(tmp_path))]) == 0
    assert "every file pat reads lies inside" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("filename", "problem"),
    [
        ("/proc/self/environ", "is not a relative path"),
        ("../../outside.py", "leaves the folder"),
        ("missing.py", "is not a file in the folder"),
    ],
)
def test_filename_leaving_the_pull_request_is_refused(tmp_path: Path, capsys, filename, problem) -> None:
    (tmp_path / "outside.py").write_text("SECRET = 1\n")
    root = _pull_request(tmp_path, Filename=filename)
    assert main(["check-paths", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"rules/pr_rule.yml: Filename {filename!r} {problem}" in out


def test_symlinks_are_refused(tmp_path: Path, capsys) -> None:
    root = _pull_request(tmp_path)
    (root / "rules" / "pr_rule.py").unlink()
    (root / "rules" / "pr_rule.py").symlink_to("/etc/hostname")
    (root / "global_helpers").symlink_to(tmp_path)
    assert main(["check-paths", str(root)]) == 1
    out = capsys.readouterr().out
    assert "rules/pr_rule.py: a symlink" in out and "global_helpers: a symlink" in out
    assert "leaves the folder" in out  # the Filename resolves outside, too


def test_this_repository_passes(capsys) -> None:
    assert main(["check-paths", str(Path(__file__).resolve().parent.parent)]) == 0
