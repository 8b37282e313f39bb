"""Templates in scenario responses: `{task}` (a path parameter), `{query.x}`, `{headers.x}`,
`{body.a.b}`, `{now}`, `{uuid}`, `{method}`, `{host}`, `{path}`; `{{` and `}}` are literal braces.

Compiled once at load, so a bad template is an error with a line before the proxy starts.
A JSON string that is exactly one placeholder takes the value's own type (`"{body.status}"` can be
an object).
"""

from __future__ import annotations

import datetime
import json
import re
import uuid
from typing import Any

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
ROOTS = ("query", "headers", "body")
BUILTINS = ("now", "uuid", "method", "host", "path")


class TemplateError(ValueError):
    pass


class Template:
    __slots__ = ("parts", "single")

    def __init__(self, text: str, params: frozenset[str]):
        self.parts: list[str | tuple[str, ...]] = []
        literal = []
        pos = 0
        for m in _TOKEN.finditer(text):
            literal.append(text[pos : m.start()])
            pos = m.end()
            token = m.group(0)
            if token in ("{{", "}}"):
                literal.append(token[0])
                continue
            if m.group(1) is None:
                raise TemplateError(f"unbalanced {token!r} in {text!r}; write {token * 2} for a literal brace")
            ref = tuple(m.group(1).strip().split("."))
            _check(ref, params, text)
            self.parts.append("".join(literal))
            literal = []
            self.parts.append(ref)
        literal.append(text[pos:])
        self.parts.append("".join(literal))
        # "{body.status}" alone: the value keeps its JSON type
        whole = len(self.parts) == 3 and self.parts[0] == "" and self.parts[2] == ""
        self.single = self.parts[1] if whole and isinstance(self.parts[1], tuple) else None

    def render(self, ctx: Context) -> Any:
        if self.single is not None:
            return ctx.value(self.single)
        return "".join(p if isinstance(p, str) else _text(ctx.value(p)) for p in self.parts)

    def render_text(self, ctx: Context) -> str:
        return _text(self.render(ctx))


def text(value: Template | str, ctx: Context) -> str:
    """A compiled string (compile_json leaves strings without placeholders as plain str) rendered."""
    return value if isinstance(value, str) else value.render_text(ctx)


def _check(ref: tuple[str, ...], params: frozenset[str], text: str) -> None:
    head = ref[0]
    if len(ref) == 1 and (head in params or head in BUILTINS):
        return
    if head in ROOTS and len(ref) >= 2 and all(ref[1:]):
        return
    known = sorted(params) + list(BUILTINS) + [f"{r}.NAME" for r in ROOTS]
    raise TemplateError(f"unknown placeholder {{{'.'.join(ref)}}} in {text!r}; known: " + ", ".join(known))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def compile_json(value: Any, params: frozenset[str]) -> Any:
    """A JSON value with every string compiled into a Template."""
    if isinstance(value, str):
        return Template(value, params) if "{" in value or "}" in value else value
    if isinstance(value, list):
        return [compile_json(v, params) for v in value]
    if isinstance(value, dict):
        return {k: compile_json(v, params) for k, v in value.items()}
    return value


def render_json(value: Any, ctx: Context) -> Any:
    if isinstance(value, Template):
        return value.render(ctx)
    if isinstance(value, list):
        return [render_json(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: render_json(v, ctx) for k, v in value.items()}
    return value


class Context:
    """What a template may read about one request."""

    def __init__(self, shape, params: dict[str, str]):
        self.shape = shape
        self.params = params

    def value(self, ref: tuple[str, ...]) -> Any:
        head = ref[0]
        if len(ref) == 1:
            if head in self.params:
                return self.params[head]
            if head == "now":
                return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            if head == "uuid":
                return str(uuid.uuid4())
            return {"method": self.shape.method, "host": self.shape.host, "path": self.shape.path}.get(head)
        if head == "query":
            return next((v for k, v in self.shape.query if k == ref[1]), None)
        if head == "headers":
            name = ref[1].lower()
            return next((v for k, v in self.shape.headers if k.lower() == name), None)
        node = self.shape.body.data() if self.shape.body.kind == "json" else None
        for step in ref[1:]:
            if isinstance(node, dict):
                node = node.get(step)
            elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
                node = node[int(step)]
            else:
                return None
        return node
