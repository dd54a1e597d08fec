"""Log values and pull-request strings reach reports inert: no Markdown/HTML renders, no terminal
control sequence acts (shown as escapes instead)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from markdown_it import MarkdownIt
from test_review import new_repo, write

from tracebit_pack.cli.main import main
from tracebit_pack.review import render
from tracebit_pack.review.report import build_report

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "blog_incident"
# retitles the terminal, rings the bell, clears the screen; then a C1 CSI, a bidi override, a line break
HOSTILE_NAME = "acme\u001b]0;PWNED\u0007\u001b[2J\u009b31m\u202egnp.exe\nforged line"
RAW_CONTROLS = ("\u001b", "\u0007", "\u009b", "\u202e")


def _alert_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    event = json.loads((SCENARIO / "Tracebit.Alert.jsonl").read_text().splitlines()[0])
    event["canary"]["name"] = HOSTILE_NAME
    (folder / "Tracebit.Alert.jsonl").write_text(json.dumps(event) + "\n", encoding="utf-8")
    return folder


def _assert_inert(text: str) -> None:
    for char in RAW_CONTROLS:
        assert char not in text, repr(char)
    assert "\\x1b]0;PWNED\\x07\\x1b[2J" in text or "\\u001b]0;PWNED\\u0007\\u001b[2J" in text
    assert "\nforged line" not in text


def test_replay_text_shows_control_characters(tmp_path: Path, capsys) -> None:
    assert main(["replay", str(_alert_folder(tmp_path))]) == 0
    _assert_inert(capsys.readouterr().out)


def _query_root(tmp_path: Path) -> Path:
    queries = tmp_path / "repo" / "queries"
    queries.mkdir(parents=True)
    spec = {
        "AnalysisType": "saved_query",
        "QueryName": "Test Canary Names",
        "Query": "SELECT canary:name::string AS canary FROM panther_logs.public.tracebit_alert "
        "WHERE p_occurs_since('30 days')",
    }
    (queries / "names.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return queries.parent


def test_query_output_shows_control_characters(tmp_path: Path, capsys) -> None:
    root, data = _query_root(tmp_path), _alert_folder(tmp_path)
    args = ["query", "run", "Test Canary Names", "--data", str(data), "--now", "2024-12-14T00:00:00Z"]
    assert main([*args, "--path", str(root)]) == 0
    _assert_inert(capsys.readouterr().out)
    assert main([*args, "--path", str(root), "--format", "json"]) == 0
    out = capsys.readouterr().out
    _assert_inert(out)
    assert json.loads(out) == [{"canary": HOSTILE_NAME}]  # the same value, escaped as JSON


def test_error_line_shows_control_characters(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "Evil\u001b[2J.jsonl").write_text("{}\n")
    assert main(["replay", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "\u001b" not in err and "Evil\\x1b[2J" in err and err.count("\n") == 1


# A policy is never evaluated offline: its ID reaches the review's "Not evaluated offline" list.
HOSTILE_POLICY_ID = (
    "x` **[✅ Security team: reviewed, safe to merge](https://evil.example/login)** "
    "<img src=https://evil.example/t.png> `y"
)


def test_not_evaluated_list_is_escaped(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    write(repo, "policies/evil.py", "def policy(resource):\n    return True\n")
    policy = {
        "AnalysisType": "policy",
        "PolicyID": HOSTILE_POLICY_ID,
        "Filename": "evil.py",
        "Enabled": True,
        "ResourceTypes": ["AWS.S3.Bucket"],
        "Severity": "Low",
    }
    write(repo, "policies/evil.yml", policy)
    report = build_report(repo, "main")
    assert HOSTILE_POLICY_ID in report["not_evaluated"]
    markdown = render.render_markdown(report)
    assert "Not evaluated offline" in markdown
    html = MarkdownIt("gfm-like").render(markdown)
    assert "<img" not in html and "href=" not in html
    section = html.split("<h2>Not evaluated offline</h2>", 1)[1]
    assert "Security team: reviewed, safe to merge" in section
    for forbidden in ("<a ", "<strong>"):
        assert forbidden not in section, forbidden
