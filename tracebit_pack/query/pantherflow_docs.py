"""Run the examples of Panther's PantherFlow documentation against the offline executor.

Why: the executor claims to run PantherFlow as Panther documents it; the documented examples are the
measure. The corpus (``tests/fixtures/pantherflow_docs/examples.yml``) holds every example collected
from the docs.panther.com/pantherflow pages, each with its source URL and, where the page shows one,
its result. For each example:

  * it must parse;
  * with a ``result``: it must return exactly that (a query: the rows; an expression: its value);
  * otherwise it must run without error on the fixture lake (``--data``, a folder of
    ``<LogType>.jsonl``) or on the fixtures the example names;
  * an example marked ``offline: <why>`` needs Panther's own services: it must be refused with
    "not supported offline", and is listed with the reason; one marked ``unsupported: <text>`` is
    a construct the executor does not run yet: it must be refused with that text, and is listed.

How an example becomes a runnable query, stated in the corpus entry and nowhere else:
``fixtures`` become ``let <name> = datatable [...]`` statements put before it, and ``setup`` (a
page's own example-data statements, such as a ``let`` of a ``datatable``) goes before those;
``now`` is the time the page's result was made at, which ``time.now()`` / ``time.ago()`` then see
(otherwise ``--now``); ``tables`` renames
a table the page uses (``panther_logs.public.aws_alb``) to a fixture or a table of the lake; an
``expression`` is evaluated as ``datatable [<row>] | project value = (<expression>)`` where
``row`` holds the columns it reads, an ``assignment`` (``obj['k'] = v``) as
``datatable [<row>] | extend <assignment> | project value = obj``; a ``template`` (syntax such as
``<foo> between <begin> .. <end>``) has its ``<placeholders>`` read as column names.

    tracebit-pack dev pantherflow-docs [--corpus FILE] [--data DIR] [--now TIME] [--verbose]

prints one line per example that did not conform, the refused ones with their reason, and
``pantherflow docs examples: K/N`` (K conforming of N in the corpus). Exit 1 when an example neither
conforms nor is an expected refusal.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from tracebit_pack.errors import UserError
from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.pack.items import REPO_ROOT
from tracebit_pack.query.pantherflow import parse
from tracebit_pack.query.pantherflow_sql import NotSupportedOffline, run_pantherflow
from tracebit_pack.times import parse_now

CORPUS = REPO_ROOT / "tests" / "fixtures" / "pantherflow_docs" / "examples.yml"
DATA = REPO_ROOT / "scenarios" / "blog_incident"
NOW = "2024-12-13T17:00:00Z"
_NO_RESULT = object()
_PLACEHOLDER = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass
class Example:
    id: str
    url: str
    text: str
    kind: str = "query"
    result: object = _NO_RESULT
    fixtures: dict[str, list[dict]] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    row: dict = field(default_factory=dict)
    template: bool = False
    offline: str | None = None
    unsupported: str | None = None
    setup: str = ""
    now: str | None = None


@dataclass
class Outcome:
    example: Example
    status: str  # "ok", "refused" (expected: service-bound or not yet run offline) or "failed"
    detail: str = ""


def load_corpus(path: Path = CORPUS) -> list[Example]:
    """The examples of the corpus file; UserError for an entry without id, url or text."""
    try:
        entries = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise UserError(f"cannot read the PantherFlow docs corpus {path}: {err}") from None
    examples = []
    for entry in entries.get("examples", []) if isinstance(entries, dict) else []:
        if not all(isinstance(entry.get(k), str) for k in ("id", "url", "text")):
            raise UserError(f"{path}: an example needs id, url and text: {entry!r}")
        examples.append(Example(**{k: v for k, v in entry.items() if k != "note"}))
    return examples


def runnable(example: Example) -> str:
    """The query text that runs ``example`` (see the module docstring)."""
    text = example.text
    if example.template:
        text = _PLACEHOLDER.sub(r"\1", text)
    for page_table, target in example.tables.items():
        text = re.sub(rf"(?<![\w.]){re.escape(page_table)}(?![\w.])", target, text)
    row = json.dumps(example.row or {"_": 1})
    if example.kind == "expression":
        text = f"datatable [{row}] | project value = ({text})"
    elif example.kind == "assignment":
        text = f"datatable [{row}] | extend {text} | project value = {text.split('[', 1)[0].strip()}"
    lets = "".join(f"let {name} = datatable {json.dumps(rows)};\n" for name, rows in example.fixtures.items())
    return example.setup + lets + text


def run_example(lake, example: Example, now: datetime) -> Outcome:
    """Parse and run one example and judge it against what its page shows."""
    text = runnable(example)
    if example.now:
        now = parse_now(example.now)
    try:
        parse(text)
    except UserError as err:
        return Outcome(example, "failed", f"does not parse: {err}")
    try:
        rows = run_pantherflow(lake, text, now)
    except NotSupportedOffline as err:
        if example.offline:
            return Outcome(example, "refused", str(err))
        return Outcome(example, "failed", str(err))
    except UserError as err:
        if example.unsupported and example.unsupported in str(err):
            return Outcome(example, "refused", f"still refused: {err}")
        return Outcome(example, "failed", str(err))
    if example.offline or example.unsupported:
        return Outcome(
            example,
            "failed",
            f"ran, but the corpus lists it as refused: {example.offline or example.unsupported}",
        )
    if example.result is _NO_RESULT:
        return Outcome(example, "ok")
    got = rows[0]["value"] if example.kind in ("expression", "assignment") and len(rows) == 1 else rows
    if _canonical(got) != _canonical(example.result):
        return Outcome(
            example,
            "failed",
            f"returned {json.dumps(got, default=str)}, the page shows {json.dumps(example.result)}",
        )
    return Outcome(example, "ok")


def _canonical(value: object) -> str:
    """JSON text of a value, numbers as JSON has them (one kind: ``2.0`` is ``2``)."""

    def number(v):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, list):
            return [number(i) for i in v]
        if isinstance(v, dict):
            return {k: number(i) for k, i in v.items()}
        return v

    return json.dumps(number(value), sort_keys=True, default=str)


def run_corpus(examples: list[Example], data: Path, now: datetime) -> list[Outcome]:

    lake = lake_from_folder(data)
    try:
        return [run_example(lake, example, now) for example in examples]
    finally:
        lake.close()


def report(outcomes: list[Outcome], verbose: bool = False) -> list[str]:
    """One line per non-conforming or refused example, then ``pantherflow docs examples: K/N``."""
    lines = []
    for outcome in outcomes:
        if outcome.status == "failed" or verbose:
            lines.append(
                f"{outcome.status.upper()} {outcome.example.id} ({outcome.example.url}): {outcome.detail}"
            )
    refused = [o for o in outcomes if o.status == "refused"]
    for outcome in refused if not verbose else []:
        lines.append(f"refused {outcome.example.id} ({outcome.example.url}): {outcome.detail}")
    ok = sum(o.status == "ok" for o in outcomes)
    lines.append(
        f"pantherflow docs examples: {ok}/{len(outcomes)}"
        + (f" ({len(refused)} refused, listed above)" if refused else "")
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tracebit-pack dev pantherflow-docs", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the examples file (YAML)")
    parser.add_argument(
        "--data", type=Path, default=DATA, help="the fixture lake: a folder of <LogType>.jsonl"
    )
    parser.add_argument("--now", default=NOW, help="the time time.now() and time.ago() see (RFC 3339)")
    parser.add_argument("--verbose", action="store_true", help="one line per example, conforming or not")
    args = parser.parse_args(argv)
    outcomes = run_corpus(load_corpus(args.corpus), args.data, parse_now(args.now))
    sys.stdout.write("\n".join(report(outcomes, args.verbose)) + "\n")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
