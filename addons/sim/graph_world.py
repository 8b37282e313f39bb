"""Graph's generic world: every entity set, singleton and navigation collection of the v1.0 model
holds what an app creates, from the CSDL, with no code per resource.

Where records live (the store's collection names): `graph:users` for an entity set,
`graph:users('K')/messages` for what an entity contains, the same name for the references a
navigation property holds (`graph:groups('G')/members`: entries `{id, ref}` naming the record's
own collection). A delete removes what the record contains and the references back to it; `$ref`
keeps both sides (profiles.graph.INVERSE_REFERENCES).

Unknown ids: a record never created nor seeded is made up on its first read, from its type, and
kept; a collection never listed gets a few generated members once (none under a record the app
created: that one starts empty); a deleted record answers Graph's 404 for good. With
`strict`, unknown ids are 404 and nothing is made up. `/me` is the tenant's signed-in user.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, unquote

from ..core import numbers
from ..core.profiles import graph as graph_profile
from ..core.spec.graph import ROOT, GraphSpec, later
from . import api, auth, odata
from .http import ApiError, Reply, SimRequest
from .store import Store, Transaction

HOST = "graph.microsoft.com"
PREFIX = "graph:"
DELETED = "graph:~deleted"  # tombstones, by f"{collection}|{id}"
LISTED = "graph:~listed"  # collections whose generated members were made (or that start empty)
SINGLETONS = "graph:~singletons"
GENERATED_MEMBERS = 3  # what a collection nobody wrote to holds, as the spec answers always did
PAGE = 100
MAX_PAGE = 999
EXPAND_LIMIT = 20  # the items of a collection Graph inlines for $expand
DIRECTORY_OBJECT = "microsoft.graph.directoryObject"
DIRECTORY_OBJECTS = PREFIX + "directoryObjects"
EVENT_RESPONSES = {"accept": "accepted", "decline": "declined", "tentativelyAccept": "tentativelyAccepted"}


@dataclass(frozen=True)
class Node:
    """Where a path has led in the world."""

    kind: str  # collection, entity, count, refs (a collection's $ref), ref (one reference's $ref), action
    type: str
    collection: str  # the store's collection: of the records listed, or the one holding the entity
    key: str = ""
    reference: bool = False  # a collection of references (members), not of records it contains
    single: bool = False  # a single-valued navigation (manager)
    owner: tuple[str, str, str] = ("", "", "")  # (collection, key, type) of the entity a navigation is on
    nav: str = ""
    action: str = ""
    cast: str = ""  # a type cast on a collection: /members/microsoft.graph.user
    folder: str = ""  # a mail folder's messages are the user's messages with this parentFolderId
    declared: str = ""  # the type the path declares, where the record is of a type derived from it

    @property
    def address(self) -> str:
        return address(self.collection, self.key)


def address(collection: str, key: str) -> str:
    """What follows an entity in its collections' names: users('K'); a single contained entity
    (a user's todo, key ~) is named by its navigation alone: users('K')/todo."""
    name = collection[len(PREFIX) :]
    return name if key == "~" else f"{name}('{key}')"


class GraphWorld:
    def __init__(self, spec: GraphSpec, store: Store, me: str, strict: bool = False) -> None:
        self.spec = spec
        self.store = store
        self.me = me
        self.strict = strict
        self._sets_for: dict[str, list[str]] = {}

    # -- requests ----------------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> Reply | None:
        """The world's answer, or None where the spec answers (properties, functions, $value...)."""
        if req.host != HOST or not req.path.startswith("/v1.0/"):
            return None
        path = req.path.rstrip("/")
        if path == "/v1.0/me" or path.startswith("/v1.0/me/"):
            path = f"/v1.0/users/{quote(self.me)}{path[len('/v1.0/me') :]}"
        segments = [unquote(s) for s in path.split("/")[2:] if s]
        if not segments:
            return None
        query = list(req.query.items())
        at, located = self.spec.locate(req.method, path, query, req.headers)
        if at is None:
            return None
        if located.code:
            raise _api_error(located.status, located.code, located.message)
        auth.check_bearer(req)
        with self.store.transaction() as tx:
            node = self._walk(tx, segments, req.method)
            if node is None:
                return None
            return self._answer(tx, req, node, at.context, path)

    def _answer(self, tx: Transaction, req: SimRequest, node: Node, context: str, path: str) -> Reply | None:
        m = req.method
        if node.kind == "collection" and m == "GET":
            return self._list(tx, req, node, context, path)
        if node.kind == "collection" and m == "POST" and not node.reference:
            return self._create(tx, req, node, context, path)
        if node.kind == "count" and m == "GET":
            records = self._members(tx, node)
            return Reply(200, [("Content-Type", "text/plain")], str(len(records)).encode())
        if node.kind == "single" and m == "GET":
            node = self._followed(tx, node)
            record = self._expanded(tx, req, node, tx.get(node.collection, node.key) or {})
            return self._entity_reply(req, record, context, node)
        if node.kind == "entity":
            if m == "GET":
                record = self._expanded(tx, req, node, tx.get(node.collection, node.key) or {})
                return self._entity_reply(req, record, context, node)
            if m in ("PATCH", "PUT") and not node.single:
                return self._update(tx, req, node, context)
            if m == "DELETE" and not node.reference and not node.single:
                self.delete(tx, node.collection, node.key)
                return api.graph_reply(req, 204)
        if node.kind == "refs":
            return self._refs(tx, req, node)
        if node.kind == "ref" and m == "DELETE":
            owner_collection, owner_key, _ = node.owner
            if not self._unlink(tx, owner_collection, owner_key, node.nav, node.key):
                raise self._not_found(node.type, node.key)
            return api.graph_reply(req, 204)
        if node.kind == "action" and m == "POST":
            return self._action(tx, req, node)
        return None

    # -- walking a path ----------------------------------------------------------------------------
    def _walk(self, tx: Transaction, segments: list[str], method: str) -> Node | None:
        name, key = _split_key(segments[0])
        if name in self.spec.sets:
            node = Node("collection", self.spec.sets[name], PREFIX + name)
        elif name in self.spec.singletons:
            node = Node("entity", self.spec.singletons[name], SINGLETONS, name)
            self._ensure(tx, node)
        else:
            return None
        rest = segments[1:]
        if key is not None:
            rest = [key, *rest]
        for i, segment in enumerate(rest):
            step = self._step(tx, node, segment, i == len(rest) - 1, method)
            if step is None:
                return None
            node = step
        return node

    def _step(self, tx: Transaction, node: Node, segment: str, last: bool, method: str) -> Node | None:
        name, args = _split_key(segment)
        spec = self.spec
        if node.kind == "collection":
            if segment == "$count":
                return replace(node, kind="count")
            if segment == "$ref":
                return replace(node, kind="refs") if node.reference else None
            if name in spec.types and spec.derives(name, node.type):
                return replace(node, type=name, cast=name)
            if spec.operation(name, node.type, collection=True) is not None:
                return None  # delta, getByIds...: the spec answers
            return self._member(tx, node, segment)
        if node.kind == "entity":
            if segment == "$ref":
                if node.reference and node.owner[0]:
                    return replace(node, kind="ref")
                return None
            nav = spec.navs(node.type).get(name)
            if nav is not None:
                target, contained = nav
                element = target[11:-1] if target.startswith("Collection(") else target
                collection = f"{PREFIX}{node.address}/{name}"
                owner = (node.collection, node.key, node.type)
                if target.startswith("Collection("):
                    folder = ""
                    if name == "messages" and node.type == "microsoft.graph.mailFolder":
                        # a folder's messages are the mailbox's, by their parentFolderId
                        user = node.collection.rsplit("/", 1)[0]
                        collection, folder = f"{user}/messages", node.key
                    child = Node("collection", element, collection, reference=not contained, owner=owner, nav=name)
                    child = replace(child, folder=folder)
                    return self._member(tx, child, args) if args is not None else child
                if contained:  # a single contained entity: a user's todo, calendar, mailboxSettings...
                    child = Node("entity", element, collection, "~", owner=owner, nav=name)
                    self._ensure(tx, child)
                    return child
                # a single reference (a user's manager): its $ref, or the record it leads to
                return Node("single", element, collection, reference=True, single=True, owner=owner, nav=name)
            if name in spec.types and spec.derives(name, node.type):
                return replace(node, type=name)
            op = spec.operation(name, node.type, collection=False)
            if op is not None and op.get("kind") != "function" and last:
                return replace(node, kind="action", action=op["name"].rsplit(".", 1)[-1])
            return None  # a property, a function, $value: the spec answers
        if node.kind == "single":
            if segment == "$ref":
                return replace(node, kind="refs")
            return self._step(tx, self._followed(tx, node), segment, last, method)
        return None

    def _followed(self, tx: Transaction, node: Node) -> Node:
        """The record a single reference leads to, or Graph's 404 when it is not set."""
        refs = tx.scan(node.collection)
        if not refs:
            raise self._not_found(node.type, node.nav)
        return Node("entity", node.type, refs[0]["ref"], refs[0]["id"], reference=True, single=True, owner=node.owner)

    def _member(self, tx: Transaction, node: Node, key: str) -> Node:
        """The entity a key names in a collection (made up if unknown, unless strict)."""
        if node.reference:
            ref = tx.get(node.collection, key)
            if ref is None:
                raise self._not_found(node.type, key)
            return Node("entity", node.type, ref["ref"], key, reference=True, owner=node.owner, nav=node.nav)
        if node.collection == DIRECTORY_OBJECTS:
            return self._directory_object(tx, key)
        if "@" in key and self.spec.derives(node.type, "microsoft.graph.user") and not tx.has(node.collection, key):
            key = self._by_principal_name(tx, node.collection, key)
        child = Node("entity", node.type, node.collection, key, owner=node.owner, nav=node.nav, folder=node.folder)
        self._ensure(tx, child)
        if node.folder:
            record = tx.get(child.collection, key) or {}
            if record.get("parentFolderId") not in (None, node.folder):
                raise self._not_found(node.type, key)
        return child

    def _directory_object(self, tx: Transaction, key: str) -> Node:
        """/directoryObjects/{id}: the user, group, device, service principal... that id is (an
        unknown id is made up as a user, as `$ref` targets are)."""
        for name in self.sets_for(DIRECTORY_OBJECT):
            if tx.has(PREFIX + name, key):
                return Node("entity", self.spec.sets[name], PREFIX + name, key, declared=DIRECTORY_OBJECT)
        child = Node("entity", self.spec.sets["users"], PREFIX + "users", key, declared=DIRECTORY_OBJECT)
        self._ensure(tx, child)
        return child

    def _by_principal_name(self, tx: Transaction, collection: str, name: str) -> str:
        """Graph takes a user's userPrincipalName in place of its id: the id of the user it names
        (the name itself when no user has it, to be made up under it)."""
        wanted = unquote(name).casefold()
        for record in tx.scan(collection):
            if str(record.get("userPrincipalName", "")).casefold() == wanted:
                return record["id"]
        return name

    def _ensure(self, tx: Transaction, node: Node) -> None:
        """The entity exists, or is made up now (unknown, not deleted, not strict), or it is Graph's 404."""
        if tx.has(node.collection, node.key):
            return
        if tx.has(DELETED, f"{node.collection}|{node.key}") or (self.strict and node.key != "~"):
            raise self._not_found(node.type, node.key)
        record = self.made_up(node.type, node.key, f"{node.collection}|{node.key}")
        if node.collection == SINGLETONS:
            record.pop("id", None)
        elif node.key == "~" and node.nav in graph_profile.OWNER_ID_ENTITIES and "id" in record:
            record["id"] = node.owner[1]
        if node.folder:
            record["parentFolderId"] = node.folder
        if node.key in graph_profile.WELL_KNOWN_FOLDERS and node.type == "microsoft.graph.mailFolder":
            record["displayName"] = node.key.capitalize()
        tx.put(node.collection, node.key, record)

    def made_up(self, type_name: str, key: str, seed: str) -> dict:
        """A record of this type as the spec's generator builds it: the same for the same seed (a single
        contained entity, key ~, such as a user's calendar, with an id of its own)."""
        return self.spec.entity(type_name, "" if key == "~" else key, hashlib.sha256(seed.encode()).hexdigest())

    # -- lists -------------------------------------------------------------------------------------
    def _members(self, tx: Transaction, node: Node, where: Callable[[dict], bool] | None = None) -> list[dict]:
        """The collection's records (those `where` keeps: a $filter, tested before they are copied)."""
        if node.reference:
            out = []
            for ref in tx.scan(node.collection):
                record = tx.get(ref["ref"], ref["id"])
                if record is not None and (where is None or where(record)):  # a reference to a deleted one: gone
                    record.setdefault("@odata.type", "#" + self._set_type(ref["ref"]))
                    out.append(record)
        else:
            self._generate(tx, node)
            folder = node.folder
            if folder or where is not None:
                out = tx.scan(
                    node.collection,
                    lambda r: (not folder or r.get("parentFolderId") == folder) and (where is None or where(r)),
                )
            else:
                out = tx.scan(node.collection)
        if node.cast:
            out = [r for r in out if self.spec.derives(type_of(r, node.type), node.cast)]
        return out

    def _generate(self, tx: Transaction, node: Node) -> None:
        """A collection nobody wrote to, listed for the first time, gets its generated members."""
        if tx.has(LISTED, node.collection):
            return
        tx.put(LISTED, node.collection, {})
        if self.strict or self._fresh_under(tx, node.collection):
            return
        for i in range(GENERATED_MEMBERS):
            record = self.made_up(node.type, "", f"{node.collection}#{i}")
            if "id" not in record or tx.has(DELETED, f"{node.collection}|{record['id']}"):
                continue
            if node.folder:
                record["parentFolderId"] = node.folder
            if not tx.has(node.collection, record["id"]):
                tx.put(node.collection, record["id"], record)

    def _fresh_under(self, tx: Transaction, collection: str) -> bool:
        """Is the collection under a record the app created (whose collections start empty)?"""
        cut = collection.rfind("/")
        while cut > 0:
            if tx.has(LISTED, collection[:cut] + "/"):
                return True
            cut = collection.rfind("/", 0, cut)
        return False

    def _list(self, tx: Transaction, req: SimRequest, node: Node, context: str, path: str) -> Reply:
        args = req.query
        known = self._known(node.cast or node.type)
        try:
            where = None
            tree = odata.parse_filter(args["$filter"], known) if "$filter" in args else None
            if tree is not None:
                where = functools.partial(odata.matches, tree)
            if self.spec.derives(node.type, DIRECTORY_OBJECT) and not graph_profile.eventual(req.headers):
                self._simple_query(node, args, tree)
            records = self._members(tx, node, where)
            if "$search" in args:
                records = odata.search(records, args["$search"])
            if "$orderby" in args:
                records = odata.order(records, args["$orderby"], known)
        except odata.QueryError as e:
            directory = self.spec.derives(node.type, DIRECTORY_OBJECT)
            raise _api_error(400, "Request_UnsupportedQuery" if directory else "BadRequest", str(e)) from None
        total = len(records)
        top = min(numbers.count(args.get("$top")) or PAGE, MAX_PAGE)
        start = (numbers.count(args.get("$skip")) or 0) + (numbers.count(args.get("$skiptoken")) or 0)
        page = records[start : start + top]
        select = _select(args)
        body: dict[str, Any] = {"@odata.context": _context(context, select)}
        if args.get("$count", "").lower() == "true":
            body["@odata.count"] = total
        if start + top < total:
            rest = [(k, v) for k, v in args.items() if k not in ("$skiptoken", "$skip")]
            rest.append(("$skiptoken", str(start + top)))
            body["@odata.nextLink"] = f"{ROOT}/{path.split('/', 2)[2]}?" + "&".join(
                f"{k}={quote(v, safe=',$()')}" for k, v in rest
            )
        keep_id = not self.spec.derives(node.type, DIRECTORY_OBJECT)
        if "$expand" in args:
            member = replace(node, kind="entity", reference=False, single=False)
            page = [self._expanded(tx, req, replace(member, key=str(r.get("id", ""))), r) for r in page]
        wanted = _body_type(req)  # read once, not per record
        shown = [self._shown(wanted, r, node.type) for r in page]
        kept = _with_expanded(select, args)
        body["value"] = [_selected(r, kept, keep_id) for r, _ in shown]
        return api.graph_reply(req, 200, body, shown[0][1] if shown else [])

    @staticmethod
    def _simple_query(node: Node, args: dict[str, str], tree: tuple | None) -> None:
        """What the directory answers without ConsistencyLevel: eventual: only its simple queries."""
        if "$search" in args:
            raise _api_error(
                400,
                "Request_UnsupportedQuery",
                "Request with $search query parameter only works through MSGraph with a special request header: "
                "'ConsistencyLevel: eventual'",
            )
        if args.get("$count", "").lower() == "true":
            raise _api_error(400, "Request_BadRequest", "$count is not currently supported.")
        prop = odata.uses(tree, graph_profile.ADVANCED_FILTERS) if tree is not None else None
        if prop is not None:
            resource = (node.cast or node.type).rsplit(".", 1)[-1]
            resource = resource[:1].upper() + resource[1:]
            raise _api_error(
                400,
                "Request_UnsupportedQuery",
                f"Unsupported or invalid query filter clause specified for property '{prop}' of resource '{resource}'.",
            )
        if tree is not None and "$orderby" in args:
            raise _api_error(400, "Request_UnsupportedQuery", "Sorting not supported for current query.")

    def _known(self, type_name: str):
        """What a filter or an order names: a property (in any casing: its name in the model's), a
        cast to a derived type, an annotation."""
        names = {n.casefold(): n for n in (*self.spec.props(type_name), *self.spec.navs(type_name))}
        # a directory object may be any of its kinds: Graph takes a user's or a group's properties
        # (an open type's dynamic properties are not filtered on: Graph refuses an unknown name)
        open_type = type_name == DIRECTORY_OBJECT

        def known(name: str) -> bool | str:
            if name.startswith("@") or open_type:
                return True
            if name.casefold().startswith("microsoft.graph."):
                cast = self.spec.type_named(name)
                return cast if cast is not None and self.spec.derives(cast, type_name) else False
            return names.get(name.casefold(), False)

        return known

    # -- one record --------------------------------------------------------------------------------
    def _entity_reply(self, req: SimRequest, record: dict, context: str, node: Node, status: int = 200) -> Reply:
        select = _select(req.query)
        if node.reference or node.declared:  # Graph names the type where it is not the one the path declares
            record.setdefault("@odata.type", "#" + self._set_type(node.collection))
        keep_id = not self.spec.derives(node.type, DIRECTORY_OBJECT)
        shown, applied = self._shown(_body_type(req), record, node.type)
        body = {
            "@odata.context": _context(context, select) + "/$entity",
            **_selected(shown, _with_expanded(select, req.query), keep_id),
        }
        return api.graph_reply(req, status, body, applied)

    def _expanded(self, tx: Transaction, req: SimRequest, node: Node, record: dict) -> dict:
        """The record with the navigations `$expand` names inlined, one level deep, each with the
        `$select` in its parentheses (`manager($select=id,displayName)`); a collection up to the
        EXPAND_LIMIT items Graph inlines."""
        wanted = req.query.get("$expand", "")
        if not wanted.strip():
            return record
        kind = type_of(record, node.type)
        navs = {n.casefold(): n for n in self.spec.navs(kind)}
        out = dict(record)
        try:
            expansions = odata.expansions(wanted)
        except odata.QueryError as e:
            raise _api_error(400, "BadRequest", str(e)) from None
        for name, options in expansions:
            if name == "*":
                continue
            nav = navs.get(name.casefold())
            if nav is None:
                raise _api_error(400, "BadRequest", f"Could not find a property named '{name}' on type '{kind}'.")
            select = [s.strip() for s in options.get("$select", "").split(",") if s.strip()]
            entity = replace(node, kind="entity", type=kind)
            try:
                child = self._step(tx, entity, nav, True, "GET")
                if child is None:
                    continue
                if child.kind == "collection":
                    items = self._members(tx, child)[:EXPAND_LIMIT]
                    out[nav] = [_selected(r, select, True) for r in items]
                elif child.kind == "single":
                    target = self._followed(tx, child)
                    found = dict(tx.get(target.collection, target.key) or {})
                    found.setdefault("@odata.type", "#" + self._set_type(target.collection))
                    out[nav] = _selected(found, select, True)
                else:
                    out[nav] = _selected(tx.get(child.collection, child.key) or {}, select, True)
            except ApiError:
                continue  # nothing there (no manager): Graph leaves the navigation out
        return out

    def _shown(self, wanted: str, record: dict, type_name: str) -> tuple[dict, list[tuple[str, str]]]:
        """A record as Graph shows it: with its @odata.etag where the type has one, and its body in
        the content type `wanted` (_body_type: what the Prefer header asks for); and the
        Preference-Applied header that says so."""
        kind = type_of(record, type_name)
        out, applied = record, []
        if any(self.spec.derives(kind, t) for t in graph_profile.ETAG_TYPES):
            out = {"@odata.etag": _etag(record), **record}
        body = out.get("body")
        if wanted in ("text", "html") and isinstance(body, dict) and "contentType" in body:
            out = {**out, "body": _body_as(body, wanted)}
            applied = [("Preference-Applied", f'outlook.body-content-type="{wanted}"')]
        return out, applied

    def _create(self, tx: Transaction, req: SimRequest, node: Node, context: str, path: str) -> Reply:
        data = self._body(req, node.type)
        self._generate(tx, node)
        kind = type_of(data, node.type)
        self._unique(tx, node.collection, kind, data, "")
        key = str(uuid.uuid4())
        record = {**self.made_up(kind, key, f"{node.collection}|{key}"), **_plain(data)}
        record["id"] = key
        self._stamp(record, kind, created=True)
        if node.folder:
            record["parentFolderId"] = node.folder
        tx.put(node.collection, key, record)
        tx.put(LISTED, f"{PREFIX}{address(node.collection, key)}/", {})  # its own collections start empty
        self._bind(tx, node.collection, key, kind, data)
        if kind in graph_profile.CREATED_LATER:
            return api.graph_reply(req, 202, None, later(node.collection[len(PREFIX) :], key, key))
        location = f"{ROOT}/{path.split('/', 2)[2]}/{key}"
        if "return=minimal" in graph_profile.preferences(req.headers):
            minimal = [("Location", location), ("OData-EntityId", location), ("Preference-Applied", "return=minimal")]
            return api.graph_reply(req, 204, None, minimal)
        body = {"@odata.context": f"{ROOT}/$metadata#{context}/$entity", **record}
        return api.graph_reply(req, 201, body, [("Location", location)])

    def _update(self, tx: Transaction, req: SimRequest, node: Node, context: str) -> Reply:
        kind = type_of(tx.get(node.collection, node.key) or {}, node.type)
        data = self._body(req, kind)
        current = tx.get(node.collection, node.key) or {}
        self._unique(tx, node.collection, kind, data, node.key)
        if req.method == "PUT":
            record = {**({"id": current["id"]} if "id" in current else {}), **_plain(data)}
        else:
            record = {**current, **_plain(data)}
        self._stamp(record, kind, created=False)
        tx.put(node.collection, node.key, record)
        self._bind(tx, node.collection, node.key, kind, data)
        if self.spec.updated_without_content(kind):
            return api.graph_reply(req, 204)
        if "return=minimal" in graph_profile.preferences(req.headers):
            return api.graph_reply(req, 204, None, [("Preference-Applied", "return=minimal")])
        return self._entity_reply(req, record, context, node)

    def _unique(self, tx: Transaction, collection: str, type_name: str, data: dict, key: str) -> None:
        """The directory's unique properties (a user's userPrincipalName, a group's mailNickname) are
        not another record's: Graph's 400 with an ObjectConflict detail, as the service answers."""
        for t in self.spec.lineage(type_name):
            for name in graph_profile.UNIQUE_PROPERTIES.get(t, ()):
                value = data.get(name)
                if not isinstance(value, str) or not value:
                    continue
                wanted = value.casefold()
                taken = tx.scan(collection, functools.partial(_holds, name, wanted, key))
                if taken:
                    raise ApiError(
                        "bad_request",
                        f"Another object with the same value for property {name} already exists.",
                        code="Request_BadRequest",
                        status=400,
                        context={"details": [{"code": "ObjectConflict", "target": name}]},
                    )

    def _body(self, req: SimRequest, type_name: str) -> dict:
        data, bad = self.spec.check_body(type_name, req.body)
        if bad is not None:
            raise _api_error(bad.status, bad.code, bad.message)
        return data or {}

    def _stamp(self, record: dict, type_name: str, created: bool) -> None:
        props = self.spec.props(type_name)
        now = api.graph_now()
        if created and "createdDateTime" in props:
            record["createdDateTime"] = now
        if created and "deletedDateTime" in props:
            record["deletedDateTime"] = None
        if "lastModifiedDateTime" in props:
            record["lastModifiedDateTime"] = now

    def delete(self, tx: Transaction, collection: str, key: str) -> None:
        """The record, what it contains, and the references to it kept on the other side."""
        tx.delete(collection, key)
        tx.put(DELETED, f"{collection}|{key}", {})
        prefix = f"{PREFIX}{address(collection, key)}/"
        for inner in tx.collections(prefix):
            nav = inner[len(prefix) :]
            for ref in tx.scan(inner):
                inverse = graph_profile.INVERSE_REFERENCES.get(nav)
                if "ref" in ref and inverse:
                    tx.delete(f"{PREFIX}{address(ref['ref'], ref['id'])}/{inverse}", key)
            for k in tx.keys(inner):
                tx.delete(inner, k)

    # -- references --------------------------------------------------------------------------------
    def _refs(self, tx: Transaction, req: SimRequest, node: Node) -> Reply | None:
        owner_collection, owner_key, _ = node.owner
        refs = tx.scan(node.collection)
        if req.method == "GET":
            ids = [{"@odata.id": f"{ROOT}/directoryObjects/{r['id']}"} for r in refs]
            if node.single:
                if not ids:
                    raise self._not_found(node.type, node.nav)
                return api.graph_reply(req, 200, {"@odata.context": f"{ROOT}/$metadata#$ref", **ids[0]})
            return api.graph_reply(req, 200, {"@odata.context": f"{ROOT}/$metadata#Collection($ref)", "value": ids})
        if req.method == "DELETE" and node.single:
            if not refs:
                raise self._not_found(node.type, node.nav)
            self._unlink(tx, owner_collection, owner_key, node.nav, refs[0]["id"])
            return api.graph_reply(req, 204)
        named = req.query.get("$id") or req.query.get("@id")  # msgraph-sdk sends @id, Microsoft's docs $id
        if req.method == "DELETE" and named:  # DELETE .../members/$ref?$id={url of one}
            url = named.split("?")[0].rstrip("/")
            key = unquote(url.rsplit("/", 1)[-1]).removesuffix("')").rpartition("('")[2]
            if not self._unlink(tx, owner_collection, owner_key, node.nav, key):
                raise self._not_found(node.type, key)
            return api.graph_reply(req, 204)
        if req.method != ("PUT" if node.single else "POST"):
            return None  # the spec answers Graph's refusal
        data = self._body_json(req)
        target = self._target(tx, data.get("@odata.id"), node.type)
        if tx.has(node.collection, target[1]) and not node.single:
            raise _api_error(
                400,
                "Request_BadRequest",
                f"One or more added object references already exist for the following modified properties: "
                f"'{node.nav}'.",
            )
        self.link(tx, owner_collection, owner_key, node.nav, target[0], target[1])
        return api.graph_reply(req, 204)

    def _body_json(self, req: SimRequest) -> dict:
        try:
            data = req.json()
        except ApiError:
            raise _api_error(400, "BadRequest", "Unable to read JSON request payload.") from None
        if not isinstance(data, dict):
            raise _api_error(400, "BadRequest", "Unable to read JSON request payload.")
        return data

    def _target(self, tx: Transaction, url: Any, type_name: str) -> tuple[str, str]:
        """The (collection, id) an `@odata.id` names: .../directoryObjects/{id}, .../users('id')..."""
        if not isinstance(url, str) or not url.strip():
            raise _api_error(400, "BadRequest", "The @odata.id of the reference is missing or not a URL.")
        tail = url.split("?")[0].rstrip("/")
        parts = [p for p in tail.split("/") if p]
        if len(parts) >= 2 and "(" not in parts[-1]:
            set_name, key = parts[-2], parts[-1]
        else:
            set_name, inner = _split_key(parts[-1] if parts else "")
            key = inner or ""
        if not key:
            raise _api_error(400, "BadRequest", f"The @odata.id '{url[:200]}' does not name an object.")
        candidates = [f"{PREFIX}{set_name}"] if set_name in self.spec.sets else []
        if set_name == "directoryObjects" or not candidates:
            candidates = [f"{PREFIX}{s}" for s in self.sets_for(type_name)]
        for collection in candidates:
            if tx.has(collection, key):
                return collection, key
        home = candidates[0] if candidates and candidates[0] != f"{PREFIX}directoryObjects" else f"{PREFIX}users"
        node = Node("entity", self._set_type(home), home, key)
        self._ensure(tx, node)  # made up, or 404 (strict, deleted)
        return home, key

    def sets_for(self, type_name: str) -> list[str]:
        """The entity sets whose records may be of this type (users and groups first)."""
        if type_name not in self._sets_for:
            sets = [s for s, t in self.spec.sets.items() if self.spec.derives(t, type_name) and s != "directoryObjects"]
            sets.sort(key=lambda s: (s not in ("users", "groups"), s != "users", s))
            self._sets_for[type_name] = sets
        return self._sets_for[type_name]

    def _set_type(self, collection: str) -> str:
        name = collection[len(PREFIX) :]
        return self.spec.sets.get(name, DIRECTORY_OBJECT)

    def link(self, tx: Transaction, owner_collection: str, owner_key: str, nav: str, coll: str, key: str) -> None:
        """A reference from the owner to (coll, key), and back where the pair is kept both ways."""
        single = (
            not self.spec.navs(self._set_type(owner_collection)).get(nav, ["Collection("])[0].startswith("Collection(")
        )
        here = f"{PREFIX}{address(owner_collection, owner_key)}/{nav}"
        if single:
            for old in tx.keys(here):
                self._unlink(tx, owner_collection, owner_key, nav, old)
        tx.put(here, key, {"id": key, "ref": coll})
        inverse = graph_profile.INVERSE_REFERENCES.get(nav)
        if inverse:
            back = f"{PREFIX}{address(coll, key)}/{inverse}"
            back_single = (
                not self.spec.navs(self._set_type(coll)).get(inverse, ["Collection("])[0].startswith("Collection(")
            )
            if back_single:
                for old in tx.keys(back):
                    self._unlink(tx, coll, key, inverse, old)
            tx.put(back, owner_key, {"id": owner_key, "ref": owner_collection})

    def _unlink(self, tx: Transaction, owner_collection: str, owner_key: str, nav: str, key: str) -> bool:
        here = f"{PREFIX}{address(owner_collection, owner_key)}/{nav}"
        ref = tx.get(here, key)
        if ref is None:
            return False
        tx.delete(here, key)
        inverse = graph_profile.INVERSE_REFERENCES.get(nav)
        if inverse:
            tx.delete(f"{PREFIX}{address(ref['ref'], key)}/{inverse}", owner_key)
        return True

    def _bind(self, tx: Transaction, collection: str, key: str, type_name: str, data: dict) -> None:
        """`members@odata.bind: [urls]`, `manager@odata.bind: url`: references set with the record."""
        navs = self.spec.navs(type_name)
        for name, value in data.items():
            if not name.endswith("@odata.bind") or name[: -len("@odata.bind")] not in navs:
                continue
            nav = name[: -len("@odata.bind")]
            target_type = navs[nav][0].removeprefix("Collection(").removesuffix(")")
            for url in value if isinstance(value, list) else [value]:
                coll, target = self._target(tx, url, target_type)
                self.link(tx, collection, key, nav, coll, target)

    # -- actions with an effect on the world -------------------------------------------------------
    def _action(self, tx: Transaction, req: SimRequest, node: Node) -> Reply | None:
        record = tx.get(node.collection, node.key)
        if record is None:
            return None
        if node.action == "sendMail" and node.type == "microsoft.graph.user":
            return self._send_mail(tx, req, node, record)
        if node.action in EVENT_RESPONSES and self.spec.derives(node.type, "microsoft.graph.event"):
            record["responseStatus"] = {"response": EVENT_RESPONSES[node.action], "time": api.graph_now()}
            tx.put(node.collection, node.key, record)
            return api.graph_reply(req, 202)
        if node.action == "send" and self.spec.derives(node.type, "microsoft.graph.message"):
            record.update(isDraft=False, parentFolderId="sentitems", sentDateTime=api.graph_now())
            tx.put(node.collection, node.key, record)
            return api.graph_reply(req, 202)
        if node.action in ("move", "copy") and self.spec.derives(node.type, "microsoft.graph.message"):
            return self._move_message(tx, req, node, record)
        return None

    def _move_message(self, tx: Transaction, req: SimRequest, node: Node, record: dict) -> Reply:
        """A message moved (a new id, as Exchange gives one) or copied into the folder named: 201."""
        folder = self._parameters(req).get("destinationid")
        if not isinstance(folder, str) or not folder.strip():
            raise _api_error(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        folder = folder.lower() if folder.lower() in graph_profile.WELL_KNOWN_FOLDERS else folder
        key = str(uuid.uuid4())
        if node.action == "move":
            tx.delete(node.collection, node.key)
            tx.put(DELETED, f"{node.collection}|{node.key}", {})
        made = {**record, "id": key, "parentFolderId": folder, "lastModifiedDateTime": api.graph_now()}
        tx.put(node.collection, key, made)
        context = f"{ROOT}/$metadata#{node.collection[len(PREFIX) :].split('/', 1)[0]}/messages/$entity"
        return api.graph_reply(req, 201, {"@odata.context": context, **made})

    def _parameters(self, req: SimRequest) -> dict:
        """An action's parameters by casefolded name: Graph reads them in any casing (msgraph-sdk
        sends DestinationId)."""
        return {k.casefold(): v for k, v in self._body_json(req).items()}

    def _send_mail(self, tx: Transaction, req: SimRequest, node: Node, user: dict) -> Reply:
        data = self._parameters(req)
        message = data.get("message")
        if not isinstance(message, dict):
            raise _api_error(400, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty.")
        problem = self.spec.check_object("microsoft.graph.message", message)
        if problem:
            raise _api_error(400, *problem)
        now = api.graph_now()
        sender = {"emailAddress": {"name": user.get("displayName", ""), "address": user.get("mail", "")}}
        sent = {**_plain(message), "from": sender, "sender": sender, "isDraft": False, "sentDateTime": now}
        mine = f"{PREFIX}{node.address}/messages"
        if data.get("savetosentitems", True) not in (False, "false"):
            key = str(uuid.uuid4())
            tx.put(mine, key, {"id": key, **sent, "parentFolderId": "sentitems", "createdDateTime": now})
        recipients = [
            (r.get("emailAddress") or {}).get("address", "").casefold()
            for field in ("toRecipients", "ccRecipients", "bccRecipients")
            for r in message.get(field) or []
            if isinstance(r, dict)
        ]
        for user_record in tx.scan(f"{PREFIX}users"):
            names = {str(user_record.get(k, "")).casefold() for k in ("mail", "userPrincipalName")}
            if names & set(recipients):
                key = str(uuid.uuid4())
                inbox = f"{PREFIX}{address(PREFIX + 'users', user_record['id'])}/messages"
                received = {"id": key, **sent, "parentFolderId": "inbox", "isRead": False, "receivedDateTime": now}
                tx.put(inbox, key, received)
        return api.graph_reply(req, 202)

    def _not_found(self, type_name: str, key: str) -> ApiError:
        for t in self.spec.lineage(type_name):
            if t in graph_profile.NOT_FOUND:
                code, message = graph_profile.NOT_FOUND[t]
                break
        else:
            code, message = graph_profile.NOT_FOUND[""]
        return _api_error(404, code, message.format(id=key))


def _api_error(status: int, code: str, message: str) -> ApiError:
    names = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    return ApiError(names.get(status, "bad_request"), message, code=code, status=status)


def _split_key(segment: str) -> tuple[str, str | None]:
    if segment.endswith(")") and "(" in segment:
        name, _, inner = segment.partition("(")
        inner = inner[:-1]
        key_name, eq, value = inner.partition("=")
        if eq and key_name.strip().isidentifier():
            inner = value
        return name, inner.strip().strip("'")
    return segment, None


def _body_type(req: SimRequest) -> str:
    """The body content type Prefer: outlook.body-content-type asks for ("" for none)."""
    for p in graph_profile.preferences(req.headers):
        if p.startswith("outlook.body-content-type="):
            return p.split("=", 1)[1]
    return ""


def _etag(record: dict) -> str:
    """A weak etag of the record's content: the same until the record changes."""
    plain = {k: v for k, v in record.items() if not k.startswith("@")}
    digest = hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).digest()
    return 'W/"' + base64.b64encode(digest[:18]).decode() + '"'


def _body_as(body: dict, wanted: str) -> dict:
    """An itemBody in the content type asked for: HTML's text without its tags, or text as HTML."""
    content = str(body.get("content") or "")
    if body.get("contentType") == wanted:
        return body
    if wanted == "text":
        text = html.unescape(re.sub(r"<[^>]{0,2000}>", " ", content))
        return {**body, "contentType": "text", "content": re.sub(r"[ \t]+", " ", text).strip()}
    return {**body, "contentType": "html", "content": f"<html><body>{html.escape(content)}</body></html>"}


def _holds(name: str, folded: str, but: str, record: dict) -> bool:
    """Does a record other than `but` hold this value (casefolded) of the property?"""
    return record.get("id") != but and str(record.get(name, "")).casefold() == folded


def type_of(record: dict, default: str) -> str:
    declared = record.get("@odata.type")
    return declared.lstrip("#") if isinstance(declared, str) and declared.startswith("#microsoft.graph.") else default


def _plain(data: dict) -> dict:
    """What is kept of a body: its properties and its @odata.type, not its binds or annotations."""
    return {k: v for k, v in data.items() if "@" not in k or k == "@odata.type"}


def _select(args: dict[str, str]) -> list[str]:
    return [s.strip() for s in args.get("$select", "").split(",") if s.strip()]


def _with_expanded(select: list[str], args: dict[str, str]) -> list[str]:
    """A `$select` with the navigations `$expand` inlines: they show beside what was selected."""
    if not select or "$expand" not in args:
        return select
    try:
        return [*select, *(name for name, _ in odata.expansions(args["$expand"]))]
    except odata.QueryError:
        return select


def _selected(record: dict, select: list[str], keep_id: bool) -> dict:
    """The selected properties; the directory answers exactly those (Microsoft's `/me?$select=` examples
    have no id), the workloads (mail, calendar, files) their id as well."""
    if not select or "*" in select:
        return record
    return {k: v for k, v in record.items() if k in select or (keep_id and k == "id") or k.startswith("@odata.")}


def _context(context: str, select: list[str]) -> str:
    return f"{ROOT}/$metadata#{context}" + (f"({','.join(select)})" if select else "")
