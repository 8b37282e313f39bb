"""The simulated world: Graph print task definitions and tasks, Box users, files, tasks and
assignments. Loaded from a YAML world file; with a state file, saved there after changes
(runtime/state.py decides when, off the event loop).

Plain dicts in insertion order, so lists come out in a stable order and the state file is
readable YAML in the same format as a world file.

File content is kept by SHA-256 (`blobs`), and freed once nothing names it. A world file gives it
inline (`content:`) or names a blob stored beside it, in `<file>.blobs/<sha256>`, which is where a
state file keeps uploads.
"""

from __future__ import annotations

import copy
import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import digestfiles, limits, writer, yamlfile
from ..core.errors import InputError
from ..core.spec import loaded
from . import seeds
from .blobs import Blobs, Digests
from .box_world import BoxWorld
from .drive_items import DriveItems
from .graph_world import GraphWorld
from .store import Store

# Graph printTaskProcessingState (the CSDL's enum, less unknownFutureValue).
PRINT_TASK_STATES = ("pending", "processing", "completed", "aborted")

WORLD_KEYS = {"graph", "box"}
DRIVE_KEYS = {"id", "name", "owner", "rootId", "items"}
DEFAULT_DRIVE = {"id": "b!tapeproxy-demo-drive", "name": "OneDrive", "owner": "Megan Bowen", "rootId": "01ROOT"}
BOX_IDS = "box:~ids"
DEFAULT_ME = "5f6b7c0e-1f2a-4b3c-9d4e-000000000001"


class World:
    def __init__(self) -> None:
        self.lock = threading.RLock()  # the store's too: one lock, so no two threads take them in turns
        self.graph_defs: dict[str, dict] = {}
        self.graph_tasks: dict[str, dict[str, dict]] = {}
        self.box_users: dict[str, dict] = {}
        self.box_files: dict[str, dict] = {}
        self.box_tasks: dict[str, dict] = {}
        self.box_assignments: dict[str, dict] = {}
        self.box_sessions: dict[str, dict] = {}  # chunked uploads in progress: not saved, as Box's expire
        self.graph_drive: dict = dict(DEFAULT_DRIVE)  # one drive: /me/drive and /drives/{its id}
        self.graph_items = DriveItems()  # driveItems by id, the root among them
        self.graph_sessions: dict[str, dict] = {}  # Graph upload sessions in progress: not saved either
        self.graph_jobs: dict[str, dict] = {}  # print jobs by id, each with its printer and documents
        self.blobs = Blobs()  # file content by SHA-256
        self.store = Store(self.lock)  # every other resource of both APIs (sim/graph_world.py, sim/box_world.py)
        self.graph_me = DEFAULT_ME  # the user /me is
        self.strict = False  # unknown ids: 404 (as the services), or made up on first read (the default)
        self.version = 0  # one more after every change: what a state file has saved is known by it
        self.url_secret = os.urandom(16)  # signs the download URLs handed out (downloads.py)
        # what upload sessions may hold together (upload_session.py); the simulation addon sets the option's
        self.max_session_bytes = limits.parse_size(limits.DEFAULT_MAX_UPLOAD_SESSIONS, "--max-upload-sessions")

    def changed(self) -> None:
        """After every change, under the lock: content nothing names any more is freed."""
        self.version += 1
        self.blobs.keep_only(self.named_blobs())

    def named_blobs(self) -> set[str]:
        docs = (d for j in self.graph_jobs.values() for d in j["documents"])
        return {f["blob"] for f in (*self.box_files.values(), *self.graph_items.values(), *docs) if f.get("blob")}

    # -- the worlds of the store -------------------------------------------------------------------
    @functools.cached_property
    def graph(self) -> GraphWorld:
        return GraphWorld(loaded.graph(), self.store, self.graph_me, self.strict)

    @functools.cached_property
    def box(self) -> BoxWorld:
        return BoxWorld(
            loaded.box(), self.store, self.new_box_id, self._box_files_in, self._delete_box_file, self.strict
        )

    # the hand-made files' own view of themselves, and their delete (here: box_files imports this module)
    def _box_files_in(self, folder: str) -> list[dict]:
        from .box_files import file_full

        return [file_full(self, i) for i, f in self.box_files.items() if f.get("parent", "0") == folder]

    def _delete_box_file(self, file_id: str) -> None:
        from .box_files import delete_file

        delete_file(self, file_id)

    def store_summary(self) -> tuple[int, int]:
        """(records, collections) the store holds of the APIs' resources (not its own bookkeeping)."""
        names = [n for n in self.store.names() if not n.partition(":")[2].startswith("~")]
        return sum(self.store.count(n) for n in names), len(names)

    # -- ids ---------------------------------------------------------------------------------------
    def new_box_id(self) -> str:
        """Box ids are numeric strings; new ones follow the largest in the world, of every kind, and
        the counter is kept in the store, so an id is never handed out twice (not across restarts)."""
        with self.store.transaction() as tx:
            counter = tx.get(BOX_IDS, "next")
            if counter is None:
                known = [
                    int(i)
                    for d in (self.box_users, self.box_files, self.box_tasks, self.box_assignments)
                    for i in d
                    if str(i).isdigit()
                ]
                known += [
                    int(k)
                    for c in self.store.names()
                    if c.startswith("box:") and not c.startswith("box:~")
                    for k in tx.keys(c)
                    if k.isdigit()
                ]
                counter = {"value": max(known, default=10_000_000) + 1}
            counter["value"] += 1
            tx.put(BOX_IDS, "next", counter)
            return str(counter["value"])

    def put_blob(self, content: bytes, digests: Digests | None = None) -> str:
        """The content's key; pass its digests when they were computed off the lock."""
        return self.blobs.put(content, digests)

    # -- file format -------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> World:
        data, text = yamlfile.load(path)
        if data is None:  # an empty or truncated file is a mistake, not an empty world
            raise InputError(
                "empty world file", str(path), 1, "a world holds graph: and box:; an empty world is `graph: {}`"
            )
        return cls.from_doc(data, yamlfile.Checker(str(path), text), blob_dir(path))

    @classmethod
    def from_doc(cls, doc: Any, check: yamlfile.Checker, blobs: Path | None = None) -> World:
        w = cls()
        doc = check.mapping(doc, (), "a world")
        check.keys(doc, WORLD_KEYS, (), "the world")
        graph = check.mapping(doc.get("graph") or {}, ("graph",), "graph")
        if graph.get("me") is not None:
            w.graph_me = str(graph["me"])
        for i, d in enumerate(_list(check, graph.get("taskDefinitions"), ("graph", "taskDefinitions"))):
            keys = ("graph", "taskDefinitions", i)
            d = dict(check.mapping(d, keys, "a task definition"))
            tasks = _list(check, d.pop("tasks", None), keys + ("tasks",))
            def_id = _id(check, d, keys)
            w.graph_defs[def_id] = d
            w.graph_tasks[def_id] = {}
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
                w.graph_tasks[def_id][_id(check, t, keys + ("tasks", j))] = t
        _drive(check, w, graph.get("drive"), blobs)
        for i, job in enumerate(_list(check, graph.get("printJobs"), ("graph", "printJobs"))):
            keys = ("graph", "printJobs", i)
            job = dict(check.mapping(job, keys, "a print job"))
            if not job.get("printer"):
                raise check.fail(keys, "a print job needs the id of its printer")
            docs = [
                dict(check.mapping(d, keys + ("documents", j), "a document"))
                for j, d in enumerate(_list(check, job.get("documents"), keys + ("documents",)))
            ]
            for j, d in enumerate(docs):
                _id(check, d, keys + ("documents", j))
                if d.get("blob") or d.get("content") is not None:
                    d["size"] = len(_content(check, w, d, keys + ("documents", j), blobs))
            job.update(documents=docs, status=str(job.get("status", "processing")))
            job.setdefault("createdDateTime", "2026-01-01T00:00:00Z")
            w.graph_jobs[_id(check, job, keys)] = job
        box = check.mapping(doc.get("box") or {}, ("box",), "box")
        for name, target in (("users", w.box_users), ("files", w.box_files)):
            for i, item in enumerate(_list(check, box.get(name), ("box", name))):
                item = dict(check.mapping(item, ("box", name, i), f"a {name[:-1]}"))
                target[_id(check, item, ("box", name, i))] = item
                if name == "files":
                    content = _content(check, w, item, ("box", name, i), blobs)
                    describe(item, content, w.blobs.sha1(item["blob"]))
        for i, t in enumerate(_list(check, box.get("tasks"), ("box", "tasks"))):
            keys = ("box", "tasks", i)
            t = dict(check.mapping(t, keys, "a task"))
            assignments = _list(check, t.pop("assignments", None), keys + ("assignments",))
            task_id = _id(check, t, keys)
            t["item"] = str(t.get("item", ""))
            if t["item"] not in w.box_files:
                raise check.fail(keys + ("item",), f"task {task_id} is on file {t['item']!r}, which box.files lacks")
            w.box_tasks[task_id] = t
            for j, a in enumerate(assignments):
                a = dict(check.mapping(a, keys + ("assignments", j), "an assignment"))
                a["task"] = task_id
                for who in ("assigned_to", "assigned_by"):
                    if str(a.get(who, "")) not in w.box_users:
                        raise check.fail(keys + ("assignments", j, who), f"{who} {a.get(who)!r} is not in box.users")
                    a[who] = str(a[who])
                w.box_assignments[_id(check, a, keys + ("assignments", j))] = a
        with w.store.transaction() as tx:  # the hand-made users are records of the store too
            for user in w.box_users.values():
                tx.put("box:users", user["id"], {**(w.box.made_up("users", user["id"]) or {}), **user})
        from . import registry  # here: the modules it lists import this one

        graph_keys, box_keys = registry.world_keys("graph") | {"me"}, registry.world_keys("box")
        if graph.keys() - graph_keys:
            seeds.seed_graph(check, w, graph, graph_keys)
        if box.keys() - box_keys:
            seeds.seed_box(check, w, box, box_keys)
        return w

    def to_doc(self) -> dict:
        with self.lock:
            defs = [{**d, "tasks": list(self.graph_tasks.get(i, {}).values())} for i, d in self.graph_defs.items()]
            tasks = []
            for task_id, t in self.box_tasks.items():
                assignments = [
                    {k: v for k, v in a.items() if k != "task"}
                    for a in self.box_assignments.values()
                    if a["task"] == task_id
                ]
                tasks.append({**t, "assignments": assignments})
            root = self.graph_drive["rootId"]
            drive = {**self.graph_drive, "items": [i for i in self.graph_items.values() if i["id"] != root]}
            return copy.deepcopy(
                {
                    "graph": {
                        "me": self.graph_me,
                        "taskDefinitions": defs,
                        "drive": drive,
                        "printJobs": list(self.graph_jobs.values()),
                    },
                    "box": {
                        "users": list(self.box_users.values()),
                        "files": list(self.box_files.values()),
                        "tasks": tasks,
                    },
                }
            )

    def export(self) -> dict:
        """The whole world as a world file holds it: the hand-made resources and the store's, with
        text content inline (binary content stays a `blob:`, read from `<file>.blobs/`)."""
        doc = self.to_doc()
        with self.lock:
            docs = (d for j in doc["graph"]["printJobs"] for d in j["documents"])
            for item in (*doc["box"]["files"], *doc["graph"]["drive"]["items"], *docs):
                if item.get("blob") and item["blob"] in self.blobs:
                    try:
                        item["content"] = self.blobs[item["blob"]].decode()
                    except UnicodeDecodeError:
                        continue
                    del item["blob"]
        stored = seeds.export(self.store)
        doc["graph"].update({k: v for k, v in stored["graph"].items() if k not in doc["graph"]})
        # Box's users are the store's: the hand-made ones are among them, with those created since
        doc["box"].update({k: v for k, v in stored["box"].items() if k not in doc["box"] or k == "users"})
        return doc

    def snapshot(self) -> Snapshot:
        """What a state file holds of the world now: taken under the lock, written without it."""
        with self.lock:
            named = self.named_blobs()
            return Snapshot(self.version, self.to_doc(), {k: self.blobs[k] for k in named})


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    doc: dict
    blobs: dict[str, bytes]

    def write(self, path: str | Path, on_disk: set[str]) -> None:
        """The content first, then the YAML that names it, then the content it no longer names: a
        crash at any point leaves a state file whose content is all there. `on_disk`: the blobs
        known to be written already (kept up to date)."""
        folder = blob_dir(path)
        for key, content in self.blobs.items():
            if key not in on_disk:
                digestfiles.write(folder, content, key)
                on_disk.add(key)
        writer.write_data_atomic(path, self.doc)
        for key in on_disk - self.blobs.keys():
            (folder / key).unlink(missing_ok=True)
            on_disk.discard(key)


def store_file(path: str | Path) -> Path:
    """The SQLite database of the store's records, beside the state file (sim/store.py)."""
    return Path(f"{path}.db")


def blob_dir(path: str | Path) -> Path:
    return Path(f"{path}.blobs")


def describe(item: dict, content: bytes, sha1: str) -> None:
    """What Box reports of a file's content: its size and SHA-1 (the version's too)."""
    item["size"] = len(content)
    item["sha1"] = sha1
    version = item.setdefault("file_version", {})
    version.setdefault("id", item["id"])
    version["sha1"] = item["sha1"]


def _drive(check, w: World, doc: Any, blobs: Path | None) -> None:
    """graph.drive: the one drive, its items listed with their parent's id (none: the root)."""
    keys: tuple = ("graph", "drive")
    doc = dict(check.mapping(doc or {}, keys, "graph.drive"))
    check.keys(doc, DRIVE_KEYS, keys, "graph.drive")
    items = _list(check, doc.pop("items", None), keys + ("items",))
    w.graph_drive = {**DEFAULT_DRIVE, **{k: str(v) for k, v in doc.items()}}
    root = w.graph_drive["rootId"]
    w.graph_items.add({"id": root, "name": "root", "folder": True})
    for i, item in enumerate(items):
        item = dict(check.mapping(item, keys + ("items", i), "a drive item"))
        item_id = _id(check, item, keys + ("items", i))
        item["parent"] = str(item.get("parent") or root)
        if item_id in w.graph_items:
            raise check.fail(keys + ("items", i, "id"), f"drive item {item_id} is listed twice")
        if item["parent"] not in w.graph_items or not w.graph_items[item["parent"]].get("folder"):
            raise check.fail(
                keys + ("items", i, "parent"), f"parent {item['parent']!r} is not a folder listed before this item"
            )
        if not isinstance(item.get("name"), str) or not item["name"]:
            raise check.fail(keys + ("items", i), "a drive item needs a name")
        if w.graph_items.child(item["parent"], item["name"]) is not None:
            raise check.fail(
                keys + ("items", i, "name"), f"{item['name']!r} is in that folder already (names ignore case)"
            )
        if not item.get("folder"):
            _content(check, w, item, keys + ("items", i), blobs)
        w.graph_items.add(item)


def _content(check, w: World, item: dict, keys: tuple, blobs: Path | None) -> bytes:
    """A file's content: inline, a blob beside the world file, or a line naming the file."""
    text = item.pop("content", None)
    if text is not None:
        if not isinstance(text, str):
            raise check.fail(keys + ("content",), f"content must be text, got {yamlfile.kind(text)}")
        content = text.encode()
    elif item.get("blob"):
        try:
            content = digestfiles.read(blobs, str(item["blob"]))
        except digestfiles.Unusable as e:
            raise check.fail(keys + ("blob",), f"blob: {e}") from None
    else:  # downloadable all the same, and its sha1 is that of what a download returns
        content = f"tapeproxy: simulated content of {item.get('name') or item['id']}\n".encode()
    item["blob"] = w.put_blob(content)
    return content


def _list(check, value, keys: tuple) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise check.fail(keys, f"expected a list, got {yamlfile.kind(value)}")
    return value


def _id(check, item: dict, keys: tuple) -> str:
    value = item.get("id")
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "":
        raise check.fail(keys, "every object needs an id")
    item["id"] = str(value)
    return item["id"]


def load_or_default(world_file: str | None, state_file: str | None, default: Path) -> World:
    """The state file if it exists (changes survive restarts), else the world file, else the default."""
    if state_file and Path(state_file).is_file():
        return World.load(state_file)
    return World.load(world_file or default)


def blob_files(path: str | Path) -> set[str]:
    """The blobs a state file's folder holds (by name: each was checked when it was written)."""
    folder = blob_dir(path)
    try:
        return {p.name for p in folder.iterdir() if digestfiles.NAME.fullmatch(p.name)}
    except OSError:
        return set()
