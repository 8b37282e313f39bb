"""Box files as the API reference describes them: upload (whole, or chunked through an upload
session), a new version, information, rename and move, delete, and download the way Box does it:
a 302 to a `dl.boxcloud.com` URL, which this module serves too, Range requests included.

Folders are not simulated: every file lives in "All Files" (folder 0).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..core import jsonbody, multipart, yamlfile
from ..core.paths import Routes
from ..core.profiles import box as box_profile
from ..core.spec import PIXEL_PNG
from . import api, auth, box_file_store, downloads, upload_session, worldfile
from .blobs import Digests
from .box_tasks import acting_user, delete_tasks_on, user_mini
from .http import ApiError, Later, Reply, SimRequest, content_reply
from .module import ResourceModule

if TYPE_CHECKING:
    from .world import World

API, UPLOAD, DOWNLOAD = "api.box.com", "upload.box.com", "dl.boxcloud.com"
CHUNKED_MIN = 20_000_000  # "The chunked upload endpoints support files from 20MB in size"
PART_SIZE = 8 * 1024 * 1024  # what Box hands out for files of this order
NAME_MAX = 255
CONTENT_DATES = ("content_created_at", "content_modified_at")  # an upload's attributes may set them
SESSION_LIFETIME = datetime.timedelta(days=box_profile.UPLOAD_SESSION_DAYS)

# Its routes by host (the upload host may be another, named by a preflight check: is_upload_host).
# A file's id is numeric, a session's hexadecimal: a path with another is not this module's.
API_ROUTES = Routes(
    ("file", "/2.0/files/{file_id}"),
    ("content", "/2.0/files/{file_id}/content"),
    ("copy", "/2.0/files/{file_id}/copy"),
    ("trash", "/2.0/files/{file_id}/trash"),
    ("thumbnail", "/2.0/files/{file_id}/thumbnail.{extension}"),
)
UPLOAD_ROUTES = Routes(  # literal segments before the file id that would take them
    ("session", "/api/2.0/files/upload_sessions/{session_id}"),
    ("parts", "/api/2.0/files/upload_sessions/{session_id}/parts"),
    ("commit", "/api/2.0/files/upload_sessions/{session_id}/commit"),
    ("content", "/api/2.0/files/content"),
    ("upload_sessions", "/api/2.0/files/upload_sessions"),
    ("content", "/api/2.0/files/{file_id}/content"),
    ("upload_sessions", "/api/2.0/files/{file_id}/upload_sessions"),
)
THUMBNAILS = "box:files+thumbnails"  # the files whose thumbnail Box has made (asked for once)
THUMBNAIL_TYPES = {"png": "image/png", "jpg": "image/jpeg"}
THUMBNAIL_PLACEHOLDER = "https://app.box.com/static/images/thumbnail-placeholder.png"
DOWNLOAD_ROUTES = Routes(("download", "/d/1/{credential}/download"))
_HEX = re.compile(r"[0-9A-Fa-f]+")
_TOKEN = re.compile(r"b1!(\d+)-([0-9a-f]{40})")  # the file's id, the token of its content


def handle(world: World, req: SimRequest) -> Reply | Later | None:
    if req.host == DOWNLOAD:
        found = DOWNLOAD_ROUTES.match(req.path)
        return _download(world, req, found[1]["credential"]) if found else None
    if req.host == API:
        found = API_ROUTES.match(req.path)
        if found is None or not found[1]["file_id"].isdigit():
            return None
        route, params = found
        auth.check_box(req)
        with world.lock, world.store.transaction():  # a request refused half-way changes nothing
            known = _known(world, params["file_id"])
            if route == "copy":
                return _copy(world, req, known)
            if route == "trash":
                return _trash(world, req, known)
            if route == "thumbnail":
                return _thumbnail(world, req, known, params["extension"])
            return _content_redirect(world, req, known) if route == "content" else _file(world, req, known)
    if not box_profile.is_upload_host(req.host):  # upload.box.com, or the host a preflight check named
        return None
    found = UPLOAD_ROUTES.match(req.path)
    if found is None or not (
        found[1].get("file_id", "0").isdigit() and _HEX.fullmatch(found[1].get("session_id", "0"))
    ):
        return None
    route, params = found
    auth.check_box(req)
    with world.lock, world.store.transaction():
        if "session_id" in params:
            return _session(world, req, params["session_id"], None if route == "session" else route)
        if req.method != "POST":
            raise ApiError("method_not_allowed")
        file_id = _known(world, params["file_id"]) if "file_id" in params else None
        if route == "content":
            return _upload(world, req, file_id)
        return _create_session(world, req, file_id)


def describe(item: dict, content: bytes, sha1: str) -> None:
    """What Box reports of a file's content: its size and SHA-1 (the version's too)."""
    item["size"] = len(content)
    item["sha1"] = sha1
    version = item.setdefault("file_version", {})
    version.setdefault("id", item["id"])
    version["sha1"] = item["sha1"]


# -- representations ------------------------------------------------------------------------------
EXAMPLE_DATE = "2012-12-12T10:53:43-08:00"


def file_full(world: World, file_id: str) -> dict:
    return _full(world, _record(world, file_id))


def files_in(world: World, folder: str) -> list[dict]:
    """The files in a folder, full (its listing)."""
    with world.store.transaction() as tx:
        return [_full(world, f) for f in box_file_store.in_folder(tx, folder)]


def _full(world: World, f: dict) -> dict:
    owner = user_mini(world, f.get("owned_by") or acting_user(world))
    return {
        "id": f["id"],
        "type": "file",
        "etag": str(f.get("etag", "0")),
        "sequence_id": str(f.get("sequence_id", "0")),
        "name": f.get("name", ""),
        "sha1": f["sha1"],
        "file_version": {"type": "file_version", "id": f["file_version"]["id"], "sha1": f["sha1"]},
        "description": f.get("description", ""),
        "size": f["size"],
        "path_collection": world.box.path_to(f.get("parent", "0")),
        # Box always has these dates; a world file that gives none gets the documentation's example date
        "created_at": f.get("created_at") or EXAMPLE_DATE,
        "modified_at": f.get("modified_at") or f.get("created_at") or EXAMPLE_DATE,
        "trashed_at": f.get("trashed_at"),
        "purged_at": None,
        "content_created_at": f.get("content_created_at") or f.get("created_at") or EXAMPLE_DATE,
        "content_modified_at": f.get("content_modified_at") or f.get("modified_at") or EXAMPLE_DATE,
        "created_by": owner,
        "modified_by": owner,
        "owned_by": owner,
        "shared_link": f.get("shared_link"),
        "parent": world.box.folder_mini(f.get("parent", "0")),
        "item_status": f.get("item_status", "active"),
        **({"lock": f["lock"]} if f.get("lock") else {}),  # a file nobody locked: Box's answer has none
    }


def _files(world: World, status: int, file_id: str) -> Reply:
    return api.box_reply(status, {"total_count": 1, "entries": [file_full(world, file_id)]})


# -- files ----------------------------------------------------------------------------------------
def _record(world: World, file_id: str) -> dict:
    """The file's record (a copy: a change is put back)."""
    with world.store.transaction() as tx:
        f = box_file_store.get(tx, file_id)
    if f is None:
        raise ApiError("not_found", f"Could not find the specified resource (file {file_id})")
    return f


def _put(world: World, f: dict) -> None:
    with world.store.transaction() as tx:
        box_file_store.put(tx, f)
    world.changed()  # content it no longer names is freed


def _known(world: World, file_id: str) -> str:
    _record(world, file_id)
    return file_id


def _if_match(req: SimRequest, world: World, file_id: str) -> None:
    api.box_unchanged(req, _record(world, file_id).get("etag", "0"))


def _file(world: World, req: SimRequest, file_id: str) -> Reply:
    f = _record(world, file_id)
    if req.method == "GET":
        if api.box_unchanged(req, f.get("etag", "0")):
            return api.box_reply(304)
        return api.box_reply(200, file_full(world, file_id))
    if req.method == "PUT":
        _if_match(req, world, file_id)
        data = req.json()
        if not isinstance(data, dict):
            raise ApiError("bad_request", "The request body must be a JSON object")
        changed = dict(f)
        if "name" in data:
            changed["name"] = _name(data["name"], "name")
        if "description" in data:
            if not isinstance(data["description"], str):
                raise ApiError("bad_request", "Bad Request: 'description' must be a string")
            changed["description"] = data["description"]
        if "parent" in data:
            changed["parent"] = _parent(world, data["parent"], "parent")
        for kept in ("shared_link", "lock"):  # Box fills these in; what was sent is kept as sent
            if kept in data:
                changed[kept] = world.box.filled(kept, data[kept], changed)
        _unused_name(world, changed["name"], file_id, changed.get("parent", "0"))
        _bump(changed)
        _put(world, changed)
        return api.box_reply(200, _full(world, changed))
    if req.method == "DELETE":  # to the trash, as Box does; DELETE .../trash deletes it for good
        _if_match(req, world, file_id)
        _put(world, {**f, "item_status": "trashed", "trashed_at": api.now()})
        return api.box_reply(204)
    if req.method == "POST":  # a restore from the trash
        if f.get("item_status") != "trashed":
            raise ApiError("method_not_allowed", "Only a file in the trash can be restored")
        restored = {**f, "item_status": "active", "trashed_at": None}
        _unused_name(world, restored.get("name", ""), file_id, restored.get("parent", "0"))
        _put(world, restored)
        return api.box_reply(201, _full(world, restored))
    raise ApiError("method_not_allowed")


def _thumbnail(world: World, req: SimRequest, file_id: str, extension: str) -> Reply:
    """A file's thumbnail as Box makes it: not there on the first ask (202, a placeholder's Location,
    Retry-After), the image from then on (a PNG; a JPEG is one this simulation cannot make: 302 to
    the placeholder, as Box answers for those)."""
    if req.method != "GET":
        raise ApiError("method_not_allowed")
    if extension not in THUMBNAIL_TYPES:
        raise ApiError("bad_request", f"Bad Request: a thumbnail is {' or '.join(THUMBNAIL_TYPES)}, not {extension!r}")
    with world.store.transaction() as tx:
        if not tx.has(THUMBNAILS, file_id):
            tx.put(THUMBNAILS, file_id, {"made": api.now()})
            return api.box_reply(202, None, [("Location", THUMBNAIL_PLACEHOLDER), ("Retry-After", "1")])
    if extension != "png":  # one it cannot make: Box's 302 to the placeholder
        return api.box_reply(302, None, [("Location", THUMBNAIL_PLACEHOLDER)])
    return Reply(200, [("Content-Type", "image/png"), *box_profile.standard_headers()], PIXEL_PNG)


def _trash(world: World, req: SimRequest, file_id: str) -> Reply:
    """A file in the trash: read, or deleted for good; one that is not there is Box's 404."""
    f = _record(world, file_id)
    if f.get("item_status") != "trashed":
        raise ApiError("not_found", f"Could not find the specified resource (file {file_id} in the trash)")
    if req.method == "GET":
        return api.box_reply(200, _full(world, f))
    if req.method == "DELETE":
        delete_file(world, file_id)
        return api.box_reply(204)
    raise ApiError("method_not_allowed")


def delete_file(world: World, file_id: str) -> None:
    """A file and what belongs to it: its tasks and their assignments, its comments and
    collaborations (the store's)."""
    with world.lock, world.store.transaction() as tx:
        tx.delete(box_file_store.FILES, file_id)
        delete_tasks_on(tx, file_id)
        world.box.delete_held(tx, "files", file_id)
        world.changed()


def _copy(world: World, req: SimRequest, file_id: str) -> Reply:
    """POST /files/{id}/copy: a new file with the same content, in the folder named (its name, or
    the one sent; a name in use there is Box's 409)."""
    if req.method != "POST":
        raise ApiError("method_not_allowed")
    data = req.json() if req.body.strip() else {}
    if not isinstance(data, dict) or "parent" not in data:
        raise ApiError("bad_request", "Bad Request: 'parent' is required")
    source = _record(world, file_id)
    parent = _parent(world, data["parent"], "parent")
    name = _name(data["name"], "name") if "name" in data else source.get("name", "")
    _unused_name(world, name, None, parent)
    copy_id = world.new_box_id()
    copied = {
        **{k: v for k, v in source.items() if k not in ("shared_link", "lock")},
        "id": copy_id,
        "name": name,
        "parent": parent,
        "etag": "0",
        "sequence_id": "0",
        "created_at": api.now(),
        "modified_at": api.now(),
        "file_version": {"id": world.new_box_id()},
    }
    describe(copied, world.blobs[source["blob"]], world.blobs.sha1(source["blob"]))
    _put(world, copied)
    return api.box_reply(201, _full(world, copied))


def _content_redirect(world: World, req: SimRequest, file_id: str) -> Reply:
    if req.method != "GET":
        raise ApiError("method_not_allowed")
    if _record(world, file_id).get("item_status") == "trashed":
        raise ApiError("not_found", "Item is trashed", code="trashed", status=404)
    token = downloads.token(world, file_id, _record(world, file_id)["blob"])
    reply = api.box_reply(302)
    reply.headers.append(("Location", f"https://{DOWNLOAD}/d/1/b1!{file_id}-{token}/download"))
    return reply


def _download(world: World, req: SimRequest, credential: str) -> Reply:
    """The download host: the URL is its own credential, as Box's are, for the content the file has
    now (a deleted file's URL answers 404); Range and If-None-Match honoured."""
    if req.method != "GET":
        raise ApiError("method_not_allowed")
    m = _TOKEN.fullmatch(credential)
    if m is None:
        raise ApiError("not_found", "Not Found")
    file_id, token = m.groups()
    with world.lock, world.store.transaction() as tx:
        f = box_file_store.get(tx, file_id)
        if f is None or f.get("item_status") == "trashed" or not downloads.valid(world, file_id, f["blob"], token):
            raise ApiError("not_found", "Not Found")  # a file in the trash is not downloaded either
        content, name, key = world.blobs[f["blob"]], f.get("name", ""), f["blob"]
    disposition = f"attachment;filename=\"{name}\";filename*=UTF-8''{quote(name, safe='')}"
    return content_reply(req, content, name, key[:32], [("Content-Disposition", disposition)])


def _bump(f: dict) -> None:
    for key in ("etag", "sequence_id"):
        value = str(f.get(key, "0"))
        f[key] = str(int(value) + 1 if value.isdigit() else 1)  # a world file may hold any string
    f["modified_at"] = api.now()


def _name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError("bad_request", f"Bad Request: '{field}' is required")
    if len(value) > NAME_MAX:
        raise ApiError("bad_request", "Item name too long", code="item_name_too_long")
    if value in (".", "..") or "/" in value or "\\" in value or value != value.strip():
        raise ApiError("bad_request", "Item name invalid", code="item_name_invalid")
    return value


def _parent(world: World, value: Any, field: str) -> str:
    """The folder a file goes in: All Files (0) or a folder of the world."""
    folder = value.get("id") if isinstance(value, dict) else None
    if folder is None:
        raise ApiError("bad_request", f"Bad Request: '{field}' needs an 'id'")
    if not world.box.folder_exists(str(folder)):
        raise ApiError("not_found", f"Could not find the specified resource (folder {folder})")
    return str(folder)


def _unused_name(world: World, name: str, but: str | None = None, parent: str = "0") -> None:
    with world.store.transaction() as tx:
        taken = box_file_store.named(tx, parent, name)
    for other in taken:
        if other["id"] != but:
            raise ApiError(
                "conflict",
                "Item with the same name already exists",
                code="item_name_in_use",
                context={
                    "conflicts": {
                        "type": "file",
                        "id": other["id"],
                        "name": other.get("name", ""),
                        "sha1": other["sha1"],
                        "etag": str(other.get("etag", "0")),
                    }
                },
            )


def _store(
    world: World,
    file_id: str | None,
    name: str,
    content: bytes,
    digests: Digests,
    parent: str = "0",
    dates: dict[str, str] | None = None,
) -> str:
    """A new file, or a new version of file_id; its id (under the lock; digests computed before it,
    the content kept on disk around it: World.content_kept). `dates`: the content's, as sent."""
    now = api.now()
    if file_id is None:
        file_id = world.new_box_id()
        f: dict[str, Any] = {
            "id": file_id,
            "name": name,
            "etag": "0",
            "sequence_id": "0",
            "created_at": now,
            "modified_at": now,
            "description": "",
            "parent": parent,
        }
    else:
        f = _record(world, file_id)
        f["name"] = name
        _bump(f)
    f["file_version"] = {"id": world.new_box_id()}
    f["blob"] = world.put_blob(content, digests)
    describe(f, content, digests.sha1)
    f.update(dates or {})
    _put(world, f)
    return file_id


# -- uploads --------------------------------------------------------------------------------------
def _upload(world: World, req: SimRequest, file_id: str | None) -> Later:
    """multipart/form-data: `attributes` (JSON) first, then the file. Box reads the attributes
    before the content, so attributes sent after it are an error. Parsed and hashed off the event
    loop; the world is read and changed under its lock only."""

    def work() -> Reply:
        attributes, content = _parts(req, file_id)
        digests = Digests.of(content)
        _content_md5(req, digests)
        # on disk first, off the lock (with --state), then the record that names it, in one transaction
        with world.content_kept(content, digests), world.lock, world.store.transaction():
            if file_id is None:
                name = _name(attributes.get("name"), "attributes.name")
                parent = _parent(world, attributes.get("parent"), "attributes.parent")
                _unused_name(world, name, None, parent)
            else:
                _known(world, file_id)
                _if_match(req, world, file_id)
                current = _record(world, file_id)
                name = _name(attributes["name"], "attributes.name") if "name" in attributes else current["name"]
                parent = current.get("parent", "0")
                _unused_name(world, name, file_id, parent)
            dates = {k: v for k, v in attributes.items() if k in CONTENT_DATES and isinstance(v, str)}
            stored = _store(world, file_id, name, content, digests, parent, dates)
            return _files(world, 201 if file_id is None else 200, stored)

    return Later(work)


def _parts(req: SimRequest, file_id: str | None) -> tuple[dict, bytes]:
    """The upload's attributes and file content."""
    parts = multipart.fields(req.body, req.header("content-type") or "")
    if not parts:
        raise ApiError("bad_request", "Bad Request: the body must be multipart/form-data with attributes and a file")
    names = [name for name, _, _ in parts]
    if "attributes" not in names and file_id is None:
        raise ApiError("bad_request", "Bad Request: the 'attributes' part is missing")
    files = [content for name, _, content in parts if name != "attributes"]
    if not files:
        raise ApiError("bad_request", "Bad Request: the file part is missing")
    if "attributes" in names and names.index("attributes") > names.index(next(n for n in names if n != "attributes")):
        raise ApiError("bad_request", "Bad Request: the 'attributes' part must come before the file")
    attributes: Any = {}
    if "attributes" in names:
        try:
            attributes = jsonbody.loads(parts[names.index("attributes")][2])
        except (ValueError, RecursionError, jsonbody.TooComplex):
            attributes = None
        if not isinstance(attributes, dict):
            raise ApiError("bad_request", "Bad Request: 'attributes' must be a JSON object")
    return attributes, files[0]


def _content_md5(req: SimRequest, digests: Digests) -> None:
    """Box's `content-md5` header carries the file's SHA-1 (hex), despite its name."""
    given = req.header("content-md5")
    if given and given.strip().lower() != digests.sha1:
        raise ApiError("bad_request", "The specified Content-MD5 did not match what we received")


def _create_session(world: World, req: SimRequest, file_id: str | None) -> Reply:
    data = req.json()
    if not isinstance(data, dict):
        raise ApiError("bad_request", "The request body must be a JSON object")
    if file_id is None and "folder_id" not in data:
        raise ApiError("bad_request", "No folder_id was provided", code="missing_destination")
    if "file_size" not in data:
        raise ApiError("bad_request", "file_size was not provided", code="missing_file_size")
    size = data["file_size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ApiError("bad_request", "file_size was not a valid number", code="invalid_file_size")
    if size < CHUNKED_MIN:
        raise ApiError(
            "bad_request",
            f"file_size is below minimum file size for uploads via this API ({CHUNKED_MIN} bytes)",
            code="file_size_too_small",
        )
    if size > box_profile.MAX_FILE_SIZE:
        raise ApiError(
            "forbidden",
            f"File size exceeds the folder owner's file size limit ({box_profile.MAX_FILE_SIZE:,} bytes)",
            code="file_size_limit_exceeded",
        )
    if file_id is None:
        if "file_name" not in data:
            raise ApiError("bad_request", "file_name was not provided", code="missing_file_name")
        try:
            name = _name(data["file_name"], "file_name")
        except ApiError:
            raise ApiError("bad_request", "file_name is not valid", code="item_name_invalid") from None
        if not world.box.folder_exists(str(data["folder_id"])):
            raise ApiError(
                "not_found",
                f"Could not find the specified resource (folder {data['folder_id']})",
                code="invalid_parameter",
            )
        _unused_name(world, name, None, str(data["folder_id"]))
    else:
        name = _name(data["file_name"], "file_name") if "file_name" in data else _record(world, file_id)["name"]
    upload_session.sweep(world)
    session_id = secrets.token_hex(16).upper()
    expires = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + SESSION_LIFETIME
    world.box_sessions[session_id] = {
        "id": session_id,
        "file_id": file_id,
        "name": name,
        "folder": str(data.get("folder_id", "0")),
        "size": size,
        "parts": {},
        "chunks": {},
        "expires_at": expires.isoformat(),
        "deadline": expires.timestamp(),
    }
    return api.box_reply(201, _session_view(world, session_id))


def _total_parts(s: dict) -> int:
    return max(1, -(-s["size"] // PART_SIZE))


def _session_view(world: World, session_id: str) -> dict:
    s = world.box_sessions[session_id]
    base = f"https://{UPLOAD}/api/2.0/files/upload_sessions/{session_id}"
    return {
        "id": session_id,
        "type": "upload_session",
        "session_expires_at": s["expires_at"],
        "part_size": PART_SIZE,
        "total_parts": _total_parts(s),
        "num_parts_processed": len(s["parts"]),
        "session_endpoints": {
            "upload_part": base,
            "commit": f"{base}/commit",
            "abort": base,
            "list_parts": f"{base}/parts",
            "status": base,
            "log_event": f"{base}/log",
        },
    }


def _live_session(world: World, session_id: str) -> dict:
    """The session (under the lock); an expired one is freed and answered as Box does, 410."""
    s = world.box_sessions.get(session_id)
    if s is None:
        raise ApiError("not_found", f"Could not find the specified resource (upload session {session_id})")
    if upload_session.expired(s):
        del world.box_sessions[session_id]
        raise ApiError("not_found", "The upload session has expired", code="session_expired", status=410)
    return s


def _session(world: World, req: SimRequest, session_id: str, action: str | None) -> Reply | Later:
    s = _live_session(world, session_id)
    if action == "parts":
        if req.method != "GET":
            raise ApiError("method_not_allowed")
        parts = sorted(s["parts"].values(), key=lambda p: p["offset"])
        return api.box_reply(200, {"total_count": len(parts), "entries": parts, "limit": 1000, "offset": 0})
    if action == "commit":
        if req.method != "POST":
            raise ApiError("method_not_allowed")
        return _commit(world, req, session_id)
    if req.method == "GET":
        return api.box_reply(200, _session_view(world, session_id))
    if req.method == "DELETE":
        del world.box_sessions[session_id]
        return api.box_reply(204)
    if req.method == "PUT":
        return _put_part(world, req, session_id)
    raise ApiError("method_not_allowed")


def _sha(req: SimRequest, what: str) -> bytes:
    """The SHA-1 of a `Digest: sha=BASE64` header (RFC 3230, the only form Box accepts)."""
    value = (req.header("digest") or "").strip()
    if not value.lower().startswith("sha="):
        raise ApiError("bad_request", f"The Digest header of the {what} is missing or not sha=BASE64")
    try:
        digest = base64.b64decode(value[4:], validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 20:
        raise ApiError("bad_request", f"The Digest header of the {what} is not a base64 SHA-1")
    return digest


def _part_range(req: SimRequest, s: dict) -> tuple[int, int]:
    """(first, last) of a part, as Box takes them: a part starts at a multiple of part_size and is
    exactly part_size long, but the last, which ends the file; else 416."""
    span = upload_session.content_range(req.header("content-range"))
    if span is None:
        raise ApiError("bad_request", "The Content-Range header is missing or not bytes FIRST-LAST/TOTAL")
    first, last, total = span
    last_start = (_total_parts(s) - 1) * PART_SIZE
    fits = (
        total == s["size"]
        and first <= last < total
        and first % PART_SIZE == 0
        and (last - first + 1 == PART_SIZE if first < last_start else (first == last_start and last == total - 1))
    )
    if not fits:
        raise ApiError(
            "bad_request",
            f"The content range {first}-{last}/{total} does not match a part of this session: parts are "
            f"{PART_SIZE} bytes at multiples of {PART_SIZE} (the last one ends the file) of a {s['size']}-byte file",
            code="range_not_satisfiable",
            status=416,
        )
    if len(req.body) != last - first + 1:
        raise ApiError("bad_request", f"The part is {len(req.body)} bytes; its Content-Range says {last - first + 1}")
    return first, last


def _put_part(world: World, req: SimRequest, session_id: str) -> Later:
    wanted = _sha(req, "part")

    def work() -> Reply:
        got = hashlib.sha1(req.body).digest()  # off the lock and the event loop
        with world.lock:
            s = _live_session(world, session_id)
            first, _ = _part_range(req, s)
            if got != wanted:
                raise ApiError(
                    "precondition_failed",
                    f"Part digest was incorrect. Actual: {base64.b64encode(got).decode()} "
                    f"Expected: {base64.b64encode(wanted).decode()}",
                    code="digest_mismatch",
                )
            part = {"part_id": got.hex()[:8].upper(), "offset": first, "size": len(req.body), "sha1": got.hex()}
            old = s["parts"].get(first)
            if old is not None:
                if old["sha1"] != part["sha1"]:
                    raise ApiError(
                        "conflict", "The part overlaps a part already uploaded", code="range_overlaps_existing_part"
                    )
                return api.box_reply(200, {"part": old})  # the same part again: Box takes it once
            upload_session.admit(world, len(req.body))
            s["parts"][first] = part
            s["chunks"][first] = req.body
            return api.box_reply(200, {"part": part})

    return Later(work)


def _commit(world: World, req: SimRequest, session_id: str) -> Later:
    """Checked against the parts under the lock; joined and hashed off it, then stored under it."""
    s = world.box_sessions[session_id]
    wanted = _sha(req, "file")
    data = req.json()
    listed = data.get("parts") if isinstance(data, dict) else None
    if not isinstance(listed, list):
        raise ApiError("bad_request", "Bad Request: 'parts' is required: the parts the upload returned")
    ours = sorted(s["parts"].values(), key=lambda p: p["offset"])
    theirs = sorted(
        ({k: p.get(k) for k in ("part_id", "offset", "size", "sha1")} for p in listed if isinstance(p, dict)),
        key=lambda p: p["offset"] if isinstance(p["offset"], int) else -1,
    )
    if theirs != ours:
        raise ApiError("bad_request", "Bad Request: 'parts' does not list the parts uploaded to this session")
    if sum(p["size"] for p in ours) != s["size"]:
        raise ApiError(
            "bad_request",
            f"The parts uploaded hold {sum(p['size'] for p in ours)} of the session's {s['size']} bytes",
            code="upload_incomplete",
        )
    chunks = [s["chunks"][p["offset"]] for p in ours]

    def work() -> Reply:
        content, digests = upload_session.joined(chunks)
        got = bytes.fromhex(digests.sha1)
        if got != wanted:
            raise ApiError(
                "bad_request",
                f"File digest was incorrect. Actual: {base64.b64encode(got).decode()} "
                f"Expected: {base64.b64encode(wanted).decode()}",
                code="digest_mismatch",
            )
        with world.content_kept(content, digests), world.lock, world.store.transaction():
            if world.box_sessions.get(session_id) is not s:
                raise ApiError("not_found", f"Could not find the specified resource (upload session {session_id})")
            parent = s.get("folder", "0")
            if s["file_id"] is None:
                _unused_name(world, s["name"], None, parent)
            else:
                _if_match(req, world, _known(world, s["file_id"]))
                parent = _record(world, s["file_id"]).get("parent", "0")
            del world.box_sessions[session_id]
            return _files(world, 201, _store(world, s["file_id"], s["name"], content, digests, parent))

    return Later(work)


def load(check: yamlfile.Checker, w: World, world_doc: dict[str, dict], blobs: Path | None) -> None:
    """box.files: each with its content (inline, a blob beside the world file, or made up)."""
    for i, item in enumerate(worldfile.list_of(check, world_doc["box"].get("files"), ("box", "files"))):
        item = dict(check.mapping(item, ("box", "files", i), "a file"))
        item["id"] = worldfile.id_of(check, item, ("box", "files", i))
        content = worldfile.content_of(check, w, item, ("box", "files", i), blobs)
        describe(item, content, w.blobs.sha1(item["blob"]))
        with w.store.transaction() as tx:
            box_file_store.put(tx, item)


def dump(world: World) -> dict[str, dict]:
    with world.store.transaction() as tx:
        return {"box": {"files": tx.scan(box_file_store.FILES)}}


def _named(world: World) -> list[str]:
    with world.store.transaction() as tx:
        return [blob for blob in tx.column(box_file_store.FILES, "blob") if blob]


# Its part of a world file, as the world's JSON Schema has it (sim/world_schema.py builds the schema).
WORLD_SCHEMA: dict = {
    "box": {
        "files": worldfile.records(
            {
                "id": worldfile.ID,
                "name": worldfile.TEXT,
                "etag": worldfile.TEXT,
                "sequence_id": worldfile.TEXT,
                "file_version": {"type": "object"},
                "parent": {**worldfile.ID, "description": "a folder id; 0 is All Files"},
                "description": worldfile.TEXT,
                "shared_link": {"type": ["object", "null"], "description": "as Box answers it"},
                "item_status": {"enum": ["active", "trashed"], "description": "trashed: in the trash"},
                "trashed_at": {"type": ["string", "null"], "description": "when it went to the trash"},
                "created_at": {**worldfile.TEXT, "description": "a date and time, ISO 8601"},
                "modified_at": {**worldfile.TEXT, "description": "a date and time, ISO 8601"},
                "content": worldfile.CONTENT,
                "blob": worldfile.BLOB,
                "sha1": {"type": "string", "description": "computed from the content"},
                "size": {"type": "integer", "description": "computed from the content"},
            }
        )
    }
}


MODULE = ResourceModule(
    name="Box file(s)",
    on_host=lambda host: host in (API, DOWNLOAD) or box_profile.is_upload_host(host),
    handle=handle,
    routes=(API_ROUTES, UPLOAD_ROUTES, DOWNLOAD_ROUTES),
    schema=WORLD_SCHEMA,
    load=load,
    dump=dump,
    collections=(box_file_store.FILES, THUMBNAILS),
    blobs=_named,
    count=lambda world: world.store.count(box_file_store.FILES),
)
