"""One writer per file: a cassette being recorded, a state file. Two processes writing the same
file each believe they saved everything, and the last rename wins: half the data is gone, silently.

The lock is an flock on a hidden file beside the one written (`.<name>.tapeproxy-lock`), which
holds the writer's pid and command line so that the second writer can name the first. The OS
drops the lock when the process ends, `kill -9` included, so a crash never leaves it stuck. The
lock file is never removed: removing it would let two writers lock two different files.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

from ..core import digestfiles, writer
from ..core.errors import InputError


class WriterLock:
    def __init__(self, path: str | Path, what: str, files: Path) -> None:
        self.path = Path(path).absolute()
        self.what = what  # "cassette", "state file": for the message
        self.files = files  # the folder of digest files beside it (bodies, blobs)
        self.lock_path = self.path.parent / f".{self.path.name}.tapeproxy-lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Held from now on, or InputError naming the process that holds it. Once held, what a
        writer killed mid-write left (temporary files beside the file, spools among its digest
        files) is removed: nobody else writes there now."""
        if self._fd is not None:
            return
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise InputError(
                f"the {self.what} {self.path} is being written by {holder}",
                hint="one process writes a file at a time; stop that one, or choose another file",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({' '.join(sys.argv)[:300]})\n".encode(), 0)
        self._fd = fd
        writer.remove_temporaries(self.path.parent, self.path.name)
        digestfiles.remove_leftovers(self.files)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None
