"""Box's generic world: every resource Box's OpenAPI creates with a POST to its collection
(`/folders`, `/comments`, `/collaborations`, `/web_links`, `/groups`, `/group_memberships`,
`/webhooks`, `/users`...) is kept, read back, listed, updated and deleted, from the spec, with no
code per resource.

Records live in the store by their path's first segment (`box:folders`), built by the spec's
generator and what was sent, with ids that never collide (World.new_box_id). Lists under an item
(a folder's items, a file's comments, a group's memberships) are the records whose parent field
names the item (profiles.box.CHILD_LISTS); deleting an item deletes what it holds. Unknown ids are
made up on first read and kept (`strict`: Box's 404); a deleted id is Box's 404 for good.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from ..core import numbers
from ..core.profiles import box as box_profile
from ..core.spec.box import MINI_FIELDS, BoxSpec
from . import api, auth
from .http import ApiError, Reply, SimRequest
from .store import Store, Transaction

HOST = "api.box.com"
PREFIX = "box:"
DELETED = "box:~deleted"  # tombstones, by f"{collection}|{id}"
ROOT_ID = "0"
PAGE = 100
MAX_PAGE = 1000
# What a folder's items show of each entry without `fields` (Box's mini representations).
ITEM_MINI = ("type", "id", "sequence_id", "etag", "name", "sha1", "file_version", "url")
SORTS = {"id": "id", "name": "name", "date": "modified_at", "size": "size"}
ITEM_ORDER = {"folder": 0, "file": 1, "web_link": 2}
TRASHABLE = (
    "folders",
    "web_links",
)  # what DELETE moves to the trash here (files: sim/box_files.py)  # Box lists folders, then files, then web links


class BoxWorld:
    def __init__(
        self,
        spec: BoxSpec,
        store: Store,
        new_id: Callable[[], str],
        files: Callable[[str], list[dict]],
        delete_file: Callable[[str], None],
        strict: bool = False,
    ) -> None:
        self.spec = spec
        self.store = store
        self.new_id = new_id
        self.files = files  # the hand-made files (sim/box_files.py) in a folder, full
        self.delete_file = delete_file  # one of them, with what it holds (a folder deleted around it)
        self.strict = strict

    def handle(self, req: SimRequest) -> Reply | None:
        if req.host != HOST or not req.path.startswith("/2.0/"):
            return None
        sub = req.path[len("/2.0") :].rstrip("/") or "/"
        route, params, _ = self.spec.find(req.method, sub, req.header("box-version") or "")
        if route is None:
            return None
        template = route.op["path"]
        parts = template.strip("/").split("/")
        query = list(req.query.items())
        if template == "/users/me" and req.method == "GET":
            return self._checked(req, sub, lambda: self._me(req))
        if template == "/search" and req.method == "GET":
            return self._checked(req, sub, lambda: self._search(req))
        if template in box_profile.CHILD_LISTS and req.method == "GET":
            return self._checked(req, sub, lambda: self._children(req, template, list(params.values())[0]))
        if len(parts) == 1 and req.method == "POST":
            return self._checked(req, sub, lambda: self._create(req, route.op, parts[0], params, query))
        if len(parts) == 1 and req.method == "GET" and _is_list(self.spec, route.op) and self._kept(parts[0]):
            return self._checked(req, sub, lambda: self._list(req, parts[0]))
        if len(parts) == 2 and parts[1].startswith("{") and req.method in ("GET", "PUT", "DELETE"):
            key = params[parts[1][1:-1]]
            return self._checked(req, sub, lambda: self._record(req, route.op, parts[0], key, params, query))
        if len(parts) == 3 and parts[2] == "trash" and parts[0] in TRASHABLE and req.method in ("GET", "DELETE"):
            key = params[parts[1][1:-1]]
            return self._checked(req, sub, lambda: self._in_trash(req, parts[0], key))
        if len(parts) == 2 and parts[1].startswith("{") and parts[0] in TRASHABLE and req.method == "POST":
            key = params[parts[1][1:-1]]
            return self._checked(req, sub, lambda: self._restore(req, parts[0], key))
        if len(parts) == 3 and parts[2] == "copy" and req.method == "POST":
            key = params[parts[1][1:-1]]
            return self._checked(req, sub, lambda: self._copy(req, route.op, parts[0], key, params, query))
        return None

    def _kept(self, collection: str) -> bool:
        """Does the world hold this list? One apps create records in (a POST to it), or one with records
        already; what only Box fills (an enterprise's storage policies, a user's collections, the
        events) is the spec's generated list, never an empty one."""
        with self.store.transaction() as tx:
            if tx.keys(PREFIX + collection):
                return True
        return self.spec.find("POST", f"/{collection}")[0] is not None

    def _checked(self, req: SimRequest, sub: str, work: Callable[[], Reply]) -> Reply:
        """Box's refusal of the request (its parameters, its body), else the world's answer."""
        auth.check_box(req)
        version = req.header("box-version") or ""
        refusal = self.spec.refusal(req.method, "/2.0" + sub, list(req.query.items()), req.body, version)
        if refusal is not None:
            raise ApiError(refusal.error, refusal.message or None, context=refusal.context)
        with self.store.transaction():
            return work()

    # -- records -----------------------------------------------------------------------------------
    def get(self, tx: Transaction, collection: str, key: str, in_trash: bool = False) -> dict:
        """The record, made up on first read (unless strict or deleted), else Box's 404."""
        record = tx.get(PREFIX + collection, key)
        if record is not None and record.get("item_status") == "trashed" and not in_trash and collection == "folders":
            raise ApiError("not_found", "Item is trashed", code="trashed", status=404)  # a web link reads, as trashed
        if record is not None:
            return record
        if self.strict or tx.has(DELETED, f"{collection}|{key}") or collection == "files":
            raise _not_found(collection, key)
        record = self.made_up(collection, key)
        if record is None:
            raise _not_found(collection, key)
        tx.put(PREFIX + collection, key, record)
        return record

    def made_up(self, collection: str, key: str) -> dict | None:
        """A record as the spec's GET of it answers, with this id (the root folder: All Files)."""
        route, params, _ = self.spec.find("GET", f"/{collection}/{key}")
        if route is None or route.op["path"].count("/") != 2:
            return None
        record = self.spec.body(route.op, params, [], None)
        if not isinstance(record, dict):
            return None
        record["id"] = key
        self._lived_in(record, self.acting(None), self.spec.flat(route.op["response"]).get("properties", {}))
        if collection == "folders":
            record["parent"] = None if key == ROOT_ID else _mini(self._root())
            if key == ROOT_ID:
                record.update(self._root())
            record.pop("path_collection", None)
            record.pop("item_collection", None)
        return record

    def acting(self, req: SimRequest | None) -> dict:
        """Who a request acts as, as a user mini: the user its As-User header names, else the user its
        token was issued for, else the enterprise's first user (the app's service account stands for it)."""
        with self.store.transaction() as tx:
            wanted = ((req.header("as-user") or "").strip() or auth.box_subject(req)) if req is not None else ""
            key = wanted or tx.first_key(PREFIX + "users") or ""
            user = tx.get(PREFIX + "users", key) if key else None
            if user is None and wanted:
                user = self.get(tx, "users", wanted)  # made up (or Box's 404 when strict)
        if user is None:
            return {"type": "user", "id": key, "name": "", "login": ""}
        return {"type": "user", "id": user["id"], "name": user.get("name", ""), "login": user.get("login", "")}

    def _me(self, req: SimRequest) -> Reply:
        me = self.acting(req)
        with self.store.transaction() as tx:
            record = self.get(tx, "users", me["id"]) if me["id"] else self.made_up("users", "0") or {}
            return api.box_reply(200, self.view(tx, "users", record, req.query))

    def _lived_in(self, record: dict, user: dict, props: dict) -> None:
        """A made-up record as a live one in this enterprise: not in the trash, not shared, classified
        or locked until someone does it, and by the people who are here (not the spec example's).
        What is not so is null where the spec lets it be, else left out."""
        for k in ("trashed_at", "purged_at", "shared_link", "lock", "expires_at", "classification"):
            if record.get(k) is not None:
                if self.spec.flat(props.get(k) or {}).get("nullable"):
                    record[k] = None
                else:
                    record.pop(k)
        if record.get("item_status"):
            record["item_status"] = "active"
        for k in ("created_by", "modified_by", "owned_by"):
            if isinstance(record.get(k), dict) and user.get("id"):
                record[k] = dict(user)
        for k, v in box_profile.LIVED_IN.items():
            if k in record:
                record[k] = v
                if v is None and not self.spec.flat(props.get(k) or {}).get("nullable"):
                    record.pop(k)
        if isinstance(record.get("enterprise"), dict):
            record["enterprise"] = dict(box_profile.ENTERPRISE)
        for k, v in record.items():
            record[k] = _renamed(v)

    @staticmethod
    def _root() -> dict:
        return {"type": "folder", "id": ROOT_ID, "sequence_id": None, "etag": None, "name": "All Files"}

    def _record(self, req: SimRequest, op: dict, collection: str, key: str, params, query) -> Reply:
        with self.store.transaction() as tx:
            record = self.get(tx, collection, key)
            if "etag" in record and api.box_unchanged(req, record.get("etag")):  # If-Match, If-None-Match
                return api.box_reply(304)
            if req.method == "GET":
                return api.box_reply(200, self.view(tx, collection, record, req.query))
            if req.method == "DELETE":
                recursive = req.query.get("recursive", "").lower() == "true"  # box-sdk-gen sends True
                if collection == "folders" and not recursive and self._holds_items(tx, key):
                    raise ApiError(
                        "bad_request",
                        "Cannot delete – folder not empty",  # the spec: recursive=true deletes what it holds
                        code="folder_not_empty",
                        status=400,
                    )
                if collection in TRASHABLE:  # to the trash, with what it holds; DELETE .../trash for good
                    self._trashed(tx, collection, key, True)
                else:
                    self.delete(tx, collection, key)
                return api.box_reply(204)
            sent = req.json() if req.body.strip() else {}
            if not isinstance(sent, dict):
                raise ApiError("bad_request", "The request body must be a JSON object")
            updated = self._merge(op, params, record, sent)
            if isinstance(sent.get("parent"), dict) and "id" in sent["parent"]:  # a move: the new folder's mini
                updated["parent"] = _mini(self._parent(tx, str(sent["parent"]["id"])))
            if collection == "folders" and ("name" in sent or "parent" in sent):
                self._unused_name(tx, updated, key)
            _bump(updated)
            tx.put(PREFIX + collection, key, updated)
            if collection == "collaborations" and sent.get("role") == "owner":
                return api.box_reply(204)  # ownership handed over: Box answers no content
            return api.box_reply(200, self.view(tx, collection, updated, req.query))

    def _merge(self, op: dict, params, record: dict, sent: dict) -> dict:
        """What was sent over the record; a property set from null to an object (a shared link, a
        lock) is filled in from the spec, as Box answers it."""
        generated = self.spec.body(op, params, [], sent)
        out = dict(record)
        for k, v in sent.items():
            if isinstance(v, dict) and not isinstance(out.get(k), dict) and isinstance(generated, dict):
                base = generated.get(k)
                out[k] = {**(base if isinstance(base, dict) else {}), **v}
                if k == "shared_link":
                    out[k] = self._shared_link(out[k], record)
            elif isinstance(v, dict) and isinstance(out.get(k), dict):
                out[k] = {**out[k], **v}
                if k == "shared_link":
                    out[k] = self._shared_link(out[k], record)
            else:
                out[k] = v
        return out

    @staticmethod
    def _shared_link(link: dict, record: dict) -> dict:
        token = base64.b32encode(f"{record.get('type')}{record['id']}".encode()).decode().lower().rstrip("=")
        access = link.get("access") or "open"
        return {
            **link,
            "url": f"https://app.box.com/s/{token}",
            "download_url": f"https://app.box.com/shared/static/{token}" if record.get("type") == "file" else None,
            "access": access,
            "effective_access": access,
        }

    def _create(self, req: SimRequest, op: dict, collection: str, params, query) -> Reply:
        sent = req.json() if req.body.strip() else {}
        if not isinstance(sent, dict):
            raise ApiError("bad_request", "The request body must be a JSON object")
        with self.store.transaction() as tx:
            record = self.spec.body(op, params, [], sent)
            if not isinstance(record, dict) or "id" not in record:
                return None  # type: ignore[return-value]  # not a record (an action): the spec answers
            record = self._merge(op, params, record, sent)
            record["id"] = self.new_id()
            self._created(tx, collection, record, sent, self.acting(req))
            tx.put(PREFIX + collection, record["id"], record)
            return api.box_reply(op["status"], self.view(tx, collection, record, req.query))

    def _created(self, tx: Transaction, collection: str, record: dict, sent: dict, acting: dict) -> None:
        now = api.now()
        for k in ("created_at", "modified_at", "content_created_at", "content_modified_at"):
            if k in record:
                record[k] = now
        for k in ("etag", "sequence_id"):
            if k in record:
                record[k] = "0"
        for k in ("trashed_at", "purged_at", "shared_link", "lock", "classification"):  # not the spec example's
            if k in record and k not in sent:
                record[k] = None
        for k in ("created_by", "modified_by", "owned_by"):  # whoever the request acts as
            if isinstance(record.get(k), dict) and k not in sent:
                record[k] = dict(acting)
        if record.get("item_status"):
            record["item_status"] = "active"
        if isinstance(record.get("parent"), dict):
            parent_id = str(record["parent"].get("id", ROOT_ID))
            record["parent"] = _mini(self._parent(tx, parent_id))
        if collection in ("folders", "web_links") and "description" not in sent:
            record["description"] = ""  # not the spec example's: a new item is as it was sent
        if collection == "folders":
            record["size"] = 0
        if collection == "folders":
            self._unused_name(tx, record, None)
            record.pop("item_collection", None)
        if collection == "collaborations":
            self._invited(tx, record, sent)
        for field, shown in box_profile.SENT_AS.get(collection, {}).items():
            value = sent.get(field)
            if isinstance(value, str):  # an id alone (policy_id): the answer's object of that id
                value = {"id": value}
            if isinstance(value, dict) and shown in record:
                record[shown] = {**(record[shown] if isinstance(record[shown], dict) else {}), **value}
        for field in ("item", "group", "user"):  # what it is on: the real record's mini
            target = record.get(field)
            if isinstance(target, dict) and target.get("type") and target.get("id"):
                owner = f"{target['type']}s"
                if tx.has(PREFIX + owner, str(target["id"])) or owner in ("folders", "groups", "users"):
                    try:
                        record[field] = {**target, **_mini(self.get(tx, owner, str(target["id"])))}
                    except ApiError:
                        raise ApiError("not_found", f"Could not find the specified resource ({field})") from None

    def _trashed(self, tx: Transaction, collection: str, key: str, trashed: bool) -> None:
        """An item into the trash (or back), a folder with the folders and web links it holds."""
        record = tx.get(PREFIX + collection, key) or {}
        now = api.now()
        record.update(item_status="trashed" if trashed else "active", trashed_at=now if trashed else None)
        tx.put(PREFIX + collection, key, record)
        if collection == "folders":
            for child in ("folders", "web_links"):
                for held in tx.scan(PREFIX + child, lambda r: (r.get("parent") or {}).get("id") == key):
                    self._trashed(tx, child, held["id"], trashed)

    def _in_trash(self, req: SimRequest, collection: str, key: str) -> Reply:
        with self.store.transaction() as tx:
            record = self.get(tx, collection, key, in_trash=True)
            if record.get("item_status") != "trashed":
                raise ApiError(
                    "not_found", f"Could not find the specified resource ({collection[:-1]} {key} in the trash)"
                )
            if req.method == "DELETE":
                self.delete(tx, collection, key)
                return api.box_reply(204)
            return api.box_reply(200, self.view(tx, collection, record, req.query))

    def _restore(self, req: SimRequest, collection: str, key: str) -> Reply:
        with self.store.transaction() as tx:
            record = self.get(tx, collection, key, in_trash=True)
            if record.get("item_status") != "trashed":
                raise ApiError("method_not_allowed", f"Only a {collection[:-1]} in the trash can be restored")
            self._trashed(tx, collection, key, False)
            restored = tx.get(PREFIX + collection, key) or record
            if collection == "folders":
                self._unused_name(tx, restored, key)
            return api.box_reply(201, self.view(tx, collection, restored, req.query))

    def _invited(self, tx: Transaction, record: dict, sent: dict) -> None:
        """A collaboration with a user of the enterprise is accepted; one with a login nobody here has
        is an invitation, pending until accepted, to that address."""
        who = sent.get("accessible_by")
        if not isinstance(who, dict) or who.get("type") != "user":
            return
        login = str(who.get("login") or "").casefold()
        found = tx.get(PREFIX + "users", str(who.get("id"))) if who.get("id") else None
        if found is None and login:
            found = next(iter(tx.scan(PREFIX + "users", lambda u: str(u.get("login", "")).casefold() == login)), None)
        if found is not None:
            record["accessible_by"] = {k: found.get(k) for k in ("type", "id", "name", "login")} | {"type": "user"}
            record["status"], record["invite_email"] = "accepted", None
        elif login:
            record["accessible_by"] = {"type": "user", "name": "", "login": who.get("login")}
            record["status"], record["invite_email"] = "pending", who.get("login")

    def _copy(self, req: SimRequest, op: dict, collection: str, key: str, params, query) -> Reply:
        sent = req.json() if req.body.strip() else {}
        with self.store.transaction() as tx:
            source = self.get(tx, collection, key)
            record = {**source, **{k: v for k, v in sent.items() if k in ("name", "description")}}
            record["id"] = self.new_id()
            if isinstance(sent.get("parent"), dict):
                record["parent"] = dict(sent["parent"])
            self._created(tx, collection, record, sent, self.acting(req))
            tx.put(PREFIX + collection, record["id"], record)
            if collection == "folders":  # a folder's copy holds copies of what it holds
                self._copy_items(tx, key, record["id"])
            return api.box_reply(op["status"], self.view(tx, collection, record, req.query))

    def _copy_items(self, tx: Transaction, source: str, target: str) -> None:
        for collection in ("folders", "web_links"):
            for child in tx.scan(PREFIX + collection):
                if (child.get("parent") or {}).get("id") == source:
                    copy = {**child, "id": self.new_id(), "parent": {**child["parent"], "id": target}}
                    tx.put(PREFIX + collection, copy["id"], copy)
                    if collection == "folders":
                        self._copy_items(tx, child["id"], copy["id"])

    def _unused_name(self, tx: Transaction, record: dict, but: str | None) -> None:
        parent = (record.get("parent") or {}).get("id")
        name = str(record.get("name", "")).casefold()
        for other in self._items(tx, str(parent)):
            if other.get("id") != but and str(other.get("name", "")).casefold() == name:
                raise ApiError(
                    "conflict",
                    "Item with the same name already exists",
                    code="item_name_in_use",
                    context={"conflicts": [_mini(other)]},
                )

    def _holds_items(self, tx: Transaction, folder: str) -> bool:
        items = (r for c in ("folders", "web_links") for r in tx.scan(PREFIX + c))
        return any(
            (r.get("parent") or {}).get("id") == folder and r.get("item_status") != "trashed" for r in items
        ) or bool(self.files(folder))

    def delete(self, tx: Transaction, collection: str, key: str) -> None:
        """The record and what it holds: a folder's items, an item's comments, collaborations..."""
        tx.delete(PREFIX + collection, key)
        tx.put(DELETED, f"{collection}|{key}", {})
        self.delete_held(tx, collection, key)

    def delete_held(self, tx: Transaction, collection: str, key: str) -> None:
        """What an item holds, gone with it: a folder's items (the hand-made files among them), a
        file's or folder's comments and collaborations, a group's memberships."""
        if collection == "folders":
            for f in self.files(key):
                self.delete_file(f["id"])
        kind = collection[:-1]
        for template, (collections, field) in box_profile.CHILD_LISTS.items():
            if template.split("/")[1] != collection:
                continue
            for child_collection in collections:
                for child in tx.scan(PREFIX + child_collection):
                    target = child.get(field) or {}
                    if isinstance(target, dict) and str(target.get("id")) == key and target.get("type", kind) == kind:
                        self.delete(tx, child_collection, child["id"])

    # -- what the hand-made files ask of the world (sim/box_files.py) ------------------------------
    def _parent(self, tx: Transaction, key: str) -> dict:
        """The folder a new or moved item goes into: one the world has (created, seeded or read
        before; a parent is not made up, as a read is), else Box's 404."""
        if key == ROOT_ID:
            return self._root()
        folder = tx.get(PREFIX + "folders", key)
        if folder is None:
            raise _not_found("folders", key)
        return folder

    def folder_exists(self, key: str) -> bool:
        with self.store.transaction() as tx:
            return key == ROOT_ID or tx.has(PREFIX + "folders", key)

    def folder_mini(self, key: str) -> dict:
        with self.store.transaction() as tx:
            folder = tx.get(PREFIX + "folders", key) if key != ROOT_ID else None
            return _mini(folder or self._root())

    def path_to(self, key: str) -> dict:
        """A path_collection of an item in this folder."""
        with self.store.transaction() as tx:
            return self._path(tx, {"parent": self.folder_mini(key)})

    def filled(self, name: str, value, record: dict):
        """A shared link or lock as Box answers it, from what was sent (null removes it)."""
        if not isinstance(value, dict):
            return None
        if name == "shared_link":
            return self._shared_link(
                {"access": "open", "permissions": {"can_download": True}, **value}, {"type": "file", **record}
            )
        return {"type": "lock", "id": self.new_id(), "created_at": api.now(), **value}

    # -- views and lists ---------------------------------------------------------------------------
    def view(self, tx: Transaction, collection: str, record: dict, args: dict[str, str]) -> dict:
        out = dict(record)
        if collection in ("folders", "files", "web_links") and "path_collection" in self._fields_of(collection):
            out["path_collection"] = self._path(tx, record)
        return _fields(out, args)

    def _fields_of(self, collection: str) -> set[str]:
        route, _, _ = self.spec.find("GET", f"/{collection}/1")
        if route is None or route.op.get("response") is None:
            return set()
        return set(self.spec.flat(route.op["response"]).get("properties", {}))

    def _path(self, tx: Transaction, record: dict) -> dict:
        entries: list[dict] = []
        parent = record.get("parent")
        seen: set[str] = set()
        while isinstance(parent, dict) and parent.get("id") not in (None, *seen) and len(entries) < 1000:
            seen.add(parent["id"])
            folder = tx.get(PREFIX + "folders", str(parent["id"])) if parent["id"] != ROOT_ID else self._root()
            if folder is None:
                break
            entries.insert(0, _mini(folder))
            parent = folder.get("parent")
        return {"total_count": len(entries), "entries": entries}

    def _items(self, tx: Transaction, folder: str) -> list[dict]:
        out = [
            r
            for collection in ("folders", "web_links")
            for r in tx.scan(PREFIX + collection)
            if str((r.get("parent") or {}).get("id")) == folder and r.get("item_status") != "trashed"
        ]
        return out + self.files(folder)

    def _children(self, req: SimRequest, template: str, key: str) -> Reply:
        collections, field = box_profile.CHILD_LISTS[template]
        parent_collection = template.split("/")[1]
        with self.store.transaction() as tx:
            if parent_collection != "files":  # files are the hand-made module's (404 when unknown)
                self.get(tx, parent_collection, key)
            if template == "/folders/{folder_id}/items":
                entries = self._items(tx, key)
                entries = _sorted(entries, req.query.get("sort"), req.query.get("direction"))
                mini = True
            else:
                entries = [
                    r for c in collections for r in tx.scan(PREFIX + c) if str((r.get(field) or {}).get("id")) == key
                ]
                mini = False
            return api.box_reply(200, self._page(req, entries, mini))

    def _list(self, req: SimRequest, collection: str) -> Reply:
        with self.store.transaction() as tx:
            entries = tx.scan(PREFIX + collection)
            if collection == "users":
                term = req.query.get("filter_term", "").casefold()
                entries = [e for e in entries if term in f"{e.get('name', '')} {e.get('login', '')}".casefold()]
            if collection == "groups":
                term = req.query.get("filter_term", "").casefold()
                entries = [e for e in entries if str(e.get("name", "")).casefold().startswith(term)]
            return api.box_reply(200, self._page(req, entries, False))

    def _page(self, req: SimRequest, entries: list[dict], mini: bool) -> dict:
        """One page, by offset (total_count, offset, limit) or by marker (next_marker), as asked."""
        args = req.query
        limit = min(numbers.count(args.get("limit")) or PAGE, MAX_PAGE)
        wanted = [f for f in args.get("fields", "").split(",") if f]
        shown = [
            _fields(e, args) if wanted else ({k: e[k] for k in ITEM_MINI if k in e} if mini else e) for e in entries
        ]
        if args.get("usemarker", "").lower() == "true" or "marker" in args:
            start = _unmarker(args.get("marker", ""))
            page = shown[start : start + limit]
            following = start + limit
            return {
                "entries": page,
                "limit": limit,
                "next_marker": _marker(following) if following < len(shown) else None,
                "prev_marker": _marker(max(start - limit, 0)) if start else None,
            }
        offset = numbers.count(args.get("offset")) or 0
        return {
            "total_count": len(shown),
            "entries": shown[offset : offset + limit],
            "offset": offset,
            "limit": limit,
            "order": [{"by": args.get("sort", "type"), "direction": args.get("direction", "ASC").upper()}],
        }

    def _search(self, req: SimRequest) -> Reply:
        args = req.query
        term = args.get("query", "").strip().strip('"').casefold()
        types = {t for t in args.get("type", "").split(",") if t}
        ancestors = {a for a in args.get("ancestor_folder_ids", "").split(",") if a}
        scopes = {s for s in args.get("content_types", "name,description").split(",") if s}
        with self.store.transaction() as tx:
            found = []
            pool = [
                *tx.scan(PREFIX + "folders"),
                *tx.scan(PREFIX + "web_links"),
                *(f for folder in self._folder_ids(tx) for f in self.files(folder)),
            ]
            for record in pool:
                if record.get("item_status") == "trashed":  # Box's search leaves the trash out by default
                    continue
                if types and record.get("type") not in types:
                    continue
                text = " ".join(str(record.get(s) or "") for s in scopes if s in ("name", "description"))
                if term and term not in text.casefold():
                    continue
                if ancestors:
                    path = {e["id"] for e in self._path(tx, record)["entries"]}
                    if not path & ancestors:
                        continue
                found.append(self.view(tx, f"{record.get('type')}s", record, {}))
            page = self._page(req, found, False)
            page.pop("order", None)
            page["type"] = "search_results_items"
            return api.box_reply(200, page)

    def _folder_ids(self, tx: Transaction) -> list[str]:
        return [ROOT_ID, *tx.keys(PREFIX + "folders")]


def _is_list(spec: BoxSpec, op: dict) -> bool:
    response = op.get("response")
    return isinstance(response, dict) and "entries" in spec.flat(response).get("properties", {})


def _fields(record: dict, args: dict[str, str]) -> dict:
    wanted = [f for f in args.get("fields", "").split(",") if f]
    if not wanted:
        return record
    return {k: v for k, v in record.items() if k in MINI_FIELDS or k in wanted}


def _renamed(value: Any) -> Any:
    """The spec example's company and domain (Acme, example.com) as the enterprise's, throughout."""
    if isinstance(value, str):
        for old, new in box_profile.EXAMPLE_NAMES.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    return value


def _mini(record: dict) -> dict:
    return {k: record.get(k) for k in ("type", "id", "sequence_id", "etag", "name") if k in record}


def _bump(record: dict) -> None:
    for key in ("etag", "sequence_id"):
        if key in record:
            value = str(record.get(key) or "0")
            record[key] = str(int(value) + 1 if value.isdigit() else 1)
    if "modified_at" in record:
        record["modified_at"] = api.now()


def _sorted(entries: list[dict], sort: str | None, direction: str | None) -> list[dict]:
    field = SORTS.get(sort or "", "")
    descending = (direction or "ASC").upper() == "DESC"
    out = list(entries)
    if field:
        out.sort(
            key=lambda e: str(e.get(field) or "").casefold() if field != "size" else e.get("size") or 0,
            reverse=descending,
        )
    out.sort(key=lambda e: ITEM_ORDER.get(str(e.get("type")), 3))  # stable: type first, then the sort
    return out


def _marker(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _unmarker(marker: str) -> int:
    if not marker:
        return 0
    try:
        text = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)).decode()
    except ValueError:
        raise ApiError("bad_request", "Invalid value for 'marker'") from None
    value = numbers.count(text[2:]) if text.startswith("o:") else None
    if value is None:
        raise ApiError("bad_request", "Invalid value for 'marker'")
    return value


def _not_found(collection: str, key: str) -> ApiError:
    return ApiError("not_found", f"Could not find the specified resource ({collection[:-1]} {key})")
