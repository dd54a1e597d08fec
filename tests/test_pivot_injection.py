"""Injection safety of the pivot queries as a property.

For any string placed in any value parameter of any pivot (the principal; ``alert_time`` is parsed
and re-formatted, never copied), the rendered query has exactly the structure of the query
rendered with a benign value, and the value appears only as literals equal to the input (one in
the SQL; in the PantherFlow, as many as the benign value, e.g. one per Okta target position):

* SQL: parsed with sqlglot (``read="snowflake"``, which decodes Snowflake's escapes); every string
  literal equal to the input is replaced by the benign placeholder and the whole syntax tree must
  then be equal to the benign one (not only its shape: every identifier, operator and other
  literal);
* PantherFlow: tokenised with pygments' ``KustoLexer`` (PantherFlow's string literals follow the
  Kusto rules: single quotes, backslash escapes); each quoted literal is folded into one decoded
  token and the token sequences must be equal after the same replacement.

Values: hypothesis text (any code point, lone surrogates included), the fuzzer's hostile strings
(quotes, backslashes, newlines, ``|``, ``--``, ``;``, macro names, bidi and zero-width characters)
and, end to end, the values the Tracebit rules take from generated events into
``alert_context.pivots``. ``tests/test_pivots.py`` (the pivots' own tests) checks examples and the
literal count; this file checks whole-tree equality over every pivot and parameter.
"""

from __future__ import annotations

import json
import warnings
from itertools import islice

import pytest
import sqlglot
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pygments.lexers import KustoLexer
from pygments.token import String
from sqlglot import exp

import tracebit_pivots as tp
from tracebit_pack.dev import strategies, value_strategies
from tracebit_pack.dev.fuzz import load_pack, prepare, stream_named

PLACEHOLDER = "benign-{}-7f3a"
# The values taken from logs; alert_time is parsed and re-formatted by the renderer, never copied.
PIVOT_PARAMS = [(name, key) for name, pivot in tp.PIVOTS.items() for key in pivot["values"]]


def _no_surrogates(value: str) -> bool:
    # A lone surrogate cannot be encoded in UTF-8, so no query can carry it: render_pivots skips
    # such values (tests/test_pivots.py), and sqlglot cannot decode a \ud800 escape either.
    return not any(0xD800 <= ord(char) <= 0xDFFF for char in value)


values = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec=None), max_size=40),
    value_strategies.any_text,
    value_strategies.hostile_text,
    st.sampled_from(value_strategies.HOSTILE_STRINGS),
).filter(_no_surrogates)
HOSTILE = [value for value in value_strategies.HOSTILE_STRINGS if _no_surrogates(value)]
SETTINGS = settings(
    max_examples=30, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


# ------------------------------------------------------------------------------------------- SQL


def sql_tree(sql: str, replacements: dict[str, str]) -> tuple[exp.Expression, dict[str, int]]:
    """The parsed query with every string literal equal to a key replaced by its value."""
    tree = sqlglot.parse_one(sql, read="snowflake")
    counts = dict.fromkeys(replacements, 0)

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Literal) and node.is_string and node.this in replacements:
            counts[node.this] += 1
            return exp.Literal.string(replacements[node.this])
        return node

    return tree.transform(swap), counts


def sql_string_literals(sql: str) -> list[str]:
    return [
        lit.this for lit in sqlglot.parse_one(sql, read="snowflake").find_all(exp.Literal) if lit.is_string
    ]


# ------------------------------------------------------------------------------------ PantherFlow

_PF_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def _decode_pf(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        if body[i] != "\\":
            out.append(body[i])
            i += 1
        elif body[i + 1] == "u":
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        else:
            out.append(_PF_ESCAPES[body[i + 1]])
            i += 2
    return "".join(out)


def pf_tokens(query: str) -> list[tuple[str, str]]:
    """(token type, text) of every token; each string literal folded into ("STRING", decoded)."""
    tokens: list[tuple[str, str]] = []
    literal: list[str] | None = None
    quote = ""
    for token_type, text in KustoLexer().get_tokens(query):
        if token_type in String:
            if literal is None:
                assert text in ("'", '"'), f"string token outside a literal: {text!r}"
                literal, quote = [], text
            elif text == quote and token_type is String:
                tokens.append(("STRING", _decode_pf("".join(literal))))
                literal = None
            else:
                literal.append(text)
        else:
            assert literal is None, f"{token_type} token inside an open literal: {text!r}"
            tokens.append((str(token_type), text))
    assert literal is None, "unterminated string literal"
    return tokens


def pf_replaced(query: str, replacements: dict[str, str]) -> tuple[list[tuple[str, str]], dict[str, int]]:
    counts = dict.fromkeys(replacements, 0)
    out = []
    for kind, text in pf_tokens(query):
        if kind == "STRING" and text in replacements:
            counts[text] += 1
            out.append((kind, replacements[text]))
        else:
            out.append((kind, text))
    return out, counts


# ------------------------------------------------------------------------------------- the check


def assert_injection_safe(name: str, params: dict[str, str]) -> None:
    """``render_pivot(name, params)`` is the benign rendering with each value in place of the benign one."""
    keys = tp.PIVOTS[name]["values"]
    placeholders = {key: PLACEHOLDER.format(key) for key in keys}
    benign = tp.render_pivot(name, dict(params, **placeholders))
    rendered = tp.render_pivot(name, params)
    replacements = {params[key]: placeholders[key] for key in keys}
    assert len(replacements) == len(keys), "two parameters with the same value"
    other_sql = set(sql_string_literals(benign["sql"])) - set(placeholders.values())
    other_pf = {t for k, t in pf_tokens(benign["pantherflow"]) if k == "STRING"} - set(placeholders.values())
    # a value equal to a fixed literal of the template (e.g. 'GetObject') cannot be told apart
    if any(value in other_sql or value in other_pf for value in replacements):
        return

    tree, counts = sql_tree(rendered["sql"], replacements)
    benign_tree, benign_counts = sql_tree(benign["sql"], {v: v for v in placeholders.values()})
    assert tree == benign_tree, f"SQL structure changed for {params}"
    for value, placeholder in replacements.items():
        assert counts[value] == benign_counts[placeholder] == 1, (value, counts)

    tokens, pf_counts = pf_replaced(rendered["pantherflow"], replacements)
    benign_tokens, benign_pf_counts = pf_replaced(
        benign["pantherflow"], {v: v for v in placeholders.values()}
    )
    assert tokens == benign_tokens, f"PantherFlow structure changed for {params}"
    for value, placeholder in replacements.items():
        # values are inlined where used (no scalar let), so a value may appear more than once
        assert pf_counts[value] == benign_pf_counts[placeholder] >= 1, (value, pf_counts)


@pytest.mark.parametrize(("name", "key"), PIVOT_PARAMS)
@SETTINGS
@given(value=values)
def test_any_value_in_any_parameter_is_one_literal(name, key, value):
    params = dict(tp.EXAMPLE_PARAMS)
    assume(value not in params.values())
    params[key] = value
    assert_injection_safe(name, params)


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(("name", "key"), PIVOT_PARAMS)
def test_each_hostile_string_is_one_literal(name, key, value):
    params = dict(tp.EXAMPLE_PARAMS)
    if value in params.values():
        pytest.skip("equal to another parameter")
    params[key] = value
    assert_injection_safe(name, params)


@SETTINGS
@given(value=values)
def test_values_never_spell_a_panther_macro(value):
    """Panther expands SQL macros as text, even inside literals: a value must not add one."""
    for name, key in PIVOT_PARAMS:
        params = dict(tp.EXAMPLE_PARAMS, **{key: value})
        sql = tp.render_pivot(name, params)["sql"].lower()
        benign = tp.render_pivot(name, tp.EXAMPLE_PARAMS)["sql"].lower()
        for macro in ("p_occurs_", "p_current_timestamp", "p_matches"):
            assert sql.count(macro) == benign.count(macro), (name, key, macro)


def test_rule_contexts_from_generated_events_render_safe_pivots():
    """End to end: pivots the Tracebit rules put in their alert context for generated (hostile and
    realistic) events are injection-safe for the parameter values taken from that context."""
    engine, _ = load_pack()
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for log_type in ("Tracebit.Alert", "Tracebit.AlertSummary"):
            stream = stream_named(log_type)
            for raw in islice(strategies.seeded_examples(stream.strategy, 11), 100):
                event, _ = prepare(stream, raw, engine)
                for loaded in stream.rules:
                    result = loaded.rule.run(event, {}, {}, batch_mode=True)
                    if not result.trigger_alert or not result.alert_context_output:
                        continue
                    context = json.loads(result.alert_context_output)
                    pivots = context.get("pivots") or {}
                    params = tp.pivot_params(context)
                    for name, rendered in pivots.items():
                        expected = tp.render_pivot(name, params)
                        assert rendered == expected
                        if len({params[k] for k in tp.PIVOTS[name]["params"]}) == len(
                            tp.PIVOTS[name]["params"]
                        ):
                            assert_injection_safe(name, {k: params[k] for k in tp.PIVOTS[name]["params"]})
                            checked += 1
    assert checked > 50, f"only {checked} rendered pivots checked"
