"""Panther macro expansion (tracebit_pack.lake.macros)."""

from datetime import UTC, datetime

import pytest

from tracebit_pack.lake.macros import MacroError, expand_macros, parse_offset

NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
T_NOW = "CAST('2024-06-30 12:00:00.000000' AS TIMESTAMP_NTZ)"


def ts(text):
    return f"CAST('{text}' AS TIMESTAMP_NTZ)"


@pytest.mark.parametrize(
    ("offset", "seconds"),
    [
        ("900", 900),
        ("'1 day'", 86400),
        ("'6 d'", 518400),
        ("'96 hrs'", 345600),
        ("1h", 3600),
        ("'90d'", 7776000),
        ("2 weeks", 1209600),
        (" 30 min ", 1800),
        ("'45s'", 45),
    ],
)
def test_offsets(offset, seconds):
    assert parse_offset(offset) == seconds


@pytest.mark.parametrize("offset", ["'1 fortnight'", "-5", "'one day'", "1.5h", "x"])
def test_bad_offsets(offset):
    with pytest.raises(MacroError, match="cannot read the offset"):
        parse_offset(offset)


def test_occurs_since_default_column_and_bounds():
    sql = expand_macros("SELECT 1 FROM t WHERE p_occurs_since('1 day')", NOW)
    assert sql == (
        f"SELECT 1 FROM t WHERE (p_event_time >= {ts('2024-06-29 12:00:00.000000')} "
        f"AND p_event_time <= {T_NOW})"
    )


def test_occurs_since_alias_column_and_empty_alias():
    assert expand_macros("p_occurs_since(60, a)", NOW) == (
        f"(a.p_event_time >= {ts('2024-06-30 11:59:00.000000')} AND a.p_event_time <= {T_NOW})"
    )
    assert expand_macros("P_OCCURS_SINCE(1h, , p_parse_time)", NOW) == (
        f"(p_parse_time >= {ts('2024-06-30 11:00:00.000000')} AND p_parse_time <= {T_NOW})"
    )
    assert expand_macros("p_occurs_since('90d', , end_time)", NOW).startswith(
        f"(end_time >= {ts('2024-04-01 12:00:00.000000')}"
    )


def test_occurs_between_converts_literals_to_utc():
    sql = expand_macros("p_occurs_between('2024-06-30T10:00:00+02:00', '2024-06-30 09:30:00', t)", NOW)
    assert sql == (
        f"(t.p_event_time BETWEEN {ts('2024-06-30 08:00:00.000000')} AND {ts('2024-06-30 09:30:00.000000')})"
    )
    assert expand_macros("p_occurs_between(x.start_time, p_current_timestamp())", NOW) == (
        f"(p_event_time BETWEEN CAST(x.start_time AS TIMESTAMP_NTZ) AND CAST({T_NOW} AS TIMESTAMP_NTZ))"
    )


def test_occurs_around_after_before_and_current_timestamp():
    assert expand_macros("p_occurs_around('2024-01-15T10:30:00Z', '1 h')", NOW) == (
        f"(p_event_time BETWEEN {ts('2024-01-15 09:30:00.000000')} AND {ts('2024-01-15 11:30:00.000000')})"
    )
    assert (
        expand_macros("p_occurs_after('2024-01-15')", NOW)
        == f"(p_event_time >= {ts('2024-01-15 00:00:00.000000')})"
    )
    assert expand_macros("p_occurs_before('2024-01-15T00:00:00Z', a, eventTime)", NOW) == (
        f"(a.eventTime <= {ts('2024-01-15 00:00:00.000000')})"
    )
    assert expand_macros("SELECT p_current_timestamp()", NOW) == f"SELECT {T_NOW}"


def test_strings_and_comments_are_left_alone():
    sql = (
        "SELECT 'p_occurs_since(1h)' AS s, \"p_occurs_since(x)\" -- p_occurs_since(2h)\n"
        "/* p_matches(x) */ FROM t"
    )
    assert expand_macros(sql, NOW) == sql


def test_naive_now_is_utc():
    assert expand_macros("p_current_timestamp()", datetime(2024, 6, 30, 12)) == T_NOW


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM t WHERE p_matches(x, 'a')", r"unsupported Panther macro p_matches\(\)"),
        ("p_occurs_sometime(1h)", "unsupported Panther macro p_occurs_sometime"),
        ("p_occurs_since()", "missing arguments"),
        ("p_occurs_since(1h, a, b, c)", "too many arguments"),
        ("p_occurs_since(1h, 'a')", "table alias"),
        ("p_occurs_between('2024-13-01', '2024-06-01')", "cannot read the time"),
        ("p_occurs_since(1h", "unbalanced"),
        ("-- pragma: template\nSELECT {{ x }}", "Jinja"),
        ("p_current_timestamp(1)", "takes no arguments"),
    ],
)
def test_what_raises(sql, message):
    with pytest.raises(MacroError, match=message):
        expand_macros(sql, NOW)
