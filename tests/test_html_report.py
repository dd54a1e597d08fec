"""The HTML investigation report: content of the bundled incident's page, defensive reading of the
replay JSON, and no markup or script injection from log values (the fuzzer's hostile strings)."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from statistics import median

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracebit_pack.cli.main import main
from tracebit_pack.dev.value_strategies import HOSTILE_STRINGS
from tracebit_pack.replay import replay
from tracebit_pack.report import charts as report_charts
from tracebit_pack.report import html as html_report
from tracebit_pack.report.html import COPY_SCRIPT, render_html, script_hash
from tracebit_pack.report.log_values import clean, parse_time
from tracebit_pack.report.view_model import skipped_summary

REPO = Path(__file__).resolve().parent.parent
PRINCIPAL = "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com"

HTML_TAGS = {
    "html", "head", "meta", "link", "title", "style", "body", "main", "header", "h1", "h2", "h3", "p",
    "span", "strong", "section", "a", "figure", "figcaption", "div", "dl", "dt", "dd", "button", "pre",
    "table", "thead", "tbody", "tr", "th", "td", "details", "summary", "script", "code", "ul", "li", "br",
}  # fmt: skip
ALLOWED_TAGS = HTML_TAGS | {t.lower() for t in report_charts.SVG_ELEMENTS}


class Page(HTMLParser):
    """Every element, attribute, text run and script body of a page, as the browser's tokenizer sees it."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.texts: list[str] = []
        self.scripts: list[str] = []
        self._stack: list[str] = []
        self._pre: str | None = None
        self.pres: dict[str, str] = {}
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        self._stack.append(tag)
        if tag == "pre":
            self._pre = attributes.get("id")
            self.pres[self._pre] = ""

    def handle_endtag(self, tag):
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()
        if tag == "pre":
            self._pre = None

    def handle_data(self, data):
        if self._stack and self._stack[-1] == "script":
            self.scripts.append(data)
        else:
            self.texts.append(data)
        if self._pre is not None:
            self.pres[self._pre] += data

    def tags(self, name: str) -> list[dict]:
        return [attrs for tag, attrs in self.elements if tag == name]


def bar_values(svg_labels: list[str], prefix: str) -> dict[str, int]:
    """``{day: requests}`` summed over the GetObject chart's bars (their aria-labels)."""
    out: dict[str, int] = {}
    for label in svg_labels:
        match = re.match(rf"{prefix}: (\w+ \d+); GetObject requests: (\d+)", label)
        if match:
            out[match[1]] = out.get(match[1], 0) + int(match[2])
    return out


@pytest.fixture(scope="module")
def blog_json():
    return json.loads(json.dumps(replay(REPO / "scenarios" / "blog_incident").to_json(), default=str))


@pytest.fixture(scope="module")
def blog_page(blog_json):
    return Page(render_html(blog_json))


RESET_ID = "2ac6ccc1-6ff7-4a6b-998c-0a00c65c5232"  # the help-desk password reset of the incident


@pytest.fixture(scope="module")
def late_reset_json(tmp_path_factory):
    """The incident's canary alert and CloudTrail, with sue's Okta reset arriving 19 minutes after
    the canary alert: the KV cache cannot escalate on it, so the correlation rule raises an alert."""
    folder = tmp_path_factory.mktemp("late_reset")
    for name in ("Tracebit.Alert.jsonl", "AWS.CloudTrail.jsonl"):
        (folder / name).write_text((REPO / "scenarios" / "blog_incident" / name).read_text())
    okta = (REPO / "scenarios" / "blog_incident" / "Okta.SystemLog.jsonl").read_text().splitlines()
    reset = json.loads(next(line for line in okta if RESET_ID in line))
    reset["published"] = "2024-12-13T16:30:00.000Z"
    (folder / "Okta.SystemLog.jsonl").write_text(json.dumps(reset) + "\n")
    return json.loads(json.dumps(replay(folder).to_json(), default=str))


@pytest.fixture(scope="module")
def late_reset_page(late_reset_json):
    return Page(render_html(late_reset_json))


# --------------------------------------------------------------------------- the bundled incident


def test_every_chart_of_the_incident_is_an_svg(blog_page):
    figures = [a["data-chart"] for a in blog_page.tags("figure")]
    assert figures == ["timeline", "getobject", "alerts-per-day", "alerts-per-rule-day"]
    assert len(blog_page.tags("svg")) == 4


def test_surge_is_the_spike_of_the_getobject_chart(blog_page):
    labels = [
        a.get("aria-label", "") for tag, a in blog_page.elements if a.get("aria-roledescription") == "bar"
    ]
    per_day = bar_values(labels, r"day \(UTC\)")
    assert len(per_day) >= 20  # the 30-day baseline is drawn too
    surge_day = max(per_day, key=per_day.get)
    assert surge_day == "Dec 13"
    others = [n for day, n in per_day.items() if day != surge_day]
    assert per_day[surge_day] >= 20 * median(others)


def test_mfa_reset_surge_and_canary_access_on_one_timeline(blog_page):
    labels = [a.get("aria-label", "") for _, a in blog_page.elements]
    resets = [x for x in labels if x.startswith("Identity change (Okta) 2024-12-12 22:4")]
    assert any("Okta user.mfa.factor.deactivate" in x for x in resets)
    assert any("Okta user.account.reset_password" in x for x in resets)
    assert any(x.startswith("Canary access (resource) 2024-12-13 16:1") for x in labels)
    assert any(x.startswith("Alert raised ") and "Tracebit.CanaryResourceAccessed" in x for x in labels)
    hourly = {
        m[1]: int(m[2])
        for x in labels
        if (m := re.match(r"t: Dec 13 (\d\d):00; S3 reads per hour: (\d+)", x))
    }
    assert hourly["14"] + hourly["15"] >= 150  # the surge, in the same chart as the lanes above


def _alert_points(page: Page) -> list[str]:
    return [
        a.get("aria-label", "")
        for _, a in page.elements
        if a.get("aria-label", "").startswith("Alert raised ")
    ]


def test_events_at_the_same_time_stay_countable(blog_json, blog_page, late_reset_json, late_reset_page):
    """Alerts raised at the same moment (the scheduled run; a correlation alert and the surge):
    every one is counted in the points of the alert lane, whose descriptions name each alert."""
    assert any(a["rule_id"].startswith("Tracebit.Correlation.") for a in late_reset_json["alerts"])
    for report, page in ((blog_json, blog_page), (late_reset_json, late_reset_page)):
        points = _alert_points(page)
        named = [n for x in points for n in re.findall(r"\[(\d)\] Tracebit\.", x)]
        assert len(report["alerts"]) >= 3
        assert sorted(named) == [str(n) for n in range(1, len(report["alerts"]) + 1)]
        shared = [int(m[1]) for x in points if (m := re.search(r": (\d+) events: ", x))]
        assert shared and min(shared) >= 2
        texts = [t.strip() for t in page.texts]
        assert all(f"×{n}" in texts for n in shared)  # the count is drawn beside a shared point
    assert "×4" in [t.strip() for t in blog_page.texts]


def test_lanes_are_named_by_what_they_hold():
    """An AWS MFA change is an identity change from AWS, not an Okta one; a canary credential use
    is a canary access."""
    report = json.loads(json.dumps(replay(REPO / "scenarios" / "aws_mfa_tampering").to_json(), default=str))
    credential = {
        "rule_id": "Tracebit.CanaryCredentialUsed",
        "dedup": "c1",
        "first_event_time": "2025-01-20T02:40:00Z",
        "last_event_time": "2025-01-20T02:40:00Z",
        "alert_context": {
            "principal_arn": "arn:aws:iam::693260565127:user/j.chen",
            "canary_credential": {"name": "laptop-jchen aws profile"},
        },
    }
    report["alerts"].append(credential)
    labels = [a.get("aria-label", "") for _, a in Page(render_html(report)).elements]
    changes = [x for x in labels if x.startswith("Identity change (AWS) 2025-01-20 02:1")]
    assert changes and "AWS DeactivateMFADevice" in changes[0]
    assert not any("Okta" in x for x in labels if x.startswith("Identity change"))
    canary = [x for x in labels if x.startswith("Canary access (resource, credential) ")]
    assert any("canary credential laptop-jchen aws profile used" in x for x in canary)


def test_one_colour_one_meaning_across_the_charts(blog_page):
    """Red is a canary in every chart (the canary bucket in both S3 charts, the canary lane), and
    no ordinary bucket is red; the page's legend says what each colour means."""
    fills: dict[str, set[str]] = {}
    for _, attrs in blog_page.elements:
        label, fill = attrs.get("aria-label", ""), attrs.get("fill")
        if label and fill:
            fills.setdefault(fill.lower(), set()).add(label)
    red = fills[report_charts.CANARY]
    assert any("bucket: acme-finance-payroll-archive" in x for x in red)  # the GetObject chart
    assert any("S3 reads: canary bucket" in x for x in red)  # the timeline's S3 reads
    assert any(x.startswith("Canary access") for x in red)
    assert not [x for x in red if "acme-prod-" in x]
    ordinary = {f for f, labels in fills.items() if any("bucket: acme-prod-" in x for x in labels)}
    assert ordinary and ordinary <= set(report_charts.OTHER_BUCKETS)
    legend = [a for a in blog_page.tags("ul") if a.get("data-legend") == "colours"]
    assert legend and {c for c, _ in report_charts.LEGEND} >= {report_charts.CANARY, report_charts.IDENTITY}


def test_alert_cards_show_context_link_and_copyable_pivots(blog_json, blog_page):
    text = " ".join(blog_page.texts)
    for alert in blog_json["alerts"]:
        assert alert["title"] in text
        assert alert["rule_id"] in text
    assert PRINCIPAL in text and "185.220.101.47" in text and "acme-finance-payroll-archive" in text
    # what the terminal shows: the operation, the classification, who reset the MFA
    assert "ListObjects" in text and "Unclassified" in text
    assert "by helpdesk.agent@acme.com" in text
    links = [a["href"] for a in blog_page.tags("a") if a["href"].startswith("http")]
    assert "https://acme.tracebit.com/alerts/01JF2K7Q3V8M5X4N9T6R2B1C0D" in links
    shown = list(blog_page.pres.values())
    for alert in blog_json["alerts"]:
        for render in (alert["alert_context"].get("pivots") or {}).values():
            assert shown.count(render["sql"]) == 1 and shown.count(render["pantherflow"]) == 1
    assert len(shown) == len(set(shown))  # each distinct query once
    buttons = blog_page.tags("button")
    assert {b["data-copy"] for b in buttons} == set(blog_page.pres)  # one copy button per query block


def _card_query_links(page: Page, number: int) -> set[str]:
    """The query anchors linked from alert card ``number``."""
    html_links, inside = [], False
    for tag, attrs in page.elements:
        if tag == "section":
            inside = attrs.get("id") == f"alert-{number}"
        elif inside and tag == "a" and attrs.get("href", "").startswith("#query-"):
            html_links.append(attrs["href"])
    return set(html_links)


@pytest.mark.parametrize("which", ["blog", "late_reset"])
def test_every_alert_leads_to_pivots(which, request):
    report, page = request.getfixturevalue(f"{which}_json"), request.getfixturevalue(f"{which}_page")
    rules = [a["rule_id"] for a in report["alerts"]]
    for number in range(1, len(rules) + 1):
        assert _card_query_links(page, number), rules[number - 1]


def test_a_correlation_alert_leads_to_its_signals_pivots(late_reset_json, late_reset_page):
    rules = [a["rule_id"] for a in late_reset_json["alerts"]]
    correlation = rules.index("Tracebit.Correlation.OktaMFAReset.CanaryResourceAccessed") + 1
    signal = rules.index("Tracebit.CanaryResourceAccessed") + 1
    links = _card_query_links(late_reset_page, correlation)
    assert links and links == _card_query_links(late_reset_page, signal)
    text = " ".join(late_reset_page.texts)
    assert "A correlation alert has no queries of its own; those of its signals" in text


def test_backtest_section_counts_alerts_per_rule_per_day(blog_page):
    labels = [a.get("aria-label", "") for _, a in blog_page.elements if "rule: " in a.get("aria-label", "")]
    assert any("Tracebit.CanaryPrincipalGetObjectSurge" in x for x in labels)
    assert "UTC day each alert was created" in " ".join(blog_page.texts)


def test_only_the_copy_script_and_no_external_resource(blog_page):
    assert blog_page.scripts == [COPY_SCRIPT]
    csp = next(m["content"] for m in blog_page.tags("meta") if m.get("http-equiv"))
    assert "default-src 'none'" in csp and script_hash(COPY_SCRIPT) in csp
    for _, attrs in blog_page.elements:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith(("#", "https://", "data:")), value


# --------------------------------------------------------------------------- hostile values


def hostile_report(strings) -> dict:
    """A replay JSON with a hostile string in every field a log can reach."""
    principal = "arn:aws:sts::1:assumed-role/r/<script>alert(1)</script>"
    alerts, labels = [], []
    for n, s in enumerate(strings):
        portal = (s, "javascript:alert(1)", 'https://x.test/" onmouseover="alert(1)', "https://ok.test/a")[
            n % 4
        ]
        alerts.append(
            {
                "rule_id": f"Rule.{s}",
                "severity": s if n % 2 else "CRITICAL",
                "title": s,
                "dedup": s,
                "event_count": s,
                "first_event_time": f"2024-12-{1 + n % 28:02d}T10:00:00Z",
                "last_event_time": s,
                "alert_context": {
                    "principal_arn": principal,
                    "identities": [s, "a@b.c"],
                    "canary_names": [s],
                    "canaries": [{"name": s}],
                    "source_ips": [s],
                    "portal_url": portal,
                    "pivots": {f"Tracebit.Pivot.{s}": {"sql": f"SELECT '{s}'", "pantherflow": s}},
                    "okta_reset": {"event_time": "2024-12-02T09:00:00Z", "event_type": s},
                },
            }
        )
        labels.append(f"Rule.{s}:{s}")
    history = [
        {"event_day": f"2024-12-{1 + n % 28:02d} 00:00:00", "bucket": s, "requests": n + 1}
        for n, s in enumerate(strings)
    ]
    activity = [
        {
            "event_time": f"2024-12-02 {n % 24:02d}:00:00",
            "event_source": "s3.amazonaws.com",
            "event_name": s,
            "read_only": True,
            "user_agent": s,
            "request_parameters": {"bucketName": s, "key": s},
        }
        for n, s in enumerate(strings)
    ]
    okta = [{"event_time": "2024-12-02 08:00:00", "event_type": s, "performed_by": s} for s in strings]
    params = {"principal_arn": principal, "alert_time": "2024-12-20 10:00:00"}
    history_pivot = {"query": "Tracebit.Pivot.PrincipalGetObjectHistory", "rows": history}
    activity_pivot = {"query": "Tracebit.Pivot.PrincipalActivityAroundAlert", "rows": activity}
    okta_pivot = {"query": "Tracebit.Pivot.IdentityOktaMFAResets", "rows": okta}
    return {
        "scenario": strings[-1],
        "now": strings[0],
        "events": strings[1],
        "events_by_log_type": {s: 1 for s in strings},
        "signals": strings[2],
        "alerts": alerts,
        "pivots": [
            {**history_pivot, "parameters": params, "alerts": labels},
            {**activity_pivot, "parameters": params, "alerts": labels},
            {**okta_pivot, "parameters": params, "alerts": labels},
            {"query": strings[3], "parameters": {s: s for s in strings}, "rows": [{s: s} for s in strings],
             "alerts": labels, "error": strings[4]},
        ],
        "rule_errors": {s: [s] for s in strings},
        "alerts_by_rule_day": {s: {"2024-12-01": 1, "2024-12-03": 2} for s in strings},
        "skipped": {"total": len(strings), "reasons": {s: {"count": 1, "examples": [s]} for s in strings}},
    }  # fmt: skip


def assert_no_injection(html: str, strings) -> Page:
    html.encode("utf-8")  # lone surrogates were replaced: the page can be written
    page = Page(html)
    assert {tag for tag, _ in page.elements} <= ALLOWED_TAGS
    for tag, attrs in page.elements:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src", "action", "formaction", "xlink:href"):
                assert (value or "").startswith(("#", "https://ok.test/", "data:,")), (tag, name, value)
    assert page.scripts == [COPY_SCRIPT]  # no script but the page's own, unchanged
    return page


def test_hostile_strings_render_as_text_never_as_markup():
    strings = [s for s in HOSTILE_STRINGS if s.strip()] + [
        '"><img src=x onerror=alert(1)>',
        "</pre><svg onload=alert(1)>",
    ]
    html = render_html(hostile_report(strings), renderer=None)
    page = assert_no_injection(html, strings)
    # the charts were drawn, hostile labels inside them (no created_at: no alerts-per-day chart)
    assert len(page.tags("svg")) == 3
    text = "".join(page.texts)
    for s in ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</pre><svg onload=alert(1)>"):
        assert s in text  # shown, as text
    portals = [a["href"] for a in page.tags("a") if not a["href"].startswith("#")]
    assert portals and set(portals) == {"https://ok.test/a"}
    # the copy buttons copy exactly the (cleaned) query text, hostile parts included
    expected = {f"SELECT '{clean(s)}'" for s in strings}
    assert expected <= set(page.pres.values())


@settings(max_examples=15)
@given(st.lists(st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=40)), min_size=5, max_size=8))
def test_generated_strings_never_inject(strings):
    report = hostile_report(strings)
    # the text parts only (alert cards, skipped events, raw pivot table): no chart, so it is fast;
    # the charts' hostile labels are covered by the test above
    report["pivots"] = report["pivots"][3:]
    del report["alerts_by_rule_day"]
    for alert in report["alerts"]:
        alert["first_event_time"] = alert["title"]
        del alert["alert_context"]["okta_reset"]
    assert_no_injection(render_html(report, renderer=None), strings)


# --------------------------------------------------------------------------- defensive reading


@pytest.mark.parametrize(
    "report",
    [
        {},
        {"alerts": "x", "pivots": {"a": 1}, "events_by_log_type": [1], "skipped": 3},
        {"alerts": [None, 1, {"alert_context": "x", "first_event_time": 5}], "pivots": [None, {"rows": "x"}]},
        {"alerts": [{"rule_id": ["a"], "alert_context": {"identities": "x", "pivots": [1]}}]},
        {"alerts_by_rule_day": {"R": {"2024-12-01": 2, "not a day": 1, "2024-12-02": "x"}, "S": 3}},
        {"skipped": {"total": 1, "reasons": {"malformed JSON": "x", "other": {"examples": 5}}}},
    ],
)
def test_oddly_shaped_reports_still_render(report):
    page = Page(render_html(report, renderer=None))
    assert page.scripts == [COPY_SCRIPT]
    assert any("Tracebit investigation" in t for t in page.texts)


def test_alerts_per_rule_per_day_count_each_alert_on_the_day_it_was_raised():
    correlation_context = {"groups": {"A": []}, "match": {"identity": "x"}}

    def at(day: int, hour: int) -> str:
        return f"2024-12-{day:02d}T{hour:02d}:00:00Z"

    report = {
        "alerts": [
            {"rule_id": "Created", "first_event_time": at(1, 0), "created_at": at(3, 1)},
            {"rule_id": "Corr", "first_event_time": at(1, 23), "last_event_time": at(2, 1),
             "alert_context": correlation_context},
            {"rule_id": "Plain", "first_event_time": at(4, 0), "last_event_time": at(5, 0)},
        ],
        "alerts_by_rule_day": {"B": {"2024-12-05": 7}},
    }  # fmt: skip
    labels = [a.get("aria-label", "") for _, a in Page(render_html(report, renderer=None)).elements]
    cells = {(m[2], m[1]) for x in labels if (m := re.match(r"day \(UTC\): (\w+ \d+); rule: (\w+)", x))}
    assert cells == {("Created", "Dec 03"), ("Corr", "Dec 02"), ("Plain", "Dec 04")}
    # alerts without any time: the replay's own table
    report["alerts"] = [{"rule_id": "A"}]
    labels = [a.get("aria-label", "") for _, a in Page(render_html(report, renderer=None)).elements]
    assert any("rule: B" in x and "7" in x for x in labels)


def test_a_long_backtest_details_the_first_alerts_and_counts_the_rest(monkeypatch):
    monkeypatch.setattr(html_report, "PRINCIPALS_CHARTED", 1)
    alerts = [
        {"rule_id": f"R{n % 3}", "dedup": str(n), "alert_context": {"principal_arn": "arn:p"}}
        for n in range(html_report.ALERT_CARDS_SHOWN + 7)
    ]
    alerts[-1]["alert_context"] = {"principal_arn": "arn:other"}
    page = Page(render_html({"alerts": alerts}, renderer=None))
    cards = [s for s in page.tags("section") if "alert" in s.get("class", "").split()]
    assert len(cards) == html_report.ALERT_CARDS_SHOWN
    text = " ".join(page.texts)
    assert "7 more alert(s)" in text and f"{len(alerts)} alert(s)" in text
    assert len([s for s in page.tags("section") if "principal" in s.get("class", "")]) == 1
    assert "1 more principal(s)" in text and "arn:other" in text


def test_skipped_summary_reads_the_replay_shape():
    assert skipped_summary({}) == []
    assert skipped_summary({"skipped": {"total": 0, "reasons": {}}}) == []
    skipped = {
        "total": 2,
        "reasons": {"malformed JSON": {"count": 2, "examples": ["a.jsonl:3", "a.jsonl:9"]}},
    }
    rows = skipped_summary({"skipped": skipped})
    assert rows == [{"reason": "malformed JSON", "count": "2", "examples": ["a.jsonl:3", "a.jsonl:9"]}]
    html = render_html({"skipped": skipped}, renderer=None)
    assert "malformed JSON" in html and "a.jsonl:9" in html
    assert "No event was skipped" in render_html({"skipped": {"total": 0, "reasons": {}}}, renderer=None)


def test_clean_shows_invisible_characters():
    assert clean("a\u202eb\x00c\ud800d\ne") == "a\\u202eb\\x00c\\ud800d\ne"
    assert clean({"\x1b": ["\u2028"]}) == {"\\x1b": ["\\u2028"]}
    assert clean("日本語 İ e\u0301") == "日本語 İ e\u0301"


def test_parse_time_formats():
    assert parse_time("2024-12-13 16:11:20.000000").isoformat() == "2024-12-13T16:11:20+00:00"
    assert parse_time("2024-12-13T16:11:20Z").isoformat() == "2024-12-13T16:11:20+00:00"
    assert parse_time("2024-08-15 15:05:09.154000000").isoformat() == "2024-08-15T15:05:09.154000+00:00"
    assert parse_time("yesterday") is None and parse_time(5) is None


@pytest.mark.parametrize(
    "svg",
    [
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:x"><text>x</text></a></svg>',
        "<svg><text>unclosed</svg>",
    ],
)
def test_safe_svg_refuses_anything_but_drawing(svg):
    with pytest.raises(report_charts.ChartError):
        report_charts.safe_svg(svg)


# --------------------------------------------------------------------------- command line


def test_bad_out_is_one_line_and_exit_2(capsys, tmp_path):
    for out in (tmp_path, tmp_path / "missing" / "r.html"):
        code = main(
            ["replay", str(REPO / "scenarios" / "blog_incident"), "--format", "html", "--out", str(out)]
        )
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and err.startswith("tracebit-pack: error: --out")


def test_replay_writes_the_html_file(capsys, tmp_path):
    out = tmp_path / "report.html"
    assert (
        main(["replay", str(REPO / "scenarios" / "blog_incident"), "--format", "html", "--out", str(out)])
        == 0
    )
    assert capsys.readouterr().out.startswith(f"wrote {out}")
    page = Page(out.read_text(encoding="utf-8"))
    assert len(page.tags("svg")) == 4
