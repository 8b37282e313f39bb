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
import tempfile
from pathlib import Path

from . import writer

NAME = re.compile(r"[0-9a-f]{64}")


class Unusable(ValueError):
    """Why a named file cannot be used; the caller adds file:line."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(folder: Path | None, name: str, size: int | None = None) -> bytes:
    """The content named `name` in folder, checked against its name (and size, when given)."""
    if not NAME.fullmatch(name):  # checked before any path is built from it
        raise Unusable(f"a SHA-256 in hex (64 characters) was expected, got {name!r}")
    found = folder / name if folder else None
    if found is None or not found.is_file():
        raise Unusable(f"the content {name} is missing: no file {found}")
    if size is not None and found.stat().st_size != size:  # cheap, and before reading a wrong file whole
        raise Unusable(f"{found} holds {found.stat().st_size} bytes, not the {size} it is named for")
    content = found.read_bytes()
    if digest(content) != name:
        raise Unusable(f"{found} does not hold the content it is named for: its SHA-256 differs")
    return content


def write(folder: Path, data: bytes, name: str = "") -> str:
    """Store data under its digest, given or computed (once: the same content is the same file)."""
    name = name or digest(data)
    if not (folder / name).is_file():
        writer.replace_atomic(folder / name, data)
    return name


class Spool:
    """A body written to the folder while it streams through, never held in memory.

    Called with each chunk (mitmproxy's `stream` callable) and returns it unchanged; b"" ends it.
    `keep()` then makes it `<folder>/<sha256>` (on disk first); `discard()` drops it.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=".partial-", dir=folder)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.folder = folder
        self.size = 0
        self.name = ""  # the digest, once the body has ended

    def __call__(self, chunk: bytes) -> bytes:
        if self.name or self._file.closed:
            return chunk
        if chunk:
            self._file.write(chunk)
            self._hash.update(chunk)
            self.size += len(chunk)
        else:
            self._file.close()
            self.name = self._hash.hexdigest()
        return chunk

    def keep(self) -> str:
        """The finished body, on disk under its digest."""
        if not self.name:
            raise Unusable("the body did not end")
        target = self.folder / self.name
        with open(self._tmp, "rb") as f:
            os.fsync(f.fileno())
        if target.is_file():
            os.unlink(self._tmp)
        else:
            os.replace(self._tmp, target)
        return self.name

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        Path(self._tmp).unlink(missing_ok=True)
