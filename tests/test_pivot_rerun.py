"""Round trip: a replay's pivots rerun with ``query run`` and the values the reports print.

* The HTML report's copyable rerun commands, copied out of the rendered page as a browser's
  ``textContent`` gives them, run verbatim and return the rows the replay shows.
* ``query run --param alert_time=`` accepts the time in each form the text, JSON and HTML reports
  print it, and quoted as a YAML or JSON value prints it.
"""

from __future__ import annotations

import json
import re
import shlex
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tracebit_pack.cli.main import main
from tracebit_pack.report.html import render_html
from tracebit_pack.report.terminal import render_text

SCENARIO = str(Path(__file__).resolve().parent.parent / "scenarios" / "blog_incident")


class _Commands(HTMLParser):
    """The text of every ``<pre class="command">`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[str] = []
        self._inside = False

    def handle_starttag(self, tag, attrs):
        if tag == "pre" and "command" in (dict(attrs).get("class") or "").split():
            self._inside = True
            self.commands.append("")

    def handle_endtag(self, tag):
        if tag == "pre":
            self._inside = False

    def handle_data(self, data):
        if self._inside:
            self.commands[-1] += data


@pytest.fixture(scope="module")
def blog_report():
    from tracebit_pack.replay import replay

    return replay(Path(SCENARIO))


def _run(capsys, argv: list[str]) -> list[dict]:
    capsys.readouterr()
    assert main([*argv, "--format", "json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_the_html_reports_commands_run_verbatim(blog_report, capsys):
    page = render_html(blog_report.to_json())
    parser = _Commands()
    parser.feed(page)
    pivots = blog_report.to_json()["pivots"]
    assert len(parser.commands) == len(pivots) >= 4
    for command, pivot in zip(parser.commands, pivots, strict=True):
        argv = shlex.split(command)
        assert argv[:3] == ["tracebit-pack", "query", "run"] and argv[3] == pivot["query"]
        assert _run(capsys, argv[1:]) == json.loads(json.dumps(pivot["rows"], default=str))


def _printed_alert_times(report) -> set[str]:
    text = render_text(report)
    printed = set(re.findall(r"alert_time=([0-9T:Z -]+?)[,)]", text))
    printed |= {p["parameters"]["alert_time"] for p in report.to_json()["pivots"]}
    page = render_html(report.to_json())
    printed |= set(re.findall(r"alert_time&#34;: &#34;([^&]+)&#34;", page))
    return printed


def test_query_run_accepts_every_alert_time_the_reports_print(blog_report, capsys):
    printed = _printed_alert_times(blog_report)
    assert {"2024-12-13T16:11:20Z", "2024-12-13 16:11:20"} <= printed
    base = ["query", "run", "Tracebit.Pivot.IdentityOktaMFAResets", "--data", SCENARIO]
    base += ["--now", "2024-12-13T17:00:00Z", "--param", "identity=sue.johnson@acme.com"]
    expected = _run(capsys, [*base, "--param", "alert_time=2024-12-13T16:11:20Z"])
    assert expected
    for value in [*sorted(printed), "'2024-12-13 16:11:20'", '"2024-12-13 16:11:20.000000"']:
        assert _run(capsys, [*base, "--param", f"alert_time={value}"]) == expected, value


@pytest.mark.parametrize("value", ["yesterday", "2024-13-13 16:11:20", "'2024-12-13 16:11:20", "16:11:20"])
def test_a_bad_alert_time_is_still_one_line(capsys, value):
    argv = ["query", "run", "Tracebit.Pivot.IdentityOktaMFAResets", "--data", SCENARIO, "--now"]
    argv += ["2024-12-13T17:00:00Z", "--param", "identity=x", "--param", f"alert_time={value}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--param alert_time" in err
