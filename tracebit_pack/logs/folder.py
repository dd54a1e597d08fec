"""A folder of logs as users have them: which files hold events, of which log type, in which layout.

A folder holds, named by log type (``LOG_TYPES``), any of:

* ``<LogType>/`` a folder searched recursively (e.g. ``AWS.CloudTrail/`` holding CloudTrail's S3
  objects as delivered: ``.../2024/08/15/*.json.gz``, each ``{"Records": [...]}``);
* ``<LogType>.json`` a JSON array of events (Okta's System Log API) or ``{"Records": [...]}``;
* ``<LogType>.jsonl`` one event per line;
* any of them gzip-compressed (``.gz``).

A symlink among them is followed only when it stays inside the folder: one that leads outside is
refused (a folder handed over by someone else must not make the tools read the user's own files).

Every reader of such a folder goes through here: ``discover`` finds the files, ``reader_sql`` is the
DuckDB query that reads them (``read_json`` for arrays and S3 objects, ``read_csv`` line by line for
NDJSON), ``ingest.Ingest`` loads them into the lake and ``read_events`` gives tools that need the
raw events themselves (the review worker, the benchmark) the same events, with where each came from.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tracebit_pack.errors import InputError, Location, UserError
from tracebit_pack.logs.schemas import LOG_TYPES, loads_json
from tracebit_pack.text import lit

IN_MEMORY_BYTES = 64 << 20  # larger inputs go to a lake that spills (needs_spilling); a lake is ~6x its input
MAX_OBJECT_BYTES = 64 << 20
# read_csv's buffer: above the longest line, and far below a spilling lake's DuckDB memory (its
# default, 16 lines' worth, is a 1 GB block that a 1 GB memory limit cannot hold).
LINE_BUFFER_BYTES = 2 * MAX_OBJECT_BYTES
_SUFFIXES = (".jsonl", ".json", ".ndjson")


@dataclass(frozen=True)
class Source:
    """One file of events: its log type and layout (``ndjson``, ``array`` or ``records``)."""

    log_type: str
    path: Path
    layout: str


def _stem(path: Path) -> str:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_event_file(path: Path) -> bool:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return path.is_file() and name.endswith(_SUFFIXES) and not path.name.startswith(".")


def _open(path: Path):
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", encoding="utf-8") if gzipped else path.open(encoding="utf-8")


def layout_of(path: Path) -> str:
    """``ndjson`` for ``.jsonl``; for ``.json``: ``array`` (``[...]``), ``records`` or ``ndjson``."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    if not name.endswith(".json"):
        return "ndjson"
    try:
        with _open(path) as handle:
            head = handle.read(4096).lstrip()
    except (OSError, UnicodeDecodeError, EOFError):
        return "ndjson"  # unreadable: reported line by line
    if head.startswith("["):
        return "array"
    if re.match(r'\{\s*"Records"\s*:', head):
        return "records"
    return "ndjson"


def _inside(path: Path, root: Path) -> Path:
    """``path``, unless it (through a symlink) leads outside ``root`` (resolved): then UserError."""
    if not path.resolve().is_relative_to(root):
        raise UserError(f"{path}: a symlink that leads outside the folder; refused")
    return path


def discover(folder: Path) -> list[Source]:
    """The event files of ``folder`` (see the module docstring); UserError for a bad name or a
    symlink leading outside the folder."""
    folder = Path(folder)
    if folder.is_file():
        raise UserError(
            f"{folder}: is a file; pass the folder that holds it: the log type is read from each "
            f"file's name (<LogType>.jsonl, e.g. AWS.CloudTrail.jsonl), and one folder holds every "
            f"log type the rules and correlations need"
        )
    if not folder.is_dir():
        raise UserError(f"{folder}: data folder not found")
    root = folder.resolve()
    known = ", ".join(LOG_TYPES)
    sources: list[Source] = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            if entry.name.startswith("."):
                continue
            if entry.name not in LOG_TYPES:
                raise UserError(
                    f"{entry}: unknown log type {entry.name!r} in the folder name (known: {known})"
                )
            _inside(entry, root)
            files = sorted(_inside(p, root) for p in entry.rglob("*") if _is_event_file(p))
            sources.extend(Source(entry.name, p, layout_of(p)) for p in files)
        elif _is_event_file(entry):
            if _stem(entry) not in LOG_TYPES:
                raise UserError(
                    f"{entry}: unknown log type {_stem(entry)!r} in the file name (known: {known})"
                )
            sources.append(Source(_stem(entry), _inside(entry, root), layout_of(entry)))
    return sources


def require_events(folder: Path, sources: list[Source]) -> None:
    """UserError when a folder to replay holds no event file."""
    if not sources:
        raise UserError(
            f"{folder}: no <LogType>.jsonl files (nor <LogType>.json, <LogType>/ folders, .gz) in the folder"
        )


def decompressed_size(path: Path, cap: int) -> int:
    """The bytes of ``path`` once decompressed: the file's size, or for a gzip file (by its magic
    bytes) the count of its decompressed bytes, streamed and stopped once it passes ``cap``.

    What a file weighs in the lake: a gzip file counts at what it holds, not at its compressed
    size (a 0.6 MB file can hold 100 MB of NDJSON), and a gzip bomb costs at most ``cap`` bytes of
    decompression. A corrupt gzip file counts the bytes read before the damage.
    """
    with path.open("rb") as raw:
        if raw.read(2) != b"\x1f\x8b":
            return path.stat().st_size
    count = 0
    try:
        with gzip.open(path, "rb") as stream:
            while count <= cap and (chunk := stream.read(1 << 20)):
                count += len(chunk)
    except (OSError, EOFError, zlib.error):
        pass
    return count


def weighs_more_than(paths: list[Path], limit: int) -> bool:
    """Whether the files hold more than ``limit`` bytes, each at its ``decompressed_size`` (reading
    stops once the total passes ``limit``)."""
    total = 0
    for path in paths:
        total += decompressed_size(path, limit - total)
        if total > limit:
            return True
    return False


def needs_spilling(sources: list[Source]) -> bool:
    """Whether the events are too large for an unbounded lake in memory (``IN_MEMORY_BYTES``):
    ``Lake.for_sources`` then bounds DuckDB's memory."""
    return weighs_more_than([source.path for source in sources], IN_MEMORY_BYTES)


def reader_sql(paths: list[Path], layout: str) -> str:
    """SELECT ``file, pos, doc`` (``doc``: one event's JSON text) of files of one layout."""
    files = "[" + ", ".join(lit(str(p)) for p in paths) + "]"
    if layout == "records":
        # each object whole, then its Records: several times faster than a JSON[] column
        return (
            "SELECT file, generate_subscripts(records, 1) AS pos, CAST(unnest(records) AS VARCHAR) AS doc "
            "FROM (SELECT filename AS file, json_extract(json, '$.Records[*]') AS records "
            f"FROM read_json({files}, records=false, format='unstructured', columns={{'json': 'JSON'}}, "
            f"filename=true, maximum_object_size={MAX_OBJECT_BYTES}))"
        )
    (path,) = paths  # arrays and lines: one file at a time, so that positions are exact
    if layout == "array":
        return (
            f"SELECT {lit(str(path))} AS file, row_number() OVER () AS pos, CAST(json AS VARCHAR) AS doc "
            f"FROM read_json({files}, format='array', records=false, columns={{'json': 'JSON'}}, "
            f"maximum_object_size={MAX_OBJECT_BYTES})"
        )
    return (
        f"SELECT {lit(str(path))} AS file, row_number() OVER () AS pos, doc "
        f"FROM read_csv({files}, columns={{'doc': 'VARCHAR'}}, delim=chr(1), quote='', escape='', "
        f"header=false, auto_detect=false, strict_mode=false, parallel=false, "
        f"max_line_size={MAX_OBJECT_BYTES}, buffer_size={LINE_BUFFER_BYTES})"
    )


@dataclass(frozen=True)
class FolderEvent:
    """One raw event of a folder and where it is: ``line`` for NDJSON, the record number otherwise."""

    source: Source
    line: int
    event: dict


def read_events(folder: Path) -> Iterator[FolderEvent]:
    """Every event of ``folder``, read as ``Ingest`` reads it, in file order; the first malformed or
    non-object event is an ``InputError`` at its place (tools want the whole folder or nothing)."""
    import duckdb

    connection = duckdb.connect()
    try:
        for source in discover(folder):
            for _, pos, doc in connection.execute(reader_sql([source.path], source.layout)).fetchall():
                if doc is None or not doc.strip():
                    continue
                try:
                    event = loads_json(doc)
                except ValueError as err:
                    why = getattr(err, "msg", None) or str(err)
                    raise InputError(f"malformed JSON: {why}", Location(source.path, pos)) from None
                if not isinstance(event, dict):
                    raise InputError(
                        f"expected a JSON object, got {type(event).__name__}", Location(source.path, pos)
                    )
                yield FolderEvent(source, pos, event)
    finally:
        connection.close()
