"""Inputs that used to end in a traceback: each must end in one error line and exit code 2.

``replay`` on 3,000-deep nesting, a 5,000-digit integer and a year-1 timestamp; ``send`` on a
``\\ud800`` escape (``review`` on an absolute symlink: see test_review_hardening).
"""

from __future__ import annotations

import json

import pytest

from tracebit_pack.cli.main import main
from tracebit_pack.http.events import SAMPLES_DIR
from tracebit_pack.logs.schemas import loads_json
from tracebit_pack.times import panther_time, parse_rfc3339


def sample(log_type: str) -> str:
    return (SAMPLES_DIR / f"{log_type}.jsonl").read_text(encoding="utf-8").split("\n")[0]


def with_field(log_type: str, raw_json: str) -> str:
    """The sample event with one more field, spliced in as raw JSON text."""
    return sample(log_type)[:-1] + f',"extra":{raw_json}}}'


CASES = {
    "3000-deep nesting": (
        "Tracebit.HealthCheck",
        with_field("Tracebit.HealthCheck", "[" * 3000 + "]" * 3000),
    ),
    "5000-digit integer": ("Tracebit.HealthCheck", with_field("Tracebit.HealthCheck", "9" * 5000)),
    "year-1 timestamp": (
        "Tracebit.Alert",
        json.dumps({**json.loads(sample("Tracebit.Alert")), "timestamp": "0001-01-01T00:00:00Z"}),
    ),
}


def one_line_exit_2(capsys, argv: list[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("tracebit-pack: error: "), err
    return err


@pytest.mark.parametrize("case", list(CASES))
def test_replay_hostile_event_is_one_line(tmp_path, capsys, case):
    log_type, line = CASES[case]
    (tmp_path / f"{log_type}.jsonl").write_text(line + "\n", encoding="utf-8")
    err = one_line_exit_2(capsys, ["replay", str(tmp_path), "--strict"])
    assert f"{log_type}.jsonl:1:" in err
    # without --strict the event is skipped and counted; with nothing left, that is the one line
    err = one_line_exit_2(capsys, ["replay", str(tmp_path)])
    assert "no events: nothing to replay (skipped 1 event(s)" in err and f"{log_type}.jsonl:1" in err


def test_send_lone_surrogate_escape_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TB_ONE_LINE_SECRET", "s3cret-for-test")
    path = tmp_path / "events.jsonl"
    path.write_text(with_field("Tracebit.HealthCheck", '"\\ud800"') + "\n", encoding="utf-8")
    argv = ["send", str(path), "--url", "http://127.0.0.1:9/", "--secret-env", "TB_ONE_LINE_SECRET"]
    err = one_line_exit_2(capsys, argv)
    assert "surrogate" in err and "events.jsonl:1" in err


def test_paired_surrogate_escape_is_fine():
    assert loads_json('"\\ud83d\\ude00"') == "\U0001f600"


def test_year_1_formats_with_four_digits():
    assert panther_time(parse_rfc3339("0001-01-01T00:00:00Z")) == "0001-01-01 00:00:00.000000"


def test_errors_about_a_file_start_with_its_location():
    """Every error about a place in a file reads ``path:line[:column]: message``, one way."""
    from tracebit_pack.errors import InputError, Location, UsageError, UserError

    assert str(InputError("malformed JSON", Location("a.jsonl", 3, 7))) == "a.jsonl:3:7: malformed JSON"
    assert str(InputError("cannot read", Location("a.jsonl"))) == "a.jsonl: cannot read"
    assert str(UsageError("unknown flag")) == "unknown flag"
    assert isinstance(InputError("x"), UserError) and isinstance(UsageError("x"), UserError)
