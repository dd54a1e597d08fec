"""Parse PantherFlow (the subset Panther's own published queries use) into a lark tree.

PantherFlow is Panther's piped query language: ``<table> | where ... | summarize ... | sort ...``.
There is no public grammar; this one covers the constructs listed in
``tracebit_pack.query.pantherflow_attested`` (statements, tabular operators, expressions) and nothing
more, so an unknown operator or syntax is a ``PantherFlowError`` naming it.

``parse(text)`` returns the tree; ``constructs(tree)`` lists what a query uses (operators,
functions, scalar operators, Snowflake functions, scalar ``let`` bindings), which the attested
allow-list check and the executor both read. ``decode_string`` inverts the literal escapes
(``\\\\ \\' \\" \\n \\r \\t \\b \\f \\uhhhh``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from tracebit_pack.errors import UserError

GRAMMAR = r"""
start: (statement ";"?)* [pipeline ";"?]

statement: "let" NAME "=" pipeline                      -> let_stmt

pipeline: source ("|" operator)*
?source: "union" union_item ("," union_item)*           -> union_source
       | "datatable" list                               -> datatable
       | "range" NAME "from" expr "to" expr "step" expr -> range
       | expr
union_item: dotted | "(" pipeline ")"

?operator: "where" expr                                 -> where
         | "project" assignments                        -> project
         | "extend" assignments                         -> extend
         | "summarize" [assignments] ["by" assignments] -> summarize
         | "sort" sort_key ("," sort_key)*              -> sort
         | "limit" NUMBER                               -> limit
         | "union" union_item ("," union_item)*         -> union
         | "join" join_param+ ["on" expr]               -> join
         | "search" expr                                -> search

join_param: NAME ("=" | ":") NAME                       -> join_option
          | NAME "=" "(" pipeline ")"                   -> join_right
assignments: assignment ("," assignment)*
assignment: NAME "=" expr                               -> named
          | postfix "[" expr "]" "=" expr               -> keyed
          | expr                                        -> unnamed
sort_key: expr [DIRECTION]
DIRECTION.2: "asc" | "desc"

?expr: or_expr
?or_expr: and_expr
        | or_expr "or" and_expr                         -> or_
?and_expr: not_expr
         | and_expr "and" not_expr                      -> and_
?not_expr: "not" not_expr                               -> not_
         | comparison
?comparison: sum
           | sum COMPARE sum                            -> compare
           | sum "between" sum ".." sum                 -> between
           | sum "not" "between" sum ".." sum           -> not_between
           | sum "in" sum                               -> in_
           | sum "not" "in" sum                         -> not_in
COMPARE: "==" | "!=" | ">=" | "<=" | ">" | "<"
?sum: product
    | sum "+" product                                   -> add
    | sum "-" product                                   -> sub
?product: unary
        | product "*" unary                             -> mul
        | product "/" unary                             -> div
        | product "%" unary                             -> mod
?unary: postfix
      | "-" unary                                       -> neg
?postfix: atom
        | postfix "[" expr "]"                          -> index
        | postfix "[" expr "]" "." dotted               -> index_member
?atom: STRING                                           -> string
     | TIMESPAN                                         -> timespan
     | NUMBER                                           -> number
     | "true"                                           -> true
     | "false"                                          -> false
     | "null"                                           -> null
     | dotted "(" [expr ("," expr)*] ")"                -> call
     | dotted                                           -> path
     | list
     | "{" [pair ("," pair)*] "}"                       -> object
     | "fn" "(" [NAME ("," NAME)*] ")" "{" expr "}"     -> lambda
     | "(" expr ")"
list: "[" [expr ("," expr)*] "]"
pair: (STRING | NAME) ":" expr
dotted: NAME ("." NAME)*

STRING: /'(\\.|[^'\\\n])*'/ | /"(\\.|[^"\\\n])*"/
TIMESPAN.2: /\d+(\.\d+)?(us|ms|s|m|h|d)(?![A-Za-z0-9_])/
NUMBER: /\d+(\.\d+)?/
NAME: /[A-Za-z_$][A-Za-z0-9_$]*/
COMMENT: /\/\/[^\n]*/ | /--[^\n]*/

%import common.WS
%ignore WS
%ignore COMMENT
"""

ARITHMETIC = {"add": "+", "sub": "-", "mul": "*", "div": "/", "mod": "%"}
TABULAR_OPERATORS = ("where", "project", "extend", "summarize", "sort", "limit", "union", "join", "search")
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


class PantherFlowError(UserError):
    """PantherFlow text outside the supported subset (unknown operator, bad syntax, bad literal)."""


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse(text: str) -> Tree:
    """The parse tree of a PantherFlow query; PantherFlowError (one line) naming what is unsupported."""
    try:
        return _parser().parse(text)
    except UnexpectedToken as err:
        raise PantherFlowError(_describe(err, err.token, text)) from None
    except UnexpectedCharacters as err:
        near = text[err.pos_in_stream : err.pos_in_stream + 12].split("\n", maxsplit=1)[0]
        raise PantherFlowError(
            f"unsupported PantherFlow construct {near!r} at line {err.line}, column {err.column}"
        ) from None
    except UnexpectedEOF:
        raise PantherFlowError("the PantherFlow query ends too early") from None
    except UnexpectedInput as err:  # pragma: no cover - every subclass is handled above
        raise PantherFlowError(f"cannot parse the PantherFlow query: {err}") from None


def _describe(err: UnexpectedToken, token: Token, text: str) -> str:
    if token.type == "$END":
        return "the PantherFlow query ends too early"
    where = f"at line {token.line}, column {token.column}"
    segment = _segment(text, token.start_pos)
    expected = {name.strip('"').lower() for name in err.expected}
    if "where" in expected and "project" in expected:
        return (
            f"unsupported PantherFlow operator {str(token)!r} {where} "
            f"(supported: {', '.join(TABULAR_OPERATORS)})"
        )
    context = f" in {segment[:40]!r}" if segment else ""
    return f"unsupported PantherFlow construct {str(token)!r} {where}{context}"


def _segment(text: str, pos: int) -> str:
    """The text of the current pipe stage / statement up to ``pos``."""
    start = max(text.rfind("|", 0, pos), text.rfind(";", 0, pos)) + 1
    return text[start:pos].strip()


def decode_string(token: str) -> str:
    """The value of a quoted PantherFlow string literal.

    Escapes: ``\\\\ \\' \\" \\n \\r \\t \\b \\f``, ``\\uhhhh``, and the byte escapes octal
    ``\\ooo`` and hex ``\\xhh``: a run of byte escapes is read as UTF-8 (``\\xF0\\x9F\\x98\\x8E``
    is one emoji), and a byte that is not part of valid UTF-8 stands for the code point of its
    value (``\\377`` is U+00FF), as Latin-1 reads it.
    """
    body = token[1:-1]
    out: list[str] = []
    pending = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(_bytes_text(pending) + char)
            i += 1
            continue
        nxt = body[i + 1]
        octal = re.match(r"[0-7]{1,3}", body[i + 1 : i + 4])
        if nxt == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", body[i + 2 : i + 4]):
            pending.append(int(body[i + 2 : i + 4], 16))
            i += 4
            continue
        if octal and int(octal.group(0), 8) < 256:
            pending.append(int(octal.group(0), 8))
            i += 1 + len(octal.group(0))
            continue
        out.append(_bytes_text(pending))
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        else:
            raise PantherFlowError(f"unsupported escape \\{nxt} in the literal {token}")
    out.append(_bytes_text(pending))
    return "".join(out)


def _bytes_text(pending: bytearray) -> str:
    """The text of the byte escapes collected so far (emptied): UTF-8, else Latin-1."""
    if not pending:
        return ""
    raw = bytes(pending)
    pending.clear()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def dotted_name(tree: Tree) -> str:
    return ".".join(str(t) for t in tree.children)


def _is_tabular(pipeline: Tree) -> bool:
    """A pipeline is tabular when it has an operator or its source is a table / let name."""
    source = pipeline.children[0]
    tabular = ("path", "union_source", "datatable", "range")
    return len(pipeline.children) > 1 or (isinstance(source, Tree) and source.data in tabular)


def constructs(tree: Tree) -> dict[str, set[str]]:
    """What a query uses: ``operators``, ``scalar_operators``, ``functions``, ``snowflake_functions``,
    ``scalar_lets`` (names of ``let`` statements that bind a scalar), ``trunc_units`` (the units
    ``time.trunc`` is called with) and ``computed_by_keys`` (``summarize ... by`` keys that are not
    a bare column name)."""
    used: dict[str, set[str]] = {
        "operators": set(),
        "scalar_operators": set(),
        "functions": set(),
        "snowflake_functions": set(),
        "scalar_lets": set(),
        "trunc_units": set(),
        "computed_by_keys": set(),
    }
    for node in tree.iter_subtrees():
        kind = str(node.data)
        if kind == "let_stmt":
            used["operators"].add("let")
            if not _is_tabular(node.children[1]):
                used["scalar_lets"].add(str(node.children[0]))
        elif kind == "pipeline":
            source = node.children[0]
            if isinstance(source, Tree) and source.data == "path" and "." in dotted_name(source.children[0]):
                used["operators"].add("table")
        elif kind in TABULAR_OPERATORS:
            used["operators"].add(kind)
            if kind == "summarize" and node.children[1] is not None:
                for item in node.children[1].children:
                    if item.data == "named" or not _is_bare_column(item.children[0]):
                        used["computed_by_keys"].add(_key_text(item))
        elif kind == "union_source":
            used["operators"].add("union")
        elif kind == "sort_key":
            used["scalar_operators"].add(
                str(node.children[1]) if node.children[1] else "sort without direction"
            )
        elif kind == "call":
            _call_constructs(node, used)
        elif kind in ("or_", "and_", "not_", "between", "in_", "not_between", "not_in", "index", "object"):
            used["scalar_operators"].add(kind.rstrip("_").replace("_", " "))
        elif kind == "index_member":
            used["scalar_operators"].add("index")
        elif kind == "compare":
            used["scalar_operators"].add(str(node.children[1]))
        elif kind in ARITHMETIC:
            used["scalar_operators"].add(ARITHMETIC[kind])
        elif kind in ("lambda", "neg"):
            used["scalar_operators"].add(kind)
        elif kind in ("datatable", "range"):
            used["operators"].add(kind)
        elif kind in ("string", "number", "timespan", "list"):
            used["scalar_operators"].add(kind)
    return used


def _call_constructs(node: Tree, used: dict[str, set[str]]) -> None:
    name = dotted_name(node.children[0])
    used["functions"].add(name)
    args = node.children[1:]
    first = args[0] if args else None
    quoted = isinstance(first, Tree) and first.data == "string"
    if name == "snowflake.func" and quoted:
        used["snowflake_functions"].add(decode_string(str(first.children[0])).upper())
    elif name == "time.trunc":
        used["trunc_units"].add(decode_string(str(first.children[0])).lower() if quoted else "<computed>")


def _is_bare_column(expr) -> bool:
    return isinstance(expr, Tree) and expr.data == "path" and len(expr.children[0].children) == 1


def _key_text(item: Tree) -> str:
    if item.data == "named":
        return str(item.children[0]) + " = ..."
    expr = item.children[0]
    return dotted_name(expr.children[0]) if isinstance(expr, Tree) and expr.data == "path" else "<expression>"
