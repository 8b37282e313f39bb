"""File content by SHA-256: each content held once, with the SHA-1 the APIs report of it, and freed
as soon as nothing in the world names it (a deleted file, a version replaced).

Digests are computed by `Digests.of`, which the heavy handlers call in a worker thread before
they take the world's lock: hashing releases the interpreter, so other clients keep being served.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..core import digestfiles


@dataclass(frozen=True, slots=True)
class Digests:
    sha256: str
    sha1: str

    @classmethod
    def of(cls, content: bytes) -> Digests:
        return cls(digestfiles.digest(content), hashlib.sha1(content).hexdigest())


class Blobs(Mapping[str, bytes]):
    def __init__(self) -> None:
        self._content: dict[str, bytes] = {}
        self._sha1: dict[str, str] = {}

    def __getitem__(self, key: str) -> bytes:
        return self._content[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._content)

    def __len__(self) -> int:
        return len(self._content)

    def put(self, content: bytes, digests: Digests | None = None) -> str:
        """The content's key (its SHA-256); the same content is kept once."""
        digests = digests or Digests.of(content)
        if digests.sha256 not in self._content:
            self._content[digests.sha256] = content
            self._sha1[digests.sha256] = digests.sha1
        return digests.sha256

    def sha1(self, key: str) -> str:
        return self._sha1[key]

    def keep_only(self, named: Iterable[str]) -> None:
        """Frees every content not in `named`."""
        keep = set(named)
        for k in [k for k in self._content if k not in keep]:
            del self._content[k]
            del self._sha1[k]


class BlobDisk:
    """The content a state file keeps beside it (`<state>.blobs/<sha256>`), for the records of the
    store that name it: a record is committed to the database when its request's transaction ends,
    so its content must be on disk before then (a `kill -9` in between would leave a record naming
    nothing). `kept` holds the content, writing it if need be, off the world's lock, around putting
    the record.

    Content is removed only after a save that found it unneeded (named by nothing, held by
    nothing, under the world's lock), and not if it was held since: a record may have come to
    name it after that look (`unneeded` numbers each look; `remove` is given the number).

    Shared by every world of a state file (a reset makes a new one); its own lock, as saves run in
    a thread of their own."""

    def __init__(self, folder: Path, on_disk: Iterable[str]) -> None:
        self.folder = folder
        self._on_disk = set(on_disk)
        self._held: Counter[str] = Counter()
        self._touched: dict[str, int] = {}  # content -> the look during which it was last held
        self._look = 0
        self._lock = threading.Lock()

    def _hold(self, key: str) -> bool:
        with self._lock:
            self._held[key] += 1
            self._touched[key] = self._look
            return key not in self._on_disk

    def _release(self, key: str) -> None:
        with self._lock:
            self._held[key] -= 1
            self._touched[key] = self._look
            if self._held[key] <= 0:
                del self._held[key]

    def write(self, key: str, content: bytes) -> None:
        digestfiles.write(self.folder, content, key)
        with self._lock:
            self._on_disk.add(key)

    def missing(self, named: Iterable[str]) -> set[str]:
        with self._lock:
            return set(named) - self._on_disk

    def unneeded(self, named: set[str]) -> tuple[int, set[str]]:
        """(this look's number, what is on disk that nothing names or holds now)."""
        with self._lock:
            self._look += 1
            self._touched = {k: n for k, n in self._touched.items() if k in self._held or n >= self._look - 1}
            return self._look, self._on_disk - named - self._held.keys()

    def remove(self, key: str, look: int) -> None:
        """Gone from disk, unless it was held since that look found it unneeded."""
        with self._lock:
            if key in self._held or self._touched.get(key, -1) >= look or key not in self._on_disk:
                return
            (self.folder / key).unlink(missing_ok=True)
            self._on_disk.discard(key)

    @contextlib.contextmanager
    def kept(self, content: bytes, digests: Digests) -> Iterator[None]:
        """On disk, and kept there, for as long as the block runs (it may write the content)."""
        if self._hold(digests.sha256):
            try:
                self.write(digests.sha256, content)
            except BaseException:
                self._release(digests.sha256)
                raise
        try:
            yield
        finally:
            self._release(digests.sha256)
