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

from functools import lru_cache

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from tracebit_pack.errors import UserError

GRAMMAR = r"""
start: (statement ";")* pipeline ";"?

statement: "let" NAME "=" pipeline                      -> let_stmt

pipeline: source ("|" operator)*
?source: expr

?operator: "where" expr                                 -> where
         | "project" assignments                        -> project
         | "extend" assignments                         -> extend
         | "summarize" [assignments] ["by" assignments] -> summarize
         | "sort" sort_key ("," sort_key)*              -> sort

assignments: assignment ("," assignment)*
assignment: NAME "=" expr                               -> named
          | expr                                        -> unnamed
sort_key: expr DIRECTION
DIRECTION: "asc" | "desc"

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
           | sum "in" list                              -> in_
COMPARE: "==" | "!=" | ">=" | "<=" | ">" | "<"
?sum: atom
    | sum ADDOP atom                                    -> arith
ADDOP: "+" | "-"
?atom: STRING                                           -> string
     | TIMESPAN                                         -> timespan
     | NUMBER                                           -> number
     | "true"                                           -> true
     | "false"                                          -> false
     | "null"                                           -> null
     | dotted "(" [expr ("," expr)*] ")"                -> call
     | dotted                                           -> path
     | list
     | "(" expr ")"
list: "[" [expr ("," expr)*] "]"
dotted: NAME ("." NAME)*

STRING: /'(\\.|[^'\\\n])*'/ | /"(\\.|[^"\\\n])*"/
TIMESPAN.2: /\d+(ms|s|m|h|d)(?![A-Za-z0-9_])/
NUMBER: /\d+(\.\d+)?/
NAME: /[A-Za-z_$][A-Za-z0-9_$]*/
COMMENT: /\/\/[^\n]*/ | /--[^\n]*/

%import common.WS
%ignore WS
%ignore COMMENT
"""

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
        if "DIRECTION" in err.expected and _segment(text, len(text)).startswith("sort"):
            return "sort needs an explicit asc or desc at the end of the query"
        return "the PantherFlow query ends too early"
    where = f"at line {token.line}, column {token.column}"
    segment = _segment(text, token.start_pos)
    if "DIRECTION" in err.expected and segment.startswith("sort"):
        return f"sort needs an explicit asc or desc {where} (a default direction is not documented)"
    expected = {name.strip('"').lower() for name in err.expected}
    if "where" in expected and "project" in expected:
        return (
            f"unsupported PantherFlow operator {str(token)!r} {where} "
            "(supported: where, project, extend, summarize, sort)"
        )
    context = f" in {segment[:40]!r}" if segment else ""
    return f"unsupported PantherFlow construct {str(token)!r} {where}{context}"


def _segment(text: str, pos: int) -> str:
    """The text of the current pipe stage / statement up to ``pos``."""
    start = max(text.rfind("|", 0, pos), text.rfind(";", 0, pos)) + 1
    return text[start:pos].strip()


def decode_string(token: str) -> str:
    """The value of a quoted PantherFlow string literal."""
    body = token[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and len(body) >= i + 6:
            try:
                out.append(chr(int(body[i + 2 : i + 6], 16)))
            except ValueError:
                raise PantherFlowError(f"bad \\u escape in the literal {token}") from None
            i += 6
        else:
            raise PantherFlowError(f"unsupported escape \\{nxt} in the literal {token}")
    return "".join(out)


def dotted_name(tree: Tree) -> str:
    return ".".join(str(t) for t in tree.children)


def _is_tabular(pipeline: Tree) -> bool:
    """A pipeline is tabular when it has an operator or its source is a table / let name."""
    source = pipeline.children[0]
    return len(pipeline.children) > 1 or (isinstance(source, Tree) and source.data == "path")


def constructs(tree: Tree) -> dict[str, set[str]]:
    """What a query uses: ``operators``, ``scalar_operators``, ``functions``, ``snowflake_functions``
    and ``scalar_lets`` (names of ``let`` statements that bind a scalar)."""
    used: dict[str, set[str]] = {
        "operators": set(),
        "scalar_operators": set(),
        "functions": set(),
        "snowflake_functions": set(),
        "scalar_lets": set(),
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
        elif kind in ("where", "project", "extend", "summarize", "sort"):
            used["operators"].add(kind)
        elif kind == "sort_key":
            used["scalar_operators"].add(str(node.children[1]))
        elif kind == "call":
            name = dotted_name(node.children[0])
            used["functions"].add(name)
            args = node.children[1:]
            if name == "snowflake.func" and args and isinstance(args[0], Tree) and args[0].data == "string":
                used["snowflake_functions"].add(decode_string(str(args[0].children[0])).upper())
        elif kind in ("or_", "and_", "not_", "between", "in_"):
            used["scalar_operators"].add(kind.rstrip("_"))
        elif kind in ("compare", "arith"):
            used["scalar_operators"].update(str(c) for c in node.children if isinstance(c, Token))
        elif kind in ("string", "number", "timespan", "list"):
            used["scalar_operators"].add(kind)
    return used
