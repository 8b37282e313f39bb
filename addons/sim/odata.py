"""OData's query options over stored records: `$filter`, `$orderby` and `$search`, as Graph reads them.

A filter is parsed once into a small tree (`parse_filter`) and then applied to each record
(`matches`). What Graph would refuse raises `QueryError` with Graph's words. Strings compare
without regard to case, as Graph's directory does; GUIDs, enum members and dates are literals
compared as text (ISO dates order as text), numbers as numbers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

MAX_FILTER = 4_000  # characters; Graph's URLs are bounded too, and a parse is linear in this
MAX_DEPTH = 50  # nesting of parentheses and not
MAX_TERMS = 32  # $orderby keys, $search clauses: each is a pass over the collection, on the event loop

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<enum>[A-Za-z_][\w.]*'(?:[^']|'')*')
    | (?P<date>\d{4}-\d\d-\d\d(?:T[\d:.]+(?:Z|[+-]\d\d:\d\d)?)?)
    | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_@$][\w.@$]*)
    | (?P<punct>[(),/:])
    )""",
    re.VERBOSE,
)
COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
FUNCTIONS = {"startswith": 2, "endswith": 2, "contains": 2, "tolower": 1, "toupper": 1, "length": 1, "isof": 1}


class QueryError(Exception):
    """What Graph answers a query option it cannot read: 400 BadRequest, with this message."""


def _invalid(text: str, why: str = "syntax error") -> QueryError:
    shown = text if len(text) <= 200 else text[:200] + "..."
    return QueryError(f"Invalid filter clause: {why} in '{shown}'.")


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _invalid(text, f"unexpected character at position {pos}")
        pos = m.end()
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "string":
            out.append(("literal", value[1:-1].replace("''", "'")))
        elif kind == "enum":
            out.append(("literal", value[value.index("'") + 1 : -1].replace("''", "'")))
        elif kind in ("date", "guid"):
            out.append(("literal", value))
        elif kind == "number":
            out.append(("literal", float(value) if any(c in value for c in ".eE") else int(value)))
        elif kind == "name" and value in ("true", "false", "null"):
            out.append(("literal", {"true": True, "false": False, "null": None}[value]))
        else:
            out.append((kind, value))
    return out


class _Parser:
    def __init__(self, text: str, known: Callable[[str], bool | str | None]) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.known = known  # is this a property of the records' type?
        self.variables: list[str] = []
        self.depth = 0

    def peek(self, offset: int = 0) -> tuple[str, Any]:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else ("end", None)

    def take(self, kind: str, value: Any = None) -> Any:
        k, v = self.peek()
        if k != kind or (value is not None and v != value):
            raise _invalid(self.text, f"expected {value or kind}")
        self.pos += 1
        return v

    def word(self, value: str) -> bool:
        k, v = self.peek()
        if k == "name" and v == value:
            self.pos += 1
            return True
        return False

    def parse(self) -> tuple:
        tree = self.or_()
        if self.peek()[0] != "end":
            raise _invalid(self.text)
        return tree

    def or_(self) -> tuple:
        left = self.and_()
        while self.word("or"):
            left = ("or", left, self.and_())
        return left

    def and_(self) -> tuple:
        left = self.not_()
        while self.word("and"):
            left = ("and", left, self.not_())
        return left

    def not_(self) -> tuple:
        if self.word("not"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _invalid(self.text, "nested too deeply")
            inner = self.not_()
            self.depth -= 1
            return ("not", inner)
        return self.comparison()

    def comparison(self) -> tuple:
        left = self.operand()
        k, v = self.peek()
        if k == "name" and v in COMPARISONS:
            self.pos += 1
            return (v, left, self.operand())
        if k == "name" and v == "in":
            self.pos += 1
            self.take("punct", "(")
            items = [self.operand()]
            while self.peek() == ("punct", ","):
                self.pos += 1
                items.append(self.operand())
            self.take("punct", ")")
            return ("in", left, items)
        return ("truthy", left)

    def operand(self) -> tuple:
        k, v = self.peek()
        if k == "literal":
            self.pos += 1
            return ("literal", v)
        if k == "punct" and v == "(":
            self.pos += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _invalid(self.text, "nested too deeply")
            inner = self.or_()
            self.depth -= 1
            self.take("punct", ")")
            return inner
        if k == "name":
            if v in FUNCTIONS and self.peek(1) == ("punct", "("):
                self.pos += 2
                args = [self.operand()]
                while self.peek() == ("punct", ","):
                    self.pos += 1
                    args.append(self.operand())
                self.take("punct", ")")
                if len(args) != FUNCTIONS[v]:
                    raise _invalid(self.text, f"{v} takes {FUNCTIONS[v]} argument(s)")
                return ("call", v, args)
            return self.path()
        raise _invalid(self.text)

    def path(self) -> tuple:
        first = self.take("name")
        named = True if first in self.variables else self.known(first)
        if not named:
            raise QueryError(f"Could not find a property named '{first}' on the type of this collection.")
        steps = [named if isinstance(named, str) else first]  # the name in the model's casing, if told
        while self.peek() == ("punct", "/"):
            self.pos += 1
            name = self.take("name")
            if name in ("any", "all") and self.peek() == ("punct", "("):
                self.pos += 1
                if self.peek() == ("punct", ")"):  # any(): the collection is not empty
                    self.pos += 1
                    return ("lambda", name, steps, "", ("literal", True))
                var = self.take("name")
                self.take("punct", ":")
                self.variables.append(var)
                body = self.or_()
                self.variables.pop()
                self.take("punct", ")")
                return ("lambda", name, steps, var, body)
            steps.append(name)
        return ("path", steps)


def parse_filter(text: str, known: Callable[[str], bool | str | None] = lambda name: True) -> tuple:
    """The filter's tree; `known(name)` says whether a property (or a cast's type) is the records'
    (True), or gives its name in the model's casing (a string: what the tree names), or not (falsy)."""
    if len(text) > MAX_FILTER:
        raise QueryError(f"The $filter is longer than tapeproxy reads ({MAX_FILTER:,} characters).")
    return _Parser(text, known).parse()


def expansions(text: str) -> list[tuple[str, dict[str, str]]]:
    """`$expand`'s items with their options: "manager($select=id,displayName),memberOf" ->
    [("manager", {"$select": "id,displayName"}), ("memberOf", {})]."""
    if len(text) > MAX_FILTER:
        raise QueryError(f"The $expand is longer than tapeproxy reads ({MAX_FILTER:,} characters).")
    items, depth, start = [], 0, 0
    for i, c in enumerate(text + ","):
        depth += (c == "(") - (c == ")")
        if c == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    out = []
    for item in items[:MAX_TERMS]:
        name, _, rest = item.partition("(")
        options = {}
        for part in rest.removesuffix(")").split(";") if rest else []:
            key, _, value = part.partition("=")
            if key.strip():
                options[key.strip().lower()] = value.strip()
        if name.strip():
            out.append((name.strip(), options))
    return out


def uses(tree: tuple, operators: tuple[str, ...]) -> str | None:
    """The first property an operator or function of these is applied to in a parsed filter (for
    `ne`, `not`, `endswith`...), or None when the filter uses none of them."""
    kind = tree[0]
    if kind in operators or (kind == "call" and tree[1] in operators):
        found = _first_path(tree)
        return found if found is not None else kind
    children = tree[2] if kind in ("call", "in") else tree[1:]
    if kind == "in":
        children = [tree[1], *tree[2]]
    if kind == "lambda":
        children = [tree[4]]
    for child in children:
        if isinstance(child, tuple) and child and isinstance(child[0], str):
            found = uses(child, operators)
            if found is not None:
                return found
    return None


def _first_path(tree: tuple) -> str | None:
    if tree[0] == "path":
        return "/".join(tree[1])
    if tree[0] == "lambda":
        return "/".join(tree[2])
    for child in tree[1:]:
        items = child if isinstance(child, list) else [child]
        for item in items:
            if isinstance(item, tuple) and item and isinstance(item[0], str):
                found = _first_path(item)
                if found is not None:
                    return found
    return None


def matches(tree: tuple, record: dict) -> bool:
    return bool(_eval(tree, record, {}))


def _resolve(steps: list[str], record: dict, scope: dict) -> Any:
    if "." in steps[0] and steps[0] not in scope:  # a type cast: microsoft.graph.x/prop, on records of it
        return _resolve(steps[1:], record, scope) if _is_of(record, steps[0]) and steps[1:] else None
    value: Any = scope[steps[0]] if steps[0] in scope else record.get(steps[0])
    for step in steps[1:]:
        value = value.get(step) if isinstance(value, dict) else None
    return value


def _is_of(record: Any, type_name: Any) -> bool:
    declared = record.get("@odata.type") if isinstance(record, dict) else None
    wanted = str(type_name).lstrip("#").casefold()
    return isinstance(declared, str) and declared.lstrip("#").casefold() == wanted


def _fold(v: Any) -> Any:
    return v.casefold() if isinstance(v, str) else v


def _compare(op: str, a: Any, b: Any) -> bool:
    a, b = _fold(a), _fold(b)
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if a is None or b is None:
        return False
    if isinstance(a, bool) or isinstance(b, bool) or (isinstance(a, str) != isinstance(b, str)):
        return False
    try:
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
    except TypeError:
        return False


def _eval(node: tuple, record: dict, scope: dict) -> Any:
    kind = node[0]
    if kind == "literal":
        return node[1]
    if kind == "path":
        return _resolve(node[1], record, scope)
    if kind == "and":
        return _eval(node[1], record, scope) is True and _eval(node[2], record, scope) is True
    if kind == "or":
        return _eval(node[1], record, scope) is True or _eval(node[2], record, scope) is True
    if kind == "not":
        return _eval(node[1], record, scope) is not True
    if kind == "truthy":
        return _eval(node[1], record, scope) is True
    if kind in COMPARISONS:
        return _compare(kind, _eval(node[1], record, scope), _eval(node[2], record, scope))
    if kind == "in":
        value = _fold(_eval(node[1], record, scope))
        return any(value == _fold(_eval(item, record, scope)) for item in node[2])
    if kind == "call":
        args = [_eval(a, record, scope) for a in node[2]]
        name = node[1]
        if name in ("tolower", "toupper"):
            if not isinstance(args[0], str):
                return None
            return args[0].lower() if name == "tolower" else args[0].upper()
        if name == "length":
            return len(args[0]) if isinstance(args[0], (str, list)) else None
        if name == "isof":  # isof('microsoft.graph.x'): the record is of that type
            return _is_of(record, args[0])
        a, b = (_fold(x) for x in args)
        if not isinstance(a, str) or not isinstance(b, str):
            return False
        return {"startswith": a.startswith, "endswith": a.endswith, "contains": lambda x: x in a}[name](b)
    if kind == "lambda":
        _, quantifier, steps, var, body = node
        items = _resolve(steps, record, scope)
        if not isinstance(items, list):
            return False
        results = (_eval(body, record, {**scope, var: item}) is True for item in items)
        return any(results) if quantifier == "any" else all(results)
    raise AssertionError(kind)


def _ordering(steps: list[str], record: dict) -> Any:
    return _sort_key(_resolve(steps, record, {}))


def order(
    records: list[dict], orderby: str, known: Callable[[str], bool | str | None] = lambda name: True
) -> list[dict]:
    """`$orderby=displayName desc,createdDateTime`: stable sorts, last key first; nulls sort first
    ascending, as Graph's do."""
    keys = []
    if orderby.count(",") >= MAX_TERMS:
        raise QueryError(f"The $orderby has more keys than tapeproxy sorts by ({MAX_TERMS}).")
    for part in orderby.split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise QueryError(f"Syntax error at position {len(orderby)} in '{orderby}'.")
        steps = words[0].split("/")
        named = known(steps[0])
        if not named:
            raise QueryError(f"Could not find a property named '{steps[0]}' on the type of this collection.")
        if isinstance(named, str):
            steps[0] = named
        keys.append((steps, len(words) == 2 and words[1].lower() == "desc"))
    out = list(records)
    for steps, descending in reversed(keys):  # stable sorts, last key first: several keys in order
        out.sort(key=functools.partial(_ordering, steps), reverse=descending)
    return out


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (0, 0, "")
    if isinstance(value, bool):
        return (1, int(value), "")
    if isinstance(value, (int, float)):
        return (1, value, "")
    return (2, 0, str(value).casefold())


def search(records: list[dict], text: str) -> list[dict]:
    """`$search="displayName:room"` (a property) or `$search="room"` (any text property): every
    clause must hold; clauses are joined by AND or by spaces."""
    text = text.strip()
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        raise QueryError("Syntax error: the $search value must be enclosed in double quotes.")
    clauses = [c for c in re.split(r'"\s*(?:AND\s*)?"|\s+AND\s+', text[1:-1]) if c.strip()]
    if len(clauses) > MAX_TERMS:
        raise QueryError(f"The $search has more clauses than tapeproxy reads ({MAX_TERMS}).")
    out = []
    for record in records:
        ok = True
        for clause in clauses:
            prop, sep, term = clause.partition(":")
            term = (term if sep else prop).strip().strip('"').casefold()
            values = [record.get(prop.strip())] if sep else [v for v in record.values() if isinstance(v, str)]
            if not any(isinstance(v, str) and term in v.casefold() for v in values):
                ok = False
                break
        if ok:
            out.append(record)
    return out
