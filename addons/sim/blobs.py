"""File content by SHA-256: each content held once, with the SHA-1 the APIs report of it, and freed
as soon as nothing in the world names it (a deleted file, a version replaced).

Digests are computed by `Digests.of`, which the heavy handlers call in a worker thread before
they take the world's lock: hashing releases the interpreter, so other clients keep being served.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

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
