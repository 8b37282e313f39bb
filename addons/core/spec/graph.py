"""Microsoft Graph v1.0 from its CSDL: walk a request's path through entity sets, singletons, keys,
navigation properties, casts and bound operations, check it as Graph would, and answer it.

Entities are built from their type (base types included), the same way for the same request; the
key in the path is the entity's id. Collections page: `$top` items at a time (100 by default) out
of three, with `@odata.nextLink` to the next page; `$select` keeps the properties asked for; every
JSON answer has `@odata.context`. Errors are Graph's: an unknown segment is 400 BadRequest
"Resource not found for the segment 'x'."; an unknown property in a body is Graph's 400 naming it
(directory objects say it their own way).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from .. import jsonbody, numbers
from ..profiles import graph as graph_profile
from . import PIXEL_GIF, plausible

ROOT = "https://graph.microsoft.com/v1.0"
COLLECTION_SIZE = 3  # entities in any collection
PAGE = 100  # Graph's usual page size when $top is not given
MAX_DEPTH = 2  # complex values nested deeper are left out
DIRECTORY_OBJECT = "microsoft.graph.directoryObject"
QUERY_OPTIONS = frozenset(
    "$select $expand $filter $orderby $top $skip $count $search $format $skiptoken $deltatoken $levels $id".split()
)
NOT_SUPPORTED = "The OData request is not supported."


@dataclass(slots=True)
class Answer:
    status: int
    body: Any = None  # JSON, bytes, or None for no body
    label: str = ""
    code: str = ""  # Graph's error code when the answer is an error
    message: str = ""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class At:
    """Where a path has led: a collection or one entity of a type, a property's value, an operation."""

    kind: str  # collection, entity, value, raw, complex, count, stream, ref, operation
    type: str
    context: str  # for @odata.context, e.g. users('1')/messages
    pattern: str  # for the log, e.g. users/{id}/messages
    key: str = ""
    operation: dict | None = None
    navigated: bool = False  # reached through a navigation property (what $ref may follow)
    segments: tuple[str, ...] = ()  # the path walked, each name in the model's casing (resolve)

    @property
    def keyed(self) -> str:
        """The context of what follows this entity: users('1')."""
        return f"{self.context}('{self.key}')" if self.key else self.context


class _NotFound(Exception):
    def __init__(self, segment: str) -> None:
        self.segment = segment


class GraphSpec:
    def __init__(self, model: dict) -> None:
        self.types: dict[str, dict] = model["types"]
        self.enums: dict[str, dict] = model["enums"]
        self.bound: dict[str, dict] = model["bound"]
        self.sets: dict[str, str] = model["entity_sets"]
        self.singletons: dict[str, str] = model["singletons"]
        self.read_only: dict[str, list[str]] = model.get("read_only", {})
        self._lineage: dict[str, list[str]] = {}  # of model types only: bounded by the model
        self._props: dict[str, dict[str, list]] = {}
        self._navs: dict[str, dict[str, list]] = {}
        self._folded: dict[object, dict[str, str]] = {}  # casefolded name -> the model's, per lookup
        self._canonical: dict[str, str] = {}  # path -> its canonical form (bounded)

    # the type graph

    def lineage(self, name: str) -> list[str]:
        """The type and its base types, most derived first."""
        if name not in self._lineage:
            out: list[str] = []
            t: str | None = name
            while t and t in self.types and t not in out:
                out.append(t)
                t = self.types[t].get("base")
            self._lineage[name] = out
        return self._lineage[name]

    def props(self, name: str) -> dict[str, list]:
        """Structural properties, base types' included (kept: every entity built asks again)."""
        if name not in self._props:
            self._props[name] = {k: v for t in reversed(self.lineage(name)) for k, v in self.types[t]["props"].items()}
        return self._props[name]

    def navs(self, name: str) -> dict[str, list]:
        if name not in self._navs:
            self._navs[name] = {k: v for t in reversed(self.lineage(name)) for k, v in self.types[t]["nav"].items()}
        return self._navs[name]

    def is_open(self, name: str) -> bool:
        return any(self.types[t].get("open") for t in self.lineage(name))

    def has_stream(self, name: str) -> bool:
        """A media entity (the CSDL's HasStream, or one Graph documents a `$value` of): `$value` is its content."""
        return any(self.types[t].get("stream") or t in graph_profile.VALUE_TYPES for t in self.lineage(name))

    def derives(self, name: str, base: str) -> bool:
        return base in self.lineage(name)

    def creates(self, binding: str, op: dict) -> bool:
        """Does this action make or move an entity, answered 201 (a message's move, copy, createReply)?"""
        short = op.get("name", "").rsplit(".", 1)[-1]
        return any(short in graph_profile.CREATED_BY_ACTIONS.get(t, ()) for t in self.lineage(binding))

    def updated_without_content(self, name: str) -> bool:
        """Does Graph answer a PATCH of this type 204 (the directory's way), not 200 with the entity?"""
        return any(self.derives(name, base) for base in graph_profile.UPDATED_WITHOUT_CONTENT)

    def operation(self, name: str, binding: str, collection: bool) -> dict | None:
        for t in self.lineage(binding):
            ops = self.bound.get(f"Collection({t})" if collection else t, {})
            for qualified, op in ops.items():
                if name.casefold() in (qualified.casefold(), qualified.rsplit(".", 1)[-1].casefold()):
                    return {**op, "name": qualified}
        return None

    # paths

    def resolve(self, segments: list[str]) -> At:
        """Where the (unquoted) segments lead. Graph reads resource, property, type and operation
        names in any casing: each is taken in the model's (At.segments), keys as they are."""
        first, key = _split_key(segments[0])
        first = self._name(first, "sets") or self._name(first, "singletons") or first
        if first in self.sets:
            at = At("collection", self.sets[first], first, first)
        elif first in self.singletons:
            t = self.singletons[first]
            at = At("entity", t, first, first)
            if first == "me":  # Graph describes /me as a user of the users set
                at = At("entity", t, "users", "me")
        else:
            raise _NotFound(segments[0])
        if key is not None:
            if at.kind != "collection":
                raise _NotFound(segments[0])
            at = At("entity", at.type, at.context, f"{at.pattern}/{{id}}", key=_key(key))
        walked = [first + segments[0][len(first) :]]
        for segment in segments[1:]:
            segment = self._canonical_segment(at, segment)
            walked.append(segment)
            at = self._step(at, segment)
        at.segments = tuple(walked)
        return at

    def canonical(self, path: str) -> str:
        """The path with every name in it in the model's casing (`/v1.0/Me/checklistitems` ->
        `/v1.0/me/checklistItems`); keys, and a path that leads nowhere, as they are."""
        if path in self._canonical:
            return self._canonical[path]
        parts = path.split("/")
        out = path
        if len(parts) > 2 and parts[2]:
            raw = [p for p in parts[2:] if p != ""]
            try:
                walked = self.resolve([unquote(p) for p in raw])
            except _NotFound:
                walked = None
            if walked is not None:
                pairs = zip(raw, walked.segments, strict=True)
                named = [r if w == unquote(r) else quote(w, safe="()'=,:@$") for r, w in pairs]
                out = "/".join([*parts[:2], *named])
                out += "/" if path.endswith("/") else ""
        if len(self._canonical) > 4096:
            self._canonical.clear()
        self._canonical[path] = out
        return out

    @staticmethod
    def canonical_query(query: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """System query options in any casing (`$Top`, `$FILTER`) under their own names."""
        return [(k.lower() if k.lower() in QUERY_OPTIONS else k, v) for k, v in query]

    def _name(self, name: str, among: str, type_name: str = "") -> str | None:
        """The model's name that `name` is in another casing, among the entity sets, singletons,
        types, or a type's properties and navigations; None when there is none."""
        key = (among, type_name)
        if key not in self._folded:
            names: dict[str, Any]
            if among == "members":
                names = {**self.props(type_name), **self.navs(type_name)}
            elif among == "types":
                names = self.types
            else:
                names = self.sets if among == "sets" else self.singletons
            self._folded[key] = {n.casefold(): n for n in names}
        return self._folded[key].get(name.casefold())

    def _canonical_segment(self, at: At, segment: str) -> str:
        """The segment with its name in the model's casing where it names something at `at`."""
        name, _args = _split_key(segment)
        if name.casefold() in ("$count", "$ref", "$value"):
            return name.lower() + segment[len(name) :]
        canon = None
        if at.kind in ("entity", "complex"):
            canon = self._name(name, "members", at.type)
        if canon is None and name.casefold().startswith("microsoft.graph."):
            canon = self._name(name, "types")
        if canon is None and at.kind in ("entity", "collection"):
            op = self.operation(name, at.type, collection=at.kind == "collection")
            if op is not None:
                short = op["name"].rsplit(".", 1)[-1]
                canon = op["name"] if "." in name else short
        return segment if canon is None else canon + segment[len(name) :]

    def _step(self, at: At, segment: str) -> At:
        name, _args = _split_key(segment)
        if at.kind == "operation":
            returns = (at.operation or {}).get("returns") or ""
            inner = _element(returns)
            if not returns or inner not in self.types:
                raise _NotFound(segment)
            kind = "collection" if returns.startswith("Collection(") else "entity"
            at = At(kind, inner, at.context, at.pattern)
        if at.kind == "collection":
            if segment == "$count":
                return At("count", at.type, at.context, f"{at.pattern}/$count")
            if segment == "$ref":  # references are of navigation properties only, never of an entity set
                if not at.navigated:
                    raise _NotFound(segment)
                return At("ref", at.type, at.context, f"{at.pattern}/$ref")
            if name in self.types and self.derives(name, at.type):
                return At("collection", name, f"{at.context}/{name}", f"{at.pattern}/{name}", navigated=at.navigated)
            op = self.operation(name, at.type, collection=True)
            if op is not None:
                return At("operation", at.type, op["name"], f"{at.pattern}/{name}", operation=op)
            # anything else is a key, as OData reads it
            return At("entity", at.type, at.context, f"{at.pattern}/{{id}}", key=segment, navigated=at.navigated)
        if at.kind == "value" and segment == "$value":  # a property's raw value
            if at.type == "Edm.Stream":
                return At("stream", at.type, at.context, f"{at.pattern}/$value")
            if at.type.startswith("Collection("):
                raise _NotFound(segment)
            return At("raw", at.type, at.context, f"{at.pattern}/$value")
        if at.kind in ("entity", "complex"):
            if segment == "$value":  # a media entity's content (a photo, a message's MIME); else no such segment
                if at.kind != "entity" or not self.has_stream(at.type):
                    raise _NotFound(segment)
                return At("stream", at.type, at.context, f"{at.pattern}/$value")
            if segment == "$ref" and at.kind == "entity" and at.navigated:
                return At("ref", at.type, at.keyed, f"{at.pattern}/$ref")
            nav = self.navs(at.type).get(name)
            if nav is not None:
                target = nav[0]
                context, pattern = f"{at.keyed}/{name}", f"{at.pattern}/{name}"
                if not target.startswith("Collection("):
                    return At("entity", _element(target), context, pattern, navigated=True)
                if _args is not None:  # messages('AAMk'): a key after the navigation, in parentheses
                    return At("entity", _element(target), context, f"{pattern}/{{id}}", key=_key(_args), navigated=True)
                return At("collection", _element(target), context, pattern, navigated=True)
            prop = self.props(at.type).get(name)
            if prop is not None and prop[0] == "Edm.Stream" and at.kind == "entity":
                # a stream property (a OneNote page's content): bytes, read and written as such
                return At("stream", at.type, f"{at.keyed}/{name}", f"{at.pattern}/{name}", key=at.key)
            if prop is not None:
                inner = _element(prop[0])
                kind = "complex" if inner in self.types and not prop[0].startswith("Collection(") else "value"
                return At(kind, prop[0] if kind == "value" else inner, f"{at.keyed}/{name}", f"{at.pattern}/{name}")
            if name in self.types and self.derives(name, at.type):
                return At(
                    at.kind, name, f"{at.context}/{name}", f"{at.pattern}/{name}", key=at.key, navigated=at.navigated
                )
            op = self.operation(name, at.type, collection=False)
            if op is not None:
                return At("operation", at.type, op["name"], f"{at.pattern}/{name}", key=at.key, operation=op)
        raise _NotFound(segment)

    # answers

    def refusal(self, method: str, path: str, query: list[tuple[str, str]], body: bytes, headers=()) -> Answer | None:
        """Graph's error for a request it would refuse, or None (replay --validate). A body too big
        to read is not checked: tapeproxy's limit is not the API's refusal."""
        answer = self.answer(method, path, query, body, headers)
        return answer if answer.code and answer.status != 413 else None

    def locate(self, method: str, path: str, query: list[tuple[str, str]], headers=()) -> tuple[At | None, Answer]:
        """Where a request's path leads, with the refusal Graph would give its path or query
        options (an Answer with a code), or (None, the service document's answer) for /v1.0/."""
        segments = [unquote(s) for s in path.split("/")[2:] if s != ""]
        query = self.canonical_query(query)
        label = f"{method} {path}"
        if not segments:
            return None, Answer(200, {"@odata.context": f"{ROOT}/$metadata", "value": []}, label)
        try:
            at = self.resolve(segments)
        except _NotFound as e:
            return None, _error(400, "BadRequest", f"Resource not found for the segment '{e.segment}'.", label)
        label = f"{method} /v1.0/{at.pattern}"
        problem = self._check_query(at, query)
        if problem:
            return at, _error(400, "BadRequest", problem, label)
        if at.kind == "count" and self.derives(at.type, DIRECTORY_OBJECT) and not graph_profile.eventual(headers):
            # directory objects count only with advanced queries (Graph's "Advanced query capabilities")
            return at, _error(400, "Request_BadRequest", "$count is not currently supported.", label)
        return at, Answer(200, None, label)

    def answer(self, method: str, path: str, query: list[tuple[str, str]], body: bytes, headers=()) -> Answer:
        query = self.canonical_query(query)
        at, located = self.locate(method, path, query, headers)
        if at is None or located.code:
            return located
        label = located.label
        # The same entity is the same whichever way it is asked for (/me, /me?$select=..., PATCH /me).
        seed = hashlib.sha256(f"{at.keyed}|{at.type}".encode()).hexdigest()
        select = [s for v in (v for k, v in query if k == "$select") for s in v.split(",") if s]
        if at.kind == "operation":
            return self._operation(method, at, path, seed, label)
        if method == "GET":
            return self._get(at, path, query, select, seed, label)
        if method == "POST" and at.kind == "collection":
            data, bad = self.check_body(at.type, body)
            if bad:
                return bad
            # what is created differs with what is sent (two users posted are two ids), the same each time
            seed = hashlib.sha256(f"{seed}|{hashlib.sha256(body).hexdigest()}".encode()).hexdigest()
            made = {**self.entity(at.type, "", seed), **(data or {})}
            if at.type in graph_profile.CREATED_LATER and "id" in made:
                return Answer(202, None, label, headers=later(at.context, made["id"], seed))
            made = {"@odata.context": f"{ROOT}/$metadata#{at.context}/$entity", **made}
            location = [("Location", f"{ROOT}/{path.split('/', 2)[2]}/{made['id']}")] if "id" in made else []
            return Answer(201, made, label, headers=location)
        if method in ("PATCH", "PUT") and at.kind == "stream":
            return Answer(204, None, label)  # content written (a OneNote page's PATCH .../content)
        if method in ("PATCH", "PUT") and at.kind in ("entity", "complex"):
            data, bad = self.check_body(at.type, body)
            if bad:
                return bad
            if self.updated_without_content(at.type) or at.kind == "complex":
                return Answer(204, None, label)
            updated = {"@odata.context": f"{ROOT}/$metadata#{at.context}/$entity", **self.entity(at.type, at.key, seed)}
            return Answer(200, {**updated, **(data or {})}, label)
        if method == "DELETE" and at.kind in ("entity", "ref"):
            return Answer(204, None, label)
        if method in ("POST", "DELETE") and at.kind == "ref":
            return Answer(204, None, label)
        return _error(405, "ErrorInvalidRequest", NOT_SUPPORTED, label)

    def _get(self, at: At, path: str, query, select: list[str], seed: str, label: str) -> Answer:
        context = f"{ROOT}/$metadata#{at.context}"
        if select:
            context = f"{ROOT}/$metadata#{at.context}({','.join(select)})"
        if at.kind == "entity":
            return Answer(
                200,
                {"@odata.context": f"{context}/$entity", **self._select(self.entity(at.type, at.key, seed), select)},
                label,
            )
        if at.kind == "collection":
            args = dict(query)
            top = numbers.count(args.get("$top")) or PAGE  # _check_query took only counts of 1 or more
            start = numbers.count(args.get("$skiptoken", "0")) or 0
            ids = range(start, min(start + top, COLLECTION_SIZE))
            page: dict[str, Any] = {
                "@odata.context": context,
                "value": [self._select(self.entity(at.type, "", f"{seed}{i}"), select) for i in ids],
            }
            if "$count" in args and args["$count"].lower() == "true":
                page = {"@odata.context": context, "@odata.count": COLLECTION_SIZE, "value": page["value"]}
            if start + top < COLLECTION_SIZE:
                rest = [(k, v) for k, v in query if k != "$skiptoken"] + [("$skiptoken", str(start + top))]
                page["@odata.nextLink"] = f"{ROOT}/{path.split('/', 2)[2]}?" + "&".join(
                    f"{k}={quote(v, safe=',$')}" for k, v in rest
                )
            return Answer(200, page, label)
        if at.kind == "count":
            return Answer(200, str(COLLECTION_SIZE).encode(), label, content_type="text/plain")
        if at.kind == "complex":
            return Answer(200, {"@odata.context": context, **self.complex(at.type, seed, 0)}, label)
        if at.kind == "value":
            return Answer(200, {"@odata.context": context, "value": self.value(at.type, at.context, seed, 0)}, label)
        if at.kind == "stream":
            return self._stream(at, seed, label)
        if at.kind == "raw":  # a primitive property's $value: the value as text
            raw = self.value(at.type, at.context.rsplit("/", 1)[-1], seed, 0)
            text = json.dumps(raw) if isinstance(raw, bool) else str(raw)
            return Answer(200, text.encode(), label, content_type="text/plain")
        if at.kind == "ref":
            return Answer(200, {"@odata.context": f"{ROOT}/$metadata#$ref", "@odata.id": f"{ROOT}/{at.context}"}, label)
        return _error(405, "ErrorInvalidRequest", NOT_SUPPORTED, label)

    def _operation(self, method: str, at: At, path: str, seed: str, label: str) -> Answer:
        op = at.operation or {}
        wanted = "GET" if op.get("kind") == "function" else "POST"
        if method != wanted:
            return _error(405, "ErrorInvalidRequest", NOT_SUPPORTED, label)
        returns = op.get("returns")
        if op.get("name", "").rsplit(".", 1)[-1] in graph_profile.ACCEPTED_ACTIONS.get(at.type, ()):
            return Answer(202, None, label)  # queued: sendMail, an event's accept... (Graph's docs)
        if not returns:
            return Answer(204, None, label)
        if returns == "Edm.Stream":
            return self._stream_operation(at, op, seed, label)
        inner = _element(returns)
        context = f"{ROOT}/$metadata#{returns if not returns.startswith('Collection(') else f'Collection({inner})'}"
        if returns.startswith("Collection("):
            entities = inner in self.types and self.types[inner]["kind"] == "entity"
            value = [
                self.entity(inner, "", f"{seed}{i}") if entities else self.value(inner, "value", f"{seed}{i}", 0)
                for i in range(COLLECTION_SIZE)
            ]
            page: dict[str, Any] = {"@odata.context": context, "value": value}
            if op.get("name", "").endswith(".delta"):  # a delta round ends with the link to the next round
                page["@odata.deltaLink"] = f"{ROOT}/{path.split('/', 2)[2]}?$deltatoken={seed[:16]}"
            return Answer(200, page, label)
        if inner in self.types:
            made = (
                self.entity(inner, "", seed) if self.types[inner]["kind"] == "entity" else self.complex(inner, seed, 0)
            )
            return Answer(201 if self.creates(at.type, op) else 200, {"@odata.context": context, **made}, label)
        return Answer(200, {"@odata.context": context, "value": self.value(inner, "value", seed, 0)}, label)

    def _stream(self, at: At, seed: str, label: str) -> Answer:
        """A media entity's content or a stream property's: bytes, typed as Graph types them."""
        if self.derives(at.type, "microsoft.graph.profilePhoto"):
            return Answer(200, PIXEL_GIF, label, content_type="image/gif")
        if self.derives(at.type, "microsoft.graph.onenotePage"):
            title, text = plausible.string("title", seed), plausible.string("content", seed)
            page = f"<html><head><title>{title}</title></head><body><p>{text}</p></body></html>"
            return Answer(200, page.encode(), label, content_type="text/html")
        if self.derives(at.type, "microsoft.graph.message"):
            subject, text = plausible.string("subject", seed), plausible.string("content", seed)
            mime = f"Subject: {subject}\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
            return Answer(200, mime.encode(), label, content_type="text/plain")
        text = f"{plausible.string('title', seed)}\n{plausible.string('content', seed)}\n"
        return Answer(200, text.encode(), label, content_type="application/octet-stream")

    def _stream_operation(self, at: At, op: dict, seed: str, label: str) -> Answer:
        """A function returning a stream. Usage reports answer as Graph does: 302 to a CSV on a
        pre-authenticated download URL (graph_profile.REPORTS_HOST, answered by `report`)."""
        name = op.get("name", "").rsplit(".", 1)[-1]
        if at.type in graph_profile.REPORT_ROOTS:
            location = f"https://{graph_profile.REPORTS_HOST}/data/download/{name}/{seed[:24]}"
            return Answer(302, None, label, headers=[("Location", location)])
        return self._stream(at, seed, label)

    def report(self, path: str) -> Answer:
        """A usage report's CSV, on the download host a report function's 302 points at."""
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["data", "download"]:
            return _error(404, "itemNotFound", "The report download URL is not valid or has expired.", path)
        header = graph_profile.REPORT_COLUMNS.get(parts[2], graph_profile.REPORT_COLUMNS[""])
        row = ["2026-01-15" if "Date" in column else "7" if column == "Report Period" else "1" for column in header]
        csv = ",".join(header) + "\r\n" + ",".join(row) + "\r\n"
        return Answer(
            200, b"\xef\xbb\xbf" + csv.encode(), f"GET report {parts[2]}", content_type="application/octet-stream"
        )

    @staticmethod
    def _select(entity: dict, select: list[str]) -> dict:
        return {k: v for k, v in entity.items() if k in select} if select and "*" not in select else entity

    # checks

    def _check_query(self, at: At, query: list[tuple[str, str]]) -> str:
        for k, v in query:
            if k.startswith("$") and k not in QUERY_OPTIONS:
                return f"The query parameter '{k}' is not supported."
            if k in ("$top", "$skip") and numbers.count(v) is None:
                shown = v if len(v) <= 40 else v[:40] + "..."
                return f"Invalid value '{shown}' for {k} query option found. {k} requires a non-negative integer value."
            if k == "$top" and v.strip("0") == "":
                return "Invalid value '0' for $top query option found. The minimum value of $top is 1."
            if k == "$skiptoken" and at.kind == "collection" and numbers.count(v) is None:
                return f"The $skiptoken '{v[:40]}' is not one this service handed out."
            if k == "$select" and at.kind in ("entity", "collection") and at.type != DIRECTORY_OBJECT:
                known = {**self.props(at.type), **self.navs(at.type)}
                for name in v.split(","):
                    name = name.strip()
                    if name and name != "*" and name not in known and "." not in name:
                        return f"Could not find a property named '{name}' on type '{at.type}'."
        return ""

    def check_body(self, type_name: str, body: bytes) -> tuple[dict | None, Answer | None]:
        if not body.strip():
            return None, None
        try:
            data = jsonbody.loads(body)
        except jsonbody.TooComplex as e:
            return None, _error(413, "RequestEntityTooLarge", f"tapeproxy: {e}", "")
        except (ValueError, RecursionError):  # nested deeper than the JSON reader goes: not JSON we take
            return None, _error(
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
                "valid JSON format.",
                "",
            )
        if not isinstance(data, dict):
            return None, _error(400, "BadRequest", "Unable to read JSON request payload.", "")
        problem = self.check_object(self.declared(data, type_name), data)
        if problem:
            code, message = problem
            return None, _error(400, code, message, "")
        return data, None

    def type_named(self, name: str) -> str | None:
        """The model's type that `name` is in another casing (`Microsoft.Graph.User`), or None."""
        return self._name(name, "types")

    def declared(self, data: dict, type_name: str) -> str:
        """The type a value says it is with `@odata.type` (`#microsoft.graph.basicAuthentication`,
        any casing, the namespace left out as Microsoft's examples do), where that derives from the
        type expected; else the type expected."""
        named = data.get("@odata.type")
        if isinstance(named, str):
            named = named.lstrip("#")
            if "." not in named:  # Microsoft's examples write the bare name: the service takes it
                named = f"microsoft.graph.{named}"
            derived = self.type_named(named)
            if derived is not None and self.derives(derived, type_name):
                return derived
        return type_name

    def check_object(self, type_name: str, data: dict, writing: bool = True) -> tuple[str, str] | None:
        """Graph's refusal of an object of this type, or None; `writing=False` (a world file's
        seed) takes the properties only Graph sets (ids, dates)."""
        props, navs = self.props(type_name), self.navs(type_name)
        directory = self.derives(type_name, DIRECTORY_OBJECT)
        for name, value in data.items():
            if "@" in name:  # annotations: @odata.type, manager@odata.bind, ...
                continue
            if name in navs:
                continue
            if name not in props:
                if directory:
                    return "Request_BadRequest", f"Invalid property '{name}'."
                if not self.is_open(type_name):
                    return (
                        "BadRequest",
                        f"The property '{name}' does not exist on type '{type_name}'. Make sure to only use "
                        "property names that are defined by the type or mark the type as open type.",
                    )
                continue
            if writing and any(name in self.read_only.get(t, ()) for t in self.lineage(type_name)):
                return ("Request_BadRequest" if directory else "BadRequest"), (
                    f"Property '{name}' is read-only and cannot be set."
                )
            problem = self.check_value(props[name][0], value, props[name][1])
            if problem:
                return "BadRequest", problem
            data[name] = self._enum_cased(props[name][0], value)
        return None

    def _enum_cased(self, type_name: str, value: Any) -> Any:
        """An enum value (or a collection of them, or flags `a,b`) in the model's casing: Graph takes
        `"HTML"` for `html` and answers `html`."""
        inner = _element(type_name)
        if inner not in self.enums or value is None:
            return value
        if isinstance(value, list):
            return [self._enum_cased(inner, v) for v in value]
        folded = self._enum_names(inner)
        return ",".join(folded.get(n.strip().casefold(), n) for n in value.split(","))

    def _enum_names(self, enum: str) -> dict[str, str]:
        key = ("enum", enum)
        if key not in self._folded:
            self._folded[key] = {m.casefold(): m for m in self.enums[enum]["members"]}
        return self._folded[key]

    def check_value(self, type_name: str, value: Any, nullable: bool = True) -> str:
        if value is None:
            return (
                ""
                if nullable
                else f"A null value was found for the property of type '{type_name}', which is not nullable."
            )
        if type_name.startswith("Collection("):
            if not isinstance(value, list):
                return f"Cannot convert the literal '{value}' to the expected type '{type_name}'."
            inner = _element(type_name)
            return next((p for p in (self.check_value(inner, v) for v in value) if p), "")
        if type_name in self.enums:
            members = self._enum_names(type_name)
            names = value.split(",") if isinstance(value, str) else [value]
            bad = next((n for n in names if not isinstance(n, str) or n.strip().casefold() not in members), None)
            return f"Requested value '{bad}' was not found." if bad is not None else ""
        if type_name in self.types:
            if not isinstance(value, dict):
                return f"Cannot convert the literal '{value}' to the expected type '{type_name}'."
            problem = self.check_object(self.declared(value, type_name), value)
            return problem[1] if problem else ""
        ok = {
            "Edm.String": lambda v: isinstance(v, str),
            "Edm.Boolean": lambda v: isinstance(v, bool),
            "Edm.Int32": _is_int,
            "Edm.Int64": _is_int,
            "Edm.Int16": _is_int,
            "Edm.Byte": _is_int,
            "Edm.Double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "Edm.Guid": lambda v: isinstance(v, str) and _is_guid(v),
            "Edm.DateTimeOffset": lambda v: isinstance(v, str),
        }.get(type_name)
        if ok is not None and not ok(value):
            return f"Cannot convert the literal '{value}' to the expected type '{type_name}'."
        return ""

    # values

    def entity(self, type_name: str, key: str, seed: str) -> dict:
        out = self.complex(type_name, seed, 0)
        if "id" in self.props(type_name):  # some singletons' types (admin, reportRoot...) have no key
            out["id"] = key or str(_guid(seed, "id"))
        return out

    def complex(self, type_name: str, seed: str, depth: int) -> dict:
        out: dict[str, Any] = {}
        for name, (t, _nullable) in self.props(type_name).items():
            v = self.value(t, name, seed, depth, type_name)
            if v is not _SKIP:
                out[name] = v
        return out

    def value(self, type_name: str, name: str, seed: str, depth: int, owner: str = "") -> Any:
        if type_name.startswith("Collection("):
            inner = _element(type_name)
            if inner in self.types and depth >= MAX_DEPTH:
                return []
            v = self.value(inner, name, seed, depth, owner)
            return [] if v is _SKIP else [v]
        if type_name in self.enums:
            members = [m for m in self.enums[type_name]["members"] if m != "unknownFutureValue"]
            return members[0] if members else "unknownFutureValue"
        if type_name in self.types:
            if depth >= MAX_DEPTH:
                return _SKIP
            return self.complex(type_name, f"{seed}.{name}", depth + 1)  # its own: a sender is not the recipient
        return _primitive(type_name, name, seed, owner)


_SKIP = object()


def later(collection: str, key: str, seed: str) -> list[tuple[str, str]]:
    """The headers of Graph's 202 to an asynchronous create: the operation, and what it makes."""
    operation = _guid(seed, "operation")
    return [
        ("Location", f"/{collection}('{key}')/operations('{operation}')"),
        ("Content-Location", f"/{collection}('{key}')"),
    ]


def _split_key(segment: str) -> tuple[str, str | None]:
    """users('x') -> (users, x); getByPath(path='a') -> (getByPath, path='a'); users -> (users, None)."""
    if segment.endswith(")") and "(" in segment:
        name, _, inner = segment.partition("(")
        return name, inner[:-1].strip("'")
    return segment, None


def _key(args: str) -> str:
    """The key in parentheses: 'AAMk', or id='AAMk' (OData's named form) -> AAMk."""
    name, eq, value = args.partition("=")
    if eq and name.strip().isidentifier() and "," not in args:
        return value.strip().strip("'")
    return args


def _element(type_name: str) -> str:
    return type_name[11:-1] if type_name.startswith("Collection(") else type_name


def _error(status: int, code: str, message: str, label: str) -> Answer:
    return Answer(status, None, label, code=code, message=message)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_guid(v: str) -> bool:
    try:
        uuid.UUID(v)
    except ValueError:
        return False
    return True


def _guid(seed: str, name: str) -> uuid.UUID:
    return uuid.UUID(hashlib.sha256(f"{seed}/{name}".encode()).hexdigest()[:32])


def _primitive(type_name: str, name: str, seed: str, owner: str = "") -> Any:
    """A value a person would believe for the property (core/spec/plausible.py); a live object is
    not deleted."""
    if type_name == "Edm.String":
        return plausible.string(name, seed, owner)
    if name == "deletedDateTime":
        return None
    if type_name == "Edm.Guid":
        return str(_guid(seed, name))
    if type_name == "Edm.DateTimeOffset":
        return plausible.moment(name, seed).strftime("%Y-%m-%dT%H:%M:%SZ")
    if type_name == "Edm.Date":
        return plausible.moment(name, seed).date().isoformat()
    if type_name == "Edm.TimeOfDay":
        return "10:00:00.0000000"
    if type_name == "Edm.Duration":
        return "PT1H"
    if type_name in ("Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte"):
        return plausible.integer(name, seed) if type_name != "Edm.Byte" else 1
    if type_name in ("Edm.Double", "Edm.Single", "Edm.Decimal"):
        return 1.5
    if type_name == "Edm.Boolean":
        return plausible.boolean(name)
    if type_name == "Edm.Binary":
        return base64.b64encode(seed[:6].encode()).decode()
    if type_name == "Edm.Stream" or type_name.startswith("Edm.Geo"):
        return _SKIP
    return plausible.string(name, seed, owner)
