"""An embedded Panther data lake on DuckDB: load ``<LogType>.jsonl`` folders, run Panther SQL.

    lake = lake_from_folder("tests/fixtures/lake_engine/basic")  # tracebit_pack.loading.folder_lake
    rows = lake.run(sql_or_item, now=datetime(2024, 6, 30, 12, tzinfo=UTC), params={"user": "x"})

Tables: ``panther_logs.public.<table>`` (``analysis.table_name(log_type)``) for every log type
with a schema, empty when the folder has no file for it. Columns follow the schema: ``object`` /
``array`` / ``json`` fields are DuckDB ``VARIANT`` (Snowflake VARIANT semantics), ``string`` ->
VARCHAR, ``int`` -> INTEGER, ``bigint`` -> BIGINT, ``float`` -> DOUBLE, ``boolean`` -> BOOLEAN,
``timestamp`` -> TIMESTAMP (UTC); plus ``p_log_type``, ``p_row_id`` (deterministic), ``p_event_time``
and ``p_parse_time`` (TIMESTAMP), ``p_schema_version``, ``p_source_id``, ``p_source_label`` and the
log type's ``p_any_*`` columns (``VARCHAR[]``, NULL when empty). Timestamps nested inside
objects keep their raw text. Every row is validated against its schema first (a problem is a
UserError naming ``file:line``), and enriched with ``tracebit_pack.logs.enrich``.

``run`` expands the Panther macros (``tracebit_pack.lake.macros``) for ``now``, transpiles
(``tracebit_pack.lake.transpile``) and returns rows as dicts of JSON-friendly values: VARIANT values as
JSON values, timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff`` strings, decimals as int/float.
Unqualified table names resolve in ``panther_logs.public``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from tracebit_pack.errors import UserError
from tracebit_pack.lake.macros import expand_macros
from tracebit_pack.lake.transpile import SUPPORT_MACROS, UnsupportedConstruct, transpile
from tracebit_pack.logs.enrich import deterministic_row_id, enrich
from tracebit_pack.logs.schemas import LOG_TYPES, FieldSpec, load_schema
from tracebit_pack.logs.validate import validate_event
from tracebit_pack.pack.items import AnalysisItem, table_name
from tracebit_pack.times import panther_time, parse_with_formats

if TYPE_CHECKING:
    from sqlglot import exp

SQL_TYPES = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "object": "VARIANT",
    "array": "VARIANT",
    "json": "VARIANT",
}
STANDARD_COLUMNS = (
    ("p_log_type", "VARCHAR"),
    ("p_row_id", "VARCHAR"),
    ("p_event_time", "TIMESTAMP"),
    ("p_parse_time", "TIMESTAMP"),
    ("p_schema_version", "INTEGER"),
    ("p_source_id", "VARCHAR"),
    ("p_source_label", "VARCHAR"),
)
SOURCE_ID = "00000000-0000-4000-8000-000000000000"
NEVER_CHECKPOINT = "1000TB"  # the WAL size at which DuckDB would checkpoint: never reached
MEMORY_LIMIT = "1GB"  # DuckDB's share of memory for a lake that spills (Lake.for_sources)


def table_columns(log_type: str) -> list[tuple[str, str]]:
    """``(column, DuckDB type)`` of a log type's table, in Panther's order (fields, then p_*)."""
    schema = load_schema(log_type)
    columns = [(f.name, SQL_TYPES[f.type]) for f in schema.fields]
    columns.extend(STANDARD_COLUMNS)
    columns.extend((name, "VARCHAR[]") for name in schema.p_any_columns)
    return columns


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _strip_nulls(value: object, spec: FieldSpec) -> object:
    """Drop null-valued known fields of objects (Panther omits them); json fields are kept as is."""
    if spec.type == "object" and isinstance(value, dict):
        known = {f.name: f for f in spec.fields}
        return {k: _strip_nulls(v, known[k]) if k in known else v for k, v in value.items() if v is not None}
    if spec.type == "array" and isinstance(value, list) and spec.element is not None:
        return [_strip_nulls(v, spec.element) for v in value]
    return value


def to_jsonable(value: object) -> object:
    """A DuckDB result value as a JSON-friendly Python value."""
    if isinstance(value, dt.datetime):
        return panther_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def rows_as_dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    """An executed query's rows as dicts in its column order, values JSON-friendly (``to_jsonable``)."""
    names = [d[0] for d in cursor.description or []]
    return [{n: to_jsonable(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


class Lake:
    """An in-memory DuckDB database laid out like Panther's ``panther_logs`` database."""

    def __init__(self, storage: Path | None = None) -> None:
        """In memory; with ``storage`` (an existing empty folder) DuckDB's memory is bounded
        (``MEMORY_LIMIT``) and what does not fit spills to that folder.

        Never checkpointed (nor a database file): each automatic checkpoint compressed the growing
        tables again, which made loading 1M CloudTrail events quadratic; a throwaway lake needs
        spilling, not durability.
        """
        self.connection = duckdb.connect(":memory:")
        self.connection.execute("SET TimeZone='UTC'")
        self.connection.execute(f"SET checkpoint_threshold='{NEVER_CHECKPOINT}'")
        self._storage: tempfile.TemporaryDirectory | None = None
        if storage is not None:
            self.connection.execute(f"SET memory_limit='{MEMORY_LIMIT}'")
            self.connection.execute("SET temp_directory=?", [str(storage / "spill")])
        self.connection.execute("ATTACH ':memory:' AS panther_logs")
        self.connection.execute("CREATE SCHEMA panther_logs.public")
        self.connection.execute("USE panther_logs.public")
        for statement in SUPPORT_MACROS:
            self.connection.execute(statement.replace("CREATE OR REPLACE MACRO ", "CREATE OR REPLACE MACRO "))
        self.row_counts: dict[str, int] = {}
        self.skipped = None  # loading.ingest.Skipped of the folder it was loaded from (lake_from_folder)
        for log_type in LOG_TYPES:
            cols = ", ".join(f"{_quote(name)} {sql_type}" for name, sql_type in table_columns(log_type))
            self.connection.execute(f"CREATE TABLE panther_logs.public.{table_name(log_type)} ({cols})")
            self.row_counts[log_type] = 0

    @classmethod
    def for_sources(cls, sources: list) -> Lake:
        """A lake sized for these event files: in memory, or for inputs too large for that
        (``logs.folder.needs_spilling``) one whose DuckDB memory is bounded and which spills to a
        temporary folder (removed by ``close``)."""
        from tracebit_pack.logs.folder import needs_spilling

        if not needs_spilling(sources):
            return cls()
        storage = tempfile.TemporaryDirectory(prefix="tracebit-lake-")
        lake = cls(Path(storage.name))
        lake._storage = storage
        return lake

    # ------------------------------------------------------------------ loading

    def load_events(
        self,
        log_type: str,
        events: Iterable[dict] | Iterable[tuple[int, dict]],
        *,
        source: str = "<events>",
        parse_time: dt.datetime | None = None,
        validate: bool = True,
    ) -> int:
        """Validate, enrich and insert raw events (or ``(line, event)`` pairs); returns the count.

        All events are checked before any is inserted (UserError naming ``source:line``).
        """
        schema = load_schema(log_type)
        prepared = []
        for index, item in enumerate(events, start=1):
            line, event = item if isinstance(item, tuple) else (index, item)
            if validate:
                problems = validate_event(event, log_type, standard_fields=False)
                if problems:
                    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                    raise UserError(f"{source}:{line}: {problems[0]}{more}")
            prepared.append(self._row(schema.log_type, event, source, line, parse_time))
        return self.insert_rows(log_type, prepared)

    def insert_rows(self, log_type: str, prepared: list[dict]) -> int:
        """Insert lake rows (``row_from_enriched``) in one statement; returns the count."""
        if not prepared:
            return 0
        columns = table_columns(log_type)
        select = ", ".join(self._extract(n, sql_type) for n, (_, sql_type) in enumerate(columns, start=1))
        names = ", ".join(_quote(name) for name, _ in columns)
        paths = ", ".join("'$." + _quote(name).replace("'", "''") + "'" for name, _ in columns)
        self.connection.execute(  # each row's JSON parsed once: json_extract with every path
            f"INSERT INTO panther_logs.public.{table_name(log_type)} ({names}) "
            f"SELECT {select} FROM (SELECT json_extract(j, [{paths}]) AS v "
            "FROM (SELECT CAST(unnest(?::VARCHAR[]) AS JSON) AS j))",
            [[json.dumps(row, separators=(",", ":")) for row in prepared]],
        )
        self.row_counts[log_type] += len(prepared)
        return len(prepared)

    @staticmethod
    def _extract(index: int, sql_type: str) -> str:
        """Column ``index`` (1-based) of the extracted list ``v``, as ``sql_type``."""
        if sql_type in ("VARIANT", "VARCHAR[]"):
            return f"CAST(v[{index}] AS {sql_type})"
        return f"CAST(v[{index}] ->> '$' AS {sql_type})"

    @staticmethod
    def _row(log_type: str, event: dict, source: str, line: int, parse_time: dt.datetime | None) -> dict:
        enriched = enrich(
            event,
            log_type,
            parse_time=parse_time or _default_parse_time(event, log_type),
            row_id=deterministic_row_id(log_type, source, line),
        )
        return Lake.row_from_enriched(log_type, enriched)

    @staticmethod
    def row_from_enriched(log_type: str, enriched: dict) -> dict:
        """The lake row (column -> JSON value) of an event enriched by ``enrich.enrich``."""
        schema = load_schema(log_type)
        row: dict[str, object] = {}
        for spec in schema.fields:
            value = enriched.get(spec.name)
            if value is None:
                continue
            if spec.type == "timestamp":
                value = panther_time(parse_with_formats(value, spec.time_formats))
            elif spec.is_nested:
                value = _strip_nulls(value, spec)
            row[spec.name] = value
        for name, _ in STANDARD_COLUMNS:
            if name in enriched:
                row[name] = enriched[name]
        row["p_schema_version"] = 0
        row["p_source_id"] = SOURCE_ID
        row["p_source_label"] = "tracebit-pack offline lake"
        for name in schema.p_any_columns:
            if enriched.get(name):
                row[name] = enriched[name]
        return row

    # ------------------------------------------------------------------ querying

    def columns(self) -> tuple[set[str], set[str], set[str]]:
        """Names of the VARIANT, VARCHAR[] and scalar columns across all tables (lower case)."""
        variant: set[str] = set()
        lists: set[str] = set()
        scalar: set[str] = set()
        for log_type in LOG_TYPES:
            for name, sql_type in table_columns(log_type):
                {"VARIANT": variant, "VARCHAR[]": lists}.get(sql_type, scalar).add(name.lower())
        return variant, lists, scalar

    def to_duckdb(
        self,
        sql: str,
        now: dt.datetime,
        params: Mapping[str, object] | None = None,
        finish: Callable[[exp.Expression], None] | None = None,
    ) -> str:
        """The DuckDB SQL that ``run`` executes for ``sql`` (macros expanded, rewritten;
        ``finish``: a last change to the DuckDB tree, as ``transpile`` takes it)."""
        variant, lists, scalar = self.columns()
        expanded = expand_macros(sql, now)
        return transpile(
            expanded,
            variant_columns=variant,
            list_columns=lists,
            scalar_columns=scalar,
            params=params,
            finish=finish,
        )

    def run(
        self,
        sql_or_item: str | AnalysisItem,
        now: dt.datetime | None = None,
        params: Mapping[str, object] | None = None,
    ) -> list[dict]:
        """Execute a Panther (Snowflake) query, or a saved/scheduled query item, at time ``now``.

        ``now`` (required when the query uses a time macro; naive means UTC) is what the macros
        see. ``params`` replaces literals of the leading ``WITH params AS (...)`` CTE. Returns the
        rows as dicts in the query's column order. Raises UserError / UnsupportedConstruct for
        anything that cannot run faithfully, including DuckDB errors (named with the query).
        """
        name = "query"
        if isinstance(sql_or_item, AnalysisItem):
            name = sql_or_item.id or str(sql_or_item.path)
            sql = sql_or_item.query
            if not sql:
                raise UserError(f"{name}: the item has no Query / SnowflakeQuery")
        else:
            sql = sql_or_item
        moment = now or dt.datetime.now(dt.UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        try:
            duck_sql = self.to_duckdb(sql, moment, params)
        except UnsupportedConstruct as err:
            raise UnsupportedConstruct(f"{name}: unsupported construct: {err}") from None
        except UserError as err:
            raise UserError(f"{name}: {err}") from None
        try:
            return rows_as_dicts(self.connection.execute(duck_sql))
        except duckdb.Error as err:
            first = str(err).splitlines()[0]
            raise UnsupportedConstruct(f"{name}: the offline engine cannot execute it: {first}") from None

    def close(self) -> None:
        self.connection.close()
        if self._storage is not None:
            self._storage.cleanup()
            self._storage = None


def _default_parse_time(event: dict, log_type: str) -> dt.datetime | None:
    from tracebit_pack.logs.enrich import event_time

    return event_time(event, log_type)
