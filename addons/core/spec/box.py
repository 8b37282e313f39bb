"""Box from its OpenAPI: find the operation a request is for, check it as Box would, and answer it
with a body that validates against the operation's response schema.

Bodies are built from the spec's own examples where it has them, otherwise from the schema, the
same way for the same request (nothing random), so a demo is repeatable. The id of the object a
path names is the id in the path; a list's total_count is its number of entries; `fields` keeps
the mini representation plus the fields asked for, as Box does.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import jsonbody, numbers, profiles
from . import PIXEL_GIF, plausible

BASE_PATH = "/2.0"
MAX_DEPTH = 6  # nested objects deeper than this get their required properties only
MINI_FIELDS = ("type", "id", "etag")  # what `fields` always keeps
LONG_POLL_SECONDS = 30.0  # a Box event long-poll with nothing new is answered "reconnect" after this


@dataclass(slots=True)
class Answer:
    status: int
    body: Any = None  # JSON, or None for no body
    label: str = ""  # the operation, for the log: "GET /folders/{folder_id}"
    error: str = ""  # a named Box error (profiles.box.CATALOGUE) when the answer is one
    message: str = ""
    context: dict | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"  # of a body that is bytes
    hold: float = 0.0  # seconds to wait before answering (a long-poll with nothing to report)


@dataclass(slots=True)
class _Route:
    op: dict
    pattern: re.Pattern
    names: list[str]
    literal: int  # literal segments: /files/upload_sessions wins over /files/{file_id}


def _route(op: dict) -> _Route:
    names: list[str] = []
    parts = []
    for segment in op["path"].strip("/").split("/"):  # a parameter may be part of one: thumbnail.{extension}
        pieces = re.split(r"\{(\w+)\}", segment)
        names.extend(pieces[1::2])
        parts.append("".join(re.escape(p) if i % 2 == 0 else r"([^/]+?)" for i, p in enumerate(pieces)))
    return _Route(op, re.compile("/" + "/".join(parts)), names, sum("{" not in s for s in op["path"].split("/")))


class BoxSpec:
    def __init__(self, model: dict) -> None:
        self.schemas: dict[str, dict] = model["schemas"]
        routes = sorted((_route(op) for op in model["ops"]), key=lambda r: -r.literal)
        self.routes = routes
        self.version = model.get("spec_version", "")
        self._branches: dict[int, int] = {}  # id(oneOf list) -> the branch values are built from

    def find(
        self, method: str, path: str, version: str | None = None
    ) -> tuple[_Route | None, dict[str, str], list[str]]:
        """The route for this method and path (below /2.0), its path parameters, and the methods the
        path has (to tell a wrong method from an unknown path). `version`: the request's box-version
        header ("" for none), which the versioned endpoints need; None takes any (the world's own
        lookups of what it holds)."""
        methods: list[str] = []
        best: tuple[_Route | None, dict[str, str]] = (None, {})
        for route in self.routes:
            m = route.pattern.fullmatch(path)
            if not m or not _served(route.op.get("version", ""), version):
                continue
            if route.op["method"] not in methods:
                methods.append(route.op["method"])
            if best[0] is None and route.op["method"] == method:
                best = (route, dict(zip(route.names, m.groups(), strict=True)))
        return best[0], best[1], methods

    def refusal(
        self, method: str, path: str, query: list[tuple[str, str]], body: bytes, version: str = ""
    ) -> Answer | None:
        """Box's error for a request it would refuse (unknown path or method, a bad parameter or body),
        or None; nothing is generated (replay --validate)."""
        answer = self.answer(method, path, query, body, build=False, version=version)
        return answer if answer.error and answer.error != "too_large" else None  # tapeproxy's limit, not Box's

    def answer(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: bytes,
        build: bool = True,
        version: str = "",
    ) -> Answer:
        """Box's answer; `version`: the request's box-version header, which its versioned endpoints need."""
        if not path.startswith(BASE_PATH + "/"):
            return Answer(404, error="not_found", label=f"{method} {path}")
        route, params, methods = self.find(method, path[len(BASE_PATH) :], version)
        if route is None:
            needed, _, _ = self.find(method, path[len(BASE_PATH) :], None)
            if needed is not None:
                wanted = needed.op.get("version", "")
                return Answer(
                    404,
                    error="not_found",
                    label=f"{method} {path}",
                    message=f"Not Found: {needed.op['path']} is served under the header box-version: {wanted}",
                )
            if methods:
                return Answer(
                    405, error="method_not_allowed", label=f"{method} {path}", headers=[("Allow", ", ".join(methods))]
                )
            return Answer(404, error="not_found", label=f"{method} {path}")
        op = route.op
        label = f"{method} {op['path']}"
        problems = self.check_query(op, query)
        parsed = None
        if not problems:
            try:
                parsed, problems = self.check_body(op, body)
            except jsonbody.TooComplex as e:
                return Answer(413, error="too_large", label=label, message=f"tapeproxy: {e}")
        if problems:
            return Answer(400, error="bad_request", label=label, context={"errors": problems})
        # A few GETs say 201 in the spec (metadata instances); Box answers a GET with 200.
        status = 200 if method == "GET" and op["status"] == 201 else op["status"]
        return Answer(status, self.body(op, params, query, parsed) if build else None, label)

    # Box's other hosts: what the URLs in its answers lead to

    def satellite(self, method: str, host: str, path: str) -> Answer | None:
        """The answer of a Box host other than the API's, for the URLs Box's answers hand out (the
        spec's examples among them), so that following one never leaves the machine: the event
        stream's long-poll, a download or representation URL, an icon, a web link; None for the API
        and upload hosts (the simulation and `answer` have those)."""
        label = f"{method} {host}{path}"
        if host.endswith(".realtime.services.box.net"):
            # nothing ever changes here: the long-poll waits, then tells the client to reconnect
            return Answer(200, {"message": "reconnect"}, label, hold=LONG_POLL_SECONDS)
        if method not in ("GET", "HEAD"):
            return Answer(405, error="method_not_allowed", label=label)
        if host.endswith(".boxcloud.com") or path.startswith("/shared/static/"):
            return Answer(
                200, b"tapeproxy: Box content generated offline\n", label, content_type="application/octet-stream"
            )
        if host.endswith(".boxcdn.net"):
            return Answer(200, PIXEL_GIF, label, content_type="image/gif")
        page = f"<!doctype html><title>Box</title><p>tapeproxy: Box's web app is not simulated; this is {label}.</p>"
        return Answer(200, page.encode(), label, content_type="text/html; charset=utf-8")

    # checks

    def check_query(self, op: dict, query: list[tuple[str, str]]) -> list[dict]:
        given = dict(query)
        problems = []
        for name, p in op["query"].items():
            if name not in given:
                if p["required"]:
                    problems.append(_missing(name))
                continue
            schema = self.flat(p["schema"] or {})
            problem = _scalar_problem(name, given[name], schema, from_text=True)
            if problem:
                problems.append(problem)
        return problems

    def check_body(self, op: dict, body: bytes) -> tuple[Any, list[dict]]:
        spec = op["body"]
        if spec is None or spec["type"] != "application/json":
            return None, []
        if not body.strip():
            return None, ([_missing("body")] if spec["required"] else [])
        try:
            data = jsonbody.loads(body)  # TooComplex: the caller answers it
        except (ValueError, RecursionError):  # nested deeper than the JSON reader goes: not JSON we take
            return None, [{"reason": "invalid_parameter", "name": "body", "message": "Invalid JSON in the body"}]
        return data, self.check_value(data, spec["schema"] or {}, "")

    def check_value(self, value: Any, schema: dict, where: str) -> list[dict]:
        """Required properties, types and enums, as Box reports them: one error per field. A value
        of a oneOf/anyOf is valid when one of the branches takes it."""
        branches = self._branches_of(schema)
        if branches:
            tried = [self.check_value(value, branch, where) for branch in branches]
            return min(tried, key=len)  # [] when a branch takes it; else the closest branch's problems
        schema = self.flat(schema)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            if not isinstance(value, dict):
                return [_invalid(where or "body", value)]
            described = schema.get("properties", {})
            problems = [
                _missing(_join(where, name))
                for name in schema.get("required", ())
                # the spec requires a few properties it never describes (invites' actionable_by.id):
                # a contradiction in the spec is not enforced
                if name not in value and (name in described or not described)
            ]
            for name, sub in schema.get("properties", {}).items():
                if name in value and value[name] is not None:
                    problems.extend(self.check_value(value[name], sub, _join(where, name)))
            return problems
        if kind == "array":
            if not isinstance(value, list):
                return [_invalid(where, value)]
            return [p for item in value for p in self.check_value(item, schema.get("items") or {}, where)]
        problem = _scalar_problem(where, value, schema)
        return [problem] if problem else []

    # schemas

    def _branches_of(self, schema: dict) -> list[dict]:
        """A schema's oneOf/anyOf alternatives, each with the rest of the schema, or [] if it has none."""
        seen: set[str] = set()
        while "$ref" in schema and schema["$ref"] not in seen:
            seen.add(schema["$ref"])
            schema = self.schemas.get(schema["$ref"], {})
        for combiner in ("oneOf", "anyOf"):
            if schema.get(combiner):
                rest = {k: v for k, v in schema.items() if k != combiner}
                return [{"allOf": [rest, branch]} if rest else branch for branch in schema[combiner]]
        parts = schema.get("allOf") or []
        for i, part in enumerate(parts):  # a oneOf inside an allOf (Box's ai_agent: allOf [AiAskAgent])
            inner = self._branches_of(part)
            if inner:
                rest = {k: v for k, v in schema.items() if k != "allOf"}
                return [{**rest, "allOf": [*parts[:i], branch, *parts[i + 1 :]]} for branch in inner]
        return []

    def flat(self, schema: dict, seen: frozenset = frozenset()) -> dict:
        """A schema with its $ref followed and its allOf merged into one (oneOf/anyOf: the first)."""
        if "$ref" in schema:
            name = schema["$ref"]
            if name in seen:
                return {"type": "object"}
            return self.flat(self.schemas.get(name, {}), seen | {name})
        if not any(k in schema for k in ("allOf", "oneOf", "anyOf")):
            return schema
        out = {k: v for k, v in schema.items() if k not in ("allOf", "oneOf", "anyOf")}
        parts = list(schema.get("allOf", ()))
        for combiner in ("oneOf", "anyOf"):
            if schema.get(combiner):
                parts.append(schema[combiner][self._branch(schema[combiner])])
        for part in parts:
            part = self.flat(part, seen)
            for k, v in part.items():
                if k == "properties":
                    out["properties"] = {**out.get("properties", {}), **v}
                elif k == "required":
                    out["required"] = sorted({*out.get("required", ()), *v})
                elif k not in out or k in ("type",):
                    out[k] = v
        return out

    def _branch(self, branches: list) -> int:
        """Which of oneOf's schemas to build a value from: the first whose value no other branch also
        accepts (oneOf means exactly one; Box's event source lists User and a catch-all)."""
        key = id(branches)
        if key not in self._branches:
            self._branches[key] = 0  # while deciding: nested uses take the first
            for i, branch in enumerate(branches):
                candidate = self.value(branch, "", MAX_DEPTH - 1, "0")
                if sum(not self.check_value(candidate, other, "") for other in branches) == 1:
                    self._branches[key] = i
                    break
        return self._branches[key]

    # answers

    def body(self, op: dict, params: dict[str, str], query: list[tuple[str, str]], sent: Any) -> Any:
        if op["response"] is None or op["response_type"] != "application/json":
            return None
        seed = hashlib.sha256(f"{op['method']} {op['path']} {sorted(params.items())}".encode()).hexdigest()[:8]
        out = self.value(op["response"], "", 0, seed)
        if isinstance(out, dict):
            if params and "id" in out and op["method"] != "POST":  # the object a path names has the id in the path
                out["id"] = list(params.values())[-1]
            elif op["status"] == 201 and isinstance(out.get("id"), str):
                # a new object: its id follows from what was sent (two folders made are two ids)
                made = json.dumps([sorted(params.items()), sent], sort_keys=True).encode()
                out["id"] = str(int(hashlib.sha256(made).hexdigest()[:12], 16) % 10**11)
            if isinstance(sent, dict):  # what was sent shows in what comes back, where the answer's schema allows
                props = self.flat(op["response"]).get("properties", {})
                for k, v in sent.items():
                    if k in out and k in props:
                        merged = _merged(out[k], v)
                        if not self.check_value(merged, props[k], k):
                            out[k] = merged
            if isinstance(out.get("entries"), list):
                self._one_page(out, op, dict(query))
            wanted = [f for v in (v for k, v in query if k == "fields") for f in v.split(",") if f]
            if wanted:
                out = {k: v for k, v in out.items() if k in MINI_FIELDS or k in wanted}
        return out

    def _one_page(self, out: dict, op: dict, args: dict[str, str]) -> None:
        """A list is one page, and says so, so a client's paging loop ends: total_count is its number
        of entries, offset and limit are the ones asked for, a later page (offset, marker) is empty,
        and no next_marker leads on."""
        props = self.flat(op["response"]).get("properties", {})
        if "total_count" in out:
            out["total_count"] = len(out["entries"])
        offset = numbers.count(args.get("offset")) or 0
        if "offset" in out:
            out["offset"] = offset
        limit = numbers.count(args.get("limit"))
        if "limit" in out and limit is not None:
            # "If the value exceeds the maximum, then the maximum value will be used" (Box's paging guides)
            maximum = self.flat((op["query"].get("limit") or {}).get("schema") or {}).get("maximum")
            out["limit"] = min(limit, maximum) if isinstance(maximum, int) else limit
        if offset or args.get("marker"):
            out["entries"] = []
        for marker in ("next_marker", "prev_marker"):
            if marker in out and self.flat(props.get(marker, {})).get("nullable"):
                out[marker] = None

    def value(self, schema: dict, name: str, depth: int, seed: str) -> Any:
        schema = self.flat(schema)
        kind = schema.get("type") or ("object" if "properties" in schema else None)
        example = schema.get("example")
        if "enum" in schema and schema["enum"]:
            return example if example in schema["enum"] else schema["enum"][0]
        if kind == "object":
            props = schema.get("properties", {})
            if not props and isinstance(example, dict):
                return example
            keep = props if depth < MAX_DEPTH else {k: props[k] for k in schema.get("required", ()) if k in props}
            out = {k: self.value(v, k, depth + 1, seed) for k, v in keep.items()}
            for k in schema.get("required", ()):  # the spec requires a few properties it never describes
                out.setdefault(k, _default(None, None, k, seed, {}))
            return out
        if kind == "array":
            items = self.flat(schema.get("items") or {})
            if isinstance(example, list) and example and items.get("type") not in ("object", None):
                return example
            return [self.value(items, name, depth + 1, seed)] if depth < MAX_DEPTH + 2 else []
        if example is not None and _fits(example, kind):
            return _own_url(example, name, seed)
        return _default(kind, schema.get("format"), name, seed, schema)


def _own_url(example: Any, name: str, seed: str) -> Any:
    """An example URL on a host not Box's (example.com, a sign request's redirect page) becomes one
    on app.box.com: every URL an answer hands out leads to a host tapeproxy answers."""
    if isinstance(example, str) and example.startswith(("http://", "https://")):
        host = urlsplit(example).hostname or ""
        if not profiles.api_host(host):
            return _default("string", "uri", name, seed, {})
    return example


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _missing(name: str) -> dict:
    return {"reason": "missing_parameter", "name": name, "message": f"'{name}' is required"}


def _invalid(name: str, value: Any) -> dict:
    shown = value if isinstance(value, str) else json.dumps(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return {"reason": "invalid_parameter", "name": name, "message": f"Invalid value '{shown}'. '{name}' is invalid"}


def _scalar_problem(name: str, value: Any, schema: dict, from_text: bool = False) -> dict | None:
    kind = schema.get("type")
    if from_text and isinstance(value, str):
        if kind == "integer":
            number = numbers.integer(value)
            if number is None:
                return _invalid(name, value)
            value = number
        elif kind == "number":
            try:
                value = float(value)
            except ValueError:
                return _invalid(name, value)
        elif kind == "boolean":  # box-sdk-gen sends Python's True/False, and Box takes them
            if value.lower() not in ("true", "false"):
                return _invalid(name, value)
            value = value.lower() == "true"
        elif kind == "array":
            return None  # comma-separated, e.g. fields
    if not _fits(value, kind):
        return _invalid(name, value)
    if schema.get("enum") and value not in schema["enum"]:
        return _invalid(name, value)
    return None


def _fits(value: Any, kind: str | None) -> bool:
    if kind is None:
        return True
    return {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
    }.get(kind, lambda v: True)(value)


def _served(needs: str, asked: str | None) -> bool:
    """Is an endpoint of version `needs` ("" for the unversioned API) served to a request that asked
    for `asked` (its box-version header; None: any)? A version serves what came before it."""
    if not needs or asked is None:
        return True
    try:
        return float(asked) >= float(needs)
    except ValueError:
        return False


def _merged(generated: Any, sent: Any) -> Any:
    """What was sent over what was generated, object by object (a parent sent as {id} keeps its type)."""
    if isinstance(generated, dict) and isinstance(sent, dict):
        return {**generated, **{k: _merged(generated.get(k), v) for k, v in sent.items()}}
    return sent


def _default(kind: str | None, fmt: str | None, name: str, seed: str, schema: dict) -> Any:
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if fmt == "date-time":
        return plausible.moment(name, seed).strftime("%Y-%m-%dT%H:%M:%S-00:00")
    if fmt == "date":
        return plausible.moment(name, seed).date().isoformat()
    if fmt == "email":
        return plausible.string("email", seed)
    if fmt in ("uri", "url") or name.lower().endswith(("url", "uri", "link")):
        return f"https://app.box.com/{name or 'item'}/{seed}"  # a host tapeproxy answers, as Box's links are
    return plausible.string(name or "name", seed)
