"""Deeply nested log values: refused at the door (``MAX_JSON_DEPTH``), so no walker of a log value
(validation, enrichment, rules, the lake's results, every report format) can hit the recursion limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tracebit_pack.cli.main import main
from tracebit_pack.logs.schemas import MAX_JSON_DEPTH, json_depth, loads_json

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "blog_incident"
NOW = "2024-12-14T00:00:00Z"


def _nested(depth: int) -> dict:
    """A CloudTrail event of the scenario whose ``requestParameters`` makes it ``depth`` deep."""
    event = json.loads((SCENARIO / "AWS.CloudTrail.jsonl").read_text().splitlines()[-1])
    inner: list = []
    for _ in range(depth - 3):  # the event, requestParameters and "x" are three levels
        inner = [inner]
    event["requestParameters"] = {"x": inner}
    assert json_depth(event, stop=10**6) == depth
    return event


def _folder(tmp_path: Path, depth: int) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(parents=True)
    lines = (SCENARIO / "AWS.CloudTrail.jsonl").read_text().splitlines()[:-1]
    text = "\n".join([*lines, json.dumps(_nested(depth))]) + "\n"
    (folder / "AWS.CloudTrail.jsonl").write_text(text, encoding="utf-8")
    (folder / "Tracebit.Alert.jsonl").write_text((SCENARIO / "Tracebit.Alert.jsonl").read_text())
    return folder


def test_depth_is_counted_without_recursion() -> None:
    deep: list = []
    for _ in range(50_000):
        deep = [deep]
    assert json_depth(deep, stop=10**6) == 50_001
    assert json_depth({"a": [1, {"b": 2}]}) == 3 and json_depth(7) == 0


def test_loads_json_refuses_more_than_the_bound() -> None:
    text = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert json_depth(loads_json(text)) == MAX_JSON_DEPTH
    with pytest.raises(ValueError, match="nested too deeply"):
        loads_json("[" + text + "]")
    assert loads_json('"' + "[" * 500 + '"') == "[" * 500  # brackets in a string are not nesting


@pytest.mark.parametrize("fmt", ["text", "json", "html"])
def test_replay_at_the_bound_works_and_beyond_is_skipped(tmp_path: Path, capsys, fmt: str) -> None:
    for depth, skipped in ((MAX_JSON_DEPTH, 0), (500, 1)):
        folder = _folder(tmp_path / str(depth), depth)
        out = tmp_path / f"report-{depth}.html"
        extra = ["--out", str(out)] if fmt == "html" else []
        assert main(["replay", str(folder), "--format", fmt, *extra]) == 0
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        if fmt == "json":
            assert json.loads(captured.out)["skipped"]["total"] == skipped
        elif fmt == "text":
            assert ("malformed JSON 1" in captured.out) == bool(skipped)


def test_query_results_at_and_beyond_the_bound(tmp_path: Path, capsys) -> None:
    # A repository with a query and no rule: its log types are loaded by SQL alone.
    root = tmp_path / "repo"
    (root / "queries").mkdir(parents=True)
    spec = {
        "AnalysisType": "saved_query",
        "QueryName": "Test Parameters",
        "Query": "SELECT requestParameters FROM panther_logs.public.aws_cloudtrail "
        "WHERE requestParameters:x IS NOT NULL AND p_occurs_since('30 days')",
    }
    (root / "queries" / "params.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    args = ["query", "run", "Test Parameters", "--now", NOW, "--path", str(root), "--data"]
    at_bound = str(_folder(tmp_path / "at", MAX_JSON_DEPTH))
    assert main([*args, at_bound, "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main([*args, at_bound]) == 0
    capsys.readouterr()
    # query run answers for the whole folder or not at all: one line, exit 2
    assert main([*args, str(_folder(tmp_path / "beyond", 500))]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "nested too deeply" in err
