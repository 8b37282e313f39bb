"""Box metadata instances on files and folders: created, read, listed, updated by JSON Patch and
deleted. An instance is of the template its path names (`/files/{id}/metadata/{scope}/{template}`),
whatever the body holds; Box's own fields (`$id`, `$version`...) are set here, never by a request.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from ..core import jsonpatch
from ..core.paths import Routes
from ..core.profiles import box as box_profile
from . import api, auth, box_file_store
from .http import ApiError, Reply, SimRequest
from .module import ResourceModule
from .store import Transaction

if TYPE_CHECKING:
    from .world import World

HOSTS = ("api.box.com",)
ROUTES = Routes(
    ("file_instances", "/2.0/files/{item_id}/metadata"),
    ("file_instance", "/2.0/files/{item_id}/metadata/{scope}/{template}"),
    ("folder_instances", "/2.0/folders/{item_id}/metadata"),
    ("folder_instance", "/2.0/folders/{item_id}/metadata/{scope}/{template}"),
)
INSTANCES = "box:metadata+instances"  # by "{files|folders}|{item id}|{scope}|{template}"
SCOPES = ("global", "enterprise")
PATCH_TYPE = "application/json-patch+json"


def handle(world: World, req: SimRequest) -> Reply | None:
    found = ROUTES.match(req.path) if req.host in HOSTS else None
    if found is None or not found[1]["item_id"].isdigit():
        return None
    route, params = found
    kind = "files" if route.startswith("file") else "folders"
    auth.check_box(req)
    with world.lock, world.store.transaction() as tx:
        _item(world, tx, kind, params["item_id"])
        if route.endswith("instances"):
            if req.method != "GET":
                raise ApiError("method_not_allowed")
            parent = f"{kind[:-1]}_{params['item_id']}"
            entries = tx.scan(INSTANCES, lambda r: r.get("$parent") == parent)
            return api.box_reply(200, {"entries": entries, "limit": 100})
        scope, template = params["scope"], params["template"]
        if scope not in SCOPES:
            raise ApiError("bad_request", f"Bad Request: the scope is one of {', '.join(SCOPES)}, not {scope!r}")
        key = f"{kind}|{params['item_id']}|{scope}|{template}"
        current = tx.get(INSTANCES, key)
        if req.method == "POST":
            if current is not None:
                raise ApiError(
                    "conflict",
                    "A metadata instance of this template is already on the item",
                    code="tuple_already_exists",
                    status=409,
                )
            made = {**_fields(req.json(), "the instance"), **_own(kind, params["item_id"], scope, template)}
            tx.put(INSTANCES, key, made)
            return api.box_reply(201, made)
        if current is None:
            raise ApiError(
                "not_found", "The metadata instance could not be found", code="instance_not_found", status=404
            )
        if req.method == "GET":
            return api.box_reply(200, current)
        if req.method == "DELETE":
            tx.delete(INSTANCES, key)
            return Reply(204, box_profile.standard_headers(), b"")
        if req.method == "PUT":
            return api.box_reply(200, _patched(tx, req, key, current))
        raise ApiError("method_not_allowed")


def _item(world: World, tx: Transaction, kind: str, item_id: str) -> None:
    """The file or folder must be there (a folder never read is made up, as the store does)."""
    if kind == "files":
        if not box_file_store.exists(tx, item_id):
            raise ApiError("not_found", f"Could not find the specified resource (file {item_id})")
    else:
        world.box.get(tx, "folders", item_id)


def _own(kind: str, item_id: str, scope: str, template: str) -> dict[str, Any]:
    """What Box sets on an instance: its id, version, type, parent, template and scope."""
    instance = str(uuid.uuid4())
    return {
        "$id": instance,
        "$version": 0,
        "$type": f"{template}-{instance}",
        "$parent": f"{kind[:-1]}_{item_id}",
        "$typeVersion": 0,
        "$template": template,
        "$scope": "global" if scope == "global" else f"enterprise_{box_profile.ENTERPRISE['id']}",
        "$canEdit": True,
    }


def _fields(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiError("bad_request", f"Bad Request: {what} is a JSON object of the template's fields")
    own = [k for k in data if k.startswith("$")]
    if own:
        raise ApiError("bad_request", f"Bad Request: {own[0]} is set by Box, not by a request")
    return data


def _patched(tx: Transaction, req: SimRequest, key: str, current: dict) -> dict:
    kind = (req.header("content-type") or "").split(";")[0].strip().lower()
    if kind != PATCH_TYPE:
        raise ApiError("bad_request", f"Bad Request: an update is a JSON Patch, sent as {PATCH_TYPE}")
    fields = {k: v for k, v in current.items() if not k.startswith("$")}
    try:
        changed = jsonpatch.apply(fields, req.json())
    except jsonpatch.PatchError as e:
        raise ApiError("bad_request", f"Bad Request: {e}") from None
    own = {k: v for k, v in current.items() if k.startswith("$")}
    updated = {**_fields(changed, "the patched instance"), **own, "$version": own.get("$version", 0) + 1}
    tx.put(INSTANCES, key, updated)
    return updated


MODULE = ResourceModule(
    name="Box metadata instance(s)",
    on_host=lambda host: host in HOSTS,
    handle=handle,
    routes=(ROUTES,),
    schema={},
    count=lambda world: world.store.count(INSTANCES),
    collections=(INSTANCES,),
)
