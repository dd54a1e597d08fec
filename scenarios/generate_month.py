"""Generate ``scenarios/month_backtest``: a month of logs in the formats they are delivered in.

    .venv/bin/python scenarios/generate_month.py

March 2025 of the office in ``generate.py`` (GetObject baselines, the nightly ETL, workday Okta
sign-ins, hourly healthy Tracebit health checks) with, in the middle of the month:

* 12 March: the blog incident (help-desk MFA reset of sue.johnson@acme.com the evening before, a
  GetObject surge from a Tor exit, the canary bucket listed and downloaded), moved 89 days later;
* 18 March: a 9-hour gap in the health checks (02:00 to 10:00 missing), the integration silent;
* 24 March: the AWS MFA-tampering incident of ``scenarios/aws_mfa_tampering``, moved 63 days later.

CloudTrail is written as S3 objects, ``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>.json.gz``, one per 15 minutes of activity,
named with a delivery time 5 to 12 minutes after its last record, except the object holding the
first GetObject calls of the surge, delivered 3 hours late. Okta is one System Log API page
(``Okta.SystemLog.json``), Tracebit is the NDJSON its HTTP source receives. Deterministic: same
bytes every run (``random.Random``, gzip without a timestamp).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate as g  # noqa: E402 - the bundled scenarios' event builders

OUT = g.HERE / "month_backtest"
START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 3, 31, 0, 0, tzinfo=UTC)
BLOG_SHIFT = timedelta(days=89)  # 2024-12-13 -> 2025-03-12
AWS_SHIFT = timedelta(days=63)  # 2025-01-20 -> 2025-03-24
GAP = (
    datetime(2025, 3, 18, 2, 0, tzinfo=UTC),
    datetime(2025, 3, 18, 10, 0, tzinfo=UTC),
)  # missing, inclusive
LATE_OBJECT_DELAY = timedelta(hours=3)
OBJECT_SPAN = timedelta(minutes=15)
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?Z$")


def _load(scenario: str, log_type: str) -> list[dict]:
    path = g.HERE / scenario / f"{log_type}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _shift(value: object, delta: timedelta) -> object:
    """Every RFC 3339 UTC time inside ``value`` moved by ``delta`` (same precision)."""
    if isinstance(value, dict):
        return {k: _shift(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, delta) for v in value]
    if isinstance(value, str) and (found := _TIME.match(value)):
        moved = datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC) + delta
        return moved.strftime("%Y-%m-%dT%H:%M:%S") + (found.group(2) or "") + "Z"
    return value


def blog_incident() -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """The blog incident's own events (not its office background), moved to 12 March."""
    trail = [e for e in _load("blog_incident", "AWS.CloudTrail") if e["sourceIPAddress"] == g.ATTACKER["ip"]]
    resets = {"user.mfa.factor.deactivate", "user.account.reset_password"}
    okta = [
        e
        for e in _load("blog_incident", "Okta.SystemLog")
        if e["eventType"] in resets or (e.get("client") or {}).get("ipAddress") == g.ATTACKER["ip"]
    ]
    alerts = _load("blog_incident", "Tracebit.Alert")
    summaries = _load("blog_incident", "Tracebit.AlertSummary")
    return tuple(_shift(events, BLOG_SHIFT) for events in (trail, okta, alerts, summaries))  # type: ignore[return-value]


def aws_incident() -> tuple[list[dict], list[dict]]:
    """The AWS MFA-tampering incident, moved to 24 March."""
    trail = _load("aws_mfa_tampering", "AWS.CloudTrail")
    alerts = _load("aws_mfa_tampering", "Tracebit.Alert")
    return _shift(trail, AWS_SHIFT), _shift(alerts, AWS_SHIFT)  # type: ignore[return-value]


def _at(event: dict) -> datetime:
    return datetime.strptime(event["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def write_cloudtrail(gen: g.Gen, records: list[dict], late_event_id: str) -> None:
    """S3 objects of up to 15 minutes of records each, named with their delivery time."""
    records = sorted(records, key=lambda e: (e["eventTime"], e["eventID"]))
    objects: dict[datetime, list[dict]] = {}
    for record in records:
        when = _at(record)
        slot = when - timedelta(minutes=when.minute % 15, seconds=when.second)
        objects.setdefault(slot, []).append(record)
    root = OUT / "AWS.CloudTrail" / "AWSLogs" / g.ACCOUNT / "CloudTrail" / g.REGION
    for slot, batch in sorted(objects.items()):
        delivered = slot + OBJECT_SPAN + timedelta(minutes=gen.rand.randint(5, 12))
        if any(r["eventID"] == late_event_id for r in batch):
            delivered += LATE_OBJECT_DELAY
        name = f"{g.ACCOUNT}_CloudTrail_{g.REGION}_{delivered:%Y%m%dT%H%MZ}_{gen.upper(16)}.json.gz"
        path = root / f"{slot:%Y/%m/%d}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"Records": batch}, separators=(",", ":")).encode("utf-8")
        path.write_bytes(gzip.compress(body, mtime=0))


def main() -> None:
    gen = g.Gen(20250301)
    if OUT.exists():
        for child in OUT.iterdir():
            if child.name not in ("README.md", "expected.yml"):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    trail, okta = g.office_background(
        gen, START, 30, (2, 4), (1, 3), extra_days=0, lister=(g.DEV_ROLE, g.HOME, 3, (15, 12))
    )
    blog_trail, blog_okta, blog_alerts, blog_summaries = blog_incident()
    aws_trail, aws_alerts = aws_incident()
    surge = sorted((e for e in blog_trail if e["eventName"] == "GetObject"), key=_at)
    write_cloudtrail(gen, trail + blog_trail + aws_trail, late_event_id=surge[0]["eventID"])
    okta = sorted(okta + blog_okta, key=lambda e: e["published"])
    (OUT / "Okta.SystemLog.json").write_text(json.dumps(okta, indent=1) + "\n", encoding="utf-8")
    checks = [
        c
        for c in g.health_checks(START, END, timedelta(hours=1))
        if not GAP[0] <= datetime.strptime(c["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) <= GAP[1]
    ]
    g.write(OUT, "Tracebit.Alert", blog_alerts + aws_alerts, "timestamp")
    g.write(OUT, "Tracebit.AlertSummary", blog_summaries, "timestamp")
    g.write(OUT, "Tracebit.HealthCheck", checks, "timestamp")


if __name__ == "__main__":
    main()
