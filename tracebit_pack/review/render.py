"""The review report as Markdown (a pull-request comment) or JSON.

Everything shown comes from the branch under review (IDs, test names, titles, errors), so every
such value goes through :func:`escape`: nothing from the branch can start Markdown or HTML.
Each section of the Markdown has its own function; :func:`render_markdown` joins them.
"""

from __future__ import annotations

import json
import string
from typing import Any

from tracebit_pack.pack import not_evaluated
from tracebit_pack.review.changes import GROUP_TITLES, short

STATUS_MARK = {"added": "➕ added", "removed": "➖ removed", "changed": "✏️ changed"}


_HTML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
# Every ASCII punctuation character but a few that start nothing in GitHub Markdown (kept readable).
_MARKDOWN_PUNCTUATION = frozenset(string.punctuation) - frozenset(_HTML_ESCAPES) - frozenset(",;/=?%")


def escape(text: str) -> str:
    """``text`` as inert Markdown *and* HTML: HTML specials as entities, every other ASCII
    punctuation character backslash-escaped (no emphasis, link, image, table cell, code span,
    autolink or heading can start), whitespace runs (line breaks included) as one space."""
    text = " ".join(text.split())
    return "".join(_HTML_ESCAPES.get(ch) or (f"\\{ch}" if ch in _MARKDOWN_PUNCTUATION else ch) for ch in text)


def _cell(value: Any, limit: int = 80) -> str:
    """A value from the branch (IDs, test names, titles, errors...) shortened and escaped."""
    text = value if isinstance(value, str) else short(value, limit)
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return escape(text) or " "


def _code(value: Any, limit: int = 80) -> str:
    text = _cell(value, limit)
    return f"<code>{text}</code>" if text.strip() else " "


def _changes_cell(changes: list[dict]) -> str:
    return (
        "<br>".join(f"**{_cell(c['field'])}**: {_cell(c.get('summary') or '', 120)}" for c in changes) or "—"
    )


def _before_after(before: Any, after: Any, limit: int = 60) -> str:
    return f"{_code(before, limit)} → {_code(after, limit)}"


def render_json(report: dict) -> str:
    """The report as indented JSON (times and paths as strings)."""
    return json.dumps(report, indent=2, default=str)


def render_markdown(report: dict) -> str:
    """The report as a GitHub Markdown comment, section by section."""
    lines = ["# Detection review", ""]
    for section in (_header, _changes, _behaviour_intro, _rule_tests, _scenarios, _attention, _footer):
        lines += section(report)
    return "\n".join(lines)


def _header(report: dict) -> list[str]:
    """The advisory note, what was compared, and the one-paragraph summary."""
    base, head = report["base"], report["head"]
    lines = [
        f"> **Advisory.** Produced by {_producer(report.get('tool') or {})}, but every name, test,"
        " title and verdict below comes from the reviewed branch's own files and code, which ran to"
        " produce it. Read the diff; this report is a summary, not an approval.",
        "",
    ]
    how = f"merge base `{base['commit'][:10]}`" if base["merge_base"] else f"`{base['commit'][:10]}`"
    tree = "working tree" + (" with uncommitted changes" if head["uncommitted_changes"] else "")
    lines.append(f"Base: {_code(base['ref'])} ({how}) · head: {tree} at `{_cell(head['commit'][:10])}`")
    if base.get("note"):
        lines.append(f"> ⚠️ {_cell(base['note'], 300)}")
    return [*lines, "", _summary_line(report)]


def _producer(tool: dict) -> str:
    """Which ``tracebit-pack review`` ran: the reviewed working tree's own, or another checkout's
    (in CI, the base branch's), named by its commit."""
    if tool.get("is_head"):
        return "this working tree's own `tracebit-pack review` (the code under review)"
    commit = f" at `{_cell(str(tool['commit'])[:10])}`" if tool.get("commit") else ""
    where = _code(tool.get("root") or "?", 120)
    return f"the `tracebit-pack review` of {where}{commit}, not the reviewed branch's"


def _summary_line(report: dict) -> str:
    summary = report["summary"]
    by_group: dict[str, list[str]] = {}
    for key, count in summary["items"].items():
        group, status = key.split(".")
        by_group.setdefault(group, []).append(f"{count} {status}")
    titles = {**GROUP_TITLES, "other": "Other items"}
    item_counts = [f"{titles.get(g, g).lower()}: {', '.join(v)}" for g, v in by_group.items()]
    return (
        "**Summary:** "
        + (", ".join(item_counts) if item_counts else "no analysis items changed")
        + f" · {summary['tests_changed']} test verdict(s) changed"
        + f" · {summary['scenario_events_changed']} scenario verdict(s) changed"
        + f" · alerts: {summary['alerts_appear']} appear, {summary['alerts_disappear']} disappear,"
        + f" {summary['alerts_changed']} changed"
        + f" · {sum(1 for a in report['needs_attention'] if a['touched'])} finding(s) need attention in"
        + " the items this change touches"
    )


def _changes(report: dict) -> list[str]:
    """One table per item group: what was added, changed or removed."""
    lines = ["", "## Changes", ""]
    if not report["changes"]:
        lines += ["No analysis item was added, changed or removed.", ""]
    for group, title in {**GROUP_TITLES, "other": "Other items"}.items():
        entries = [c for c in report["changes"] if c["group"] == group]
        if not entries:
            continue
        lines += [f"### {title}", ""]
        lines.append("| Change | ID | Severity | MITRE ATT&CK | Tests | Enabled | What changed |")
        lines.append("|---|---|---|---|---|---|---|")
        lines += [_change_row(c) for c in entries]
        lines.append("")
    return lines


def _change_row(c: dict) -> str:
    before = c.get("before") or {}
    severity = _cell(c.get("severity") or "—")
    if before and before.get("severity") != c.get("severity"):
        severity = f"{_cell(before.get('severity') or '—')} → **{severity}**"
    tests = str(c["tests"])
    if before and before.get("tests") != c["tests"]:
        tests = f"{before.get('tests')} → {c['tests']}"
    mitre = ", ".join(c["mitre"]) or "—"
    enabled = "yes" if c["enabled"] else "**no**"
    what = _changes_cell(c["changes"]) if c["status"] == "changed" else _cell(c["path"])
    return (
        f"| {STATUS_MARK[c['status']]} | {_code(c['id'])} | {severity} | {_cell(mitre)} | {tests} "
        f"| {enabled} | {what} |"
    )


def _behaviour_intro(report: dict) -> list[str]:
    return [
        "## Behaviour diff",
        "",
        "Base and head each evaluated in their own process with "
        f"{_code(report.get('engine') or 'the rule engine')}; tests as `pat test` runs them, scenarios as "
        "`tracebit-pack replay` does.",
    ]


def _rule_tests(report: dict) -> list[str]:
    """Rule tests whose outcome, title, severity, dedup or alert context changed."""
    lines = ["", "### Rule tests", ""]
    tests = report["behaviour"]["tests"]
    if not tests:
        return [*lines, "No test verdict, title, severity, dedup or alert context changed.", ""]
    lines.append("| Rule | Test | Expected | Before | After | What changed |")
    lines.append("|---|---|---|---|---|---|")
    lines += [_test_row(t) for t in tests]
    return [*lines, ""]


def _test_row(t: dict) -> str:
    detail = "<br>".join(
        f"{_cell(c['field'])}: {_before_after(c['before'], c['after'])}"
        for c in t["changes"]
        if c["field"] != "test"
    )
    if t["log_changed"]:
        detail = "Log edited" + ("<br>" + detail if detail else "")
    if t["status"] != "changed":
        detail = f"test {t['status']}" + ("<br>" + detail if detail else "")
    before = _cell(t["before"]).replace("FAIL", "**FAIL**")
    after = _cell(t["after"]).replace("FAIL", "**FAIL**")
    return (
        f"| {_code(t['rule_id'])} | {_cell(t['test'])} | {_cell(t['expected'])} | {before} | {after} "
        f"| {detail or '—'} |"
    )


def _scenarios(report: dict) -> list[str]:
    """Per bundled scenario: alerts that appear, disappear or change, then changed event verdicts."""
    lines = ["### Bundled scenarios", ""]
    scenarios = report["behaviour"]["scenarios"]
    if not scenarios:
        lines += ["No scenario event or alert changed.", ""]
    for s in scenarios:
        lines += [f"#### {_code('scenarios/' + str(s['scenario']))}", ""]
        if s["alerts"]:
            lines.append("| Alert | Rule | Dedup | Title | Severity | Events | First event |")
            lines.append("|---|---|---|---|---|---|---|")
            lines += [_alert_row(a) for a in s["alerts"]]
            lines.append("")
        if s["events"]:
            lines.append("| Event | Rule | What changed |")
            lines.append("|---|---|---|")
            for e in s["events"]:
                detail = "<br>".join(
                    f"{_cell(c['field'])}: {_before_after(c['before'], c['after'])}" for c in e["changes"]
                )
                lines.append(f"| {_cell(e['event'])} | {_code(e['rule_id'])} | {detail} |")
            lines.append("")
    return lines


def _alert_row(a: dict) -> str:
    detail = {c["field"]: _before_after(c["before"], c["after"], 40) for c in a["changes"]}
    return (
        f"| **{_cell(a['status'])}** | {_code(a['rule_id'])} | {_code(a['dedup'], 40)} "
        f"| {detail.get('title') or _cell(a['title'])} "
        f"| {detail.get('severity') or _cell(a['severity'])} "
        f"| {detail.get('events') or _cell(a['events'])} "
        f"| {_cell(a.get('first_event_time') or '—')} |"
    )


def _attention(report: dict) -> list[str]:
    """Findings in touched items as a list; the others folded away in a <details> block."""
    lines = ["## Needs attention", ""]
    attention = report["needs_attention"]
    if not attention:
        lines += ["Nothing.", ""]
    touched = [a for a in attention if a["touched"]]
    others = [a for a in attention if not a["touched"]]
    lines += [_finding(a) for a in touched]
    if others:
        if touched:
            lines.append("")
        lines += [
            f"<details><summary>{len(others)} finding(s) in items this change does not touch</summary>",
            "",
        ]
        lines += [_finding(a) for a in others]
        lines += ["", "</details>"]
    return [*lines, ""]


def _finding(a: dict) -> str:
    return f"- {_code(a['id'])} ({_cell(a['kind'])}): {_cell(a['reason'], 200)}"


def _footer(report: dict) -> list[str]:
    """Rules the offline engine could not evaluate, and how long the review took."""
    touched_ids = {c["id"] for c in report["changes"] if c["status"] != "removed"}
    lines = list(not_evaluated.markdown_lines(report.get("not_evaluated") or {}, touched_ids))
    if "seconds" in report:
        lines += [f"Reviewed in {report['seconds']:.1f}s.", ""]
    return lines
