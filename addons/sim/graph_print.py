"""Graph Universal Print task definitions and tasks (v1.0 and beta), as the documentation
describes them: create, list (paged), get, update (properties not sent are kept), delete."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..core import yamlfile
from ..core.paths import Routes
from ..core.profiles import graph as graph_profile
from . import api, auth, worldfile
from .http import ApiError, Reply, SimRequest
from .module import ResourceModule
from .store import Transaction

if TYPE_CHECKING:
    from .world import World

HOST = "graph.microsoft.com"
ROUTES = Routes(
    ("definitions", "/{version}/print/taskDefinitions"),
    ("definition", "/{version}/print/taskDefinitions/{definition_id}"),
    ("tasks", "/{version}/print/taskDefinitions/{definition_id}/tasks"),
    ("task", "/{version}/print/taskDefinitions/{definition_id}/tasks/{task_id}"),
)
PAGE_SIZE = 10
DEFINITION_PROPS = {"displayName", "createdBy"}
APP_IDENTITY_PROPS = {"appId", "displayName", "servicePrincipalId", "servicePrincipalName"}
TASK_PROPS = {"parentUrl", "status"}
# Graph printTaskProcessingState (the CSDL's enum, less unknownFutureValue).
PRINT_TASK_STATES = ("pending", "processing", "completed", "aborted")
WORLD_KEY = ("graph", "taskDefinitions")
DEFINITIONS = "graph:print/taskDefinitions"  # the store's collection; each one's tasks: tasks_of(id)


def handle(world: World, req: SimRequest) -> Reply | None:
    found = ROUTES.match(req.path) if req.host == HOST else None
    if found is None or found[1]["version"] not in graph_profile.VERSIONS:
        return None
    route, params = found
    auth.check_graph_print(req)
    def_id, task_id = params.get("definition_id", ""), params.get("task_id", "")
    base = f"https://{HOST}/{params['version']}"
    with world.store.transaction() as tx:
        if route == "definitions":
            return _definitions(tx, req, base)
        if not tx.has(DEFINITIONS, def_id):
            raise ApiError("not_found", f"The printTaskDefinition with id '{def_id}' was not found.")
        if route == "tasks":
            return _tasks(tx, req, base, def_id)
        if route == "definition":
            return _definition(tx, req, base, def_id)
        if not tx.has(tasks_of(def_id), task_id):
            raise ApiError("not_found", f"The printTask with id '{task_id}' was not found.")
        return _task(tx, req, base, def_id, task_id)


def tasks_of(def_id: str) -> str:
    """The store's collection of a task definition's tasks."""
    return f"{DEFINITIONS}('{def_id}')/tasks"


def all_tasks(world: World) -> list[dict]:
    """Every print task of every definition (print jobs are made for those that point at one)."""
    with world.store.transaction() as tx:
        return [t for def_id in tx.keys(DEFINITIONS) for t in tx.scan(tasks_of(def_id))]


def _context(base: str, what: str) -> str:
    return f"{base}/$metadata#{what}"


def _page(req: SimRequest, items: list, base_url: str) -> tuple[list, str | None]:
    try:
        top = int(req.query.get("$top", PAGE_SIZE))
        skip = int(req.query.get("$skiptoken", 0))
    except ValueError:
        raise ApiError("bad_request", "Invalid $top or $skiptoken: an integer is expected.") from None
    if top < 1 or skip < 0:
        raise ApiError("bad_request", "Invalid $top or $skiptoken.")
    page = items[skip : skip + top]
    more = skip + top < len(items)
    query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
    query["$skiptoken"] = str(skip + top)
    return page, (f"{base_url}?{urlencode(query, safe='$')}" if more else None)


def _definitions(tx: Transaction, req: SimRequest, base: str) -> Reply:
    if req.method == "GET":
        page, next_link = _page(req, tx.scan(DEFINITIONS), f"{base}/print/taskDefinitions")
        body = {"@odata.context": _context(base, "print/taskDefinitions"), "value": page}
        if next_link:
            body["@odata.nextLink"] = next_link
        return api.graph_reply(req, 200, body)
    if req.method == "POST":
        data = _object(req, DEFINITION_PROPS, "printTaskDefinition")
        d: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "displayName": _text(data, "displayName"),
            "createdBy": _app_identity(data.get("createdBy", {})),
        }
        tx.put(DEFINITIONS, d["id"], d)
        return api.graph_reply(req, 201, {"@odata.context": _context(base, "print/taskDefinitions/$entity"), **d})
    raise ApiError("method_not_allowed")


def _definition(tx: Transaction, req: SimRequest, base: str, def_id: str) -> Reply:
    d = tx.get(DEFINITIONS, def_id) or {}
    context = _context(base, "print/taskDefinitions/$entity")
    if req.method == "GET":
        return api.graph_reply(req, 200, {"@odata.context": context, **d})
    if req.method == "PATCH":
        data = _object(req, DEFINITION_PROPS, "printTaskDefinition")
        if "displayName" in data:
            d["displayName"] = _text(data, "displayName")
        if "createdBy" in data:
            d["createdBy"] = {**d.get("createdBy", {}), **_app_identity(data["createdBy"])}
        tx.put(DEFINITIONS, def_id, d)
        return api.graph_reply(req, 200, {"@odata.context": context, **d})
    if req.method == "DELETE":
        tx.delete(DEFINITIONS, def_id)
        for task_id in tx.keys(tasks_of(def_id)):  # its tasks go with it
            tx.delete(tasks_of(def_id), task_id)
        return api.graph_reply(req, 204)
    raise ApiError("method_not_allowed")


def _tasks(tx: Transaction, req: SimRequest, base: str, def_id: str) -> Reply:
    context = _context(base, f"print/taskDefinitions('{def_id}')/tasks")
    if req.method == "GET":
        page, next_link = _page(req, tx.scan(tasks_of(def_id)), f"{base}/print/taskDefinitions/{def_id}/tasks")
        body = {"@odata.context": context, "value": page}
        if next_link:
            body["@odata.nextLink"] = next_link
        return api.graph_reply(req, 200, body)
    if req.method == "POST":
        data = _object(req, TASK_PROPS, "printTask")
        status = _status(data.get("status", {"state": "pending"}), required=True)
        t: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "parentUrl": _text(data, "parentUrl"),
            "status": {"state": status["state"], "description": status.get("description", "")},
        }
        tx.put(tasks_of(def_id), t["id"], t)
        return api.graph_reply(req, 201, {"@odata.context": f"{context}/$entity", **t})
    raise ApiError("method_not_allowed")


def _task(tx: Transaction, req: SimRequest, base: str, def_id: str, task_id: str) -> Reply:
    t = tx.get(tasks_of(def_id), task_id) or {}
    context = _context(base, f"print/taskDefinitions('{def_id}')/tasks/$entity")
    if req.method == "GET":
        return api.graph_reply(req, 200, {"@odata.context": context, **t})
    if req.method == "PATCH":
        data = _object(req, TASK_PROPS, "printTask")
        if "parentUrl" in data:
            t["parentUrl"] = _text(data, "parentUrl")
        if "status" in data:
            t["status"] = {**t.get("status", {}), **_status(data["status"], required=False)}
        tx.put(tasks_of(def_id), task_id, t)
        return api.graph_reply(req, 200, {"@odata.context": context, **t})
    if req.method == "DELETE":
        tx.delete(tasks_of(def_id), task_id)
        return api.graph_reply(req, 204)
    raise ApiError("method_not_allowed")


def _object(req: SimRequest, allowed: set, type_name: str) -> dict:
    data = req.json()
    if not isinstance(data, dict):
        raise ApiError("bad_request", f"A {type_name} object is expected.")
    for key in data:
        if key not in allowed and key not in ("id",) and not key.startswith("@odata."):
            raise ApiError("bad_request", f"Property '{key}' does not exist on type 'microsoft.graph.{type_name}'.")
    return data


def _text(data: dict, key: str) -> str:
    """A required, non-empty string property."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ApiError("bad_request", f"{key} is required: a non-empty string.")
    return value


def _status(value: Any, required: bool) -> dict:
    if not isinstance(value, dict):
        raise ApiError("bad_request", "status must be a printTaskStatus object: {state, description}.")
    for key in value:
        if key not in ("state", "description") and not key.startswith("@odata."):
            raise ApiError("bad_request", f"Property '{key}' does not exist on type 'microsoft.graph.printTaskStatus'.")
    out = {}
    if "state" in value or required:
        state = value.get("state")
        if state not in PRINT_TASK_STATES:
            raise ApiError(
                "bad_request",
                f"Requested value '{state}' was not found. printTaskProcessingState is one "
                "of " + ", ".join(PRINT_TASK_STATES) + ".",
            )
        out["state"] = state
    if "description" in value:
        if not isinstance(value["description"], str):
            raise ApiError("bad_request", "status.description must be a string.")
        out["description"] = value["description"]
    return out


def _app_identity(value: Any) -> dict:
    if not isinstance(value, dict) or any(k not in APP_IDENTITY_PROPS for k in value if not k.startswith("@odata.")):
        raise ApiError(
            "bad_request",
            "createdBy must be an appIdentity: {appId, displayName, servicePrincipalId, servicePrincipalName}.",
        )
    return {k: v for k, v in value.items() if k in APP_IDENTITY_PROPS}


def load(check: yamlfile.Checker, world: World, doc: dict[str, dict], blobs: Path | None) -> None:
    """graph.taskDefinitions: each with its tasks."""
    with world.store.transaction() as tx:
        for i, d in enumerate(worldfile.list_of(check, doc["graph"].get("taskDefinitions"), WORLD_KEY)):
            keys = (*WORLD_KEY, i)
            d = dict(check.mapping(d, keys, "a task definition"))
            tasks = worldfile.list_of(check, d.pop("tasks", None), keys + ("tasks",))
            def_id = worldfile.id_of(check, d, keys)
            tx.put(DEFINITIONS, def_id, d)
            for j, t in enumerate(tasks):
                t = dict(check.mapping(t, keys + ("tasks", j), "a print task"))
                status = t.get("status")
                state = status.get("state") if isinstance(status, dict) else None
                if state is not None and state not in PRINT_TASK_STATES:  # else the demo would serve it
                    close = yamlfile.closest(state, PRINT_TASK_STATES)
                    raise check.fail(
                        keys + ("tasks", j, "status", "state"),
                        f"print task state {state!r} is not one of " + ", ".join(PRINT_TASK_STATES),
                        f"did you mean {close!r}?" if close else "",
                    )
                tx.put(tasks_of(def_id), worldfile.id_of(check, t, keys + ("tasks", j)), t)


def dump(world: World) -> dict[str, dict]:
    with world.store.transaction() as tx:
        defs = [{**d, "tasks": tx.scan(tasks_of(d["id"]))} for d in tx.scan(DEFINITIONS)]
    return {"graph": {"taskDefinitions": defs}}


def _listed(world: World) -> list[str]:
    with world.store.transaction() as tx:
        return ["  Graph print task definitions (/v1.0/print/taskDefinitions/ID/tasks):"] + [
            f"    {d['id']} ({d.get('displayName', '')}: {len(tx.keys(tasks_of(d['id'])))} task(s))"
            for d in tx.scan(DEFINITIONS)
        ]


# Its part of a world file, as the world's JSON Schema has it (sim/world_schema.py builds the schema).
WORLD_SCHEMA: dict = {
    "graph": {
        "taskDefinitions": worldfile.records(
            {
                "id": worldfile.TEXT,
                "displayName": worldfile.TEXT,
                "createdBy": {"type": "object", "properties": {"appId": worldfile.TEXT, "displayName": worldfile.TEXT}},
                "tasks": worldfile.records(
                    {
                        "id": worldfile.TEXT,
                        "parentUrl": worldfile.TEXT,
                        "status": {
                            "type": "object",
                            "properties": {"state": {"enum": list(PRINT_TASK_STATES)}, "description": worldfile.TEXT},
                        },
                    }
                ),
            }
        )
    }
}


MODULE = ResourceModule(
    name="Graph print task definition(s)",
    on_host=lambda host: host == HOST,
    handle=handle,
    routes=(ROUTES,),
    schema=WORLD_SCHEMA,
    count=lambda world: world.store.count(DEFINITIONS),
    load=load,
    dump=dump,
    collections=(DEFINITIONS,),
    listed=_listed,
)
