"""Open an HTML report in Debian's headless ``chromium`` (through playwright) and look at it.

Used by the browser test (``make test-browser``) and by ``make report-screenshot``, which writes
the README's screenshot. Playwright drives the system chromium (``CHROMIUM``, default
``/usr/bin/chromium``, installed with ``apt-get install chromium``); it never downloads a browser.
Playwright is a development dependency, imported only here.

``python -m tracebit_pack.report.browser REPORT.html --screenshot OUT.png`` checks the report
(every chart drawn, no console error, no request other than the file itself) and saves a
screenshot of its top (the header and the first principal's charts); exit 2 on a failed check.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Flags for a root, display-less, offline run: no sandbox (root), no GPU, nothing phoned home.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = {"width": 1200, "height": 900}


def chromium_path() -> str | None:
    """The chromium executable to drive: ``$CHROMIUM``, else /usr/bin/chromium, else on PATH."""
    candidate = os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM
    if Path(candidate).is_file():
        return candidate
    return shutil.which("chromium")


@dataclass
class PageLog:
    """What the page did while it loaded: console errors, uncaught errors, every request URL."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@contextmanager
def open_report(path: Path, executable: str | None = None) -> Iterator[tuple[object, PageLog]]:
    """``(page, log)`` with the report loaded from ``file://`` in a fresh chromium profile."""
    from playwright.sync_api import sync_playwright

    executable = executable or chromium_path()
    if executable is None:
        raise RuntimeError(f"chromium not found ({DEFAULT_CHROMIUM}): apt-get install -y chromium")
    log = PageLog()
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport=VIEWPORT,
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: log.page_errors.append(str(e)))
            context.on("request", lambda r: log.requests.append(r.url))
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            yield page, log
        finally:
            context.close()


def chart_problems(page) -> list[str]:
    """Charts of the page that did not render: a ``figure.chart`` without an SVG of non-zero size
    holding marks. Returns one line per problem (empty when every chart rendered)."""
    problems = []
    figures = page.locator("figure.chart")
    for n in range(figures.count()):
        figure = figures.nth(n)
        name = figure.get_attribute("data-chart") or f"chart {n + 1}"
        svg = figure.locator("svg")
        if svg.count() != 1:
            problems.append(f"{name} #{n + 1}: {svg.count()} svg element(s)")
            continue
        box = svg.bounding_box()
        marks = svg.locator("path, rect").count()
        if not box or box["width"] < 50 or box["height"] < 50 or marks == 0:
            problems.append(f"{name} #{n + 1}: svg box {box}, {marks} mark(s)")
    return problems


def check(page, log: PageLog, url: str) -> list[str]:
    """Every problem found: charts not rendered, console or page errors, requests not to ``url``."""
    problems = chart_problems(page)
    problems += [f"console error: {e}" for e in log.console_errors]
    problems += [f"page error: {e}" for e in log.page_errors]
    problems += [f"request: {r}" for r in log.requests if r != url]
    return problems


def screenshot(page, out: Path) -> None:
    """The header and the first principal section (timeline and GetObject chart), as PNG."""
    first = page.locator("section.principal").first
    box = first.bounding_box() if first.count() else None
    height = (box["y"] + box["height"] + 16) if box else VIEWPORT["height"]
    page.screenshot(
        path=str(out), full_page=True, clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracebit_pack.report.browser", description=__doc__)
    parser.add_argument("report", type=Path, help="the HTML report to open")
    parser.add_argument("--screenshot", type=Path, required=True, help="PNG file to write")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"report_browser: error: {args.report}: not found", file=sys.stderr)
        return 2
    try:
        with open_report(args.report) as (page, log):
            problems = check(page, log, args.report.resolve().as_uri())
            if not problems:
                screenshot(page, args.screenshot)
    except RuntimeError as err:
        print(f"report_browser: error: {err}", file=sys.stderr)
        return 2
    if problems:
        print(f"report_browser: error: {args.report}: {'; '.join(problems)}", file=sys.stderr)
        return 2
    print(f"wrote {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
