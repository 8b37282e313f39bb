"""Files named by the SHA-256 of their content, in a folder beside the YAML that names them: a world's
file content (`<world>.blobs/`) and a cassette's big bodies (`<cassette>.bodies/`).

A name is 64 hex digits, never a path, so nothing outside the folder is ever read; a file whose
content does not hash to its name is refused, so a body is served as recorded or not at all.
Writers put the content first and the YAML that names it after, so a crash between the two leaves
an unused file, never a name without its file.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import writer

NAME = re.compile(r"[0-9a-f]{64}")


class Unusable(ValueError):
    """Why a named file cannot be used; the caller adds file:line."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


CHUNK = 1 << 20  # what a check or a read takes of a file at a time


@dataclass(frozen=True, slots=True)
class Named:
    """A file found under its digest, of the size it should have; read() and open() check it.

    A file may be swapped after start-up: for a FIFO (reading it would block a thread forever),
    a device, a file of another size (a sparse 1.5 GB one), other content. So every use opens it
    without blocking, checks that what was opened is a regular file of the size named, and reads at
    most that size and one byte more.
    """

    path: Path
    sha256: str
    size: int

    def read(self) -> bytes:
        """The content, checked against its name."""
        fd = self._open()
        try:
            content = b"".join(self._pieces(fd))
        finally:
            os.close(fd)
        if len(content) != self.size or digest(content) != self.sha256:
            raise self._differs()
        return content

    def open(self, verified: set[tuple]) -> int:
        """A descriptor of the file, for streaming it: checked as read() checks it, its content
        hashed in pieces, once per file identity (device, inode, size, times), which `verified`
        keeps. The caller closes it."""
        fd = self._open()
        try:
            st = os.fstat(fd)
            identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            if identity not in verified:
                h, size = hashlib.sha256(), 0
                for piece in self._pieces(fd):
                    h.update(piece)
                    size += len(piece)
                if size != self.size or h.hexdigest() != self.sha256:
                    raise self._differs()
                verified.add(identity)
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _pieces(self, fd: int):
        """The file's content in pieces, at most its size and one byte more (one more says it grew)."""
        at = 0
        while at <= self.size:
            try:
                piece = os.pread(fd, min(CHUNK, self.size + 1 - at), at)
            except OSError as e:
                raise Unusable(f"{self.path} cannot be read: {e.strerror}") from None
            if not piece:
                return
            yield piece
            at += len(piece)

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            raise Unusable(f"{self.path} cannot be read: {e.strerror}") from None
        try:
            st = os.fstat(fd)
        except OSError as e:
            os.close(fd)
            raise Unusable(f"{self.path} cannot be read: {e.strerror}") from None
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise Unusable(f"{self.path} is not a regular file any more")
        if st.st_size != self.size:
            os.close(fd)
            raise Unusable(f"{self.path} holds {st.st_size} bytes, not the {self.size} it is named for")
        return fd

    def _differs(self) -> Unusable:
        return Unusable(f"{self.path} does not hold the content it is named for: its SHA-256 differs")


def find(folder: Path | None, name: str, size: int | None = None) -> Named:
    """The file named `name` in folder, checked to exist (and to have `size` bytes, when given)."""
    if not NAME.fullmatch(name):  # checked before any path is built from it
        raise Unusable(f"a SHA-256 in hex (64 characters) was expected, got {name!r}")
    found = folder / name if folder else None
    if found is None or not found.is_file():
        raise Unusable(f"the content {name} is missing: no file {found}")
    actual = found.stat().st_size  # is_file() followed a link, if any, to a regular file
    if size is not None and actual != size:  # cheap, and before reading a wrong file whole
        raise Unusable(f"{found} holds {actual} bytes, not the {size} it is named for")
    return Named(found, name, actual)


def read(folder: Path | None, name: str, size: int | None = None) -> bytes:
    """The content named `name` in folder, checked against its name (and size, when given)."""
    return find(folder, name, size).read()


def write(folder: Path, data: bytes, name: str = "") -> str:
    """Store data under its digest, given or computed (once: the same content is the same file)."""
    name = name or digest(data)
    if not (folder / name).is_file():
        writer.replace_atomic(folder / name, data)
    return name


def remove_leftovers(folder: Path) -> None:
    """What writers killed mid-write left in a folder of digest files: spools and temporary files.
    Only for the folder's one writer (runtime/writerlock.py)."""
    writer.remove_temporaries(folder)
    for partial in folder.glob(".partial-*"):
        partial.unlink(missing_ok=True)


class Spool:
    """A body written to the folder while it streams through, never held in memory.

    Called with each chunk (mitmproxy's `stream` callable) and returns it unchanged; b"" ends it.
    `keep()` then makes it `<folder>/<sha256>` (on disk first); `discard()` drops it. A write that
    fails (a full disk) never stops the body on its way: the spool gives up, says why in `failed`,
    and the caller does not record it. Opening one raises OSError.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=".partial-", dir=folder)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.folder = folder
        self.size = 0
        self.name = ""  # the digest, once the body has ended
        self.failed = ""  # why it could not be written

    def __call__(self, chunk: bytes) -> bytes:
        if self.name or self.failed:
            return chunk
        try:
            if chunk:
                self._file.write(chunk)
                self._hash.update(chunk)
                self.size += len(chunk)
            else:
                self._file.close()
                self.name = self._hash.hexdigest()
        except OSError as e:
            self.failed = e.strerror or repr(e)
            self.discard()
        return chunk

    def keep(self) -> str:
        """The finished body, on disk under its digest."""
        if not self.name:
            raise Unusable("the body did not end")
        target = self.folder / self.name
        if target.is_file():  # the same content is there already (or this ran before)
            Path(self._tmp).unlink(missing_ok=True)
            return self.name
        with open(self._tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(self._tmp, target)
        return self.name

    def discard(self) -> None:
        try:
            self._file.close()
        except OSError:  # its buffer could not be written either: it is being dropped anyway
            pass
        Path(self._tmp).unlink(missing_ok=True)
