"""The offline match-expression evaluator: each supported condition, the null/missing rules, and
constructs it refuses (Unsupported) rather than guesses."""

from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from panther_core.enriched_event import PantherEvent

from tracebit_pack.engine.match_expressions import SUPPORTED_CONDITIONS, Unsupported, compile_expressions

EVENT = {
    "eventName": "ConsoleLogin",
    "count": 12,
    "ratio": "0.5",
    "flag": True,
    "empty": "",
    "nothing": None,
    "sourceIPAddress": "203.0.113.9",
    "internal": "10.1.2.3",
    "v6": "2001:db8::1",
    "userIdentity": {"type": "Root", "arn": "arn:aws:iam::123456789012:root"},
    "tags": ["prod", "PCI"],
    "grants": [{"granted": True, "permission": "iam.roles.update"}, {"permission": "storage.get"}],
    "limits": {"low": 3, "high": 7},
}


def check(expression: dict, event: dict = EVENT, inline: bool = False) -> bool:
    return compile_expressions([expression], inline=inline)(event)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"KeyPath": "eventName", "Condition": "Equals", "Value": "ConsoleLogin"}, True),
        ({"KeyPath": "eventName", "Condition": "Equals", "Value": "consolelogin"}, False),
        ({"KeyPath": "eventName", "Condition": "IEquals", "Value": "consolelogin"}, True),
        ({"KeyPath": "eventName", "Condition": "DoesNotEqual", "Value": "ConsoleLogin"}, False),
        ({"KeyPath": "eventName", "Condition": "IDoesNotEqual", "Value": "CONSOLELOGIN"}, False),
        ({"Key": "count", "Condition": "Equals", "Value": "12"}, True),  # number vs numeric string
        ({"Key": "flag", "Condition": "Equals", "Value": 1}, False),  # a boolean is not a number
        ({"Key": "flag", "Condition": "Equals", "Value": True}, True),
        ({"KeyPath": "eventName", "Condition": "Contains", "Value": "Log"}, True),
        ({"KeyPath": "eventName", "Condition": "IContains", "Value": "login"}, True),
        ({"KeyPath": "eventName", "Condition": "DoesNotContain", "Value": "Log"}, False),
        ({"KeyPath": "eventName", "Condition": "IDoesNotContain", "Value": "xyz"}, True),
        ({"KeyPath": "eventName", "Condition": "StartsWith", "Value": "Console"}, True),
        ({"KeyPath": "eventName", "Condition": "IStartsWith", "Value": "console"}, True),
        ({"KeyPath": "eventName", "Condition": "DoesNotStartWith", "Value": "Console"}, False),
        ({"KeyPath": "eventName", "Condition": "IDoesNotStartWith", "Value": "x"}, True),
        ({"KeyPath": "eventName", "Condition": "EndsWith", "Value": "Login"}, True),
        ({"KeyPath": "eventName", "Condition": "IEndsWith", "Value": "LOGIN"}, True),
        ({"KeyPath": "eventName", "Condition": "DoesNotEndWith", "Value": "Login"}, False),
        ({"KeyPath": "eventName", "Condition": "IDoesNotEndWith", "Value": "x"}, True),
        ({"Key": "tags", "Condition": "Contains", "Value": "PCI"}, True),  # list field: membership
        ({"Key": "tags", "Condition": "Contains", "Value": "PC"}, False),
        ({"Key": "count", "Condition": "IsGreaterThan", "Value": 11}, True),
        ({"Key": "count", "Condition": "IsGreaterThan", "Value": 12}, False),
        ({"Key": "count", "Condition": "IsGreaterThanOrEqual", "Value": 12}, True),
        ({"Key": "ratio", "Condition": "IsLessThan", "Value": 1}, True),
        ({"Key": "count", "Condition": "IsLessThanOrEqual", "Value": 11}, False),
        ({"Key": "eventName", "Condition": "IsGreaterThan", "Value": 1}, False),  # not a number
        ({"Key": "eventName", "Condition": "IsIn", "Values": ["GetObject", "ConsoleLogin"]}, True),
        ({"Key": "eventName", "Condition": "IsNotIn", "Values": ["GetObject", "ConsoleLogin"]}, False),
        ({"Key": "sourceIPAddress", "Condition": "IsIPAddress"}, True),
        ({"Key": "eventName", "Condition": "IsIPAddress"}, False),
        ({"Key": "sourceIPAddress", "Condition": "IsIPv4Address"}, True),
        ({"Key": "v6", "Condition": "IsIPv6Address"}, True),
        ({"Key": "sourceIPAddress", "Condition": "IsIPAddressPublic"}, False),  # TEST-NET-3 is reserved
        ({"Key": "internal", "Condition": "IsIPAddressPrivate"}, True),
        ({"Key": "internal", "Condition": "IsIPAddressInCIDR", "Value": "10.0.0.0/8"}, True),
        ({"Key": "internal", "Condition": "IsIPAddressInCIDR", "Values": ["192.168.0.0/16"]}, False),
        ({"Key": "internal", "Condition": "IsIPAddressNotInCIDR", "Values": ["192.168.0.0/16"]}, True),
        ({"Key": "nothing", "Condition": "Exists"}, True),
        ({"Key": "absent", "Condition": "DoesNotExist"}, True),
        ({"Key": "nothing", "Condition": "IsNull"}, True),
        ({"Key": "absent", "Condition": "IsNull"}, True),
        ({"Key": "eventName", "Condition": "IsNotNull"}, True),
        ({"Key": "empty", "Condition": "IsNullOrEmpty"}, True),
        ({"Key": "tags", "Condition": "IsNotNullOrEmpty"}, True),
        ({"DeepKey": ["userIdentity", "type"], "Condition": "Equals", "Value": "Root"}, True),
        ({"KeyPath": "grants[1].permission", "Condition": "Equals", "Value": "storage.get"}, True),
        ({"KeyPath": "grants[*].granted", "Condition": "Contains", "Value": True}, True),
        ({"KeyPath": "grants[*].permission", "Condition": "Contains", "Value": "iam.roles.update"}, True),
        ({"KeyPath": "grants[*].permission", "Condition": "Contains", "Value": "iam"}, False),
        ({"Condition": "AlwaysTrue"}, True),
        ({"Condition": "AlwaysFalse"}, False),
        ({"Condition": "IsLessThan", "Values": [{"KeyPath": "limits.low"}, {"KeyPath": "limits.high"}]}, 1),
        ({"Condition": "Equals", "Values": [{"KeyPath": "limits.low"}, {"KeyPath": "limits.high"}]}, 0),
        ({"Condition": "DoesNotEqual", "Values": [{"Key": "count"}, {"Key": "absent"}]}, True),
    ],
)
def test_condition(expression, expected):
    assert check(expression) is bool(expected)


def test_the_same_answers_on_panther_core_events():
    """The engine hands rules a PantherEvent (immutable containers), not a dict."""
    event = PantherEvent(EVENT)
    assert check({"KeyPath": "grants[*].permission", "Condition": "Contains", "Value": "storage.get"}, event)
    assert check({"Key": "tags", "Condition": "IsNotNullOrEmpty"}, event)
    assert not check({"Key": "tags", "Condition": "Contains", "Value": "dev"}, event)


def test_missing_or_null_fails_positive_conditions_and_passes_negated_ones():
    for key in ("absent", "nothing"):
        assert not check({"Key": key, "Condition": "Equals", "Value": "x"})
        assert not check({"Key": key, "Condition": "IsIn", "Values": ["x"]})
        assert check({"Key": key, "Condition": "DoesNotEqual", "Value": "x"})
        assert check({"Key": key, "Condition": "IsNotIn", "Values": ["x"]})


def test_inline_filter_on_a_missing_field_passes_but_a_null_one_does_not():
    assert check({"KeyPath": "absent", "Condition": "Equals", "Value": "x"}, inline=True)
    assert not check({"KeyPath": "nothing", "Condition": "Equals", "Value": "x"}, inline=True)
    assert not check({"KeyPath": "absent", "Condition": "Exists"}, inline=True)


def test_combinators():
    yes = {"Key": "eventName", "Condition": "Equals", "Value": "ConsoleLogin"}
    no = {"Key": "eventName", "Condition": "Equals", "Value": "GetObject"}
    assert compile_expressions([yes, yes])(EVENT)
    assert not compile_expressions([yes, no])(EVENT)  # a top-level list is All
    assert check({"Any": [no, yes]})
    assert not check({"All": [no, yes]})
    assert check({"OnlyOne": [no, yes]})
    assert not check({"OnlyOne": [yes, yes]})
    assert check({"None": [no, no]})
    assert check({"All": []})  # panther-analysis's "no filter"
    assert compile_expressions(None)(EVENT)


def test_list_comprehension():
    granted = [{"Key": "granted", "Condition": "Equals", "Value": True}]
    assert check({"Key": "grants", "Condition": "AnyElement", "Expressions": granted})
    assert not check({"Key": "grants", "Condition": "AllElements", "Expressions": granted})
    assert check({"Key": "grants", "Condition": "OnlyOneElement", "Expressions": granted})
    assert not check({"Key": "grants", "Condition": "NoElement", "Expressions": granted})
    assert not check({"Key": "absent", "Condition": "AnyElement", "Expressions": granted})


@pytest.mark.parametrize(
    ("expression", "inline", "reason"),
    [
        ({"Key": "a", "Condition": "MatchesRegex", "Value": "x"}, False, "not supported offline"),
        (
            {"Enrichment": {"Table": "t", "Selector": "s", "FieldPath": "f"}, "Condition": "Exists"},
            0,
            "lookup",
        ),
        ({"OnlyOne": []}, True, "InlineFilters do not allow"),
        ({"Key": "a", "Condition": "AnyElement", "Expressions": []}, True, "list comprehension"),
        ({"Key": "a", "Condition": "Equals"}, False, "needs a Value"),
        ({"Key": "a", "Condition": "Exists", "Value": 1}, False, "takes no Value"),
        ({"Key": "a", "Condition": "IsIPAddressInCIDR", "Value": "not-a-cidr"}, False, "not a CIDR"),
        ({"Condition": "Equals", "Values": [{"Key": "a"}]}, False, "without a key"),
        ({"KeyPath": "a..b", "Condition": "Exists"}, False, "cannot parse"),
        ("Key: a", False, "must be a mapping"),
    ],
)
def test_unsupported_constructs_are_refused_at_compile_time(expression, inline, reason):
    with pytest.raises(Unsupported, match=reason):
        compile_expressions([expression], inline=inline)


def test_supported_conditions_are_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "simple-detections.md").read_text()
    missing = [name for name in SUPPORTED_CONDITIONS if f"`{name}`" not in doc]
    assert missing == []


# The plain-equality shortcut (IsIn / IsNotIn of strings, Equals / DoesNotEqual of a string or a
# boolean, on a top-level field of a plain dict) must answer exactly as the general path, which a
# read-only mapping of the same event still takes.
_NAMES = ("DeactivateMFADevice", "GetObject", "getobject", "", " GetObject", "1", "0")
_VALUES = st.one_of(
    st.sampled_from(_NAMES),
    st.text(max_size=4),
    st.sampled_from((0, 1, 1.0)),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
    st.lists(st.sampled_from(_NAMES), max_size=2),
    st.dictionaries(st.sampled_from(_NAMES), st.none(), max_size=1),
)
_CANDIDATES = st.one_of(
    st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3),
    st.lists(st.booleans(), min_size=1, max_size=2),
    st.lists(st.sampled_from((*_NAMES, 1, 0, True, None)), min_size=1, max_size=3),
)


@st.composite
def _plain_conditions(draw) -> dict:
    condition = draw(st.sampled_from(("IsIn", "IsNotIn", "Equals", "DoesNotEqual")))
    candidates = draw(_CANDIDATES)
    key = draw(st.sampled_from(({"Key": "eventName"}, {"KeyPath": "eventName"}, {"KeyPath": "d.eventName"})))
    if condition.startswith("Is"):
        return {**key, "Condition": condition, "Values": candidates}
    return {**key, "Condition": condition, "Value": candidates[0]}


_KEYS = st.sampled_from(("eventName", "EventName", "other"))
_EVENTS = st.dictionaries(
    st.sampled_from(("eventName", "EventName", "d")),
    st.one_of(_VALUES, st.dictionaries(_KEYS, _VALUES, max_size=2), st.lists(_VALUES, max_size=1)),
    max_size=3,
)


@settings(max_examples=600)
@given(expression=_plain_conditions(), inline=st.booleans(), event=_EVENTS)
def test_the_plain_equality_shortcut_answers_as_the_general_path(expression, inline, event):
    predicate = compile_expressions([expression], inline)
    assert predicate(event) is predicate(MappingProxyType(event))


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"d": {"eventName": "GetObject"}}, True),
        ({"d": "GetObject"}, False),  # a string where the path needs a mapping: no value
        ({"d": {"eventName": ["GetObject"]}}, False),
        ({"eventName": "GetObject"}, False),
    ],
)
def test_the_shortcut_walks_the_whole_path(event, expected):
    predicate = compile_expressions(
        [{"KeyPath": "d.eventName", "Condition": "IsIn", "Values": ["GetObject"]}]
    )
    assert predicate(event) is expected
