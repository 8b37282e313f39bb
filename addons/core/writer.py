"""Cassette files written atomically: a complete YAML document or nothing, never half a file.

Only redacted interactions reach the writer, so no secret is ever on disk, not even in the
temporary file that is renamed over the cassette.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import yaml

try:
    _Dumper = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Dumper = yaml.SafeDumper


def text_or_binary(body: bytes):
    """Readable text where the body is UTF-8 text; bytes (written as !!binary) only for real binary."""
    if not body:
        return ""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    # YAML cannot hold most control characters as text.
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        return body
    return text


def dump(interactions: list[dict]) -> str:
    return yaml.dump(
        {"interactions": interactions, "version": 1}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120
    )


def write_atomic(path: str | Path, interactions: list[dict]) -> None:
    _replace(Path(path), dump(interactions))


def write_yaml_atomic(path: str | Path, document) -> None:
    _replace(Path(path), yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120))


def write_data_atomic(path: str | Path, document) -> None:
    """A document of plain data written as JSON, which is YAML too (every YAML reader, tapeproxy's
    own included, reads it) and which Python writes ten times faster than YAML (a state file of
    600 files: 15 ms against 125-180 ms); a document JSON cannot hold as it is (a YAML timestamp,
    binary) is written as YAML."""
    try:
        text = json.dumps(document, ensure_ascii=False, indent=1, allow_nan=False) + "\n"
    except (TypeError, ValueError):
        write_yaml_atomic(path, document)
        return
    _replace(Path(path), text)


def _replace(path: Path, text: str) -> None:
    replace_atomic(path, text.encode("utf-8"))


def replace_atomic(path: str | Path, data: bytes) -> None:
    """Write data to path so that readers see the old file or the new one, never a part: a temporary
    file of its own (parallel writers do not share one), flushed to disk, then renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_temporaries(folder: str | Path, name: str = "*") -> int:
    """The temporary files replace_atomic leaves when its process is killed mid-write
    (`.<name>.*.tmp` in folder), removed; how many. Only for a writer that holds the folder's
    files alone (runtime/writerlock.py): another's may be mid-write."""
    removed = 0
    for tmp in Path(folder).glob(f".{name}.*.tmp"):
        try:
            tmp.unlink()
            removed += 1
        except OSError:
            pass
    return removed
