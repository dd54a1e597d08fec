"""Generate a large, deterministic backtest folder in the formats logs are delivered in.

    .venv/bin/python scenarios/generate_backtest.py OUT --cloudtrail-events 1000000 --okta-events 100000

OUT receives the bundled blog incident (``scenarios/blog_incident``) hidden in background
activity of the same 30 days:

* ``AWS.CloudTrail/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz``: CloudTrail's S3
  objects (``{"Records": [...]}``, gzip), ``--records-per-object`` records each, in time order;
  the incident's CloudTrail events plus ETL and service GetObject/ListObjects calls up to
  ``--cloudtrail-events``;
* ``Okta.SystemLog.json``: one JSON array as Okta's System Log API returns it, the incident's
  events plus workday sign-ins of other people up to ``--okta-events``;
* ``Tracebit.*.jsonl``: the incident's Tracebit logs, as they are.

The background never involves the incident's principal, so a replay raises the incident's alerts.
Same arguments, same bytes (``random.Random(--seed)``; gzip without a timestamp).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate as g  # noqa: E402 - the bundled scenarios' event builders

INCIDENT = g.HERE / "blog_incident"
START = datetime(2024, 11, 13, tzinfo=UTC)
END = datetime(2024, 12, 13, 17, 0, tzinfo=UTC)
BACKGROUND_ROLES = (
    g.ETL_ROLE,
    ("reporting-service", "reporting-service-task", "AROA2C6F4QW7REPORTSVC1"),
    ("data-lake-crawler", "glue-crawler-nightly", "AROA2C6F4QW7CRAWLER002"),
)
BACKGROUND_PEOPLE = ("raj.patel@acme.com", "maria.garcia@acme.com")


def _incident(log_type: str) -> list[dict]:
    path = INCIDENT / f"{log_type}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _times(count: int, rand: random.Random) -> Iterator[datetime]:
    """``count`` increasing times spread over the incident's 30 days."""
    step = (END - START) / max(count, 1)
    for n in range(count):
        yield START + step * n + timedelta(seconds=rand.random() * step.total_seconds())


def cloudtrail_templates(gen: g.Gen) -> list[dict]:
    templates = []
    for role, session, role_id in BACKGROUND_ROLES:
        identity = g.role_identity(gen, role, session, role_id, START)
        for n in range(40):
            bucket = g.PROD_BUCKETS[n % 2]
            name = "GetObject" if n % 4 else "ListObjects"
            key = f"exports/part-{n:05d}.csv.gz" if name == "GetObject" else "exports/"
            templates.append(g.cloudtrail(gen, START, identity, name, "10.20.4.17", g.BOTO_UA, bucket, key))
    return templates


def cloudtrail_events(total: int, rand: random.Random, gen: g.Gen) -> Iterator[dict]:
    """The incident's CloudTrail events merged in time order with background up to ``total``."""
    incident = sorted(_incident("AWS.CloudTrail"), key=lambda e: e["eventTime"])
    templates = cloudtrail_templates(gen)
    pending = iter(incident)
    nxt = next(pending, None)
    for when in _times(max(total - len(incident), 0), rand):
        stamp = g.ts(when)
        while nxt is not None and nxt["eventTime"] <= stamp:
            yield nxt
            nxt = next(pending, None)
        event = dict(rand.choice(templates))
        event["eventTime"] = stamp
        event["eventID"] = str(uuid.UUID(int=rand.getrandbits(128), version=4))
        event["requestID"] = f"{rand.getrandbits(64):016X}"
        yield event
    while nxt is not None:
        yield nxt
        nxt = next(pending, None)


def write_s3_objects(folder: Path, events: Iterator[dict], per_object: int) -> int:
    """Write ``{"Records": [...]}`` gzip objects under CloudTrail's S3 key layout; returns the count."""
    written = 0
    batch: list[str] = []
    first: str | None = None
    sequence = 0

    def flush() -> None:
        nonlocal batch, first, sequence
        if not batch or first is None:
            return
        day = first[:10].replace("-", "/")
        stamp = first[:16].replace("-", "").replace(":", "")
        where = folder / "AWSLogs" / g.ACCOUNT / "CloudTrail" / g.REGION / day
        where.mkdir(parents=True, exist_ok=True)
        name = f"{g.ACCOUNT}_CloudTrail_{g.REGION}_{stamp}Z_{sequence:08d}.json.gz"
        body = ('{"Records":[' + ",".join(batch) + "]}").encode("utf-8")
        with (
            (where / name).open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz,
        ):
            gz.write(body)
        sequence += 1
        batch, first = [], None

    for event in events:
        if first is None:
            first = event["eventTime"]
        batch.append(json.dumps(event, separators=(",", ":")))
        written += 1
        if len(batch) >= per_object:
            flush()
    flush()
    return written


def okta_events(total: int, rand: random.Random, gen: g.Gen) -> list[dict]:
    incident = _incident("Okta.SystemLog")
    background = []
    for when in _times(max(total - len(incident), 0), rand):
        person = BACKGROUND_PEOPLE[rand.getrandbits(1)]
        place = g.OFFICE if rand.random() < 0.7 else g.HOME
        background.append(g.okta(gen, when, "user.session.start", person, place, "User login to Okta"))
    return sorted(incident + background, key=lambda e: e["published"])


def generate(out: Path, cloudtrail: int, okta: int, per_object: int = 1000, seed: int = 20241213) -> dict:
    """Write the folder (replacing it); returns the number of events per log type."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rand = random.Random(seed)
    gen = g.Gen(seed)
    counts = {
        "AWS.CloudTrail": write_s3_objects(
            out / "AWS.CloudTrail", cloudtrail_events(cloudtrail, rand, gen), per_object
        )
    }
    events = okta_events(okta, rand, gen)
    (out / "Okta.SystemLog.json").write_text(json.dumps(events, separators=(",", ":")), encoding="utf-8")
    counts["Okta.SystemLog"] = len(events)
    for path in sorted(INCIDENT.glob("Tracebit.*.jsonl")):
        shutil.copy(path, out / path.name)
        counts[path.stem] = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="folder to write (replaced)")
    parser.add_argument("--cloudtrail-events", type=int, default=100_000)
    parser.add_argument("--okta-events", type=int, default=10_000)
    parser.add_argument("--records-per-object", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20241213)
    args = parser.parse_args(argv)
    counts = generate(args.out, args.cloudtrail_events, args.okta_events, args.records_per_object, args.seed)
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
