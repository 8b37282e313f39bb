"""Box tasks and task assignments, as the API reference describes them. A task's `is_completed`
is recalculated from its assignments' resolution states and its completion rule."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import yamlfile
from ..core.paths import Routes
from . import api, auth, box_file_store, worldfile
from .http import ApiError, Reply, SimRequest
from .module import ResourceModule
from .store import Transaction

if TYPE_CHECKING:
    from .world import World

HOSTS = ("api.box.com",)
ACTIONS = ("review", "complete")
RULES = ("all_assignees", "any_assignee")
RESOLUTIONS = {"review": ("incomplete", "approved", "rejected"), "complete": ("incomplete", "completed")}
ROUTES = Routes(
    ("tasks", "/2.0/tasks"),
    ("task", "/2.0/tasks/{task_id}"),
    ("task_assignments", "/2.0/tasks/{task_id}/assignments"),
    ("file_tasks", "/2.0/files/{file_id}/tasks"),
    ("assignments", "/2.0/task_assignments"),
    ("assignment", "/2.0/task_assignments/{assignment_id}"),
)
# The store's collections: tasks and assignments as this module keeps them (the ids of the file and
# users they name), and Box's users, which are the store's own (the generic world answers /users).
TASKS, ASSIGNMENTS, USERS = "box:tasks", "box:task_assignments", "box:users"


def handle(world: World, req: SimRequest) -> Reply | None:
    found = ROUTES.match(req.path) if req.host in HOSTS else None
    if found is None:
        return None
    route, params = found
    auth.check_box(req)
    with world.lock, world.store.transaction() as tx:
        if route == "file_tasks":
            return _file_tasks(world, tx, req, params["file_id"])
        if route == "tasks":
            return _create_task(world, tx, req)
        if route in ("task", "task_assignments"):
            task_id = params["task_id"]
            if not tx.has(TASKS, task_id):
                raise ApiError("not_found", f"Could not find the specified resource (task {task_id})")
            if route == "task_assignments":
                if req.method != "GET":
                    raise ApiError("method_not_allowed")
                return api.box_reply(200, _assignments(world, tx, task_id))
            return _task(world, tx, req, task_id)
        if route == "assignments":
            return _create_assignment(world, tx, req)
        assignment_id = params["assignment_id"]
        if not tx.has(ASSIGNMENTS, assignment_id):
            raise ApiError("not_found", f"Could not find the specified resource (task assignment {assignment_id})")
        return _assignment(world, tx, req, assignment_id)


# -- representations ------------------------------------------------------------------------------
def user_mini(world: World, user_id: str) -> dict:
    with world.store.transaction() as tx:
        u = tx.get(USERS, user_id) or {"id": user_id}
    return {"id": u["id"], "type": "user", "name": u.get("name", ""), "login": u.get("login", "")}


def acting_user(world: World) -> str:
    """Who the simulated app acts as: the world's first user."""
    with world.store.transaction() as tx:
        return tx.first_key(USERS) or ""


def assignment_view(world: World, tx: Transaction, a: dict) -> dict:
    task = tx.get(TASKS, a["task"]) or {}
    return {
        "id": a["id"],
        "type": "task_assignment",
        "item": box_file_store.mini(tx, task["item"]),
        "assigned_to": user_mini(world, a["assigned_to"]),
        "message": a.get("message", ""),
        "completed_at": a.get("completed_at"),
        "assigned_at": a.get("assigned_at"),
        "reminded_at": a.get("reminded_at"),
        "resolution_state": a.get("resolution_state", "incomplete"),
        "assigned_by": user_mini(world, a["assigned_by"]),
    }


def _assignments_of(tx: Transaction, task_id: str) -> list[dict]:
    return tx.scan(ASSIGNMENTS, lambda a: a["task"] == task_id)


def _assignments(world: World, tx: Transaction, task_id: str) -> dict:
    entries = [assignment_view(world, tx, a) for a in _assignments_of(tx, task_id)]
    return {"total_count": len(entries), "entries": entries}


def is_completed(tx: Transaction, task_id: str) -> bool:
    """any_assignee: one resolved assignment is enough; all_assignees: every one must be resolved."""
    resolved = [a.get("resolution_state", "incomplete") != "incomplete" for a in _assignments_of(tx, task_id)]
    if (tx.get(TASKS, task_id) or {}).get("completion_rule") == "any_assignee":
        return any(resolved)
    return bool(resolved) and all(resolved)


def task_view(world: World, tx: Transaction, task_id: str) -> dict:
    t = tx.get(TASKS, task_id) or {}
    return {
        "id": t["id"],
        "type": "task",
        "item": box_file_store.mini(tx, t["item"]),
        "due_at": t.get("due_at"),
        "action": t.get("action", "review"),
        "message": t.get("message", ""),
        "task_assignment_collection": _assignments(world, tx, task_id),
        "is_completed": is_completed(tx, task_id),
        "created_by": user_mini(world, t.get("created_by", "")),
        "created_at": t.get("created_at"),
        "completion_rule": t.get("completion_rule", "all_assignees"),
    }


# -- handlers -------------------------------------------------------------------------------------
def _body(req: SimRequest) -> dict:
    data = req.json()
    if not isinstance(data, dict):
        raise ApiError("bad_request", "The request body must be a JSON object")
    return data


def _invalid(name: str, value: Any, allowed) -> ApiError:
    return ApiError("bad_request", f"Bad Request: invalid value {value!r} for '{name}'; allowed: " + ", ".join(allowed))


def _task_fields(data: dict, task: dict) -> None:
    if "action" in data:
        if data["action"] not in ACTIONS:
            raise _invalid("action", data["action"], ACTIONS)
        task["action"] = data["action"]
    if "completion_rule" in data:
        if data["completion_rule"] not in RULES:
            raise _invalid("completion_rule", data["completion_rule"], RULES)
        task["completion_rule"] = data["completion_rule"]
    if "message" in data:
        if not isinstance(data["message"], str):
            raise ApiError("bad_request", "Bad Request: 'message' must be a string")
        task["message"] = data["message"]
    if "due_at" in data:
        task["due_at"] = _iso(data["due_at"], "due_at")


def _iso(value: Any, name: str) -> str | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str) or "T" not in value:
            raise ValueError
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            "bad_request",
            f"Bad Request: '{name}' must be an ISO-8601 date-time, e.g. 2012-12-12T10:53:43-08:00; got {value!r}",
        ) from None
    return value


def _create_task(world: World, tx: Transaction, req: SimRequest) -> Reply:
    if req.method != "POST":
        raise ApiError("method_not_allowed")
    data = _body(req)
    item = data.get("item")
    if not isinstance(item, dict) or not item.get("id") or item.get("type", "file") != "file":
        raise ApiError("bad_request", 'Bad Request: \'item\' is required: {"id": FILE_ID, "type": "file"}')
    file_id = str(item["id"])
    if not box_file_store.exists(tx, file_id):
        raise ApiError("not_found", f"Could not find the specified resource (file {file_id})")
    task: dict[str, Any] = {
        "id": world.new_box_id(),
        "item": file_id,
        "action": "review",
        "message": "",
        "due_at": None,
        "completion_rule": "all_assignees",
        "created_by": acting_user(world),
        "created_at": api.now(),
    }
    _task_fields(data, task)
    tx.put(TASKS, task["id"], task)
    return api.box_reply(201, task_view(world, tx, task["id"]))


def _task(world: World, tx: Transaction, req: SimRequest, task_id: str) -> Reply:
    if req.method == "GET":
        return api.box_reply(200, task_view(world, tx, task_id))
    if req.method == "PUT":
        data = _body(req)
        task = tx.get(TASKS, task_id) or {}
        _task_fields(data, task)  # validate everything before changing anything
        tx.put(TASKS, task_id, task)
        for a in _assignments_of(tx, task_id):  # a changed action may make old resolutions meaningless
            if a.get("resolution_state") not in RESOLUTIONS[task["action"]]:
                tx.put(ASSIGNMENTS, a["id"], {**a, "resolution_state": "incomplete"})
        return api.box_reply(200, task_view(world, tx, task_id))
    if req.method == "DELETE":
        delete_task(tx, task_id)
        return api.box_reply(204)
    raise ApiError("method_not_allowed")


def delete_task(tx: Transaction, task_id: str) -> None:
    """A task and its assignments."""
    tx.delete(TASKS, task_id)
    for a in _assignments_of(tx, task_id):
        tx.delete(ASSIGNMENTS, a["id"])


def delete_tasks_on(tx: Transaction, file_id: str) -> None:
    """Every task on a file (the file is being deleted)."""
    for t in tx.scan(TASKS, lambda t: t["item"] == file_id):
        delete_task(tx, t["id"])


def _file_tasks(world: World, tx: Transaction, req: SimRequest, file_id: str) -> Reply:
    if req.method != "GET":
        raise ApiError("method_not_allowed")
    if not box_file_store.exists(tx, file_id):
        raise ApiError("not_found", f"Could not find the specified resource (file {file_id})")
    entries = [task_view(world, tx, t["id"]) for t in tx.scan(TASKS, lambda t: t["item"] == file_id)]
    return api.box_reply(200, {"total_count": len(entries), "entries": entries})


def _create_assignment(world: World, tx: Transaction, req: SimRequest) -> Reply:
    if req.method != "POST":
        raise ApiError("method_not_allowed")
    data = _body(req)
    task, who = data.get("task"), data.get("assign_to")
    if not isinstance(task, dict) or not task.get("id") or task.get("type", "task") != "task":
        raise ApiError("bad_request", 'Bad Request: \'task\' is required: {"id": TASK_ID, "type": "task"}')
    if not isinstance(who, dict) or not (who.get("id") or who.get("login")):
        raise ApiError("bad_request", "Bad Request: 'assign_to' needs an 'id' or a 'login'")
    task_id = str(task["id"])
    the_task = tx.get(TASKS, task_id)
    if the_task is None:
        raise ApiError("not_found", f"Could not find the specified resource (task {task_id})")
    user_id = str(who["id"]) if who.get("id") else _user_by_login(world, tx, str(who["login"]))
    if not tx.has(USERS, user_id):
        raise ApiError("not_found", f"Could not find the specified resource (user {user_id})")
    a = {
        "id": world.new_box_id(),
        "task": task_id,
        "assigned_to": user_id,
        "assigned_by": the_task.get("created_by") or acting_user(world),
        "message": the_task.get("message", ""),
        "resolution_state": "incomplete",
        "assigned_at": api.now(),
        "completed_at": None,
        "reminded_at": None,
    }
    tx.put(ASSIGNMENTS, a["id"], a)
    return api.box_reply(201, assignment_view(world, tx, a))


def _user_by_login(world: World, tx: Transaction, login: str) -> str:
    for u in tx.scan(USERS, lambda u: str(u.get("login", "")).lower() == login.lower()):
        return u["id"]
    user_id = world.new_box_id()  # an invited collaborator
    made = world.box.made_up("users", user_id) or {}
    tx.put(USERS, user_id, {**made, "id": user_id, "name": login.split("@")[0], "login": login})
    return user_id


def _assignment(world: World, tx: Transaction, req: SimRequest, assignment_id: str) -> Reply:
    a = tx.get(ASSIGNMENTS, assignment_id) or {}
    if req.method == "GET":
        return api.box_reply(200, assignment_view(world, tx, a))
    if req.method == "PUT":
        data = _body(req)
        action = (tx.get(TASKS, a["task"]) or {}).get("action", "review")
        if "resolution_state" in data:
            allowed = RESOLUTIONS[action]
            if data["resolution_state"] not in allowed:
                raise ApiError(
                    "bad_request",
                    f"Bad Request: invalid value {data['resolution_state']!r} for "
                    f"'resolution_state' of a {action} task; allowed: " + ", ".join(allowed),
                )
        if "message" in data and not isinstance(data["message"], str):
            raise ApiError("bad_request", "Bad Request: 'message' must be a string")
        if "resolution_state" in data:
            a["resolution_state"] = data["resolution_state"]
            a["completed_at"] = None if a["resolution_state"] == "incomplete" else api.now()
        if "message" in data:
            a["message"] = data["message"]
        tx.put(ASSIGNMENTS, assignment_id, a)
        return api.box_reply(200, assignment_view(world, tx, a))
    if req.method == "DELETE":
        tx.delete(ASSIGNMENTS, assignment_id)
        return api.box_reply(204)
    raise ApiError("method_not_allowed")


# -- the world file -------------------------------------------------------------------------------
def load(check: yamlfile.Checker, world: World, doc: dict[str, dict], blobs: Path | None) -> None:
    """box.users (the store's, over what Box's model makes up for each), then box.tasks, each with
    its assignments; after box.files (a task is on one)."""
    box = doc["box"]
    with world.store.transaction() as tx:
        for i, user in enumerate(worldfile.list_of(check, box.get("users"), ("box", "users"))):
            user = dict(check.mapping(user, ("box", "users", i), "a user"))
            user_id = worldfile.id_of(check, user, ("box", "users", i))
            tx.put(USERS, user_id, {**(world.box.made_up("users", user_id) or {}), **user})
        for i, t in enumerate(worldfile.list_of(check, box.get("tasks"), ("box", "tasks"))):
            keys = ("box", "tasks", i)
            t = dict(check.mapping(t, keys, "a task"))
            assignments = worldfile.list_of(check, t.pop("assignments", None), keys + ("assignments",))
            task_id = worldfile.id_of(check, t, keys)
            t["item"] = str(t.get("item", ""))
            if not box_file_store.exists(tx, t["item"]):
                raise check.fail(keys + ("item",), f"task {task_id} is on file {t['item']!r}, which box.files lacks")
            tx.put(TASKS, task_id, t)
            for j, a in enumerate(assignments):
                at = keys + ("assignments", j)
                a = dict(check.mapping(a, at, "an assignment"))
                a["task"] = task_id
                for who in ("assigned_to", "assigned_by"):
                    if not tx.has(USERS, str(a.get(who, ""))):
                        raise check.fail(at + (who,), f"{who} {a.get(who)!r} is not in box.users")
                    a[who] = str(a[who])
                tx.put(ASSIGNMENTS, worldfile.id_of(check, a, at), a)


def dump(world: World) -> dict[str, dict]:
    """box.tasks with their assignments (box.users are the store's: exported with it)."""
    with world.store.transaction() as tx:
        tasks = [
            {**t, "assignments": [{k: v for k, v in a.items() if k != "task"} for a in _assignments_of(tx, t["id"])]}
            for t in tx.scan(TASKS)
        ]
    return {"box": {"tasks": tasks}}


def _listed(world: World) -> list[str]:
    with world.store.transaction() as tx:
        return ["  Box tasks (/2.0/tasks/ID):"] + [
            f"    {t['id']} ({t.get('message', '')}, on file {t.get('item', '')})" for t in tx.scan(TASKS)
        ]


# Its part of a world file, as the world's JSON Schema has it (sim/world_schema.py builds the schema).
WORLD_SCHEMA: dict = {
    "box": {
        "tasks": worldfile.records(
            {
                "id": worldfile.ID,
                "item": {**worldfile.ID, "description": "the id of a file in box.files"},
                "action": {"enum": list(ACTIONS)},
                "message": worldfile.TEXT,
                "due_at": worldfile.WHEN,
                "completion_rule": {"enum": list(RULES)},
                "created_by": worldfile.ID,
                "created_at": worldfile.WHEN,
                "assignments": worldfile.records(
                    {
                        "id": worldfile.ID,
                        "assigned_to": worldfile.ID,
                        "assigned_by": worldfile.ID,
                        "message": worldfile.TEXT,
                        "resolution_state": {"enum": sorted({r for rs in RESOLUTIONS.values() for r in rs})},
                        "assigned_at": worldfile.WHEN,
                        "completed_at": worldfile.WHEN,
                        "reminded_at": worldfile.WHEN,
                    },
                    required=("id", "assigned_to", "assigned_by"),
                ),
            },
            required=("id", "item"),
        ),
        # the users tasks are assigned to (Box's users: the store's own, seeded from here)
        "users": worldfile.records({"id": worldfile.ID, "name": worldfile.TEXT, "login": worldfile.TEXT}),
    }
}


MODULE = ResourceModule(
    name="Box task(s)",
    on_host=lambda host: host in HOSTS,
    handle=handle,
    routes=(ROUTES,),
    schema=WORLD_SCHEMA,
    count=lambda world: world.store.count(TASKS),
    load=load,
    dump=dump,
    collections=(TASKS, ASSIGNMENTS),
    listed=_listed,
)
