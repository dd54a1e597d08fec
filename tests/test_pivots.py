"""Pivot queries: rendering, escaping of attacker-controlled values, and the generated saved queries.

Escaping is proven, not assumed:
* SQL: the rendered query is parsed with sqlglot (dialect snowflake). It must contain exactly one
  string literal equal to the hostile value, and have the same AST shape (node types in walk
  order, string literal contents masked) as the same pivot rendered with a benign value.
* PantherFlow: the rendered query is tokenised with pygments' ``KustoLexer`` (PantherFlow is a
  Kusto-like language with the same string-literal rules: quote, backslash escapes). Consecutive
  string tokens from an opening to a closing quote form one literal, decoded with PantherFlow's
  escapes (panther.md section 5). As many literals must decode to the value as to the benign
  value (the Okta pivot uses the identity once per target position), and every non-string token
  must be identical to the benign rendering's.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlglot
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pygments.lexers import KustoLexer
from pygments.token import String
from sqlglot import exp

import tracebit_pivots as tp
from tracebit_pack.cli.main import main as cli_main
from tracebit_pack.query import generate as pivot_queries
from tracebit_pack.query import pantherflow

REPO_ROOT = Path(__file__).resolve().parent.parent
BLOG_ARN = "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com"
BLOG_CONTEXT = {
    "tracebit_log_type": "alert",
    "principal_arn": BLOG_ARN,
    "identities": ["sue.johnson@acme.com"],
    "alert_time": "2024-12-13T16:20:00.000Z",
}
BENIGN = "benign-value"
ALERT_TIME = "2024-12-13T16:40:00Z"

HOSTILE_VALUES = [
    "o'brien",
    "''",
    "\\",
    "a\\",
    "\\'",
    "x\\' OR 1=1 --",
    "' OR '1'='1' --",
    "'; DROP TABLE panther_logs.public.aws_cloudtrail; --",
    'double"quote',
    "line1\nline2\r\nline3",
    "tab\there",
    "pipe | where true | summarize agg.count()",
    "semi;colon",
    "comment -- here",
    "block /* comment */ end",
    "*/ unterminated",
    "let x = 'y';\npanther_logs.public.okta_systemlog",
    "nul\x00byte and escape\x1b[31m and del\x7f",
    "unicode é ü ß 日本語 🦊",
    "bidi \u202e override \u2066 isolate \u200b zero-width \ufeff bom",
    "line sep \u2028 para sep \u2029 nel \x85",
    "p_occurs_since('1 day') and P_OCCURS_BETWEEN(a, b) p_current_timestamp()",
    "{{principal_arn}} {{identity}} {note}",
    "$$dollar$$",
    "@'verbatim'",
    "```multi```",
    "arn:aws:sts::693260565127:assumed-role/x/o'brien\\\" --;|\n\u202e\u00e9' OR '1'='1",
]


# ---------------------------------------------------------------------------------------------
# helpers: literals of a rendered query
# ---------------------------------------------------------------------------------------------


def sql_string_literals(tree) -> list[str]:
    return [node.this for node in tree.find_all(exp.Literal) if node.is_string]


def sql_shape(tree) -> list[str]:
    """Node types in walk order, plus non-string literal values (numbers) and identifiers."""
    shape = []
    for node in tree.walk():
        if isinstance(node, exp.Literal) and node.is_string:
            shape.append("Literal:str")
        elif isinstance(node, exp.Literal | exp.Identifier):
            shape.append(f"{type(node).__name__}:{node.this}")
        else:
            shape.append(type(node).__name__)
        shape.extend(f"comment:{c}" for c in node.comments or [])
    return shape


def decode_pantherflow_string(body: str) -> str:
    """Decode the inside of a PantherFlow quoted literal (escapes of panther.md section 5)."""
    return pantherflow.decode_string(f"'{body}'")


def pantherflow_tokens(query: str):
    """``(literals, structure)``: decoded string literals and the (type, text) of every other token."""
    literals, structure = [], []
    current = None
    for token_type, text in KustoLexer().get_tokens(query):
        if token_type in String:
            if current is None:  # opening quote
                assert text in ("'", '"'), f"string token outside a literal: {text!r}"
                current = {"quote": text, "body": []}
            elif text == current["quote"] and token_type is String:  # closing quote
                literals.append(decode_pantherflow_string("".join(current["body"])))
                current = None
            else:
                current["body"].append(text)
        else:
            assert current is None, "a non-string token inside an open literal"
            structure.append((token_type, text))
    assert current is None, "unterminated string literal"
    return literals, structure


# The pivot on the alert time alone (Panther.Audit): every alert with a readable alert time has it.
ALERT_TIME_ONLY = "Tracebit.Pivot.PackChangesBeforeAlert"


def render_with(name: str, key: str, value: str) -> dict:
    params = dict(tp.EXAMPLE_PARAMS)
    params[key] = value
    return tp.render_pivot(name, params)


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------


def test_render_pivots_blog_alert_gives_every_pivot():
    pivots = tp.render_pivots(BLOG_CONTEXT)
    assert set(pivots) == {
        "Tracebit.Pivot.PackChangesBeforeAlert",
        "Tracebit.Pivot.PrincipalGetObjectHistory",
        "Tracebit.Pivot.IdentityOktaMFAResets",
        "Tracebit.Pivot.PrincipalActivityAroundAlert",
        AWS_CREDENTIALS,
    }
    for name, rendered in pivots.items():
        if name == AWS_CREDENTIALS:  # values inline, no scalar let (test below)
            continue
        assert set(rendered) == {"sql", "pantherflow"}
        # a pivot with a principal holds it in a params CTE; the alert-time pivot has none
        assert rendered["sql"].startswith("SELECT" if name == ALERT_TIME_ONLY else "WITH params AS (")
        assert rendered["pantherflow"].startswith("panther_logs.public.")
        assert "time.parse_timestamp('2024-12-13 16:20:00')" in rendered["pantherflow"]
    history = pivots["Tracebit.Pivot.PrincipalGetObjectHistory"]
    assert f"SELECT '{BLOG_ARN}' AS principal_arn" in history["sql"]
    assert "p_occurs_between('2024-11-13 16:20:00', '2024-12-14 16:20:00', ct)" in history["sql"]
    assert f"strings.ilike(userIdentity.arn, '{BLOG_ARN}')" in history["pantherflow"]
    assert "- time.parse_timespan('30d')" in history["pantherflow"]
    assert "+ time.parse_timespan('1d')" in history["pantherflow"]
    okta = pivots["Tracebit.Pivot.IdentityOktaMFAResets"]
    assert "SELECT 'sue.johnson@acme.com' AS identity" in okta["sql"]
    assert "p_occurs_between('2024-11-13 16:20:00', '2024-12-13 17:20:00', o)" in okta["sql"]
    for event_type in tp.MFA_RESET_EVENT_TYPES:
        assert f"'{event_type}'" in okta["sql"] and f"'{event_type}'" in okta["pantherflow"]
    around = pivots["Tracebit.Pivot.PrincipalActivityAroundAlert"]
    assert "p_occurs_between('2024-12-13 13:20:00', '2024-12-13 19:20:00', ct)" in around["sql"]


def test_values_only_in_the_params_cte_and_once_in_pantherflow():
    rendered = tp.render_pivots(BLOG_CONTEXT)["Tracebit.Pivot.PrincipalGetObjectHistory"]
    sql = rendered["sql"]
    params_cte = sql[: sql.index("\n)")]
    assert BLOG_ARN in params_cte and sql.count(BLOG_ARN) == 1
    assert rendered["pantherflow"].count(BLOG_ARN) == 1
    assert "let " not in rendered["pantherflow"]


@pytest.mark.parametrize(
    ("name", "option", "value", "start", "end"),
    [
        (
            "Tracebit.Pivot.PrincipalGetObjectHistory",
            "lookback_days",
            "7",
            "2024-12-06 16:20:00",
            "2024-12-14 16:20:00",
        ),
        (
            "Tracebit.Pivot.IdentityOktaMFAResets",
            "lookback_days",
            90,
            "2024-09-14 16:20:00",
            "2024-12-13 17:20:00",
        ),
        (
            "Tracebit.Pivot.PrincipalActivityAroundAlert",
            "window_hours",
            "1",
            "2024-12-13 15:20:00",
            "2024-12-13 17:20:00",
        ),
    ],
)
def test_window_option_moves_both_languages(name, option, value, start, end):  # noqa: PLR0917
    rendered = tp.render_pivot(name, dict(tp.EXAMPLE_PARAMS, **{option: value}))
    assert f"p_occurs_between('{start}', '{end}'," in rendered["sql"]
    assert (
        f"- time.parse_timespan('{value}{'h' if option == 'window_hours' else 'd'}')"
        in rendered["pantherflow"]
    )


@pytest.mark.parametrize("value", ["abc", "", "0", "-1", "1.5", "99999", True, "٣"])
def test_bad_window_option_is_a_value_error(value):
    with pytest.raises(ValueError, match="lookback_days must be a whole number"):
        tp.render_pivot(
            "Tracebit.Pivot.PrincipalGetObjectHistory", dict(tp.EXAMPLE_PARAMS, lookback_days=value)
        )


@pytest.mark.parametrize("value", ["2024-12-13T16:20:00Z", "not a time", "2024-13-40 00:00:00", ""])
def test_alert_time_must_be_the_utc_form(value):
    with pytest.raises(ValueError):
        tp.render_pivot("Tracebit.Pivot.PrincipalGetObjectHistory", dict(tp.EXAMPLE_PARAMS, alert_time=value))


def test_okta_principal_without_arn_gets_only_the_okta_pivot():
    context = {"principal_arn": None, "identities": ["bob@acme.com"], "alert_time": "2024-12-13T16:40:00Z"}
    assert set(tp.render_pivots(context)) == {ALERT_TIME_ONLY, "Tracebit.Pivot.IdentityOktaMFAResets"}


def test_arn_without_identity_gets_only_cloudtrail_pivots():
    context = {
        "principal_arn": "arn:aws:iam::1:role/x",
        "identities": [],
        "alert_time": "2024-12-13T16:40:00Z",
    }
    assert set(tp.render_pivots(context)) == {
        ALERT_TIME_ONLY,
        "Tracebit.Pivot.PrincipalGetObjectHistory",
        "Tracebit.Pivot.PrincipalActivityAroundAlert",
    }


@pytest.mark.parametrize(
    "context",
    [
        None,
        "not a dict",
        [],
        {},
        {"principal_arn": BLOG_ARN, "identities": ["a@b.c"]},  # no alert_time
        {"principal_arn": BLOG_ARN, "identities": ["a@b.c"], "alert_time": "yesterday"},
        {"principal_arn": 42, "identities": "a@b.c", "alert_time": 1734106800},
        {"principal_arn": ["x"], "identities": [None, 3, {}], "alert_time": None},
    ],
)
def test_render_pivots_never_raises_and_skips_missing_parameters(context):
    assert tp.render_pivots(context) == {}


def test_a_too_long_principal_leaves_only_the_alert_time_pivot():
    context = {
        "principal_arn": "x" * (tp.MAX_VALUE_LENGTH + 1),
        "identities": [],
        "alert_time": "2024-12-13T16:40:00Z",
    }
    assert set(tp.render_pivots(context)) == {ALERT_TIME_ONLY}


def test_values_with_lone_surrogates_are_skipped():
    # not encodable as UTF-8, so no Snowflake / PantherFlow literal can hold them: no real ARN has one
    context = {
        "principal_arn": "arn:aws:iam::1:user/\ud800",
        "identities": ["a\udc00@b.c"],
        "alert_time": "2024-12-13",
    }
    assert set(tp.render_pivots(context)) == {ALERT_TIME_ONLY}


def test_pick_identity_prefers_an_email_and_lower_cases():
    assert tp.pick_identity(["okta-oidc-engineer", "Sue.Johnson@Acme.com"]) == "sue.johnson@acme.com"
    assert tp.pick_identity(["etl-reader"]) == "etl-reader"
    assert tp.pick_identity([]) is None
    assert tp.pick_identity(None) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-12-13T16:20:00Z", "2024-12-13 16:20:00"),
        ("2024-12-13T16:20:00.987654Z", "2024-12-13 16:20:00"),
        ("2024-12-13T18:20:00+02:00", "2024-12-13 16:20:00"),
        ("2024-12-13 16:20:00.000", "2024-12-13 16:20:00"),
        ("2024-12-13T16:20:00", "2024-12-13 16:20:00"),
        ("2024-12-13", "2024-12-13 00:00:00"),  # date only: midnight
        ("2024-12-13" + " " * 54, "2024-12-13 00:00:00"),  # 64 characters: the longest read
        ("2024-12-13" + " " * 55, None),
        ("20241213Z", None),  # shorter than 10 characters: not read although Python parses it
        ("13/12/2024", None),
        ("", None),
        (None, None),
    ],
)
def test_format_alert_time(raw, expected):
    assert tp.format_alert_time(raw) == expected


# ---------------------------------------------------------------------------------------------
# escaping: SQL (sqlglot, snowflake)
# ---------------------------------------------------------------------------------------------


def _check_sql(name: str, key: str, value: str) -> None:
    hostile = sqlglot.parse_one(render_with(name, key, value)["sql"], read="snowflake")
    benign = sqlglot.parse_one(render_with(name, key, BENIGN)["sql"], read="snowflake")
    literals = sql_string_literals(hostile)
    assert literals.count(value) == 1, literals
    benign_literals = sql_string_literals(benign)
    assert [lit for lit in literals if lit != value] == [lit for lit in benign_literals if lit != BENIGN]
    assert sql_shape(hostile) == sql_shape(benign)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Tracebit.Pivot.PrincipalGetObjectHistory", "principal_arn"),
        ("Tracebit.Pivot.IdentityOktaMFAResets", "identity"),
        ("Tracebit.Pivot.PrincipalActivityAroundAlert", "principal_arn"),
    ],
)
def test_sql_hostile_value_is_one_literal(name, key, value):
    _check_sql(name, key, value)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_sql_value_never_spells_a_panther_macro(value):
    sql = render_with("Tracebit.Pivot.PrincipalGetObjectHistory", "principal_arn", value)["sql"]
    benign = render_with("Tracebit.Pivot.PrincipalGetObjectHistory", "principal_arn", BENIGN)["sql"]
    for macro in ("p_occurs_", "p_current_timestamp"):
        assert sql.lower().count(macro) == benign.lower().count(macro)


def test_sql_literal_examples():
    assert tp.sql_literal("o'brien") == "'o''brien'"
    assert tp.sql_literal("a\\b") == "'a\\\\b'"
    assert tp.sql_literal("a\nb") == "'a\\nb'"
    assert tp.sql_literal("\u202e") == "'\\u202e'"
    assert tp.sql_literal("é🦊") == "'é🦊'"


# ---------------------------------------------------------------------------------------------
# escaping: PantherFlow (pygments KustoLexer)
# ---------------------------------------------------------------------------------------------


def _check_pantherflow(name: str, key: str, value: str) -> None:
    hostile_literals, hostile_structure = pantherflow_tokens(render_with(name, key, value)["pantherflow"])
    benign_literals, benign_structure = pantherflow_tokens(render_with(name, key, BENIGN)["pantherflow"])
    # the Okta pivot repeats the identity once per target position it checks
    assert hostile_literals.count(value) == benign_literals.count(BENIGN) >= 1, hostile_literals
    assert [lit for lit in hostile_literals if lit != value] == [
        lit for lit in benign_literals if lit != BENIGN
    ]
    assert hostile_structure == benign_structure


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Tracebit.Pivot.PrincipalGetObjectHistory", "principal_arn"),
        ("Tracebit.Pivot.IdentityOktaMFAResets", "identity"),
        ("Tracebit.Pivot.PrincipalActivityAroundAlert", "principal_arn"),
    ],
)
def test_pantherflow_hostile_value_is_one_literal(name, key, value):
    _check_pantherflow(name, key, value)


def test_pantherflow_literal_examples():
    assert tp.pantherflow_literal("o'brien") == "'o\\'brien'"
    assert tp.pantherflow_literal('say "hi"') == "'say \"hi\"'"
    assert tp.pantherflow_literal("a\\b") == "'a\\\\b'"
    assert tp.pantherflow_literal("a\nb|c") == "'a\\nb|c'"


def test_render_pivots_escapes_values_taken_from_the_context():
    value = "arn:aws:sts::1:assumed-role/r/x'\n| summarize agg.count() --"
    pivots = tp.render_pivots(
        {"principal_arn": value, "identities": [], "alert_time": "2024-12-13T16:20:00Z"}
    )
    rendered = pivots["Tracebit.Pivot.PrincipalActivityAroundAlert"]
    assert sql_string_literals(sqlglot.parse_one(rendered["sql"], read="snowflake")).count(value) == 1
    assert pantherflow_tokens(rendered["pantherflow"])[0].count(value) == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=30).filter(lambda s: s != BENIGN))
def test_any_text_round_trips_in_both_languages(value):
    _check_sql("Tracebit.Pivot.PrincipalActivityAroundAlert", "principal_arn", value)
    _check_pantherflow("Tracebit.Pivot.PrincipalActivityAroundAlert", "principal_arn", value)


# ---------------------------------------------------------------------------------------------
# generated saved queries
# ---------------------------------------------------------------------------------------------


def test_generated_queries_are_in_sync():
    assert pivot_queries.drift(REPO_ROOT) == []
    assert cli_main(["generate-queries", "--check"]) == 0


def test_generated_query_files_match_the_templates():
    for name in tp.PIVOTS:
        path = REPO_ROOT / "queries" / pivot_queries.file_name(name)
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# GENERATED by `make queries`")
        spec = yaml.safe_load(text)
        assert spec["AnalysisType"] == "saved_query"
        assert spec["QueryName"] == name
        assert spec["Query"] == tp.render_pivot(name, tp.EXAMPLE_PARAMS)["sql"]
        sqlglot.parse_one(spec["Query"], read="snowflake")


def test_generate_queries_check_detects_drift_and_write_repairs_it(tmp_path, capsys):
    shutil.copytree(REPO_ROOT / "global_helpers", tmp_path / "global_helpers")
    shutil.copytree(REPO_ROOT / "queries", tmp_path / "queries")
    target = tmp_path / "queries" / pivot_queries.file_name("Tracebit.Pivot.IdentityOktaMFAResets")
    target.write_text(target.read_text().replace(" ILIKE ", " LIKE "))
    (tmp_path / "queries" / "tracebit_pivot_stale.yml").write_text("AnalysisType: saved_query\n")
    assert cli_main(["generate-queries", "--check", "--path", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "differs" in err and "stale" in err
    assert cli_main(["generate-queries", "--path", str(tmp_path)]) == 0
    assert pivot_queries.drift(tmp_path) == []
    assert not (tmp_path / "queries" / "tracebit_pivot_stale.yml").exists()


def test_every_query_parses_as_snowflake():
    for path in sorted((REPO_ROOT / "queries").glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        sql = spec.get("Query") or spec.get("SnowflakeQuery")
        assert sqlglot.parse_one(sql, read="snowflake") is not None, path
        if spec["AnalysisType"] == "scheduled_query":
            schedule = spec["Schedule"]
            assert schedule["RateMinutes"] > 1 and schedule["RateMinutes"] >= schedule["TimeoutMinutes"]


AWS_CREDENTIALS = "Tracebit.Pivot.PrincipalAWSCredentialChanges"


@pytest.mark.parametrize(
    ("arn", "user"),
    [
        ("arn:aws:iam::693260565127:user/j.chen", "j.chen"),
        ("arn:aws:iam::693260565127:user/engineering/j.chen", "j.chen"),
        ("arn:aws:sts::693260565127:assumed-role/ReadOnly/j.chen", "j.chen"),
        ("arn:aws:sts::693260565127:federated-user/j.chen", "j.chen"),
        ("arn:aws:iam::693260565127:role/ReadOnly", None),
        ("arn:aws:iam::693260565127:root", None),
        ("AIDA2C6F4QW7HJ2KD9RXE", None),
        (None, None),
    ],
)
def test_principal_user_is_the_iam_user_or_session_name(arn, user):
    assert tp.principal_user(arn) == user


def test_aws_credential_changes_pivot_places_values_only_in_literals():
    context = dict(BLOG_CONTEXT, principal_arn="arn:aws:iam::693260565127:user/o'brien")
    rendered = tp.render_pivots(context)[AWS_CREDENTIALS]
    assert "'arn:aws:iam::693260565127:user/o''brien' AS principal_arn" in rendered["sql"]
    assert "'o''brien' AS principal_user" in rendered["sql"]
    flow = rendered["pantherflow"]
    assert "let " not in flow
    assert "strings.ilike(requestParameters.userName, 'o\\'brien')" in flow
    assert "time.parse_timestamp('2024-12-13 16:20:00')" in flow
    assert "sort event_time asc" in flow


def test_pivot_values_up_to_2048_characters_are_rendered():
    """A value of exactly 2,048 characters renders whole; one character more skips the pivot."""
    arn = "arn:aws:iam::123456789012:user/" + "u" * (2048 - 31)
    assert len(arn) == 2048
    context = {"principal_arn": arn, "identities": [], "alert_time": "2024-12-13T16:20:00Z"}
    pivots = tp.render_pivots(context)
    assert sorted(pivots) == [
        ALERT_TIME_ONLY,
        "Tracebit.Pivot.PrincipalAWSCredentialChanges",
        "Tracebit.Pivot.PrincipalActivityAroundAlert",
        "Tracebit.Pivot.PrincipalGetObjectHistory",
    ]
    principal_pivots = [pivot for name, pivot in pivots.items() if name != ALERT_TIME_ONLY]
    assert all(arn in pivot["sql"] and arn in pivot["pantherflow"] for pivot in principal_pivots)
    assert set(tp.render_pivots(dict(context, principal_arn=arn + "u"))) == {ALERT_TIME_ONLY}
    assert tp.pick_identity(["e" * 2048]) == "e" * 2048
    assert tp.pick_identity(["e" * 2049, "ok@x.io"]) == "ok@x.io"


def test_pick_identity_reads_the_first_50_identities_and_keeps_the_first():
    usernames = [f"user{n}" for n in range(50)]
    assert tp.pick_identity([*usernames, "late@acme.com"]) == "user0"  # the 51st is not read
    assert tp.pick_identity([*usernames[:49], "last@acme.com"]) == "last@acme.com"  # the 50th is
    assert tp.pick_identity(["etl-reader", "svc-backup"]) == "etl-reader"


def test_render_pivots_survives_a_context_that_fails_to_read():
    class Exploding(dict):
        def get(self, key, default=None):
            raise RuntimeError("unreadable")

    assert tp.render_pivots(Exploding(principal_arn=BLOG_ARN)) == {}


@pytest.mark.parametrize(
    ("name", "option", "largest"),
    [
        ("Tracebit.Pivot.PrincipalGetObjectHistory", "lookback_days", 3650),
        ("Tracebit.Pivot.PrincipalActivityAroundAlert", "window_hours", 87600),
    ],
)
def test_window_options_are_bounded_at_ten_years(name, option, largest):
    assert tp.window_size(name, {option: largest}) == largest
    with pytest.raises(ValueError, match=f"from 1 to {largest},"):
        tp.window_size(name, {option: largest + 1})


def test_principal_user_reads_the_resource_after_the_fifth_colon():
    assert tp.principal_user("arn:aws:iam::123456789012:user/a:b") == "a:b"
    assert tp.principal_user("arn:aws:sts::123456789012:assumed-role/R/s:x") == "s:x"
    assert tp.principal_user("arn:aws:iam::123456789012:user/path/to/j.chen") == "j.chen"


@settings(max_examples=300)
@given(
    moment=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    aware=st.booleans(),
    whole=st.booleans(),
)
def test_format_time_writes_what_strftime_writes(moment, aware, whole):
    """The isoformat shortcut of ``format_time`` never changes a pivot's text."""
    moment = moment.replace(microsecond=0) if whole else moment
    moment = moment.replace(tzinfo=UTC) if aware else moment
    assert tp.format_time(moment) == moment.strftime(tp.TIME_FORMAT)


@settings(max_examples=300)
@given(
    pieces=st.lists(
        st.one_of(
            st.text(alphabet="ab{} '\\\n", max_size=6),
            st.sampled_from(["{{alert_time}}", "{{identity}}", "{{0}}", "{x}", "{{", "}}"]),
        ),
        max_size=8,
    ),
    value=st.text(alphabet="a{}'%", max_size=4),
)
def test_fill_writes_what_substitution_writes(pieces, value):
    """The format_map shortcut of ``_fill`` gives the text a plain placeholder substitution gives."""
    template = "".join(pieces)
    values = {"alert_time": value, "identity": value + "!", "0": value * 2}

    def outcome(fill):
        try:
            return fill()
        except KeyError as err:  # a placeholder without a value: the same error either way
            return ("KeyError", err.args)

    expected = outcome(lambda: tp._PLACEHOLDER.sub(lambda m: values[m.group(1)], template))
    assert outcome(lambda: tp._fill(template, values)) == expected
