"""Box tasks and task assignments, as the API reference describes them. A task's `is_completed`
is recalculated from its assignments' resolution states and its completion rule."""

from __future__ import annotations

import datetime
import re
from typing import Any

from . import api, auth
from .http import ApiError, Reply, SimRequest
from .module import ResourceModule
from .world import World

HOSTS = ("api.box.com",)
ACTIONS = ("review", "complete")
RULES = ("all_assignees", "any_assignee")
RESOLUTIONS = {"review": ("incomplete", "approved", "rejected"), "complete": ("incomplete", "completed")}
_TASK = re.compile(r"^/2\.0/tasks(?:/([^/]+)(/assignments)?)?/?$")
_FILE_TASKS = re.compile(r"^/2\.0/files/([^/]+)/tasks/?$")
_ASSIGNMENT = re.compile(r"^/2\.0/task_assignments(?:/([^/]+))?/?$")


def handle(world: World, req: SimRequest) -> Reply | None:
    if req.host not in HOSTS:
        return None
    task, files, assignment = _TASK.match(req.path), _FILE_TASKS.match(req.path), _ASSIGNMENT.match(req.path)
    if not (task or files or assignment):
        return None
    auth.check_box(req)
    with world.lock:
        if files:
            return _file_tasks(world, req, files.group(1))
        if task:
            task_id, assignments = task.groups()
            if task_id is None:
                return _create_task(world, req)
            if task_id not in world.box_tasks:
                raise ApiError("not_found", f"Could not find the specified resource (task {task_id})")
            if assignments:
                if req.method != "GET":
                    raise ApiError("method_not_allowed")
                return api.box_reply(200, _assignments(world, task_id))
            return _task(world, req, task_id)
        assert assignment is not None  # one of the three matched
        assignment_id = assignment.group(1)
        if assignment_id is None:
            return _create_assignment(world, req)
        if assignment_id not in world.box_assignments:
            raise ApiError("not_found", f"Could not find the specified resource (task assignment {assignment_id})")
        return _assignment(world, req, assignment_id)


# -- representations ------------------------------------------------------------------------------
def file_mini(world: World, file_id: str) -> dict:
    f = world.box_files[file_id]
    out = {
        "id": f["id"],
        "etag": str(f.get("etag", "1")),
        "type": "file",
        "sequence_id": str(f.get("sequence_id", "1")),
        "name": f.get("name", ""),
        "sha1": f.get("sha1", ""),
    }
    if f.get("file_version"):
        out["file_version"] = {"type": "file_version", **f["file_version"]}
    return out


def user_mini(world: World, user_id: str) -> dict:
    u = world.box_users.get(user_id, {"id": user_id})
    return {"id": u["id"], "type": "user", "name": u.get("name", ""), "login": u.get("login", "")}


def assignment_view(world: World, a: dict) -> dict:
    task = world.box_tasks[a["task"]]
    return {
        "id": a["id"],
        "type": "task_assignment",
        "item": file_mini(world, task["item"]),
        "assigned_to": user_mini(world, a["assigned_to"]),
        "message": a.get("message", ""),
        "completed_at": a.get("completed_at"),
        "assigned_at": a.get("assigned_at"),
        "reminded_at": a.get("reminded_at"),
        "resolution_state": a.get("resolution_state", "incomplete"),
        "assigned_by": user_mini(world, a["assigned_by"]),
    }


def _assignments(world: World, task_id: str) -> dict:
    entries = [assignment_view(world, a) for a in world.box_assignments.values() if a["task"] == task_id]
    return {"total_count": len(entries), "entries": entries}


def is_completed(world: World, task_id: str) -> bool:
    """any_assignee: one resolved assignment is enough; all_assignees: every one must be resolved."""
    states = [a.get("resolution_state", "incomplete") for a in world.box_assignments.values() if a["task"] == task_id]
    resolved = [s != "incomplete" for s in states]
    if world.box_tasks[task_id].get("completion_rule") == "any_assignee":
        return any(resolved)
    return bool(resolved) and all(resolved)


def task_view(world: World, task_id: str) -> dict:
    t = world.box_tasks[task_id]
    return {
        "id": t["id"],
        "type": "task",
        "item": file_mini(world, t["item"]),
        "due_at": t.get("due_at"),
        "action": t.get("action", "review"),
        "message": t.get("message", ""),
        "task_assignment_collection": _assignments(world, task_id),
        "is_completed": is_completed(world, task_id),
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


def _create_task(world: World, req: SimRequest) -> Reply:
    if req.method != "POST":
        raise ApiError("method_not_allowed")
    data = _body(req)
    item = data.get("item")
    if not isinstance(item, dict) or not item.get("id") or item.get("type", "file") != "file":
        raise ApiError("bad_request", 'Bad Request: \'item\' is required: {"id": FILE_ID, "type": "file"}')
    file_id = str(item["id"])
    if file_id not in world.box_files:
        raise ApiError("not_found", f"Could not find the specified resource (file {file_id})")
    task: dict[str, Any] = {
        "id": world.new_box_id(),
        "item": file_id,
        "action": "review",
        "message": "",
        "due_at": None,
        "completion_rule": "all_assignees",
        "created_by": _acting_user(world),
        "created_at": api.now(),
    }
    _task_fields(data, task)
    world.box_tasks[task["id"]] = task
    world.changed()
    return api.box_reply(201, task_view(world, task["id"]))


def _acting_user(world: World) -> str:
    return next(iter(world.box_users), "")


def _task(world: World, req: SimRequest, task_id: str) -> Reply:
    if req.method == "GET":
        return api.box_reply(200, task_view(world, task_id))
    if req.method == "PUT":
        data = _body(req)
        task = dict(world.box_tasks[task_id])
        _task_fields(data, task)  # validate everything before changing anything
        world.box_tasks[task_id] = task
        for a in world.box_assignments.values():  # a changed action may make old resolutions meaningless
            if a["task"] == task_id and a.get("resolution_state") not in RESOLUTIONS[task["action"]]:
                a["resolution_state"] = "incomplete"
        world.changed()
        return api.box_reply(200, task_view(world, task_id))
    if req.method == "DELETE":
        delete_task(world, task_id)
        world.changed()
        return api.box_reply(204)
    raise ApiError("method_not_allowed")


def delete_task(world: World, task_id: str) -> None:
    """A task and its assignments."""
    del world.box_tasks[task_id]
    for a_id in [i for i, a in world.box_assignments.items() if a["task"] == task_id]:
        del world.box_assignments[a_id]


def _file_tasks(world: World, req: SimRequest, file_id: str) -> Reply:
    if req.method != "GET":
        raise ApiError("method_not_allowed")
    if file_id not in world.box_files:
        raise ApiError("not_found", f"Could not find the specified resource (file {file_id})")
    entries = [task_view(world, i) for i, t in world.box_tasks.items() if t["item"] == file_id]
    return api.box_reply(200, {"total_count": len(entries), "entries": entries})


def _create_assignment(world: World, req: SimRequest) -> Reply:
    if req.method != "POST":
        raise ApiError("method_not_allowed")
    data = _body(req)
    task, who = data.get("task"), data.get("assign_to")
    if not isinstance(task, dict) or not task.get("id") or task.get("type", "task") != "task":
        raise ApiError("bad_request", 'Bad Request: \'task\' is required: {"id": TASK_ID, "type": "task"}')
    if not isinstance(who, dict) or not (who.get("id") or who.get("login")):
        raise ApiError("bad_request", "Bad Request: 'assign_to' needs an 'id' or a 'login'")
    task_id = str(task["id"])
    if task_id not in world.box_tasks:
        raise ApiError("not_found", f"Could not find the specified resource (task {task_id})")
    user_id = str(who["id"]) if who.get("id") else _user_by_login(world, str(who["login"]))
    if user_id not in world.box_users:
        raise ApiError("not_found", f"Could not find the specified resource (user {user_id})")
    a = {
        "id": world.new_box_id(),
        "task": task_id,
        "assigned_to": user_id,
        "assigned_by": world.box_tasks[task_id].get("created_by") or _acting_user(world),
        "message": world.box_tasks[task_id].get("message", ""),
        "resolution_state": "incomplete",
        "assigned_at": api.now(),
        "completed_at": None,
        "reminded_at": None,
    }
    world.box_assignments[a["id"]] = a
    world.changed()
    return api.box_reply(201, assignment_view(world, a))


def _user_by_login(world: World, login: str) -> str:
    for u in world.box_users.values():
        if u.get("login", "").lower() == login.lower():
            return u["id"]
    user = {"id": world.new_box_id(), "name": login.split("@")[0], "login": login}  # an invited collaborator
    world.box_users[user["id"]] = user
    return user["id"]


def _assignment(world: World, req: SimRequest, assignment_id: str) -> Reply:
    a = world.box_assignments[assignment_id]
    if req.method == "GET":
        return api.box_reply(200, assignment_view(world, a))
    if req.method == "PUT":
        data = _body(req)
        action = world.box_tasks[a["task"]].get("action", "review")
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
        world.changed()
        return api.box_reply(200, assignment_view(world, a))
    if req.method == "DELETE":
        del world.box_assignments[assignment_id]
        world.changed()
        return api.box_reply(204)
    raise ApiError("method_not_allowed")


def _listed(world: World) -> list[str]:
    return ["  Box tasks (/2.0/tasks/ID):"] + [
        f"    {i} ({t.get('message', '')}, on file {t.get('item', '')})" for i, t in world.box_tasks.items()
    ]


MODULE = ResourceModule(
    name="Box task(s)",
    on_host=lambda host: host in HOSTS,
    handle=handle,
    world_keys=(("box", "tasks"), ("box", "users")),  # the users tasks are assigned to
    count=lambda world: len(world.box_tasks),
    listed=_listed,
)
