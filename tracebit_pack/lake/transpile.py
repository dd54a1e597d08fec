"""Transpile Panther (Snowflake) SQL to DuckDB over VARIANT columns, or refuse loudly.

sqlglot's plain ``snowflake -> duckdb`` output gives silently wrong answers on Panther queries
(see docs/offline-engine.md), so after ``sqlglot.parse_one(sql, read="snowflake")`` the tree is
rewritten:

  * colon paths / ``GET_PATH`` (``col:a.b[0]."Mixed"``) -> bracket indexing on the VARIANT column
    (``col['a']['b'][1]['Mixed']``): keys stay case-sensitive, array positions 0-based as in
    Snowflake, a string that looks like a number stays a string; a colon path on a column that is
    not VARIANT raises;
  * ``<variant>::string`` / ``TO_VARCHAR(<variant>)`` -> the text without JSON quotes (objects and
    arrays as compact JSON, as Snowflake prints them); ``<variant>::<number/timestamp/boolean>``
    reads a string value as Snowflake does (``'00123'::int`` = 123);
  * ``LATERAL FLATTEN(input => x) f`` / ``TABLE(FLATTEN(input => x)) f`` -> a lateral UNNEST with
    columns ``value`` (VARIANT) and ``index`` (0-based); other FLATTEN columns / options raise;
  * ``ARRAY_SIZE``, ``OBJECT_KEYS``, ``ARRAY_CONTAINS`` and ``PARSE_JSON`` on VARIANT values;
  * ``OBJECT_DELETE(obj, key, ...)`` and ``OBJECT_INSERT(obj, key, value, TRUE)`` with a scalar
    ``value`` (a SQL NULL value removes the key); other ``OBJECT_INSERT`` forms raise;
  * the literals of a leading ``WITH params AS (SELECT <literal> AS <name>, ...)`` CTE can be
    replaced (``params={"name": "value"}``; each value becomes one string literal).

Constructs with no faithful equivalent raise UnsupportedConstruct (a UserError) naming them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from tracebit_pack.errors import UserError


class UnsupportedConstruct(UserError):
    """A query construct the offline engine cannot execute with Snowflake's semantics."""


# Functions whose DuckDB namesake has different semantics, or that have none.
UNSUPPORTED_FUNCTIONS = {
    "TYPEOF": "TYPEOF (DuckDB reports VARIANT, not the Snowflake type)",
    "IS_ARRAY": "IS_ARRAY",
    "IS_OBJECT": "IS_OBJECT",
    "IS_NULL_VALUE": "IS_NULL_VALUE",
    "STRIP_NULL_VALUE": "STRIP_NULL_VALUE",
    "AS_VARCHAR": "AS_VARCHAR",
    "AS_INTEGER": "AS_INTEGER",
    "AS_ARRAY": "AS_ARRAY",
    "AS_OBJECT": "AS_OBJECT",
    "SEQ4": "SEQ4()",
    "SEQ8": "SEQ8()",
    "GENERATOR": "GENERATOR()",
    "CHECK_JSON": "CHECK_JSON",
    "JSON_EXTRACT_PATH_TEXT": "JSON_EXTRACT_PATH_TEXT",
    "XMLGET": "XMLGET",
    "PARSE_XML": "PARSE_XML",
    "MATCH_RECOGNIZE": "MATCH_RECOGNIZE",
    "SYSTEM$TYPEOF": "SYSTEM$TYPEOF",
}

# DuckDB macros the rewritten SQL relies on (created by Lake on its connection).
SUPPORT_MACROS = (
    # Snowflake <variant>::string: scalars without quotes, objects/arrays as compact JSON.
    "CREATE OR REPLACE MACRO sf_variant_text(x) AS "
    "CASE WHEN variant_typeof(CAST(x AS VARIANT)) LIKE 'OBJECT%' "
    "OR variant_typeof(CAST(x AS VARIANT)) LIKE 'ARRAY%' "
    "THEN CAST(CAST(CAST(x AS VARIANT) AS JSON) AS VARCHAR) "
    "ELSE CAST(CAST(x AS VARIANT) AS VARCHAR) END",
    # Snowflake ARRAY_SIZE: NULL for anything that is not an array.
    "CREATE OR REPLACE MACRO sf_array_size(x) AS "
    "CASE WHEN variant_typeof(CAST(x AS VARIANT)) LIKE 'ARRAY%' "
    "THEN CAST(variant_array_length(CAST(x AS VARIANT)) AS BIGINT) END",
    # Snowflake OBJECT_KEYS: NULL for anything that is not an object.
    "CREATE OR REPLACE MACRO sf_object_keys(x) AS "
    "CASE WHEN variant_typeof(CAST(x AS VARIANT)) LIKE 'OBJECT%' "
    "THEN variant_keys(CAST(x AS VARIANT)) END",
    # ARRAY_CONTAINS on anything array-like (VARCHAR[] p_any_* columns or VARIANT arrays).
    "CREATE OR REPLACE MACRO sf_as_array(x) AS "
    "CASE WHEN variant_typeof(CAST(x AS VARIANT)) LIKE 'ARRAY%' "
    "THEN CAST(CAST(x AS VARIANT) AS VARIANT[]) END",
    # Snowflake OBJECT_DELETE of one key / OBJECT_INSERT(o, k, v, TRUE) of a scalar: a JSON merge
    # patch of {k: null} removes k; patching {k: v} onto the object without k then sets it.
    "CREATE OR REPLACE MACRO sf_object_delete(o, k) AS "
    "CASE WHEN variant_typeof(CAST(o AS VARIANT)) LIKE 'OBJECT%' "
    "THEN CAST(json_merge_patch(CAST(CAST(o AS VARIANT) AS JSON), "
    "json_object(CAST(k AS VARCHAR), NULL)) AS VARIANT) END",
    "CREATE OR REPLACE MACRO sf_object_insert(o, k, v) AS "
    "CASE WHEN variant_typeof(CAST(o AS VARIANT)) LIKE 'OBJECT%' "
    "THEN CAST(json_merge_patch(json_merge_patch(CAST(CAST(o AS VARIANT) AS JSON), "
    "json_object(CAST(k AS VARCHAR), NULL)), json_object(CAST(k AS VARCHAR), v)) AS VARIANT) END",
)

_TEXT_TYPES = {
    exp.DataType.Type.TEXT,
    exp.DataType.Type.VARCHAR,
    exp.DataType.Type.CHAR,
    exp.DataType.Type.NVARCHAR,
    exp.DataType.Type.NCHAR,
}
_NESTED_TYPES = (
    exp.DataType.Type.VARIANT,
    exp.DataType.Type.ARRAY,
    exp.DataType.Type.LIST,
    exp.DataType.Type.JSON,
    exp.DataType.Type.OBJECT,
    exp.DataType.Type.STRUCT,
    exp.DataType.Type.MAP,
)
_FLATTEN_COLUMNS = {"value", "index"}
_FLATTEN_UNSUPPORTED_COLUMNS = {"seq", "key", "path", "this"}
_FLATTEN_TEMPLATE = (
    "SELECT * FROM LATERAL (SELECT __u.value AS value, __u.__ord - 1 AS index "
    "FROM UNNEST(CAST(__flatten_input AS VARIANT[])) WITH ORDINALITY AS __u(value, __ord)) AS __f"
)


def _is_variant(node: exp.Expression, ctx: _Context) -> bool:
    if node.meta.get("variant"):
        return True
    if isinstance(node, exp.Column):
        name = node.name.lower()
        if node.table and node.table.lower() in ctx.flatten_aliases:
            return name == "value"
        if not node.table and name == "value" and ctx.flatten_aliases:
            return True
        return name in ctx.variant_columns
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.VARIANT:
        return True
    if isinstance(node, exp.Paren):
        return _is_variant(node.this, ctx)
    return False


def _is_array_like(node: exp.Expression, ctx: _Context) -> bool:
    if isinstance(node, exp.Column) and node.name.lower() in ctx.list_columns:
        return True
    return isinstance(node, (exp.ArrayAgg, exp.Array, exp.Split, exp.JSONKeys))


class _Context:
    def __init__(
        self, variant_columns: Iterable[str], list_columns: Iterable[str], scalar_columns: Iterable[str]
    ) -> None:
        self.variant_columns = {c.lower() for c in variant_columns}
        self.list_columns = {c.lower() for c in list_columns}
        self.scalar_columns = {c.lower() for c in scalar_columns} - self.variant_columns
        self.flatten_aliases: set[str] = set()


def _variant(node: exp.Expression) -> exp.Expression:
    node.meta["variant"] = True
    return node


def _path_to_brackets(base: exp.Expression, path: exp.Expression, sql_text: str) -> exp.Expression:
    if isinstance(path, exp.Literal) and path.is_string:  # GET_PATH(x, 'a.b[0]')
        try:
            path = exp.JSONPath(
                expressions=sqlglot.parse_one(f"SELECT x:{path.this}", read="snowflake")
                .expressions[0]
                .expression.expressions
            )
        except (SqlglotError, AttributeError, IndexError):
            raise UnsupportedConstruct(f"GET_PATH with path {path.this!r}") from None
    if not isinstance(path, exp.JSONPath):
        raise UnsupportedConstruct(f"JSON path expression {sql_text!r}")
    node = base
    for part in path.expressions:
        if isinstance(part, exp.JSONPathRoot):
            continue
        if isinstance(part, exp.JSONPathKey) and isinstance(part.this, str):
            node = exp.Bracket(this=node, expressions=[exp.Literal.string(part.this)])
        elif isinstance(part, exp.JSONPathSubscript) and isinstance(part.this, int):
            node = exp.Bracket(this=node, expressions=[exp.Literal.number(part.this)])
        else:
            raise UnsupportedConstruct(f"JSON path element {part.sql('snowflake')!r} in {sql_text!r}")
        _variant(node)
    return node


def _rewrite_flatten(node: exp.Expression, ctx: _Context) -> exp.Expression:
    """Turn a FLATTEN table function into a lateral UNNEST subquery with value/index columns."""
    explode = node.this
    if isinstance(explode, exp.Explode):
        target = explode.this
    else:
        raise UnsupportedConstruct(f"table function {node.sql('snowflake')!r}")
    args = [target] + list(explode.expressions or [])
    source = None
    for arg in args:
        if isinstance(arg, exp.Kwarg):
            key = arg.this.name.lower()
            if key == "input":
                source = arg.expression
            elif key == "outer" and arg.expression.sql().upper() == "FALSE":
                continue
            else:
                raise UnsupportedConstruct(f"FLATTEN option {arg.this.name} => ...")
        elif source is None:
            source = arg
        else:
            raise UnsupportedConstruct("FLATTEN with positional options")
    if source is None:
        raise UnsupportedConstruct("FLATTEN without input")
    alias_node = node.args.get("alias")
    alias = alias_node.name if alias_node and alias_node.name else f"_flatten{len(ctx.flatten_aliases)}"
    ctx.flatten_aliases.add(alias.lower())
    template = sqlglot.parse_one(_FLATTEN_TEMPLATE, read="duckdb")
    lateral = template.args["from_"].this if "from_" in template.args else template.args["from"].this
    for col in lateral.find_all(exp.Column):
        if col.name == "__flatten_input":
            col.replace(source.copy())
            break
    lateral.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return lateral


def params_columns(tree: exp.Expression, params: Mapping[str, object]) -> dict[str, exp.Alias]:
    """The column of the leading ``WITH params AS (SELECT ...)`` CTE that each of ``params`` sets.

    UserError when the query has no such CTE or the CTE does not define a name.
    """
    with_ = tree.args.get("with_") or tree.args.get("with")
    cte = None
    if with_ is not None:
        cte = next((c for c in with_.expressions if c.alias_or_name.lower() == "params"), None)
    if cte is None or not isinstance(cte.this, exp.Select):
        raise UserError(f"query has no 'WITH params AS (SELECT ...)' CTE; cannot set {', '.join(params)}")
    columns = {e.alias_or_name.lower(): e for e in cte.this.expressions}
    found = {}
    for name in params:
        target = columns.get(str(name).lower())
        if target is None or not isinstance(target, exp.Alias):
            known = ", ".join(sorted(columns)) or "none"
            raise UserError(f"unknown parameter {name!r} (the params CTE defines: {known})")
        found[name] = target
    return found


def apply_params(tree: exp.Expression, params: Mapping[str, object]) -> None:
    """Replace the literals of the leading ``params`` CTE; UserError for an unknown name."""
    if not params:
        return
    for name, target in params_columns(tree, params).items():
        target.set("this", exp.Literal.string(str(params[name])))


# sqlglot expression classes (by key) that have no faithful DuckDB rewrite here.
UNSUPPORTED_NODES = {
    "typeof": UNSUPPORTED_FUNCTIONS["TYPEOF"],
    "seq4": "SEQ4()",
    "seq8": "SEQ8()",
    "generator": "GENERATOR()",
    "jsonextractscalar": "JSON_EXTRACT_PATH_TEXT",
    "matchrecognize": "MATCH_RECOGNIZE",
    "pivot": "PIVOT / UNPIVOT",
    "connect": "CONNECT BY",
    "jsonpathwildcard": "JSON path wildcard [*]",
}


def _check_unsupported(tree: exp.Expression) -> None:
    for node in tree.walk():
        if isinstance(node, exp.Anonymous) and str(node.this).upper() in UNSUPPORTED_FUNCTIONS:
            raise UnsupportedConstruct(f"function {UNSUPPORTED_FUNCTIONS[str(node.this).upper()]}")
        if node.key in UNSUPPORTED_NODES:
            raise UnsupportedConstruct(UNSUPPORTED_NODES[node.key])
        if isinstance(node, exp.Bracket) and any(isinstance(e, exp.Star) for e in node.expressions):
            raise UnsupportedConstruct("JSON path wildcard [*]")


def parse(sql: str) -> exp.Expression:
    """Parse one Snowflake SELECT statement (UnsupportedConstruct if it is not one)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="snowflake") if s is not None]
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        where = f" (line {first.get('line')}, column {first.get('col')})" if first else ""
        raise UserError(
            f"cannot parse the query as Snowflake SQL{where}: "
            f"{first.get('description') or str(err).splitlines()[0]}"
        ) from None
    if len(statements) != 1:
        raise UnsupportedConstruct(f"{len(statements)} statements (exactly one query is supported)")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise UnsupportedConstruct(f"{tree.key.upper()} statement (only SELECT queries are supported)")
    return tree


def transpile(
    sql: str,
    *,
    variant_columns: Iterable[str] = (),
    list_columns: Iterable[str] = (),
    scalar_columns: Iterable[str] = (),
    params: Mapping[str, object] | None = None,
    finish: Callable[[exp.Expression], None] | None = None,
) -> str:
    """DuckDB SQL for one Snowflake query whose Panther macros are already expanded.

    ``variant_columns`` / ``list_columns`` / ``scalar_columns`` name the lake's VARIANT,
    ``VARCHAR[]`` and scalar columns (case-insensitive); they decide how paths, casts and array
    functions are rewritten. ``finish`` may change the DuckDB tree last, before it is written
    (``schedule.as_of`` reads each table as of a run time). Raises UnsupportedConstruct or
    UserError; never returns SQL it knows to be unfaithful.
    """
    tree = parse(sql)
    _check_unsupported(tree)
    apply_params(tree, params or {})
    ctx = _Context(variant_columns, list_columns, scalar_columns)

    # FLATTEN first, so that the alias is known when its columns are rewritten.
    for node in list(tree.find_all(exp.Lateral, exp.TableFromRows)):
        if isinstance(node.this, exp.Explode):
            node.replace(_rewrite_flatten(node, ctx))
        elif isinstance(node, exp.TableFromRows):
            raise UnsupportedConstruct(f"table function {node.sql('snowflake')!r}")
    if ctx.flatten_aliases:
        for col in tree.find_all(exp.Column):
            if col.table and col.table.lower() in ctx.flatten_aliases:
                if col.name.lower() in _FLATTEN_UNSUPPORTED_COLUMNS:
                    raise UnsupportedConstruct(
                        f"FLATTEN column {col.sql('snowflake')} (only VALUE and INDEX)"
                    )
                if col.name.lower() not in _FLATTEN_COLUMNS:
                    raise UnsupportedConstruct(f"unknown FLATTEN column {col.sql('snowflake')}")

    # Children before parents: reversed pre-order visits every node after its descendants.
    for node in reversed(list(tree.walk(bfs=False))):
        replacement = _rewrite_node(node, ctx)
        if replacement is not None and replacement is not node:
            if node is tree:
                tree = replacement
            else:
                node.replace(replacement)
    if finish is not None:
        finish(tree)
    try:
        return tree.sql(dialect="duckdb")
    except SqlglotError as err:
        raise UnsupportedConstruct(f"cannot express the query in DuckDB: {err}") from None


def _rewrite_node(node: exp.Expression, ctx: _Context) -> exp.Expression | None:
    if isinstance(node, exp.JSONExtract):
        base = node.this
        if (
            isinstance(base, exp.Column)
            and base.name.lower() in ctx.scalar_columns
            and not _is_variant(base, ctx)
        ):
            raise UnsupportedConstruct(
                f"colon path on {base.sql('snowflake')}, which is not a VARIANT column"
            )
        return _path_to_brackets(base, node.expression, node.sql("snowflake"))
    if isinstance(node, exp.Bracket):
        if _is_variant(node.this, ctx):
            _variant(node)
        return None
    if isinstance(node, exp.ParseJSON):
        return _variant(exp.Cast(this=node.copy(), to=exp.DataType.build("VARIANT")))
    if isinstance(node, exp.ToChar) and not node.args.get("format"):
        if _is_variant(node.this, ctx) or _is_array_like(node.this, ctx):
            return exp.Anonymous(this="sf_variant_text", expressions=[node.this])
        return exp.Cast(this=node.this, to=exp.DataType.build("VARCHAR"))
    if isinstance(node, (exp.Cast, exp.TryCast)):
        inner = node.this
        target = node.to
        if target.this in _TEXT_TYPES and (_is_variant(inner, ctx) or _is_array_like(inner, ctx)):
            return exp.Anonymous(this="sf_variant_text", expressions=[inner])
        if _is_variant(inner, ctx) and target.this not in _TEXT_TYPES and target.this not in _NESTED_TYPES:
            # Through the text, as Snowflake reads a VARIANT string ('00123'::int = 123). Objects and
            # arrays become JSON text, which fails to cast: an error, as in Snowflake.
            return type(node)(this=exp.Anonymous(this="sf_variant_text", expressions=[inner]), to=target)
        return None
    if isinstance(node, exp.ArraySize):
        return exp.Anonymous(this="sf_array_size", expressions=[node.this])
    if isinstance(node, exp.JSONKeys):
        return exp.Anonymous(this="sf_object_keys", expressions=[node.this])
    if isinstance(node, exp.ObjectInsert) or (
        isinstance(node, exp.Anonymous) and str(node.this).upper() == "OBJECT_DELETE"
    ):
        return _object_key_change(node, ctx)
    if isinstance(node, exp.ArrayContains):
        array = node.this
        if not (isinstance(array, exp.Column) and array.name.lower() in ctx.list_columns):
            node.set("this", exp.Anonymous(this="sf_as_array", expressions=[array]))
        value = node.expression
        if not (isinstance(value, exp.Cast) and value.to.this == exp.DataType.Type.VARIANT):
            node.set("expression", exp.Cast(this=value, to=exp.DataType.build("VARIANT")))
        return None
    return None


def _object_key_change(node: exp.Expression, ctx: _Context) -> exp.Expression:
    """``OBJECT_DELETE`` / ``OBJECT_INSERT(..., TRUE)`` as the ``sf_object_*`` macros."""
    if isinstance(node, exp.Anonymous):  # OBJECT_DELETE(obj, key1, key2, ...)
        obj, *keys = node.expressions
        if not keys:
            raise UnsupportedConstruct("OBJECT_DELETE without a key")
        for key in keys:
            obj = _variant(exp.Anonymous(this="sf_object_delete", expressions=[obj, key]))
        return obj
    flag = node.args.get("update_flag")
    if not (isinstance(flag, exp.Boolean) and flag.this is True):
        raise UnsupportedConstruct("OBJECT_INSERT without updateFlag TRUE")
    value = node.args["value"]
    if _is_variant(value, ctx) or _is_array_like(value, ctx):
        raise UnsupportedConstruct("OBJECT_INSERT of an object or array value")
    return _variant(exp.Anonymous(this="sf_object_insert", expressions=[node.this, node.args["key"], value]))
