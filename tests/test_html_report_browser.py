"""The bundled incident's HTML report in a real browser: Debian's chromium, headless, via playwright.

Run by ``make test-browser`` (``pytest -m browser``), not by the default ``make test``. Without
chromium the test fails (with the install command); it is skipped only when asked, with
``SKIP_BROWSER_TESTS=1``, and never under ``CI=true``.
"""

import os
import re
from pathlib import Path
from statistics import median

import pytest
from report_alerts import long_principal_alert

from tracebit_pack.cli.main import main
from tracebit_pack.report.browser import chart_problems, check, chromium_path, open_report

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium():
    skip_asked = os.environ.get("SKIP_BROWSER_TESTS") == "1"
    in_ci = os.environ.get("CI", "").lower() == "true"
    if skip_asked and not in_ci:
        pytest.skip("SKIP_BROWSER_TESTS=1")
    path = chromium_path()
    if path is None:
        pytest.fail("chromium not found: apt-get install -y chromium (or SKIP_BROWSER_TESTS=1 outside CI)")
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "blog_incident_report.html"
    assert (
        main(["replay", str(REPO / "scenarios" / "blog_incident"), "--format", "html", "--out", str(out)])
        == 0
    )
    return out


def test_report_renders_offline_in_chromium(chromium, report):
    url = report.resolve().as_uri()
    with open_report(report, chromium) as (page, log):
        assert page.locator("figure.chart").count() == 4
        assert check(page, log, url) == []  # charts drawn, no console error, no request but the file
        assert log.requests == [url]
        # the surge is the spike: its bar in the GetObject chart is far taller than the baseline's
        heights: dict[str, float] = {}
        bars = page.locator('figure[data-chart="getobject"] svg [aria-roledescription="bar"]')
        for n in range(bars.count()):
            label = bars.nth(n).get_attribute("aria-label") or ""
            day = re.match(r"day \(UTC\): (\w+ \d+);", label)
            box = bars.nth(n).bounding_box()
            if day and box:
                heights[day[1]] = heights.get(day[1], 0) + box["height"]
        assert max(heights, key=heights.get) == "Dec 13"
        assert heights["Dec 13"] >= 10 * median(h for d, h in heights.items() if d != "Dec 13")
        # the timeline shows the MFA reset, the surge and the canary access on one axis
        timeline = page.locator('figure[data-chart="timeline"] svg')
        for lane in ("Identity change (Okta) 2024-12-12", "Canary access (resource) 2024-12-13"):
            assert timeline.locator(f'[aria-label^="{lane}"]').count() >= 1, lane
        assert timeline.locator('[aria-label^="t: Dec 13 14:00; S3 reads per hour"]').count() == 1
        page.screenshot(path=str(report.parent / "report.png"), full_page=True)
        assert (report.parent / "report.png").stat().st_size > 10_000


def test_copy_button_copies_its_query(chromium, report):
    with open_report(report, chromium) as (page, log):
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        button = page.locator("button.copy").first
        target = page.locator(f"pre#{button.get_attribute('data-copy')}")
        button.click()
        page.wait_for_function("document.querySelector('button.copy').textContent !== 'Copy'")
        label = button.text_content()
        assert label in ("Copied", "Selected: press Ctrl+C")
        copied = page.evaluate("navigator.clipboard.readText()") if label == "Copied" else None
        selected = page.evaluate("window.getSelection().toString()")
        assert target.text_content() in (copied, selected)
        assert log.console_errors == [] and log.page_errors == []


def test_print_layout_hides_buttons_and_keeps_charts(chromium, report, tmp_path):
    with open_report(report, chromium) as (page, _):
        page.emulate_media(media="print")
        assert not page.locator("button.copy").first.is_visible()
        assert chart_problems(page) == []
        pdf = tmp_path / "report.pdf"
        page.pdf(path=str(pdf))
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000


def test_lanes_legend_and_one_box_per_distinct_query(chromium, report):
    """What the analyst reads: lanes named by what they hold, one legend for the colours of every
    chart, and each distinct pivot query in one box (no repeats down the page)."""
    with open_report(report, chromium) as (page, log):
        axis = page.locator('figure[data-chart="timeline"] svg text')
        shown = {axis.nth(n).text_content() for n in range(axis.count())}
        assert {"Identity change (Okta)", "Canary access (resource)", "Alert raised"} <= shown
        legend = page.locator('ul[data-legend="colours"]').first
        assert legend.is_visible()
        swatches = legend.locator(".swatch")
        colours = {
            swatches.nth(n).evaluate("e => getComputedStyle(e).backgroundColor")
            for n in range(swatches.count())
        }
        assert {"rgb(215, 25, 28)", "rgb(123, 50, 148)", "rgb(44, 123, 182)"} <= colours
        boxes = page.locator("pre.query-text")
        texts = [boxes.nth(n).text_content() for n in range(boxes.count())]
        # besides the query boxes, only each pivot result's rerun command, once per result
        reruns = page.locator("pre.command")
        commands = [reruns.nth(n).text_content() for n in range(reruns.count())]
        assert commands and len(commands) == page.locator("details.pivot-result").count()
        distinct = page.evaluate(
            "() => new Set([...document.querySelectorAll('pre')].map(p => p.textContent)).size"
        )
        assert texts and len(texts) + len(commands) == distinct
        assert len(texts) == len(set(texts)) and len(commands) == len(set(commands))
        assert page.locator("pre").count() == len(texts) + len(commands)


def test_a_long_principal_name_does_not_scroll_the_page_sideways(chromium, tmp_path):
    from tracebit_pack.report.html import render_html

    _, alert = long_principal_alert(30)
    page_file = tmp_path / "long.html"
    renderer = lambda query, parameters: {"sql": "", "pantherflow": ""}  # noqa: E731
    page_file.write_text(
        render_html({"scenario": "x", "now": "2025-03-13T00:00:00Z", "alerts": [alert]}, renderer)
    )
    with open_report(page_file, chromium) as (page, _log):
        width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= width[1]
