"""The simulated world: the store (sim/store.py), which holds every record of both APIs, the
resource modules' among them (print and Box tasks, print jobs, the drive's items, Box files). Each
resource module reads and writes its part of a world file (sim/registry.py); with a state file,
the store is kept in a database beside it, and the little that is not a record (which user /me
is) saved to the file after changes (runtime/state.py decides when, off the event loop).

File content is kept by SHA-256 (`blobs`), and freed once nothing names it. A world file gives it
inline (`content:`) or names a blob stored beside it, in `<file>.blobs/<sha256>`, which is where a
state file keeps uploads: a record of the store naming a blob reaches the database only once the
blob is on disk (content_kept, sim/blobs.py's BlobDisk).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import digestfiles, limits, writer, yamlfile
from ..core.errors import InputError
from ..core.spec import loaded
from . import box_files, registry, seeds
from .blobs import BlobDisk, Blobs, Digests
from .box_world import BoxWorld
from .drive_items import DriveItems
from .graph_world import GraphWorld
from .store import Store

WORLD_KEYS = {"graph", "box"}
BOX_IDS = "box:~ids"
DEFAULT_ME = "5f6b7c0e-1f2a-4b3c-9d4e-000000000001"


class World:
    def __init__(self) -> None:
        self.lock = threading.RLock()  # the store's too: one lock, so no two threads take them in turns
        self.box_sessions: dict[str, dict] = {}  # chunked uploads in progress: not saved, as Box's expire
        self.graph_sessions: dict[str, dict] = {}  # Graph upload sessions in progress: not saved either
        self.blobs = Blobs()  # file content by SHA-256
        self.disk: BlobDisk | None = None  # with a state file: the content kept beside it
        self.store: Store = Store(self.lock)  # every resource of both APIs (sim/graph_world.py, sim/box_world.py...)
        # the one drive (/me/drive, /drives/{its id}) and its items, in the store
        self.graph_drive: DriveItems = DriveItems(self.store)
        self.graph_me = DEFAULT_ME  # the user /me is
        self.strict = False  # unknown ids: 404 (as the services), or made up on first read (the default)
        self.registrations: tuple[tuple, tuple] = ((), ())  # the world file's app registrations (Graph, Box)
        self.version = 0  # one more after every change: what a state file has saved is known by it
        self.url_secret = os.urandom(16)  # signs the download URLs handed out (downloads.py)
        # what upload sessions may hold together (upload_session.py); the simulation addon sets the option's
        self.max_session_bytes = limits.parse_size(limits.DEFAULT_MAX_UPLOAD_SESSIONS, "--max-upload-sessions")

    def changed(self) -> None:
        """After every change, under the lock: content nothing names any more is freed."""
        self.version += 1
        self.blobs.keep_only(self.named_blobs())

    def named_blobs(self) -> set[str]:
        """The content the resource modules' records name (each module says which)."""
        return {key for m in registry.MODULES if m.blobs is not None for key in m.blobs(self)}

    def write_content(self) -> None:
        """Before the store is written to a state file's database: the content loaded with the
        world (from the world file) on disk first, as a request's content is (BlobDisk)."""
        if self.disk is None:
            return
        for key in self.disk.missing(self.named_blobs() & set(self.blobs)):
            self.disk.write(key, self.blobs[key])

    def read_stored_content(self) -> None:
        """After the store is read from a state file's database: the content its records name, from
        beside it, checked against its name (content that is not there stops the start, naming the
        file, rather than a 500 at its first download)."""
        if self.disk is None:
            return
        for key in self.named_blobs() - set(self.blobs):
            try:
                self.blobs.put(digestfiles.read(self.disk.folder, key))
            except digestfiles.Unusable as e:
                raise InputError(f"the state's content {self.disk.folder / key}: {e}") from None

    # -- the worlds of the store -------------------------------------------------------------------
    @functools.cached_property
    def graph(self) -> GraphWorld:
        return GraphWorld(loaded.graph(), self.store, self.graph_me, self.strict)

    @functools.cached_property
    def box(self) -> BoxWorld:
        return BoxWorld(
            loaded.box(), self.store, self.new_box_id, self._box_files_in, self._delete_box_file, self.strict
        )

    # the hand-made files' own view of themselves, and their delete
    def _box_files_in(self, folder: str) -> list[dict]:
        return box_files.files_in(self, folder)

    def _delete_box_file(self, file_id: str) -> None:
        box_files.delete_file(self, file_id)

    def module_collections(self) -> tuple[str, ...]:
        """The prefixes of the store's collections the resource modules keep their records in."""
        return tuple(prefix for m in registry.MODULES for prefix in m.collections)

    def store_summary(self) -> tuple[int, int]:
        """(records, collections) the store holds of the APIs' resources (not its own bookkeeping,
        not the resource modules' records: they count those)."""
        own = self.module_collections()
        names = [n for n in self.store.names() if not n.partition(":")[2].startswith("~") and not n.startswith(own)]
        return sum(self.store.count(n) for n in names), len(names)

    # -- ids ---------------------------------------------------------------------------------------
    def new_box_id(self) -> str:
        """Box ids are numeric strings; new ones follow the largest in the world, of every kind, and
        the counter is kept in the store, so an id is never handed out twice (not across restarts)."""
        with self.store.transaction() as tx:
            counter = tx.get(BOX_IDS, "next")
            if counter is None:
                known = [
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
        box = check.mapping(doc.get("box") or {}, ("box",), "box")
        for module in registry.WORLD_PARTS:
            if module.load is not None:
                module.load(check, w, {"graph": graph, "box": box}, blobs)
        graph_keys, box_keys = registry.world_keys("graph") | {"me"}, registry.world_keys("box")
        if graph.keys() - graph_keys:
            seeds.seed_graph(check, w, graph, graph_keys, registry.seedable("graph"))
        if box.keys() - box_keys:
            seeds.seed_box(check, w, box, box_keys, registry.seedable("box"))
        return w

    def to_doc(self, in_store: bool = False) -> dict:
        """The world as a world file holds it; the resource modules' records kept in the store only
        with `in_store` (a state file's database has them)."""
        with self.lock:
            doc: dict[str, dict[str, Any]] = {"graph": {"me": self.graph_me}, "box": {}}
            for module in registry.WORLD_PARTS:
                if module.dump is not None and (in_store or not module.collections):
                    for api_name, part in module.dump(self).items():
                        doc[api_name].update(part)
            return doc

    def export(self) -> dict:
        """The whole world as a world file holds it: the hand-made resources and the store's, with
        text content inline (binary content stays a `blob:`, read from `<file>.blobs/`)."""
        doc = self.to_doc(in_store=True)
        with self.lock:
            docs = (d for j in doc["graph"]["printJobs"] for d in j["documents"])
            for item in (*doc["box"]["files"], *doc["graph"]["drive"]["items"], *docs):
                if item.get("blob") and item["blob"] in self.blobs:
                    try:
                        item["content"] = self.blobs[item["blob"]].decode()
                    except UnicodeDecodeError:
                        continue
                    del item["blob"]
        stored = seeds.export(self.store, self.module_collections())
        doc["graph"].update({k: v for k, v in stored["graph"].items() if k not in doc["graph"]})
        doc["box"].update({k: v for k, v in stored["box"].items() if k not in doc["box"]})
        return doc

    def snapshot(self) -> Snapshot:
        """What a state file holds of the world now: taken under the lock, written without it."""
        with self.lock:
            named = self.named_blobs()
            look, unneeded = self.disk.unneeded(named) if self.disk is not None else (0, set())
            blobs = {k: self.blobs[k] for k in named}
            return Snapshot(self.version, self.to_doc(), blobs, frozenset(unneeded), look)

    def content_kept(self, content: bytes, digests: Digests) -> contextlib.AbstractContextManager:
        """Around putting a record of the store that names this content (taken off the lock): with
        a state file, the content is on disk before the record can be committed (BlobDisk)."""
        if self.disk is None:
            return contextlib.nullcontext()
        return self.disk.kept(content, digests)


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    doc: dict
    blobs: dict[str, bytes]  # every content the world names
    unneeded: frozenset[str]  # on disk, named by nothing and held by nothing when it was taken
    look: int  # the number of that look (BlobDisk.unneeded)

    def write(self, path: str | Path, disk: BlobDisk) -> None:
        """The content first, then the YAML that names it, then the content nothing names: a crash
        at any point leaves a state file whose content is all there."""
        for key in disk.missing(self.blobs):
            disk.write(key, self.blobs[key])
        writer.write_data_atomic(path, self.doc)
        for key in self.unneeded:
            disk.remove(key, self.look)


def store_file(path: str | Path) -> Path:
    """The SQLite database of the store's records, beside the state file (sim/store.py)."""
    return Path(f"{path}.db")


def blob_dir(path: str | Path) -> Path:
    return Path(f"{path}.blobs")


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
