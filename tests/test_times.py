"""The one time module: each form read one way, and one rule for every command's ``--now``."""

from datetime import UTC, datetime

import pytest

from tracebit_pack.errors import UserError
from tracebit_pack.times import (
    panther_time,
    parse_event_time,
    parse_now,
    parse_rfc3339,
    parse_utc_text,
    parse_with_formats,
    rfc3339_utc,
)

MOMENT = datetime(2024, 12, 13, 16, 20, 5, 123456, tzinfo=UTC)


def test_parse_now_takes_rfc3339_with_a_timezone_only():
    assert parse_now("2024-12-13T18:20:05.123456+02:00") == MOMENT
    with pytest.raises(UserError, match="has no timezone"):
        parse_now("2024-12-13 16:20:05")
    with pytest.raises(UserError, match="expected an RFC 3339 time"):
        parse_now("yesterday")
    with pytest.raises(UserError, match="not valid UTF-8"):  # bytes that were not UTF-8 on the command line
        parse_now("2024-12-13T16:20:05\udcffZ")


def test_parsers_agree_on_the_forms_they_share():
    stored = "2024-12-13 16:20:05.123456789"
    assert (
        parse_event_time(stored)
        == parse_utc_text(stored)
        == parse_with_formats(stored, ["rfc3339"])
        == MOMENT
    )
    assert parse_event_time("2024-12-13T16:20:05.123456Z") == parse_rfc3339("2024-12-13T16:20:05.123456Z")
    assert parse_event_time("not a time") is None
    with pytest.raises(ValueError):
        parse_rfc3339("2024-12-13T16:20:05")  # no timezone


def test_formatters_write_utc():
    plus_two = parse_event_time("2024-12-13T18:20:05.123456+02:00")
    assert panther_time(plus_two) == "2024-12-13 16:20:05.123456"
    assert panther_time(plus_two, "seconds") == "2024-12-13 16:20:05"
    assert rfc3339_utc(plus_two) == "2024-12-13T16:20:05Z"
    assert rfc3339_utc(plus_two, "milliseconds") == "2024-12-13T16:20:05.123Z"
    assert panther_time(datetime(1, 1, 1)) == "0001-01-01 00:00:00.000000"
