"""The state file (--state): the simulated world saved off the event loop, saves coalesced, and a
change acknowledged only once a save that holds it is on disk.

A request that changed the world waits for `durable()` before its answer goes out, as before, so
nothing acknowledged is lost over `kill -9`. What changes is where and how often: saving (the new
content, the world as JSON, fsync) runs in one worker thread of its own, and the changes made while one
save runs all go into the next, so a burst of N changes costs about two saves, not N, and no save
stalls the other clients.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from pathlib import Path

from ..sim import world as world_mod
from ..sim.blobs import BlobDisk
from ..sim.world import World
from .writerlock import WriterLock

logger = logging.getLogger(__name__)


class StateFile:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lock = WriterLock(self.path, "state file", world_mod.blob_dir(self.path))
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tapeproxy-state")
        self._write_lock = threading.Lock()  # a save now (reset, stop) and one in the thread: one at a time
        self.disk: BlobDisk | None = None  # the content beside it, shared by each world loaded from it
        self._saved: tuple[int, int] = (0, -1)  # (id of the world, its version) last on disk
        self._saving: asyncio.Future | None = None

    def open(self) -> None:
        """Taken for this process (InputError if another holds it); what a killed writer left is cleared."""
        self.lock.acquire()
        self.disk = BlobDisk(world_mod.blob_dir(self.path), world_mod.blob_files(self.path))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.lock.release()

    def mark_saved(self, world: World) -> None:
        """The world was just loaded from this file: it is on disk as it is."""
        self._saved = (id(world), world.version)

    def is_saved(self, world: World, version: int) -> bool:
        return self._saved[0] == id(world) and self._saved[1] >= version

    async def durable(self, world: World) -> None:
        """Returns once the world as it is now is on disk (raises what the save raised)."""
        version = world.version
        while not self.is_saved(world, version):
            if self._saving is None or self._saving.done():
                self._saving = asyncio.get_running_loop().run_in_executor(self._executor, self.save, world)
            await asyncio.shield(self._saving)

    def save(self, world: World) -> None:
        """The world on disk now (any thread)."""
        with self._write_lock:
            snapshot = world.snapshot()
            if self.is_saved(world, snapshot.version):
                return
            assert self.disk is not None  # opened
            snapshot.write(self.path, self.disk)
            self._saved = (id(world), snapshot.version)
