"""``tracebit-pack replay DIR``: the command-line face of the replay pipeline (``tracebit_pack.replay``).

Parses the flags, refuses an unwritable ``--out`` before any work, shows a progress bar on a
terminal, and writes the report as text, JSON or one HTML page.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tracebit_pack.errors import UserError
from tracebit_pack.logs.arrival import Arrival, parse_delays
from tracebit_pack.pack.items import add_path_argument, repository
from tracebit_pack.replay import replay
from tracebit_pack.report.terminal import render_text
from tracebit_pack.times import parse_now

PROGRESS_DELAY_SECONDS = 2.0  # the bar shows only on runs longer than this


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay a scenario folder through every rule, correlation and scheduled rule",
        description=(
            "Replay a folder of logs through the pack offline and print the investigation: "
            "alerts with their context, then the pivot queries for each principal. The folder "
            "holds <LogType>.jsonl, <LogType>.json (a JSON array or CloudTrail's Records) and "
            "<LogType>/ folders (e.g. AWS.CloudTrail/ of S3 objects), any of them gzip-compressed."
        ),
    )
    parser.add_argument("scenario", type=Path, help="folder of event files (e.g. scenarios/blog_incident)")
    parser.add_argument(
        "--now",
        help="rfc3339 end of the backtest: scheduled queries and correlation rules run at each of their "
        "run times up to it (default: each one's first run at or after the last event's arrival)",
    )
    parser.add_argument(
        "--arrival-delay",
        action="append",
        default=[],
        metavar="LOGTYPE=DURATION",
        help="events of LOGTYPE reach Panther DURATION (90s, 15m, 2h, 1d) after they happen (default 0; "
        "CloudTrail S3 objects named by CloudTrail use their delivery time, Panther exports their "
        "p_parse_time); repeat per log type",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="output format (default text; html: one self-contained page with the charts)",
    )
    parser.add_argument("--out", type=Path, help="write the report to this file instead of stdout")
    add_path_argument(parser)
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse the folder at the first event that does not conform (default: skip and count)",
    )
    parser.set_defaults(func=run)


def stderr_progress(phase: str, total: int | None) -> Any:
    """A tqdm bar on stderr for runs over ``PROGRESS_DELAY_SECONDS``; None when stderr is no TTY."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=f"replay: {phase}",
        unit=" events",
        unit_scale=True,
        file=sys.stderr,
        delay=PROGRESS_DELAY_SECONDS,
        mininterval=0,  # updates are few (per loaded batch, per 1,000 events): show each one
        leave=False,
    )


def run(args: argparse.Namespace) -> int:
    now = None if args.now is None else parse_now(args.now)
    out = getattr(args, "out", None)
    if out is not None:
        check_out(out)
    arrival = Arrival(parse_delays(getattr(args, "arrival_delay", None) or []))
    report = replay(
        args.scenario,
        now=now,
        root=repository(args),
        progress=stderr_progress,
        strict=args.strict,
        arrival=arrival,
    )
    if args.format == "json":
        output = json.dumps(report.to_json(), indent=2, default=str)
    elif args.format == "html":
        from tracebit_pack.report.html import render_html

        output = render_html(json.loads(json.dumps(report.to_json(), default=str)))
    else:
        output = render_text(report)
    if out is None:
        sys.stdout.write(output + "\n")
        return 0
    try:
        out.write_text(output + "\n", encoding="utf-8")
    except OSError as err:
        raise UserError(f"--out {out}: cannot write: {err.strerror or err}") from err
    print(f"wrote {out} ({len(report.alerts)} alert(s))")
    return 0


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that cannot be written, before the replay runs."""
    if out.is_dir():
        raise UserError(f"--out {out}: is a directory")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: folder {out.parent} does not exist")
