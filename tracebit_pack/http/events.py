"""The events ``send`` posts: from .jsonl / JSON-array files, or the bundled samples moved to now.

The samples (``tracebit_pack/http/samples/``) get their timestamps shifted so the latest is now
(offsets kept; which fields are timestamps comes from the Panther schemas) and fresh alert ids,
so each onboarding check raises a new Panther alert.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tracebit_pack.errors import InputError, Location, UserError
from tracebit_pack.http.contract import LOG_TYPES, log_type_of
from tracebit_pack.logs.schemas import SCHEMA_DIR, loads_json, read_jsonl
from tracebit_pack.times import parse_rfc3339, rfc3339_utc
from tracebit_pack.yaml_loader import safe_load

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


def read_events(paths: Sequence[str | Path]) -> list[dict]:
    """Tracebit events from .jsonl files (one object a line) or JSON-array files, or folders of them."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".jsonl", ".ndjson", ".json"))
            if not found:
                raise UserError(f"{path}: no .jsonl or .json files in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such file")
    events: list[dict] = []
    for path in files:
        events.extend(_read_file(path))
    if not events:
        raise UserError("no events to send")
    return events


def _read_file(path: Path) -> list[dict]:
    """The events of one file: a JSON array, or one JSON object per line (``logs.schemas.read_jsonl``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {getattr(err, 'strerror', None) or err}", Location(path)) from None
    if not text.lstrip().startswith("["):
        located = [(f"{path}:{number}", event) for number, event in read_jsonl(path)]
    else:
        try:
            items = loads_json(text)
        except json.JSONDecodeError as err:
            raise InputError(
                f"malformed JSON array: {err.msg}", Location(path, err.lineno, err.colno)
            ) from None
        except ValueError as err:
            raise InputError(f"malformed JSON array: {err}", Location(path)) from None
        if not isinstance(items, list):
            raise InputError("expected a JSON array", Location(path))
        located = [(f"{path} element {i}", item) for i, item in enumerate(items)]
    for where, event in located:
        if not isinstance(event, dict):
            raise UserError(f"{where}: expected a JSON object, got {type(event).__name__}")
        if log_type_of(event) is None:
            raise UserError(
                f"{where}: not a Tracebit event (discriminator.type must be one of "
                "tracebit_alert_log, tracebit_alert_summary, health_check)"
            )
    return [event for _, event in located]


def load_samples() -> list[dict]:
    """The bundled sample alert, alert summary and health check (in that order), as stored."""
    return read_events([SAMPLES_DIR / f"{log_type}.jsonl" for log_type in LOG_TYPES])


def sample_events(as_stored: bool = False, now: datetime | None = None) -> list[dict]:
    """The samples to send: timestamps moved to ``now`` and fresh ids (unless ``as_stored``).

    Fresh ``alert_id`` / ``id`` values make each run a new Tracebit alert, so a second check within
    the rules' dedup period (keyed on ``alert_id``) still raises a new Panther alert.
    """
    events = load_samples()
    return events if as_stored else fresh_ids(shift_to_now(events, now))


def fresh_ids(events: list[dict]) -> list[dict]:
    """Copies with new UUIDs for each ``alert_id`` (kept consistent across events) and alert-log ``id``."""
    renamed: dict[str, str] = {}
    out = []
    for event in copy.deepcopy(events):
        old = event.get("alert_id")
        if isinstance(old, str):
            new = renamed.setdefault(old, str(uuid.uuid4()))
            event["alert_id"] = new
            if isinstance(event.get("tracebit_portal_url"), str):
                event["tracebit_portal_url"] = event["tracebit_portal_url"].replace(old, new)
        if log_type_of(event) == "Tracebit.Alert" and "id" in event:
            event["id"] = str(uuid.uuid4())
        out.append(event)
    return out


# -------------------------------------------------------------------------------------- timestamps
def _timestamp_paths(log_type: str) -> list[tuple[str, ...]]:
    """Paths of the fields typed ``timestamp`` in a schema; a list element is marked ``[]``."""
    spec = safe_load((SCHEMA_DIR / f"{log_type}.yml").read_text(encoding="utf-8"))
    found: list[tuple[str, ...]] = []

    def walk(fields, prefix):
        for item in fields or []:
            node, path = item, (*prefix, item["name"])
            if node.get("type") == "array":
                node, path = node.get("element") or {}, (*path, "[]")
            if node.get("type") == "timestamp":
                found.append(path)
            walk(node.get("fields"), path)

    walk(spec.get("fields"), ())
    return found


def _format_time(moment: datetime, like: str) -> str:
    return rfc3339_utc(moment, "milliseconds" if "." in like else "seconds")


def _visit(node, path, fn):
    if not path:
        return fn(node)
    key, rest = path[0], path[1:]
    if key == "[]":
        return [_visit(item, rest, fn) for item in node] if isinstance(node, list) else node
    if isinstance(node, dict) and key in node:
        node = dict(node)
        node[key] = _visit(node[key], rest, fn)
    return node


def shift_to_now(events: list[dict], now: datetime | None = None) -> list[dict]:
    """Copies of ``events`` with every schema timestamp moved so the latest ``timestamp`` is ``now``.

    Offsets between all timestamps (event times, start/end, deploy/issue times) are kept.
    """
    now = now or datetime.now(UTC)
    latest = max(parse_rfc3339(event["timestamp"]) for event in events)
    delta: timedelta = now - latest

    def move(value):
        if not isinstance(value, str):
            return value
        try:
            return _format_time(parse_rfc3339(value) + delta, value)
        except ValueError:
            return value

    shifted = []
    for event in events:
        moved = copy.deepcopy(event)
        for path in _timestamp_paths(log_type_of(event) or ""):
            moved = _visit(moved, path, move)
        shifted.append(moved)
    return shifted
