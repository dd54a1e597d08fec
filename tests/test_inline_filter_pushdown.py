"""InlineFilters pushed into SQL (``engine.match_sql``) leave out only events the rules would not match.

Two properties, on generated input with missing, null, oddly typed, case-variant and repeated
keys: the SQL condition agrees with the Python evaluator wherever it answers (and keeps every event
the Python filter passes), and a replay's rule results are the same with and without the pushdown.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from panther_core.enriched_event import PantherEvent

from tracebit_pack.dev.strategies import hostile_events, realistic_events
from tracebit_pack.engine.match_expressions import compile_expressions
from tracebit_pack.engine.match_sql import Pushdown, rule_pushdown
from tracebit_pack.engine.rules import PackEngine
from tracebit_pack.engine.simple_rules import MatchExpressionFilter
from tracebit_pack.lake.embedded import Lake
from tracebit_pack.loading.ingest import Ingest
from tracebit_pack.logs.folder import discover
from tracebit_pack.pack.globals import load_global
from tracebit_pack.pack.items import REPO_ROOT, load_items

# --------------------------------------------------------------------------- the condition itself

KEYS = ("eventName", "errorCode", "n", "requestParameters.userName", "items[0]", "items[1].k")
TOP_KEYS = (
    "eventName",
    "EventName",
    "eventname",
    "errorCode",
    "n",
    "N",
    "flag",
    "requestParameters",
    "items",
)
TEXTS = (
    "DeactivateMFADevice",
    "deactivatemfadevice",
    "x",
    "X",
    "",
    " 5",
    "5",
    "5.0",
    "1e3",
    "inf",
    "é",
    "İx",
    "ß",
)
NUMBERS = (0, 5, -1, 5.0, 0.5, 2**53 + 1, 10**30, 1e300)
scalars = st.one_of(st.sampled_from(TEXTS), st.sampled_from(NUMBERS), st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(("userName", "k", "K")), inner, max_size=2),
    ),
    max_leaves=6,
)
CONDITIONS = (
    "Equals",
    "DoesNotEqual",
    "IEquals",
    "IDoesNotEqual",
    "Contains",
    "DoesNotContain",
    "IContains",
    "IDoesNotContain",
    "StartsWith",
    "DoesNotStartWith",
    "IStartsWith",
    "IDoesNotStartWith",
    "EndsWith",
    "DoesNotEndWith",
    "IEndsWith",
    "IDoesNotEndWith",
    "IsGreaterThan",
    "IsGreaterThanOrEqual",
    "IsLessThan",
    "IsLessThanOrEqual",
)
UNARY = ("Exists", "DoesNotExist", "IsNull", "IsNotNull", "IsNullOrEmpty", "IsNotNullOrEmpty", "IsIPAddress")


@st.composite
def leaf(draw) -> dict:
    key = draw(st.one_of(st.sampled_from(("n", "eventName")), st.sampled_from(KEYS)))  # top level often
    kind = draw(st.sampled_from(("value", "value", "values", "unary", "always")))
    if kind == "always":
        return {"Condition": draw(st.sampled_from(("AlwaysTrue", "AlwaysFalse")))}
    if kind == "unary":
        return {"KeyPath": key, "Condition": draw(st.sampled_from(UNARY))}
    if kind == "values":
        listed = draw(st.lists(scalars.filter(lambda v: v is not None), min_size=1, max_size=4))
        return {"KeyPath": key, "Condition": draw(st.sampled_from(("IsIn", "IsNotIn"))), "Values": listed}
    value = draw(scalars.filter(lambda v: v is not None))
    condition = draw(st.one_of(st.sampled_from(("Equals", "DoesNotEqual")), st.sampled_from(CONDITIONS)))
    return {"KeyPath": key, "Condition": condition, "Value": value}


combined = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"All": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda xs: {"Any": xs}, st.lists(inner, max_size=3)),
    ),
    max_leaves=5,
)
# one condition alone half of the time: a wrong answer is not hidden by the others
filters = st.one_of(leaf(), combined).map(lambda expr: [expr])


def _near(value) -> list:
    """Values next to a filter's value: what a comparison must tell apart from it."""
    if isinstance(value, bool):
        return [value, not value, int(value), str(value).lower()]
    if isinstance(value, int | float):
        return [value, value + 1, -value, str(value), f" {value}", float(value)]
    if isinstance(value, str):
        return [value, value.upper(), value.lower(), f" {value}", value[:-1], value + "x"]
    return [value]


def _scalars_of(expressions) -> list:
    """The Value / Values of a filter: events built from them meet its comparisons' edges."""
    found: list = []

    def walk(node) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            found.extend(node.get("Values") or [])
            if "Value" in node:
                found.append(node["Value"])
            for key in ("All", "Any"):
                walk(node.get(key))

    walk(expressions)
    return found


@st.composite
def event_texts(draw, pool: list) -> str:
    """An event's JSON text: the filter's own values, odd types and, sometimes, a key in another
    case or written twice (json.loads keeps the last, DuckDB the first)."""
    own = st.sampled_from([near for value in pool for near in _near(value)]) if pool else values
    field = st.one_of(own, own, scalars, values)
    plain = {k: field for k in ("eventName", "errorCode", "n", "flag")}
    nested = {
        "requestParameters": st.dictionaries(st.sampled_from(("userName", "k")), field, max_size=2),
        "items": st.lists(st.one_of(field, st.fixed_dictionaries({}, optional={"k": field})), max_size=3),
    }
    event = draw(st.fixed_dictionaries({}, optional={**plain, **nested}))
    if draw(st.integers(0, 3)) == 0:  # a case variant: another key to the filters (the logged dict)
        event[draw(st.sampled_from(("EventName", "eventname", "N")))] = draw(field)
    text = json.dumps(event, ensure_ascii=draw(st.booleans()))
    if event and draw(st.integers(0, 3)) == 0:
        key = draw(st.sampled_from(sorted(event)))
        text = "{" + json.dumps(key) + ": " + json.dumps(draw(field)) + ", " + text[1:]
    return text


def _sql_answers(pushdown: Pushdown, texts: list[str]) -> list[tuple[str, bool, bool]]:
    """(condition: 'true' / 'false' / 'unknown', guard, kept) in DuckDB for each event text."""
    paths = ", ".join(repr(p) for p in pushdown.paths)
    extract = f"json_extract(doc, [{paths}])" if paths else "NULL"
    sql = (
        f"SELECT coalesce(CAST({pushdown.condition} AS VARCHAR), 'unknown'), {pushdown.guard('doc')}, "
        f"{pushdown.where('doc')} FROM (SELECT i, doc, {extract} AS _f "
        "FROM (SELECT generate_subscripts($texts, 1) AS i, unnest($texts) AS doc)) ORDER BY i"
    )
    with duckdb.connect() as connection:
        return connection.execute(sql, {"texts": texts}).fetchall()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), expressions=filters)
def test_sql_condition_agrees_with_the_python_filter(data, expressions):
    texts = data.draw(st.lists(event_texts(_scalars_of(expressions)), min_size=1, max_size=12))
    predicate = compile_expressions(expressions, inline=True)
    pushdown = rule_pushdown([expressions])
    for text, (answer, guard, kept) in zip(texts, _sql_answers(pushdown, texts), strict=True):
        event = PantherEvent(json.loads(text))
        python = MatchExpressionFilter(predicate).filter(event)  # what the engine runs: the logged dict
        assert kept or not python, f"the SQL left out {text} that the Python filter passes"
        if not guard:  # the text reads the same in SQL and Python: a definite answer must be Python's
            assert answer in ("unknown", str(python).lower()), text


def test_plain_filters_are_decided_in_sql():
    """Where the text is plain, the event-name filter is decided in SQL (no 'unknown' left over)."""
    pushdown = rule_pushdown([[{"KeyPath": "eventName", "Condition": "IsIn", "Values": ["A", "B"]}]])
    texts = [
        '{"eventName": "A"}',
        '{"eventName": "C", "x": 1}',
        '{"x": 1}',  # missing: an inline filter passes
        '{"eventName": null}',
        '{"EventName": "A"}',  # another key: eventName is missing, so the filter passes
        '{"eventName": "C", "EVENTNAME": "A"}',  # eventName is C (keys match case-sensitively)
        '{"eventName": "C", "eventName": "A"}',  # json.loads keeps the last: kept by the guard
    ]
    answers = _sql_answers(pushdown, texts)
    assert answers[:6] == [
        ("true", False, True),
        ("false", False, False),
        ("true", False, True),
        ("false", False, False),
        ("true", False, True),
        ("false", False, False),
    ]
    assert answers[6][1:] == (True, True)


def test_a_rule_without_filters_keeps_every_event():
    assert rule_pushdown([None]) is None
    assert rule_pushdown([[{"KeyPath": "a", "Condition": "Exists"}], []]) is None
    assert rule_pushdown([]).condition == "FALSE"


# --------------------------------------------------------------------------- the replay


@pytest.fixture(scope="module")
def engine():
    return PackEngine.load(REPO_ROOT)


def _results(engine: PackEngine, folder: Path, pushdowns: dict, python_below: int = 0) -> tuple[list, int]:
    """Every matched or errored rule result of a replay of ``folder``'s real-time rules, and the
    number of events the rules were run on (loaded by SQL unless the files weigh at most
    ``python_below``, as small files are by default)."""
    lake = Lake()
    try:
        ingest = Ingest(
            lake,
            {t for t in ("AWS.CloudTrail", "Okta.SystemLog")},
            pushdowns=pushdowns,
            python_below=python_below,
        )
        ingest.load(discover(folder))
        out = []
        for event in ingest.rule_events():
            for result in engine.run_event(event):
                if result.matched or result.error:
                    out.append(
                        (result.rule_id, event["p_row_id"], result.title, result.alert_context, result.error)
                    )
        return out, ingest.rule_event_count()
    finally:
        lake.close()


@pytest.mark.parametrize("python_below", [0, 1 << 30], ids=["sql", "python"])
@settings(max_examples=6, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_replay_results_equal_with_and_without_pushdown(engine, tmp_path_factory, data, python_below):
    folder = tmp_path_factory.mktemp("pushdown")
    for log_type in ("AWS.CloudTrail", "Okta.SystemLog"):
        strategy = st.one_of(realistic_events(log_type), hostile_events(log_type))
        generated = data.draw(st.lists(strategy, min_size=1, max_size=25))
        (folder / f"{log_type}.jsonl").write_text("\n".join(json.dumps(e) for e in generated) + "\n")
    pushdowns = {t: engine.pushdown(t) for t in ("AWS.CloudTrail", "Okta.SystemLog")}
    assert all(pushdowns.values())  # both signal rules declare InlineFilters
    with_pushdown, kept = _results(engine, folder, pushdowns, python_below)
    without, everything = _results(engine, folder, {}, python_below)
    assert with_pushdown == without
    assert kept <= everything


def test_pushdown_leaves_the_other_events_in_duckdb(engine):
    """On the bundled incident, most CloudTrail and Okta events never reach Python."""
    folder = REPO_ROOT / "scenarios" / "blog_incident"
    pushdowns = {t: engine.pushdown(t) for t in ("AWS.CloudTrail", "Okta.SystemLog")}
    with_pushdown, kept = _results(engine, folder, pushdowns)
    without, everything = _results(engine, folder, {})
    assert with_pushdown == without
    assert with_pushdown  # the incident's MFA signals are among the results
    assert kept < everything / 2


# --------------------------------------------------------------------------- the rules' YAML


@pytest.mark.parametrize(
    ("rule", "key", "names"),
    [
        ("tracebit_aws_mfa_tampering_signal", "eventName", "AWS_MFA_TAMPERING_EVENT_NAMES"),
        ("tracebit_okta_mfa_reset_signal", "eventType", "MFA_RESET_EVENT_TYPES"),
    ],
)
def test_signal_filters_name_the_helper_lists(rule, key, names):
    spec = yaml.safe_load((REPO_ROOT / "rules" / "tracebit_signal_rules" / f"{rule}.yml").read_text())
    helper = load_global(REPO_ROOT, "tracebit_pivot_templates")
    assert spec["InlineFilters"] == [
        {"KeyPath": key, "Condition": "IsIn", "Values": list(getattr(helper, names))}
    ]


def _left_out(filters: list) -> list[tuple[str, object]]:
    """(key path, value) pairs a rule's InlineFilters leave out by name (DoesNotEqual / IsNotIn)."""
    out = []
    for f in filters:
        if f["Condition"] == "DoesNotEqual":
            out.append((f["KeyPath"], f["Value"]))
        elif f["Condition"] == "IsNotIn":
            out += [(f["KeyPath"], value) for value in f["Values"]]
    return out


def _with(log: dict, path: str, value: object) -> dict:
    log = copy.deepcopy(log)
    *parents, last = path.split(".")
    target = log
    for name in parents:
        target = target.setdefault(name, {})
    target[last] = value
    return log


EXCLUDING_RULES = [
    item.id
    for item in load_items(REPO_ROOT)
    if item.kind == "rule"
    and item.id.startswith("Tracebit.")
    and _left_out(item.spec.get("InlineFilters") or [])
]


@pytest.mark.parametrize("rule_id", EXCLUDING_RULES)
def test_a_value_a_filter_leaves_out_is_one_the_python_never_alerts_on(engine, rule_id):
    """Each value an InlineFilter leaves out, put into each of the rule's own matching test logs,
    makes its Python ``rule()`` (run here without the filter) return False: the filter only saves
    Panther the call, it never hides an alert."""
    loaded = engine.rules[rule_id]
    matching = [t["Log"] for t in loaded.item.tests if t.get("ExpectedResult")]
    assert matching, loaded.id
    excluded = _left_out(loaded.spec["InlineFilters"])
    for path, value in excluded:
        for log in matching:
            engine.kv.clear()
            event = engine.rule_event(_with(log, path, value), scheduled=False)
            assert loaded.rule.module.rule(event) is False, (loaded.id, path, value)
    filtered = engine.run_rule(loaded, _with(matching[0], *excluded[0]))
    assert filtered.filter_output is False  # and the engine does run the filter first


# --------------------------------------------------------------------------- the text guard


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ('{"eventName": "ConsoleLogin"}', False),  # once, exactly: SQL reads it as Python does
        ('{"other": 1}', False),  # absent
        ('{"EventName": "DeactivateMFADevice"}', False),  # another key: SQL and Python agree it is missing
        ('{"eventName": "ConsoleLogin", "EVENTNAME": "DeactivateMFADevice"}', False),  # once
        ('{"eventName": "ConsoleLogin", "eventName": "DeactivateMFADevice"}', True),  # repeated
        ('{"x": "eventName", "eventName": "DeactivateMFADevice"}', True),  # twice in the text: cautious
        ('{"eventName": "a", "x": "\\u0041"}', True),  # an escape SQL may read differently
        ('{"eventName": "a", "x": "\u212a"}', False),  # no case folding of keys: nothing to misread
    ],
)
def test_the_text_guard_keeps_events_sql_may_misread(text, kept):
    pushdown = Pushdown()
    assert pushdown.value(["eventName"]) is not None
    (answer,) = duckdb.execute(f"SELECT {pushdown.guard('doc')} FROM (SELECT ? AS doc)", [text]).fetchone()
    assert answer is kept


@pytest.mark.parametrize("key", ["a_b", "a%b", "a.b"])
def test_the_text_guard_reads_key_names_literally(key):
    """A key name is looked for as written: ``a_b`` is not counted again in a text that also
    holds ``aXb`` (as a LIKE pattern would)."""
    pushdown = Pushdown()
    pushdown.value([key])
    text = json.dumps({key: 1, key.replace(key[1], "X"): 2})
    (answer,) = duckdb.execute(f"SELECT {pushdown.guard('doc')} FROM (SELECT ? AS doc)", [text]).fetchone()
    assert answer is False


@pytest.mark.parametrize("key", ['a"b', "a\\b", "a/b"])
def test_a_key_json_may_escape_is_left_to_python(key):
    """``"a\\/b"`` is the key ``a/b`` to both readers, but not the text the guard counts: such a
    filter is not lowered (NULL: the event is kept and the Python filter decides)."""
    pushdown = rule_pushdown([[{"Key": key, "Condition": "Equals", "Value": "x"}]])
    assert pushdown.condition == "(NULL)" and not pushdown.keys
