"""PantherFlow as Panther documents it: the docs' examples, the language they use, and running it.

* The corpus of the docs' examples (``tests/fixtures/pantherflow_docs/examples.yml``) conforms: each
  parses, returns what its page shows, or runs; the refused ones are listed. The harness itself
  fails on a wrong result.
* What the executor now runs beyond the pack's own pivots, each with its value: scalar ``let``,
  ``limit``, default sort, ``not in``, ``between`` / ``not between``, indexing, ``in`` an array,
  ``union``, ``join`` (inner, left outer), ``search``, the time functions, escapes, unnamed columns.
* ``query pantherflow`` (text or standard input) and a saved query marked ``--pragma: pantherflow``
  run from the command line.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
import yaml

from tracebit_pack.cli.main import main
from tracebit_pack.errors import UserError
from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.query import pantherflow_docs as docs
from tracebit_pack.query.pantherflow_sql import NotSupportedOffline, run_pantherflow

REPO_ROOT = Path(__file__).resolve().parent.parent
BLOG = REPO_ROOT / "scenarios" / "blog_incident"
NOW = dt.datetime(2024, 12, 13, 17, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def lake():
    loaded = lake_from_folder(REPO_ROOT / "tests" / "fixtures" / "lake")
    yield loaded
    loaded.close()


def rows(lake, text):
    return run_pantherflow(lake, text, NOW)


def test_the_docs_examples_conform():
    examples = docs.load_corpus()
    listed = yaml.safe_load(docs.CORPUS.read_text(encoding="utf-8"))["examples"]
    assert len(examples) == len(listed) >= 70
    assert all(e.url.startswith("https://docs.panther.com/") for e in examples)
    outcomes = docs.run_corpus(examples, docs.DATA, NOW)
    failed = [f"{o.example.id}: {o.detail}" for o in outcomes if o.status == "failed"]
    assert failed == []
    lines = docs.report(outcomes)
    ok = sum(o.status == "ok" for o in outcomes)
    assert lines[-1].startswith(f"pantherflow docs examples: {ok}/{len(listed)}")
    refused = [o for o in outcomes if o.status == "refused"]
    assert all(any(o.example.id in line and o.detail in line for line in lines) for o in refused)
    with_results = [o for o in outcomes if o.example.result is not docs._NO_RESULT and o.status == "ok"]
    assert len(with_results) >= 8  # the pages' shown results are checked, not only run


def test_the_harness_fails_on_a_wrong_result_and_an_unexpected_refusal(lake):
    wrong = docs.Example(
        "x", "https://docs.panther.com/x", "arrays.map([1, 2], fn (r) { r + 1 })", "expression"
    )
    wrong.result = [2, 4]
    assert docs.run_example(lake, wrong, NOW).status == "failed"
    wrong.result = [2, 3]
    assert docs.run_example(lake, wrong, NOW).status == "ok"
    service = docs.Example("y", "https://docs.panther.com/y", "panther_signals.public.correlation_signals")
    assert docs.run_example(lake, service, NOW).status == "failed"
    service.offline = "the signals table is Panther's"
    outcome = docs.run_example(lake, service, NOW)
    assert outcome.status == "refused" and outcome.detail.startswith("not supported offline: ")
    timed = next(e for e in docs.load_corpus() if e.now and e.setup and e.result is not docs._NO_RESULT)
    assert docs.run_example(lake, timed, NOW).status == "ok"
    timed.now = None  # the page's result was made at its own time, not at NOW
    assert docs.run_example(lake, timed, NOW).status == "failed"
    broken = docs.Example("z", "https://docs.panther.com/z", "t | take 1")
    assert "does not parse" in docs.run_example(lake, broken, NOW).detail


def test_cli_prints_k_of_n(capsys):
    assert main(["dev", "pantherflow-docs"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("pantherflow docs examples: ")


T = (
    'let T = datatable [{"n": 1, "s": "Doug", "tags": ["a", "b"]}, {"n": 3, "s": "eve", "tags": ["c"]},'
    ' {"n": 2, "s": "x", "tags": []}];\n'
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("let k = 2;\nT | where n == k | project n", [{"n": 2}]),
        ("T | sort n | project n", [{"n": 3}, {"n": 2}, {"n": 1}]),  # no direction: descending
        ("T | sort n asc | limit 2 | project n", [{"n": 1}, {"n": 2}]),
        ("T | where n not in [1, 2] | project n", [{"n": 3}]),
        ("T | where n between 1 .. 2 | sort n asc | project n", [{"n": 1}, {"n": 2}]),
        ("T | where n not between 1 .. 2 | project n", [{"n": 3}]),
        ("T | where 'b' in tags | project n", [{"n": 1}]),
        ("T | where n == 1 | project first = tags[0], second = tags[1]", [{"first": "a", "second": "b"}]),
        ("T | search 'doug' | project n", [{"n": 1}]),  # case-insensitive, any column
        ("T | summarize agg.count(), agg.max(n)", [{"agg.count()": 3, "agg.max(n)": 3}]),
        ("T | where n == 1 | project n * 2 + 1", [{"n * 2 + 1": 3}]),
        (
            'union (T | project n), (datatable [{"m": 9}]) | sort n asc',
            [{"n": 1, "m": None}, {"n": 2, "m": None}, {"n": 3, "m": None}, {"n": None, "m": 9}],
        ),
        (
            'T | join kind=inner r=(datatable [{"k": 1, "v": "one"}]) on $left.n == $right.k | project n, r',
            [{"n": 1, "r": {"k": 1, "v": "one"}}],
        ),
        (
            'T | join kind=leftouter r=(datatable [{"k": 1, "v": "one"}]) on $left.n == $right.k'
            " | sort n asc | project n, v = r.v",
            [{"n": 1, "v": "one"}, {"n": 2, "v": None}, {"n": 3, "v": None}],
        ),
        (
            "datatable [{\"a\": 1}] | project d = time.diff('h', time.parse_timestamp('2023-01-01T00:00:00'),"
            " time.parse_timestamp('2023-01-02 06:00:00.00Z'))",
            [{"d": 30}],  # timestamp2 - timestamp1
        ),
        (
            'datatable [{"a": 1}] | project'
            " t = time.add(time.parse_timestamp('2024-01-31 10:00:00'), -2, 'd'),"
            " s = time.slice(time.parse_timestamp('2024-01-31 10:17:00'), 15, 'm')",
            [{"t": "2024-01-29 10:00:00.000000", "s": "2024-01-31 10:15:00.000000"}],
        ),
        (
            "datatable [{\"a\": 1}] | project o = '\\101\\x42\\u0043', e = '\\xF0\\x9F\\x98\\x8E', w = 1.5s",
            [{"o": "ABC", "e": "\U0001f60e", "w": 1.5}],
        ),
        ("range N from 1 to 7 step 3", [{"N": 1}, {"N": 4}, {"N": 7}]),
    ],
)
def test_the_documented_language_runs_with_its_values(lake, query, expected):
    assert rows(lake, T + query if query.startswith(("T", "let", "union")) else query) == expected


OBJ = 'let O = datatable [{"obj": {"key1": "foo", "delete me": 1, "n": {"x": null}}, "s": "v"}];\n'


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # "Setting a key to null removes it from the object" (the data types page)
        ("O | extend obj['delete me'] = null | project obj", [{"obj": {"key1": "foo", "n": {"x": None}}}]),
        (
            "O | extend obj['key1'] = 'bar', obj['k'] = s, before = obj | project obj, before",
            [
                {
                    "obj": {"key1": "bar", "delete me": 1, "n": {"x": None}, "k": "v"},
                    "before": {"key1": "foo", "delete me": 1, "n": {"x": None}},
                }
            ],
        ),
        ("O | extend obj['n'] = 2 | project m = obj.n + 1", [{"m": 3}]),
    ],
)
def test_setting_an_object_key_in_extend(lake, query, expected):
    assert rows(lake, OBJ + query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("O | extend obj['k'] = [1]", "setting an object key to an object or an array"),
        ("O | extend s['k'] = 1", "setting a key of 's', which is not an object"),
        ("O | project obj['k'] = 1", "outside extend"),
    ],
)
def test_setting_an_object_key_refuses_what_it_cannot_do_faithfully(lake, query, message):
    with pytest.raises(UserError, match=re.escape(message)):
        rows(lake, OBJ + query)


def test_object_insert_and_delete_reach_the_lake_only_in_the_forms_it_runs_faithfully():
    from tracebit_pack.lake.transpile import UnsupportedConstruct, transpile

    assert "SF_OBJECT_DELETE(SF_OBJECT_DELETE(" in transpile("SELECT OBJECT_DELETE(o, 'a', 'b') AS x FROM t")
    with pytest.raises(UnsupportedConstruct, match="updateFlag TRUE"):
        transpile("SELECT OBJECT_INSERT(o, 'k', 1) AS x FROM t")  # Snowflake errors on an existing key
    with pytest.raises(UnsupportedConstruct, match="object or array value"):
        transpile("SELECT OBJECT_INSERT(o, 'k', PARSE_JSON('[1]'), TRUE) AS x FROM t")


def test_a_table_of_panthers_own_databases_is_not_supported_offline(lake):
    with pytest.raises(NotSupportedOffline) as err:
        rows(lake, "union panther_signals.public.correlation_signals, panther_logs.public.okta_systemlog")
    assert str(err.value).startswith("not supported offline: ") and "\n" not in str(err.value)


def test_query_pantherflow_runs_text_and_standard_input(capsys, monkeypatch):
    query = (
        "panther_logs.public.okta_systemlog | where p_event_time > time.ago(1d) | summarize n = agg.count()"
    )
    args = ["--data", str(BLOG), "--now", "2024-12-13T17:00:00Z", "--format", "json"]
    assert main(["query", "pantherflow", query, *args]) == 0
    from_text = json.loads(capsys.readouterr().out)
    monkeypatch.setattr("sys.stdin", io.StringIO(query))
    assert main(["query", "pantherflow", "-", *args]) == 0
    assert json.loads(capsys.readouterr().out) == from_text
    assert from_text[0]["n"] > 0
    assert main(["query", "pantherflow", query, "--data", str(BLOG), "--now", "2024-12-13T17:00:00Z"]) == 0
    assert "(1 row)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("panther_logs.public.okta_systemlog | take 1", "unsupported PantherFlow operator 'take'"),
        ("panther_logs.public.okta_systemlog | where nosuch == 1", "unknown column 'nosuch'"),
        ("   ", "the query is empty"),
    ],
)
def test_query_pantherflow_bad_input_is_one_line(capsys, query, message):
    assert main(["query", "pantherflow", query, "--data", str(BLOG), "--now", "2024-12-13T17:00:00Z"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err


SAVED = """AnalysisType: saved_query
QueryName: Test.PantherFlow.Resets
Description: MFA resets of one identity, written in PantherFlow.
Query: |
  --pragma: pantherflow
  let who = 'sue.johnson@acme.com';
  let days = 30;
  panther_logs.public.okta_systemlog
  | where p_event_time > time.ago(30d)
  | where eventType in ['user.mfa.factor.deactivate', 'user.account.reset_password']
  | where target[0].alternateId == who
  | summarize resets = agg.count() by eventType
  | sort eventType asc
"""


def test_a_saved_query_marked_pantherflow_runs_with_query_run(tmp_path, capsys):
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "q.yml").write_text(SAVED, encoding="utf-8")
    args = ["query", "run", "Test.PantherFlow.Resets", "--path", str(tmp_path), "--data", str(BLOG)]
    args += ["--now", "2024-12-13T17:00:00Z", "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"eventType": "user.account.reset_password", "resets": 1},
        {"eventType": "user.mfa.factor.deactivate", "resets": 3},
    ]
    assert main([*args, "--param", "who=o'brien\\x@acme.com"]) == 0  # escaped, so no rows, no error
    assert json.loads(capsys.readouterr().out) == []
    assert main([*args, "--param", "nope=1"]) == 2
    assert "has no scalar let nope" in capsys.readouterr().err
    assert main([*args, "--param", "days=x"]) == 2
    assert "expected a number like 30" in capsys.readouterr().err


def test_pragma_is_read_only_on_the_first_line():
    from tracebit_pack.query.pantherflow_saved import is_pantherflow, with_params

    assert is_pantherflow("--pragma: pantherflow\nt") and is_pantherflow("\n  -- pragma: PantherFlow\nt")
    assert not is_pantherflow("SELECT 1 -- --pragma: pantherflow") and not is_pantherflow("")
    text = with_params("--pragma: pantherflow\nlet a = 'x';\nt | where b == a", {"a": "it's\n"})
    assert "let a = 'it\\'s\\n';" in text
    with pytest.raises(UserError):
        with_params("let a = t | limit 1;\nt", {"a": "x"})
