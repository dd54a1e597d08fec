"""``tracebit-pack review`` against a hostile pull request: what it can make the report say, what
its rule code can see, what it can leave behind, and what ``--base`` can make git do.

Scratch repositories come from test_review (a minimal pack on ``main``, checked out on ``change``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt
from test_review import git, new_repo, unhealthy_rule, write

from tracebit_pack.cli import main as cli
from tracebit_pack.review import evaluate, render
from tracebit_pack.review.report import build_report

HOSTILE = (
    "<img src=x onerror=alert(1)> [click](https://evil.example/x) **bold** _em_ `tick` | cell "
    "www.evil.example ![pic](https://evil.example/p.png) <script>alert(2)</script> $x$"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------- escaping (finding 2)
def test_branch_controlled_strings_render_inert(repo: Path) -> None:
    spec = unhealthy_rule(severity="High")
    spec["DisplayName"] = HOSTILE
    spec["Description"] = HOSTILE
    for test in spec["Tests"]:
        test["Name"] = f"{test['Name']} {HOSTILE}"
    spec["Tests"][0]["ExpectedResult"] = False  # a failing test: its name reaches "Needs attention"
    write(repo, "rules/mini/mini_unhealthy.yml", spec)
    write(
        repo,
        "rules/mini/mini_unhealthy.py",
        f"def rule(event):\n    return True\n\n\ndef title(event):\n    return {HOSTILE!r}\n",
    )
    report = build_report(repo, "main")
    report["engine"] = HOSTILE  # the head worker runs branch code: its whole output is hostile
    for entry in report["needs_attention"]:
        entry["kind"] = HOSTILE
    markdown = render.render_markdown(report)
    assert "Advisory" in markdown.split("\n", 3)[2]
    html = MarkdownIt("gfm-like").render(markdown)
    assert HOSTILE.split(maxsplit=1)[0].replace("<", "&lt;") in html  # the text is shown...
    for forbidden in ("<img", "<script", "<a ", "<strong>bold", "<em>em", "<code>tick", "href="):
        assert forbidden not in html, forbidden  # ...but nothing in it renders


def test_escape_leaves_plain_words_alone() -> None:
    assert render.escape("Tracebit alert, 2 events") == "Tracebit alert, 2 events"
    assert render.escape("a|b\u2028c") == "a\\|b c"


# --------------------------------------------------------------- worker hygiene (finding 8)
SPY_HELPER = """
import json, os, time
with open({path!r}, "w") as handle:
    json.dump({{"pid": os.getpid(), "cwd": os.getcwd(), "env": sorted(os.environ)}}, handle)
time.sleep({sleep})


def context(event):
    return {{}}
"""


def plant_spy(repo: Path, path: Path, sleep: float) -> None:
    write(repo, "global_helpers/mini_helpers.py", SPY_HELPER.format(path=str(path), sleep=sleep))


def test_workers_do_not_inherit_the_environment(repo: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PANTHER_API_TOKEN", "planted-token")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "planted-key")
    spy = tmp_path / "spy.json"
    plant_spy(repo, spy, 0)
    build_report(repo, "main")
    seen = set(json.loads(spy.read_text())["env"])
    assert not seen & {"PANTHER_API_TOKEN", "AWS_SECRET_ACCESS_KEY"}
    assert seen <= {
        *evaluate.WORKER_ENV,
        "PYTHONPATH",
        "DISABLE_DETECTION_OUTPUT",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONHASHSEED",
        "LC_CTYPE",
    }


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def test_sigterm_kills_workers_and_removes_the_temp_folder(repo: Path, tmp_path: Path) -> None:
    spy = tmp_path / "spy.json"
    plant_spy(repo, spy, 120)  # the head worker hangs while importing the helper
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracebit_pack.cli.main", "review", "--base", "main", "--repo", str(repo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):  # up to 120 s for the worker to start on a loaded machine
            if spy.exists() and spy.read_text():
                break
            time.sleep(0.2)
        worker = json.loads(spy.read_text())
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    for _ in range(50):
        if _gone(worker["pid"]):
            break
        time.sleep(0.2)
    alive = not _gone(worker["pid"])
    if alive:
        os.kill(worker["pid"], signal.SIGKILL)
    assert not alive, "the worker outlived review"
    assert proc.returncode != 0
    assert not Path(worker["cwd"]).exists(), "the temp folder was left behind"


# ------------------------------------------------------------------ --base (finding 8, 7)
@pytest.mark.parametrize(
    "base", ["refs/heads/main:refs/heads/other", "main:other", "-main", "+main", "main..change", "main@{1}"]
)
def test_base_must_be_a_revision_not_a_refspec(repo: Path, tmp_path: Path, capsys, base: str) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True, capture_output=True)
    code, out, err = run_cli(capsys, "review", f"--base={base}", "--repo", str(clone))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("tracebit-pack: error: invalid base ref")
    branches = git(clone, "for-each-ref", "--format=%(refname)", "refs/heads/")
    assert "refs/heads/other" not in branches


def test_absolute_symlink_in_base_commit_is_one_line(repo: Path, capsys) -> None:
    (repo / "rules" / "evil.yml").symlink_to("/etc/passwd")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "absolute symlink")
    code, out, err = run_cli(capsys, "review", "--base", "change", "--repo", str(repo))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "absolute" in err


def test_yaml_helper_is_real() -> None:  # the scratch specs above are plain YAML
    assert yaml.safe_load(yaml.safe_dump(unhealthy_rule()))["RuleID"] == "Mini.Unhealthy"


def test_deeply_nested_scenario_line_is_one_line(repo: Path, capsys) -> None:
    deep = '{"discriminator": {"type": "health_check"}, "x": ' + "[" * 3000 + "]" * 3000 + "}\n"
    write(repo, "scenarios/mini/Tracebit.HealthCheck.jsonl", deep)
    code, out, err = run_cli(capsys, "review", "--base", "main", "--repo", str(repo))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "nested too deeply" in err
