"""A OneDrive drive as Graph serves it (v1.0 and beta): the drive, its items by id or by path,
children, small uploads (`PUT .../content`), upload sessions for large files, content downloads
through a 302 to a pre-authenticated URL on the tenant's SharePoint host (which this module serves
too, Range included), and delete.

Addressing: `/me/drive`, `/users/{id}/drive`, `/drives/{id}`; then `/root`, `/items/{id}`, either
followed by `:/relative/path:`; then nothing, `/children`, `/content` or `/createUploadSession`.
"""

from __future__ import annotations

import base64
import mimetypes
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from ..core import yamlfile
from ..core.paths import Routes
from ..core.profiles import graph as graph_profile
from . import api, auth, downloads, upload_session, worldfile
from .blobs import Digests
from .drive_items import DEFAULT as DEFAULT_DRIVE
from .drive_items import PREFIX as DRIVE_COLLECTIONS
from .http import ApiError, Later, Reply, SimRequest, content_reply
from .module import ResourceModule

if TYPE_CHECKING:
    from .world import World

HOST = "graph.microsoft.com"
TENANT = "contoso-my.sharepoint.com"  # uploadUrl and downloadUrl point here, as at a real tenant
# The drive, however it is addressed; then an item's address, which OneDrive's grammar gives
# (`/root`, `/items/{id}`, either with `:/relative/path:`, then an action): _ITEM reads it.
ROUTES = Routes(
    ("me", "/{version}/me/drive/{address**}"),
    ("user", "/{version}/users/{user_id}/drive/{address**}"),
    ("drive", "/{version}/drives/{drive_id}/{address**}"),
)
TENANT_ROUTES = Routes(
    ("upload", "/personal/demo/_api/v2.0/drive/uploadSession"),
    ("download", "/personal/demo/_layouts/15/download.aspx"),
)
_ITEM = re.compile(r"^/(?:root|items/([^/:]+))(?::(/[^:]*?)?:?)?(/children|/content|/createUploadSession)?/?$")
UPLOAD_URL = f"https://{TENANT}/personal/demo/_api/v2.0/drive/uploadSession?guid="
# OneDrive for Business and SharePoint: "The entire decoded file path, including the file name,
# can't contain more than 400 characters" (Restrictions and limitations in OneDrive and SharePoint).
DRIVE_KEYS = {"id", "name", "owner", "rootId", "items"}
PATH_MAX = 400
PATH_TOO_LONG = f"The path is longer than the {PATH_MAX} characters OneDrive allows."


def handle(world: World, req: SimRequest) -> Reply | Later | None:
    if req.host == TENANT:
        on_tenant = TENANT_ROUTES.match(req.path)
        if on_tenant is None:
            return None
        return _fragment(world, req) if on_tenant[0] == "upload" else _download(world, req)
    found = ROUTES.match(req.path) if req.host == HOST else None
    if found is None or found[1]["version"] not in graph_profile.VERSIONS:
        return None
    version, drive_id = found[1]["version"], found[1].get("drive_id")
    rest = unquote(found[1]["address"])  # SDKs send an item id of `root:/a/b.txt:` percent-encoded, as a path parameter
    item = _ITEM.match(rest)
    if rest.strip("/") and not item:
        return None
    auth.check_bearer(req)
    base = f"https://{HOST}/{version}"
    with world.lock, world.store.transaction():  # a request refused half-way changes nothing
        if drive_id is not None and unquote(drive_id) != world.graph_drive.about()["id"]:
            raise ApiError("not_found", f"The drive '{drive_id}' was not found.")
        if not rest.strip("/"):
            if req.method != "GET":
                raise ApiError("method_not_allowed")
            return api.graph_reply(
                req, 200, {"@odata.context": f"{base}/$metadata#drives/$entity", **_drive_view(world)}
            )
        assert item is not None
        item_id, path, action = item.groups()
        start = world.graph_drive.about()["rootId"] if item_id in (None, "root") else item_id
        if start not in world.graph_drive:
            raise ApiError("not_found", "Item not found")
        names = [n for n in (path or "").split("/") if n]
        if names and len("/".join([*world.graph_drive.names_to(start), *names])) > PATH_MAX:
            raise ApiError("bad_request", PATH_TOO_LONG, code="invalidRequest", context={"inner_code": "pathIsTooLong"})
        if action == "/content" and req.method == "PUT":
            return _put_content(world, req, base, start, names)
        if action == "/createUploadSession":
            return _create_session(world, req, start, names)
        target = _walk(world, start, names)
        if target is None:
            raise ApiError("not_found", "Item not found")
        if action == "/children":
            return _children(world, req, base, target)
        if action == "/content":
            return _content_redirect(world, req, target)
        return _item(world, req, base, target)


# -- representations ------------------------------------------------------------------------------
def _drive_view(world: World) -> dict:
    d = world.graph_drive.about()
    used = sum(len(world.blobs.get(blob, b"")) for blob in world.graph_drive.blobs())
    return {
        "id": d["id"],
        "driveType": "business",
        "name": d["name"],
        "owner": {"user": {"displayName": d["owner"]}},
        "quota": {"total": 1099511627776, "used": used, "remaining": 1099511627776 - used, "state": "normal"},
        "webUrl": f"https://{TENANT}/personal/demo/Documents",
    }


def _path_of(world: World, item_id: str) -> str:
    return "/".join(world.graph_drive.names_to(item_id))


def item_view(world: World, item_id: str) -> dict:
    item = world.graph_drive[item_id]
    root = world.graph_drive.about()["rootId"]
    out: dict[str, Any] = {
        "id": item_id,
        "name": item["name"],
        "eTag": f'"{{{item_id}}},{item.get("version", 1) + item.get("edits", 0)}"',  # a rename changes it
        "cTag": f'"c:{{{item_id}}},{item.get("version", 1)}"',
        "createdDateTime": item.get("created", "2026-01-01T00:00:00Z"),
        "lastModifiedDateTime": item.get("modified", item.get("created", "2026-01-01T00:00:00Z")),
        "webUrl": f"https://{TENANT}/personal/demo/Documents/{quote(_path_of(world, item_id))}".rstrip("/"),
        "createdBy": {"user": {"displayName": world.graph_drive.about()["owner"]}},
        "lastModifiedBy": {"user": {"displayName": world.graph_drive.about()["owner"]}},
    }
    if item_id == root:
        out["root"] = {}
    else:
        parent = item["parent"]
        parent_path = _path_of(world, parent)
        out["parentReference"] = {
            "driveId": world.graph_drive.about()["id"],
            "driveType": "business",
            "id": parent,
            "path": "/drive/root:" + (f"/{parent_path}" if parent_path else ""),
        }
    if item.get("folder"):
        descendants = world.graph_drive.descendants(item_id)
        out["size"] = sum(len(world.blobs.get(i.get("blob", ""), b"")) for i in descendants)
        out["folder"] = {"childCount": world.graph_drive.child_count(item_id)}
    else:
        out["size"] = len(world.blobs[item["blob"]])
        out["file"] = {
            "mimeType": mimetypes.guess_type(item["name"])[0] or "application/octet-stream",
            "hashes": {
                "sha1Hash": world.blobs.sha1(item["blob"]).upper(),
                "sha256Hash": item["blob"].upper(),  # content is kept by its SHA-256
            },
        }
        out["@microsoft.graph.downloadUrl"] = download_url(world, item)
    return out


def download_url(world: World, item: dict) -> str:
    """A pre-authenticated URL of this content of the item (a drive item or a print document)."""
    token = downloads.token(world, item["id"], item["blob"])
    return f"https://{TENANT}/personal/demo/_layouts/15/download.aspx?UniqueId={item['id']}&tempauth={token}"


def _entity(base: str, world: World, item_id: str) -> dict:
    return {
        "@odata.context": f"{base}/$metadata#drives('{world.graph_drive.about()['id']}')/items/$entity",
        **item_view(world, item_id),
    }


# -- navigation -----------------------------------------------------------------------------------
def _walk(world: World, start: str, names: list[str]) -> str | None:
    at: str | None = start
    for name in names:
        if at is None or not world.graph_drive[at].get("folder"):
            return None
        at = world.graph_drive.child(at, name)
    return at


def _new_id() -> str:
    return "01" + base64.b32encode(secrets.token_bytes(20)).decode()


def _check_name(name: str) -> str:
    if not name or name in (".", "..") or any(c in name for c in '"*:<>?/\\|') or name != name.strip():
        raise ApiError("bad_request", f"The name '{name}' is not a valid item name.", code="invalidRequest")
    return name


def _place(world: World, start: str, names: list[str], conflict: str) -> tuple[str, str, str | None]:
    """(parent folder, name, existing item or None) for content put at start:/names; missing
    folders on the way are created, as OneDrive does for a path upload. Checks before it changes."""
    if not names:
        item = world.graph_drive[start]
        if item.get("folder"):
            raise ApiError("bad_request", "Cannot upload content to a folder.", code="invalidRequest")
        return item["parent"], item["name"], start
    for name in names:
        _check_name(name)
    folder, depth = start, 0  # the deepest folder that exists, and how many names it took
    while depth < len(names) - 1 and (found := world.graph_drive.child(folder, names[depth])) is not None:
        if not world.graph_drive[found].get("folder"):
            raise ApiError("conflict", f"'{names[depth]}' is a file, not a folder.", code="nameAlreadyExists")
        folder, depth = found, depth + 1
    if not world.graph_drive[folder].get("folder"):
        raise ApiError("bad_request", "The parent item is not a folder.", code="invalidRequest")
    name, existing = names[-1], None
    if depth == len(names) - 1:
        name, existing = _resolve(world, folder, names[-1], conflict, NAME_TAKEN)
    for missing in names[depth:-1]:  # everything is checked: now the folders on the way can be made
        created = _new_id()
        world.graph_drive.add(
            {"id": created, "name": missing, "parent": folder, "folder": True, "created": api.graph_now()}
        )
        folder = created
    return folder, name, existing


NAME_TAKEN = "The specified item name already exists."
# What Graph answers when an upload session made with conflictBehavior fail ends on a name taken meanwhile
SESSION_NAME_TAKEN = (
    "Another file exists with the same name as the uploaded session. You can redirect the upload session to "
    "use a new filename by calling PUT with the new metadata and @microsoft.graph.sourceUrl attribute."
)


def _resolve(world: World, folder: str, name: str, conflict: str, taken: str) -> tuple[str, str | None]:
    """The name content gets in folder, and the file it replaces (or None), by conflictBehavior."""
    existing = world.graph_drive.child(folder, name)
    if existing is None:
        return name, None
    if conflict == "fail":
        raise ApiError("conflict", taken, code="nameAlreadyExists")
    if conflict == "rename":  # each try one lookup in the folder's index
        stem, dot, ext = name.rpartition(".")
        stem, ext = (stem, dot + ext) if stem else (name, "")
        n = 1
        while world.graph_drive.child(folder, f"{stem} {n}{ext}") is not None:
            n += 1
        return f"{stem} {n}{ext}", None
    if world.graph_drive[existing].get("folder"):
        raise ApiError("conflict", taken, code="nameAlreadyExists")
    return name, existing


def _conflict(value: Any) -> str:
    value = value or "replace"
    if value not in ("fail", "replace", "rename"):
        raise ApiError(
            "bad_request",
            f"Invalid value '{value}' for @microsoft.graph.conflictBehavior: fail, replace or rename.",
            code="invalidRequest",
        )
    return str(value)


def _save(
    world: World, folder: str, name: str, existing: str | None, content: bytes, digests: Digests
) -> tuple[str, bool]:
    """The item written, and whether it is new (under the lock; the digests computed before it)."""
    if existing is not None:
        item = world.graph_drive[existing]
        item.update(blob=world.put_blob(content, digests), modified=api.graph_now(), version=item.get("version", 1) + 1)
        world.graph_drive.replace(item)
        world.changed()
        return existing, False
    item_id = _new_id()
    world.graph_drive.add(
        {
            "id": item_id,
            "name": name,
            "parent": folder,
            "blob": world.put_blob(content, digests),
            "created": api.graph_now(),
        }
    )
    world.changed()
    return item_id, True


# -- handlers -------------------------------------------------------------------------------------
def _item(world: World, req: SimRequest, base: str, item_id: str) -> Reply:
    if req.method == "GET":
        return api.graph_reply(req, 200, _entity(base, world, item_id))
    if req.method == "DELETE":
        if item_id == world.graph_drive.about()["rootId"]:
            raise ApiError("forbidden", "The root folder cannot be deleted.", code="accessDenied")
        world.graph_drive.remove(item_id)
        world.changed()
        return api.graph_reply(req, 204)
    if req.method == "PATCH":
        return _update(world, req, base, item_id)
    raise ApiError("method_not_allowed")


def _update(world: World, req: SimRequest, base: str, item_id: str) -> Reply:
    """PATCH of an item: a rename (`name`), a move (`parentReference`), a description; a name taken
    in the folder it goes to is Graph's 409 nameAlreadyExists, as OneDrive answers."""
    data = req.json()
    if not isinstance(data, dict):
        raise ApiError("bad_request", "The request body must be a JSON object.", code="invalidRequest")
    drive, item = world.graph_drive, dict(world.graph_drive[item_id])
    if item_id == drive.about()["rootId"] and ("name" in data or "parentReference" in data):
        raise ApiError("forbidden", "The root folder cannot be renamed or moved.", code="accessDenied")
    name = _check_name(str(data["name"])) if "name" in data else item["name"]
    parent = item.get("parent")
    reference = data.get("parentReference")
    if isinstance(reference, dict) and (reference.get("id") or reference.get("path")):
        if reference.get("id"):
            parent = str(reference["id"])
        else:
            path = str(reference["path"]).split("root:", 1)[-1].strip("/")
            parent = _walk(world, drive.about()["rootId"], [p for p in path.split("/") if p]) or ""
        if parent not in drive or not drive[parent].get("folder"):
            raise ApiError("not_found", "The parent folder does not exist.", code="itemNotFound")
        if parent == item_id or any(d["id"] == parent for d in drive.descendants(item_id)):
            raise ApiError("bad_request", "An item cannot be moved into itself.", code="invalidRequest")
    taken = drive.child(str(parent), name)
    if taken is not None and taken != item_id:
        raise ApiError(
            "conflict", "An item with the same name already exists under the parent", code="nameAlreadyExists"
        )
    if "description" in data:
        item["description"] = data["description"]
    item.update(modified=api.graph_now(), edits=item.get("edits", 0) + 1)
    drive.move(item, name, str(parent))
    world.changed()
    return api.graph_reply(req, 200, _entity(base, world, item_id))


def _children(world: World, req: SimRequest, base: str, folder: str) -> Reply:
    if req.method != "GET":
        raise ApiError("method_not_allowed")
    if not world.graph_drive[folder].get("folder"):
        raise ApiError("bad_request", "The item is not a folder.", code="invalidRequest")
    value = [item_view(world, i["id"]) for i in world.graph_drive.children(folder)]
    context = f"{base}/$metadata#drives('{world.graph_drive.about()['id']}')/items('{folder}')/children"
    return api.graph_reply(req, 200, {"@odata.context": context, "value": value})


def _put_content(world: World, req: SimRequest, base: str, start: str, names: list[str]) -> Later:
    conflict = _conflict(req.query.get("@microsoft.graph.conflictBehavior"))

    def work() -> Reply:
        digests = Digests.of(req.body)  # off the lock and the event loop
        # on disk first, off the lock (with --state), then the item that names it, in one transaction
        with world.content_kept(req.body, digests), world.lock, world.store.transaction():
            if start not in world.graph_drive:
                raise ApiError("not_found", "Item not found")
            folder, name, existing = _place(world, start, names, conflict)
            item_id, new = _save(world, folder, name, existing, req.body, digests)
            return api.graph_reply(req, 201 if new else 200, _entity(base, world, item_id))

    return Later(work)


def _content_redirect(world: World, req: SimRequest, item_id: str) -> Reply:
    if req.method != "GET":
        raise ApiError("method_not_allowed")
    item = world.graph_drive[item_id]
    if item.get("folder"):
        raise ApiError("not_found", "The item has no content: it is a folder.", code="itemNotFound")
    reply = api.graph_reply(req, 302)
    reply.headers.append(("Location", download_url(world, item)))
    return reply


def _download(world: World, req: SimRequest) -> Reply:
    """download.aspx: the item's content while the URL's token is that of its current content; a
    deleted item's URL answers 404."""
    if req.method != "GET":
        raise ApiError("method_not_allowed")
    item_id = req.query.get("UniqueId", "")
    with world.lock, world.store.transaction():
        from . import graph_print_jobs  # here: it imports this module (download_url)

        item = world.graph_drive.get(item_id) or graph_print_jobs.document(world, item_id)
        if item is None or not item.get("blob"):
            raise ApiError("not_found", "The item the download URL names does not exist.", code="itemNotFound")
        if not downloads.valid(world, item_id, item["blob"], req.query.get("tempauth", "")):
            raise ApiError(
                "unauthorized", "The download URL is not valid or has expired.", code="invalidAuthenticationToken"
            )
        content, key = world.blobs[item["blob"]], item["blob"]
    name = item.get("name") or item.get("displayName", "")
    disposition = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
    return content_reply(req, content, name, key[:32], [("Content-Disposition", disposition)])


# -- upload sessions ------------------------------------------------------------------------------
def _create_session(world: World, req: SimRequest, start: str, names: list[str]) -> Reply:
    if req.method != "POST":
        raise ApiError("method_not_allowed")
    data = req.json() if req.body.strip() else {}
    item = data.get("item", {}) if isinstance(data, dict) else None
    if not isinstance(item, dict):
        raise ApiError("bad_request", "The request body must be a JSON object with an optional 'item'.")
    conflict = _conflict(item.get("@microsoft.graph.conflictBehavior"))
    if names and item.get("name") and item["name"] != names[-1]:
        names = [*names[:-1], item["name"]]
    folder, name, _ = _place(world, start, names, conflict)  # checked now; the name is resolved again at the end
    version = req.path.split("/")[1]
    _, body = upload_session.create(
        world, UPLOAD_URL, kind="drive", folder=folder, name=name, version=version, conflict=conflict
    )
    context = f"https://{HOST}/{version}/$metadata#microsoft.graph.uploadSession"
    return api.graph_reply(req, 200, {"@odata.context": context, **body})


def _fragment(world: World, req: SimRequest) -> Reply | Later:
    def finish(s: dict, content: bytes, digests: Digests) -> Reply:
        if s["folder"] not in world.graph_drive:
            raise ApiError("not_found", "The folder the session uploads to was deleted.", code="itemNotFound")
        # the folder may have changed since the session began: its conflictBehavior decides now
        name, existing = _resolve(world, s["folder"], s["name"], s["conflict"], SESSION_NAME_TAKEN)
        item_id, new = _save(world, s["folder"], name, existing, content, digests)
        return api.graph_reply(req, 201 if new else 200, _entity(f"https://{HOST}/{s['version']}", world, item_id))

    return upload_session.answer(world, req, api.graph_reply, finish)


def load(check: yamlfile.Checker, w: World, world_doc: dict[str, dict], blobs: Path | None) -> None:
    """graph.drive: the one drive, its items listed with their parent's id (none: the root)."""
    keys: tuple = ("graph", "drive")
    doc = dict(check.mapping(world_doc["graph"].get("drive") or {}, keys, "graph.drive"))
    check.keys(doc, DRIVE_KEYS, keys, "graph.drive")
    items = worldfile.list_of(check, doc.pop("items", None), keys + ("items",))
    w.graph_drive.set_about({**DEFAULT_DRIVE, **{k: str(v) for k, v in doc.items()}})
    root = w.graph_drive.about()["rootId"]
    w.graph_drive.add({"id": root, "name": "root", "folder": True})
    for i, item in enumerate(items):
        item = dict(check.mapping(item, keys + ("items", i), "a drive item"))
        item_id = worldfile.id_of(check, item, keys + ("items", i))
        item["parent"] = str(item.get("parent") or root)
        if item_id in w.graph_drive:
            raise check.fail(keys + ("items", i, "id"), f"drive item {item_id} is listed twice")
        if item["parent"] not in w.graph_drive or not w.graph_drive[item["parent"]].get("folder"):
            raise check.fail(
                keys + ("items", i, "parent"), f"parent {item['parent']!r} is not a folder listed before this item"
            )
        if not isinstance(item.get("name"), str) or not item["name"]:
            raise check.fail(keys + ("items", i), "a drive item needs a name")
        if w.graph_drive.child(item["parent"], item["name"]) is not None:
            raise check.fail(
                keys + ("items", i, "name"), f"{item['name']!r} is in that folder already (names ignore case)"
            )
        if not item.get("folder"):
            worldfile.content_of(check, w, item, keys + ("items", i), blobs)
        w.graph_drive.add(item)


def dump(world: World) -> dict[str, dict]:
    about = world.graph_drive.about()
    items = [i for i in world.graph_drive.all() if i["id"] != about["rootId"]]
    return {"graph": {"drive": {**about, "items": items}}}


# Its part of a world file, as the world's JSON Schema has it (sim/world_schema.py builds the schema).
WORLD_SCHEMA: dict = {
    "graph": {
        "drive": {
            "type": "object",
            "additionalProperties": False,
            "description": "the one OneDrive drive: /me/drive and /drives/{id}",
            "properties": {
                "id": worldfile.TEXT,
                "name": worldfile.TEXT,
                "owner": worldfile.TEXT,
                "rootId": {"type": "string", "description": "the id of the root folder"},
                "items": worldfile.records(
                    {
                        "id": worldfile.TEXT,
                        "name": worldfile.TEXT,
                        "parent": {"type": "string", "description": "a folder listed before this item; none: the root"},
                        "folder": {"type": "boolean"},
                        "content": worldfile.CONTENT,
                        "blob": worldfile.BLOB,
                    },
                    required=("id", "name"),
                ),
            },
        }
    }
}


MODULE = ResourceModule(
    name="OneDrive file(s)",
    on_host=lambda host: host in (HOST, TENANT),
    handle=handle,
    routes=(ROUTES, TENANT_ROUTES),
    schema=WORLD_SCHEMA,
    load=load,
    dump=dump,
    collections=(DRIVE_COLLECTIONS,),
    blobs=lambda world: world.graph_drive.blobs(),
    count=lambda world: world.graph_drive.file_count(),
)
