"""The HTML report's period view (alerts per day over the backtest, each alert's detection
delay), and principal cards: no empty charts, no sideways scrolling on a long name."""

import json
import re
from pathlib import Path

import pytest
from report_alerts import long_principal_alert

from tracebit_pack.replay import replay
from tracebit_pack.report.html import render_html

MONTH = Path(__file__).resolve().parent.parent / "scenarios" / "month_backtest"


def _no_renderer(query, parameters):
    return {"sql": "", "pantherflow": ""}


@pytest.fixture(scope="module")
def month_page():
    report = json.loads(json.dumps(replay(MONTH).to_json(), default=str))
    return render_html(report)


def test_period_view_charts_every_day_and_each_alert_delay(month_page):
    section = month_page[month_page.index('<section class="card period">') :]
    section = section[: section.index("</section>")]
    assert 'data-chart="alerts-per-day"' in section
    assert section.count("2025-03-") >= 30  # every day of the month on the axis, quiet ones too
    rows = re.findall(r"<tr><td>\[\d+\]</td>.*?</tr>", section, re.S)
    assert len(rows) == 7  # every alert of expected.yml, Info "no page" ones too
    scheduled = next(r for r in rows if "CanaryPrincipalRecentAWSMFATampering" in r)
    assert "<td>2025-03-24T02:30:00Z</td><td>2025-03-24T02:30:00Z</td><td>0s</td>" in scheduled


def test_a_principal_without_data_gets_no_empty_chart_and_a_long_name_wraps():
    _, alert = long_principal_alert(20)
    page = render_html(
        {"scenario": "x", "now": "2025-03-13T00:00:00Z", "alerts": [alert], "pivots": []}, _no_renderer
    )
    card = page[page.index('<section class="card principal"') :]
    card = card[: card.index("</section>")]
    assert "<svg" not in card and "No charts:" in card
    css = page[page.index("<style") : page.index("</style>")]
    assert re.search(r"h3 \{[^}]*overflow-wrap: anywhere", css)
    assert re.search(r"section\.card \{[^}]*overflow-wrap: anywhere", css)
